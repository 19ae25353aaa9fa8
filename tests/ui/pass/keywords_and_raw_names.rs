use athanor::infra;

infra! {
    app "names";

    let kv = KvNamespace("kv");
    let api = Worker("api") {
        entrypoint: "./w.js",
        bindings: { TYPE: "a", SELF: "b", "QUOTED_NAME": kv, r#MATCH: true },
    };
}

fn main() {
    let stack = stack();
    let athanor::model::stack::Props::Worker(w) = &stack.get("api").unwrap().props else { panic!() };
    let names: Vec<_> = w.bindings.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["TYPE", "SELF", "QUOTED_NAME", "MATCH"]);
}
