use athanor::infra;

infra! {
    let assets = R2Bucket("assets") { name: "my-bucket" };
    let uploads = R2Bucket("uploads") { name: "my-bucket" };
}

fn main() {}
