use athanor::infra;

infra! {
    let jobs = Queue("jobs") { name: "Jobs_Queue" };
}

fn main() {}
