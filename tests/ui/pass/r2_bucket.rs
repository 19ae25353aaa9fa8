use athanor::model::stack::Props;
use athanor::infra;

infra! {
    app "r2";

    let storage = R2Bucket("storage") {
        name: "my-bucket",
        location_hint: "weur",
        storage_class: "InfrequentAccess",
        jurisdiction: "eu",
        adopt: true,
    };
    let scratch = R2Bucket("scratch") { delete: false };
}

fn main() {
    let stack = stack();
    let storage = stack.get("storage").unwrap();
    assert!(storage.adopt);
    let Props::R2Bucket(b) = &storage.props else { panic!() };
    assert_eq!(b.name.as_deref(), Some("my-bucket"));
    assert_eq!(b.location_hint.as_deref(), Some("weur"));
    assert_eq!(b.storage_class.as_deref(), Some("InfrequentAccess"));
    assert_eq!(b.jurisdiction.as_deref(), Some("eu"));
    let scratch = stack.get("scratch").unwrap();
    assert!(!scratch.delete);
    let Props::R2Bucket(s) = &scratch.props else { panic!() };
    assert_eq!(s.name, None);
}
