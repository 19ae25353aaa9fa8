use athanor::infra;

infra! {
    let sessions = KvNamespace("sessions") { title: "a", title: "b" };
}

fn main() {}
