use athanor::model::stack::Props;
use athanor::model::{ResourceRef, SecretSource};
use athanor::infra;

infra! {
    app "secrets";

    let default_secret = Secret("my-secret") { value: secret_env("MY_SECRET") };
    let store = SecretsStore("store") { name: "production-secrets", adopt: true, delete: false };
    let default_store = SecretsStore("default-store");
    let signing = Secret("signing-key") {
        store: store,
        name: "SIGNING_KEY",
        value: secret_file("./keys/signing.pem"),
        scopes: ["workers", "ai_gateway"],
    };
    let api_key = SecretRef("api-key") { name: "API_KEY", store: store };
    let other_key = SecretRef("other-key") { name: "OTHER_KEY" };
}

fn main() {
    let stack = stack();
    let Props::Secret(s) = &stack.get("my-secret").unwrap().props else { panic!() };
    assert_eq!(s.value, SecretSource::env("MY_SECRET"));
    assert_eq!(s.store, None);
    assert!(s.scopes.is_empty());
    let store = stack.get("store").unwrap();
    assert!(store.adopt && !store.delete);
    let Props::SecretsStore(st) = &store.props else { panic!() };
    assert_eq!(st.name.as_deref(), Some("production-secrets"));
    let Props::SecretsStore(d) = &stack.get("default-store").unwrap().props else { panic!() };
    assert_eq!(d.name, None);
    let signing = stack.get("signing-key").unwrap();
    let Props::Secret(k) = &signing.props else { panic!() };
    assert_eq!(k.value, SecretSource::file("./keys/signing.pem"));
    assert_eq!(k.store, Some(ResourceRef::new("store")));
    assert_eq!(k.name.as_deref(), Some("SIGNING_KEY"));
    assert_eq!(k.scopes, ["workers", "ai_gateway"]);
    assert_eq!(signing.dependencies().into_iter().collect::<Vec<_>>(), ["store"]);
    let Props::SecretRef(r) = &stack.get("api-key").unwrap().props else { panic!() };
    assert_eq!(r.name, "API_KEY");
    assert_eq!(r.store, Some(ResourceRef::new("store")));
    let Props::SecretRef(o) = &stack.get("other-key").unwrap().props else { panic!() };
    assert_eq!(o.store, None);
}
