use athanor::infra;

infra! {
    let sessions = KvNamespace("sessions") {
        values: [{ key: "session", value: "x", expiration: 4102444800, expiration_ttl: 3600 }],
    };
}

fn main() {}
