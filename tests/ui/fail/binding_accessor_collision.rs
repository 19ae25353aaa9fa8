use athanor::infra;

infra! {
    let api = Worker("api") { entrypoint: "./w.js", bindings: { MY_KV: "a", my_kv: "b", NEW: "c" } };
}

fn main() {}
