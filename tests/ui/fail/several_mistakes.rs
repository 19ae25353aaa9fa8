use athanor::infra;

infra! {
    app "several";

    let sessions = KvNamespace("sessions") { titel: "user-sessions" };
    let bucket = R2Bucket("bucket") { name: "Bad_Name" };
    let signing = Secret("signing-key") { value: "hunter2" };
    let api = Worker("api") {
        entrypoint: "./w.js",
        bindings: { MY_KV: sesions, STORAGE: bucket, "bad-name": "x" },
    };
}

fn main() {}
