use athanor::infra;

infra! {
    let sessions = KvNamespace("sessions") {
        values: [{ key: "session", value: "x", expiration_ttl: 30 }],
    };
}

fn main() {}
