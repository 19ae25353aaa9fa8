use athanor::infra;

infra! {
    let sessions = KvNamespace("sessions") { title: "user-data" };
    let users = KvNamespace("users") { title: "user-data" };
}

fn main() {}
