use athanor::infra;

infra! {
    let sessions = KvNamespace("sessions") { titel: "user-sessions" };
}

fn main() {}
