use athanor::infra;

infra! {
    let sessions = KvNamespace("sessions");
    let signing = Secret("signing-key") { store: sessions, value: secret_env("SIGNING_KEY") };
    let customer = Worker("customer") { namespace: sessions, entrypoint: "./a.js" };
}

fn main() {}
