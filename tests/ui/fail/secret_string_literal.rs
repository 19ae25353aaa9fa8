use athanor::infra;

infra! {
    let signing = Secret("signing-key") { value: "hunter2" };
}

fn main() {}
