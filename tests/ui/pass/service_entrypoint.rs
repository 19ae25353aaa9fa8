use athanor::infra;
use athanor::model::stack::Props;
use athanor::model::{BindingValue, ResourceRef};

infra! {
    app "shop";

    let auth = Worker("auth") { name: "auth-service", entrypoint: "./auth.js" };
    let api = Worker("api") {
        entrypoint: "./api.js",
        bindings: { AUTH: auth, ADMIN: auth.entrypoint("AdminApi") },
    };
}

fn main() {
    let stack = stack();
    let api_decl = stack.get("api").unwrap();
    let Props::Worker(w) = &api_decl.props else { panic!() };
    assert_eq!(w.bindings[1].value, ResourceRef::new("auth").entrypoint("AdminApi"));
    assert!(matches!(&w.bindings[1].value, BindingValue::Entrypoint { entrypoint, .. } if entrypoint == "AdminApi"));
    assert_eq!(api_decl.dependencies(), ["auth"].into());
    assert!(
        api::TYPESCRIPT_ENV.contains("ADMIN: Service<import(\"./auth\").AdminApi>;"),
        "{}",
        api::TYPESCRIPT_ENV
    );
    assert!(api::TYPESCRIPT_ENV.contains("AUTH: Fetcher /* auth-service */;"));
}
