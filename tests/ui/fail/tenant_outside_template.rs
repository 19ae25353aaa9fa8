use athanor::infra;

infra! {
    let files = R2Bucket("files") { name: "{tenant}-files" };
}

fn main() {}
