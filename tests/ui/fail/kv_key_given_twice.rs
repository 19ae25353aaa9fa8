use athanor::infra;

infra! {
    let sessions = KvNamespace("sessions") {
        values: [{ key: "config", value: "a" }, { key: "config", value: "b" }],
    };
}

fn main() {}
