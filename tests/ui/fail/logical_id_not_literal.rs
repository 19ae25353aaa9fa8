use athanor::infra;

const ID: &str = "sessions";

infra! {
    let sessions = KvNamespace(ID);
    let empty = KvNamespace("");
}

fn main() {}
