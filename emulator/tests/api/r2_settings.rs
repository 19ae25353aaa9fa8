//! R2 bucket settings: CORS, lifecycle rules, the r2.dev managed domain and custom domains, with
//! their defaults, refusals, jurisdictions, counters and a restart.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::Harness;

async fn bucket(h: &Harness, name: &str) -> String {
    h.ok(h
        .req(Method::POST, &h.acct("/r2/buckets"))
        .json(&json!({ "name": name })))
        .await;
    h.acct(&format!("/r2/buckets/{name}"))
}

fn rule(methods: &[&str]) -> Value {
    json!({"allowed": {"origins": ["https://app.example"], "methods": methods}})
}

#[tokio::test]
async fn cors_round_trip_refusals_and_delete() {
    let h = Harness::start().await;
    let cors = format!("{}/cors", bucket(&h, "with-cors").await);

    let m = h.fails(h.req(Method::GET, &cors), 404, 10059).await;
    assert_eq!(m, "The CORS configuration does not exist.");

    let policy = json!({"rules": [
        {"id": "uploads", "allowed": {"origins": ["https://app.example", "http://localhost:3000"],
                                      "methods": ["GET", "PUT", "POST", "DELETE", "HEAD"],
                                      "headers": ["content-type"]},
         "exposeHeaders": ["ETag"], "maxAgeSeconds": 3600},
        rule(&["GET"]),
    ]});
    // wrangler sends JSON bodies with whatever content type; the body decides.
    let put = h
        .ok(h
            .req(Method::PUT, &cors)
            .header("content-type", "text/plain;charset=UTF-8")
            .body(policy.to_string()))
        .await;
    assert_eq!(put, json!({}));
    assert_eq!(h.ok(h.req(Method::GET, &cors)).await, policy);

    // A refused policy leaves the one in place.
    let m = h
        .fails(
            h.req(Method::PUT, &cors)
                .json(&json!({"rules": [rule(&["GET", "PATCH"])]})),
            400,
            10040,
        )
        .await;
    assert!(m.contains("rules[0].allowed.methods[1]"), "{m}");
    // S3's shape is not R2's.
    h.fails(
        h.req(Method::PUT, &cors)
            .json(&json!({"rules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]})),
        400,
        10040,
    )
    .await;
    h.fails(h.req(Method::PUT, &cors).body("{not json"), 400, 10040)
        .await;
    h.fails(
        h.req(Method::PUT, &cors)
            .json(&json!({"rules": vec![rule(&["GET"]); 101]})),
        400,
        10040,
    )
    .await;
    h.fails(
        h.req(Method::PUT, &cors).json(&json!({"rules": [
            {"allowed": {"origins": ["*"], "methods": ["GET"]}, "maxAgeSeconds": 86_401}
        ]})),
        400,
        10040,
    )
    .await;
    assert_eq!(h.ok(h.req(Method::GET, &cors)).await, policy);
    h.ok(h
        .req(Method::PUT, &cors)
        .json(&json!({"rules": vec![rule(&["GET"]); 100]})))
        .await;

    assert_eq!(h.ok(h.req(Method::DELETE, &cors)).await, json!({}));
    h.fails(h.req(Method::GET, &cors), 404, 10059).await;
    // Deleting no policy is no error.
    h.ok(h.req(Method::DELETE, &cors)).await;
}

#[tokio::test]
async fn a_new_bucket_has_the_default_lifecycle_until_rules_are_set() {
    let h = Harness::start().await;
    let lifecycle = format!("{}/lifecycle", bucket(&h, "with-lifecycle").await);

    let default = h.ok(h.req(Method::GET, &lifecycle)).await;
    assert_eq!(
        default,
        json!({"rules": [{
            "id": "Default Multipart Abort Rule",
            "enabled": true,
            "conditions": {},
            "abortMultipartUploadsTransition": {"condition": {"type": "Age", "maxAge": 604_800}},
        }]})
    );

    let rules = json!({"rules": [
        {"id": "expire-logs", "enabled": true, "conditions": {"prefix": "logs/"},
         "deleteObjectsTransition": {"condition": {"type": "Age", "maxAge": 2_592_000}}},
        {"id": "archive", "enabled": false, "conditions": {"prefix": ""},
         "storageClassTransitions": [{"condition": {"type": "Date", "date": "2030-01-01T00:00:00Z"},
                                      "storageClass": "InfrequentAccess"}]},
        {"id": "expire-on-date", "enabled": true, "conditions": {"prefix": "tmp/"},
         "deleteObjectsTransition": {"condition": {"type": "Date", "date": "2031-06-01"}},
         "abortMultipartUploadsTransition": {"condition": {"type": "Age", "maxAge": 86_400}}},
    ]});
    assert_eq!(
        h.ok(h.req(Method::PUT, &lifecycle).json(&rules)).await,
        json!({})
    );
    assert_eq!(h.ok(h.req(Method::GET, &lifecycle)).await, rules);

    for (bad, field) in [
        (
            json!({"rules": [{"enabled": true, "conditions": {}}]}),
            "rules[0].id",
        ),
        (
            json!({"rules": [{"id": "a", "conditions": {}}]}),
            "rules[0].enabled",
        ),
        (
            json!({"rules": [{"id": "a", "enabled": true, "conditions": {},
                "abortMultipartUploadsTransition": {"condition": {"type": "Date", "date": "2030-01-01"}}}]}),
            "rules[0].abortMultipartUploadsTransition.condition.type",
        ),
        (
            json!({"rules": [{"id": "a", "enabled": true, "conditions": {},
                "deleteObjectsTransition": {"condition": {"type": "Age", "maxAge": -1}}}]}),
            "rules[0].deleteObjectsTransition.condition.maxAge",
        ),
        (
            json!({"rules": [{"id": "a", "enabled": true, "conditions": {},
                "storageClassTransitions": [{"condition": {"type": "Age", "maxAge": 60},
                                             "storageClass": "Standard"}]}]}),
            "rules[0].storageClassTransitions[0].storageClass",
        ),
        (
            json!({"rules": [{"id": "a", "enabled": true, "conditions": {}},
                             {"id": "a", "enabled": true, "conditions": {}}]}),
            "rules[1].id",
        ),
    ] {
        let m = h
            .fails(h.req(Method::PUT, &lifecycle).json(&bad), 400, 10040)
            .await;
        assert!(m.starts_with(field), "{field}: {m}");
    }
    assert_eq!(h.ok(h.req(Method::GET, &lifecycle)).await, rules);

    // Setting no rules removes the default one too.
    h.ok(h.req(Method::PUT, &lifecycle).json(&json!({"rules": []})))
        .await;
    assert_eq!(
        h.ok(h.req(Method::GET, &lifecycle)).await,
        json!({"rules": []})
    );
}

#[tokio::test]
async fn the_managed_domain_is_off_until_enabled() {
    let h = Harness::start().await;
    let base = bucket(&h, "with-domain").await;
    let managed = format!("{base}/domains/managed");

    // What alchemy does right after creating a bucket.
    let off = h
        .ok(h
            .req(Method::PUT, &managed)
            .json(&json!({"enabled": false})))
        .await;
    assert_eq!(off["enabled"], false);
    let id = off["bucketId"].as_str().unwrap().to_owned();
    assert!(
        id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "{id}"
    );
    assert_eq!(off["domain"], format!("pub-{id}.r2.dev"));
    assert_eq!(h.ok(h.req(Method::GET, &managed)).await, off);

    let on = h
        .ok(h.req(Method::PUT, &managed).json(&json!({"enabled": true})))
        .await;
    assert_eq!(
        on,
        json!({"bucketId": id, "domain": format!("pub-{id}.r2.dev"), "enabled": true})
    );
    assert_eq!(h.ok(h.req(Method::GET, &managed)).await, on);

    for bad in [json!({}), json!({"enabled": "yes"}), json!([true])] {
        h.fails(h.req(Method::PUT, &managed).json(&bad), 400, 10040)
            .await;
    }

    let custom = h
        .ok(h.req(Method::GET, &format!("{base}/domains/custom")))
        .await;
    assert_eq!(custom, json!({"domains": []}));

    // A bucket deleted and created again starts from the defaults.
    h.ok(h
        .req(Method::PUT, &format!("{base}/cors"))
        .json(&json!({"rules": [rule(&["GET"])]})))
        .await;
    h.ok(h.req(Method::DELETE, &base)).await;
    bucket(&h, "with-domain").await;
    let fresh = h.ok(h.req(Method::GET, &managed)).await;
    assert_eq!(fresh["enabled"], false);
    assert_ne!(fresh["bucketId"], id.as_str());
    h.fails(h.req(Method::GET, &format!("{base}/cors")), 404, 10059)
        .await;
    assert_eq!(
        h.ok(h.req(Method::GET, &format!("{base}/lifecycle"))).await["rules"][0]["id"],
        "Default Multipart Abort Rule"
    );
}

#[tokio::test]
async fn a_missing_bucket_is_10006_on_every_settings_route() {
    let h = Harness::start().await;
    let missing = h.acct("/r2/buckets/no-such-bucket");
    let cors = json!({"rules": [rule(&["GET"])]});
    let lifecycle = json!({"rules": []});
    let enabled = json!({"enabled": true});
    let calls: [(Method, &str, Option<&Value>); 8] = [
        (Method::GET, "/cors", None),
        (Method::PUT, "/cors", Some(&cors)),
        (Method::DELETE, "/cors", None),
        (Method::GET, "/lifecycle", None),
        (Method::PUT, "/lifecycle", Some(&lifecycle)),
        (Method::GET, "/domains/managed", None),
        (Method::PUT, "/domains/managed", Some(&enabled)),
        (Method::GET, "/domains/custom", None),
    ];
    for (method, sub, body) in calls {
        let mut rb = h.req(method, &format!("{missing}{sub}"));
        if let Some(b) = body {
            rb = rb.json(b);
        }
        h.fails(rb, 404, 10006).await;
    }
}

#[tokio::test]
async fn settings_follow_the_jurisdiction_header() {
    let h = Harness::start().await;
    let base = bucket(&h, "twin-bucket").await;
    h.ok(h
        .req(Method::POST, &h.acct("/r2/buckets"))
        .header("cf-r2-jurisdiction", "eu")
        .json(&json!({"name": "twin-bucket"})))
        .await;
    h.ok(h
        .req(Method::PUT, &format!("{base}/cors"))
        .header("cf-r2-jurisdiction", "eu")
        .json(&json!({"rules": [rule(&["HEAD"])]})))
        .await;
    // The default-jurisdiction bucket of the same name has no policy.
    h.fails(h.req(Method::GET, &format!("{base}/cors")), 404, 10059)
        .await;
    let eu = h
        .ok(h
            .req(Method::GET, &format!("{base}/cors"))
            .header("cf-r2-jurisdiction", "eu"))
        .await;
    assert_eq!(eu["rules"][0]["allowed"]["methods"], json!(["HEAD"]));
    let (default_id, eu_id) = (
        h.ok(h.req(Method::GET, &format!("{base}/domains/managed")))
            .await["bucketId"]
            .clone(),
        h.ok(h
            .req(Method::GET, &format!("{base}/domains/managed"))
            .header("cf-r2-jurisdiction", "eu"))
            .await["bucketId"]
            .clone(),
    );
    assert_ne!(default_id, eu_id);
    // A bucket that exists only in another jurisdiction is missing here.
    h.fails(
        h.req(Method::GET, &format!("{base}/lifecycle"))
            .header("cf-r2-jurisdiction", "fedramp"),
        404,
        10006,
    )
    .await;
    h.fails(
        h.req(Method::GET, &format!("{base}/lifecycle"))
            .header("cf-r2-jurisdiction", "moon"),
        400,
        10040,
    )
    .await;
}

#[tokio::test]
async fn settings_routes_are_counted_by_template() {
    let h = Harness::start().await;
    let base = bucket(&h, "counted-bucket").await;
    h.emu.reset_stats();
    h.ok(h
        .req(Method::PUT, &format!("{base}/domains/managed"))
        .json(&json!({"enabled": false})))
        .await;
    h.ok(h.req(Method::GET, &format!("{base}/lifecycle"))).await;
    h.fails(h.req(Method::GET, &format!("{base}/cors")), 404, 10059)
        .await;
    let s = h.emu.stats();
    assert_eq!((s.total, s.mutating), (3, 1));
    let a = "/accounts/{account_id}/r2/buckets/{bucket_name}";
    assert_eq!(s.by_route[&format!("PUT {a}/domains/managed")], 1);
    assert_eq!(s.by_route[&format!("GET {a}/lifecycle")], 1);
    assert_eq!(s.by_route[&format!("GET {a}/cors")], 1);
}

#[tokio::test]
async fn settings_survive_a_restart() {
    let h = Harness::start().await;
    let base = bucket(&h, "kept-settings").await;
    let cors = json!({"rules": [rule(&["GET", "PUT"])]});
    let lifecycle = json!({"rules": [{"id": "expire", "enabled": true, "conditions": {"prefix": "a/"},
        "deleteObjectsTransition": {"condition": {"type": "Age", "maxAge": 86_400}}}]});
    h.ok(h.req(Method::PUT, &format!("{base}/cors")).json(&cors))
        .await;
    h.ok(h
        .req(Method::PUT, &format!("{base}/lifecycle"))
        .json(&lifecycle))
        .await;
    let managed = h
        .ok(h
            .req(Method::PUT, &format!("{base}/domains/managed"))
            .json(&json!({"enabled": true})))
        .await;

    let Harness { emu, dir, .. } = h;
    emu.shutdown().await;
    let h = Harness::start_in(dir).await;
    let base = h.acct("/r2/buckets/kept-settings");
    assert_eq!(
        h.ok(h.req(Method::GET, &format!("{base}/cors"))).await,
        cors
    );
    assert_eq!(
        h.ok(h.req(Method::GET, &format!("{base}/lifecycle"))).await,
        lifecycle
    );
    assert_eq!(
        h.ok(h.req(Method::GET, &format!("{base}/domains/managed")))
            .await,
        managed
    );
}
