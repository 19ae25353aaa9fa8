use athanor::infra;

infra! {
    let assets = R2Bucket("assets") { location_hint: "weu", storage_class: "Cold" };
}

fn main() {}
