//! R2 buckets: create, list with a cursor, get, patch, delete, jurisdictions and name rules.

use reqwest::Method;
use serde_json::json;

use crate::common::Harness;

#[tokio::test]
async fn bucket_lifecycle_and_errors() {
    let h = Harness::start().await;
    let b = h.acct("/r2/buckets");
    // wrangler sends JSON as text/plain.
    let r = h
        .ok(h
            .req(Method::POST, &b)
            .header("content-type", "text/plain;charset=UTF-8")
            .body(
                r#"{"name":"my-bucket","locationHint":"weur","storageClass":"InfrequentAccess"}"#,
            ))
        .await;
    assert_eq!(r["name"], "my-bucket");
    assert_eq!(r["location"], "weur");
    assert_eq!(r["storage_class"], "InfrequentAccess");
    assert_eq!(r["jurisdiction"], "default");
    assert!(r["creation_date"].as_str().unwrap().ends_with('Z'));

    h.fails(
        h.req(Method::POST, &b).json(&json!({"name": "my-bucket"})),
        409,
        10004,
    )
    .await;
    h.fails(
        h.req(Method::POST, &b).json(&json!({"name": "No_Caps"})),
        400,
        10005,
    )
    .await;
    h.fails(
        h.req(Method::POST, &b).json(&json!({"name": "ab"})),
        400,
        10005,
    )
    .await;
    h.fails(
        h.req(Method::POST, &b)
            .json(&json!({"name": "fine-name", "storageClass": "Glacier"})),
        400,
        10040,
    )
    .await;
    h.fails(
        h.req(Method::POST, &b)
            .json(&json!({"name": "fine-name", "locationHint": "mars"})),
        400,
        10040,
    )
    .await;
    h.fails(
        h.req(Method::POST, &b)
            .header("cf-r2-jurisdiction", "moon")
            .json(&json!({"name": "fine-name"})),
        400,
        10040,
    )
    .await;

    // The same name in another jurisdiction is another bucket.
    let eu = h
        .ok(h
            .req(Method::POST, &b)
            .header("cf-r2-jurisdiction", "eu")
            .json(&json!({"name": "my-bucket"})))
        .await;
    assert_eq!(eu["jurisdiction"], "eu");

    let one = format!("{b}/my-bucket");
    assert_eq!(h.ok(h.req(Method::GET, &one)).await["name"], "my-bucket");
    let patched = h
        .ok(h
            .req(Method::PATCH, &one)
            .header("cf-r2-storage-class", "Standard"))
        .await;
    assert_eq!(patched["storage_class"], "Standard");
    h.fails(
        h.req(Method::PATCH, &one)
            .header("cf-r2-storage-class", "Cold"),
        400,
        10040,
    )
    .await;
    h.fails(
        h.req(Method::GET, &format!("{b}/missing-bucket")),
        404,
        10006,
    )
    .await;

    assert_eq!(h.ok(h.req(Method::DELETE, &one)).await, json!({}));
    h.fails(h.req(Method::GET, &one), 404, 10006).await;
    h.fails(h.req(Method::DELETE, &one), 404, 10006).await;
    // The EU bucket is still there.
    h.ok(h.req(Method::GET, &one).header("cf-r2-jurisdiction", "eu"))
        .await;
}

#[tokio::test]
async fn bucket_list_pages_with_a_cursor() {
    let h = Harness::start().await;
    let b = h.acct("/r2/buckets");
    for i in 0..7 {
        h.ok(h
            .req(Method::POST, &b)
            .json(&json!({"name": format!("bucket-{i}")})))
            .await;
    }
    let mut names = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let (_, body) = h.get(&format!("{b}?per_page=3&cursor={cursor}")).await;
        pages += 1;
        assert_eq!(body["result_info"]["per_page"], 3);
        names.extend(
            body["result"]["buckets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["name"].as_str().unwrap().to_owned()),
        );
        cursor = body["result_info"]["cursor"].as_str().unwrap().to_owned();
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        names,
        (0..7).map(|i| format!("bucket-{i}")).collect::<Vec<_>>()
    );
    let (_, body) = h.get(&format!("{b}?name_contains=-3")).await;
    assert_eq!(body["result"]["buckets"].as_array().unwrap().len(), 1);
    let (_, body) = h.get(&format!("{b}?direction=desc&per_page=2")).await;
    assert_eq!(body["result"]["buckets"][0]["name"], "bucket-6");
    h.fails(h.req(Method::GET, &format!("{b}?per_page=0")), 400, 10040)
        .await;
}

#[tokio::test]
async fn objects_and_the_not_empty_refusal() {
    let h = Harness::start().await;
    let b = h.acct("/r2/buckets");
    h.ok(h
        .req(Method::POST, &b)
        .json(&json!({"name": "with-objects"})))
        .await;
    let obj = format!("{b}/with-objects/objects/dir/file.txt");
    let r = h
        .ok(h
            .req(Method::PUT, &obj)
            .header("content-type", "text/plain")
            .body("payload"))
        .await;
    assert_eq!(r["size"], 7);
    let got = h.req(Method::GET, &obj).send().await.unwrap();
    assert_eq!(got.headers()["content-type"], "text/plain");
    assert_eq!(got.text().await.unwrap(), "payload");
    // Stored without a content type (as a Worker's `put` of a string stores it): served as bytes.
    let bare = format!("{b}/with-objects/objects/bare");
    h.ok(h.req(Method::PUT, &bare).body("raw")).await;
    let got = h.req(Method::GET, &bare).send().await.unwrap();
    assert_eq!(got.headers()["content-type"], "application/octet-stream");
    h.ok(h.req(Method::DELETE, &bare)).await;
    h.fails(
        h.req(Method::GET, &format!("{b}/with-objects/objects/missing")),
        404,
        10007,
    )
    .await;
    h.fails(
        h.req(Method::PUT, &format!("{b}/no-bucket/objects/k"))
            .body("x"),
        404,
        10006,
    )
    .await;

    h.fails(
        h.req(Method::DELETE, &format!("{b}/with-objects")),
        409,
        10008,
    )
    .await;
    h.ok(h.req(Method::DELETE, &obj)).await;
    h.fails(h.req(Method::GET, &obj), 404, 10007).await;
    h.ok(h.req(Method::DELETE, &format!("{b}/with-objects")))
        .await;
}
