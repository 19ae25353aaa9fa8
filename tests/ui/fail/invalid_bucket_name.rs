use athanor::infra;

infra! {
    let assets = R2Bucket("assets") { name: "My_Bucket" };
}

fn main() {}
