use athanor::model::stack::Props;
use athanor::infra;

infra! {
    app "do";

    let counter = DurableObjectNamespace("counter") { class_name: "Counter", sqlite: true };
    let external = DurableObjectNamespace("rooms") {
        class_name: "ChatRoom",
        script_name: "chat-backend",
        environment: "production",
    };
    let api = Worker("api") {
        entrypoint: "./src/worker.ts",
        bindings: { COUNTER: counter, ROOMS: external },
    };
}

fn main() {
    let stack = stack();
    let Props::DurableObjectNamespace(c) = &stack.get("counter").unwrap().props else { panic!() };
    assert_eq!(c.class_name, "Counter");
    assert!(c.sqlite);
    assert_eq!(c.script_name, None);
    let Props::DurableObjectNamespace(r) = &stack.get("rooms").unwrap().props else { panic!() };
    assert_eq!(r.script_name.as_deref(), Some("chat-backend"));
    assert_eq!(r.environment.as_deref(), Some("production"));
    assert!(!r.sqlite);
    let ts = api::TYPESCRIPT_ENV;
    assert!(ts.contains("COUNTER: DurableObjectNamespace<import(\"./worker\").Counter>;"), "{ts}");
    assert!(ts.contains("ROOMS: DurableObjectNamespace /* ChatRoom from chat-backend */;"), "{ts}");
}
