use athanor::infra;

infra! {
    let sessions = KvNamespace("sessions");
    let cache = R2Bucket("sessions");
}

fn main() {}
