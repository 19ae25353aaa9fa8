use athanor::model::stack::{CorsRule, LifecycleRule, Props};
use athanor::infra;

infra! {
    app "r2";

    let storage = R2Bucket("storage") {
        name: "my-bucket",
        location_hint: "weur",
        storage_class: "InfrequentAccess",
        jurisdiction: "eu",
        public: true,
        cors: [
            { origins: ["https://app.example.com"], methods: ["GET", "HEAD"], max_age: 3600 },
            { origins: ["*"], methods: ["PUT"], headers: ["content-type"], expose_headers: ["etag"] },
        ],
        lifecycle: [
            { id: "expire-logs", prefix: "logs/", expire_after_days: 30 },
            { id: "cool-down", infrequent_access_after_days: 90, abort_uploads_after_days: 1 },
        ],
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
    assert!(b.public);
    assert_eq!(
        b.cors[0],
        CorsRule {
            origins: vec!["https://app.example.com".into()],
            methods: vec!["GET".into(), "HEAD".into()],
            max_age: Some(3600),
            ..CorsRule::default()
        }
    );
    assert_eq!(b.cors[1].expose_headers, ["etag"]);
    assert_eq!(
        b.lifecycle[0],
        LifecycleRule {
            id: "expire-logs".into(),
            prefix: Some("logs/".into()),
            expire_after_days: Some(30),
            ..LifecycleRule::default()
        }
    );
    assert_eq!(b.lifecycle[1].infrequent_access_after_days, Some(90));
    let scratch = stack.get("scratch").unwrap();
    assert!(!scratch.delete);
    let Props::R2Bucket(s) = &scratch.props else { panic!() };
    assert_eq!(s.name, None);
    assert!(!s.public && s.cors.is_empty() && s.lifecycle.is_empty());
}
