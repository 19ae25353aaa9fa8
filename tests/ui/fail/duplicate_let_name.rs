use athanor::infra;

infra! {
    let sessions = KvNamespace("sessions");
    let sessions = KvNamespace("sessions-2");
}

fn main() {}
