use athanor::infra;

infra! {
    let sessions = KvNamespace("sessions") { title: 42, adopt: "yes" };
    let api = Worker("api") { entrypoint: "./w.js", url: 1 };
}

fn main() {}
