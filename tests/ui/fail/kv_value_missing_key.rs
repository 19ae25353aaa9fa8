use athanor::infra;

infra! {
    let sessions = KvNamespace("sessions") { values: [{ value: "a" }, "b"] };
}

fn main() {}
