use athanor::infra;

infra! {
    let sessions = KvNamespace("sessions") { title "missing colon" };
    let bucket = R2Bucket("bucket") { name: "ok-bucket" }
    resource assets = R2Bucket("assets");
    let api = Worker("api") { entrypoint: "./w.js", bindings: { MY_KV: nope } };
}

fn main() {}
