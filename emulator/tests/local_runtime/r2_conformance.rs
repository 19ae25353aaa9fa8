//! One test per operation of the R2 binding: a Worker calls the binding, and its answer is checked
//! against what the v4 API answers (or stores) for the same object.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::Local;

/// A Worker that runs one R2 binding call per request: `{op, args}` in, `{result}` or `{error}`
/// out, objects described as plain JSON.
const R2_WORKER: &str = r#"
function describe(o) {
  if (o === null) return null;
  return {
    key: o.key, version: o.version, size: o.size, etag: o.etag, httpEtag: o.httpEtag,
    uploaded: o.uploaded.getTime(), httpMetadata: o.httpMetadata, customMetadata: o.customMetadata,
    range: o.range ?? null, checksums: o.checksums.toJSON(), storageClass: o.storageClass,
    hasBody: "body" in o,
  };
}
export default {
  async fetch(request, env) {
    const { op, args } = await request.json();
    const b = env.BUCKET;
    try {
      let result;
      switch (op) {
        case "put": result = describe(await b.put(args.key, args.value ?? null, args.options)); break;
        case "get": {
          const o = await b.get(args.key, args.options);
          result = o && { ...describe(o), text: "body" in o ? await o.text() : null };
          break;
        }
        case "head": result = describe(await b.head(args.key)); break;
        case "list": {
          const l = await b.list(args.options);
          result = { objects: l.objects.map(describe), truncated: l.truncated,
                     cursor: l.cursor ?? null, delimitedPrefixes: l.delimitedPrefixes };
          break;
        }
        case "delete": await b.delete(args.keys); result = null; break;
        case "multipart": {
          const up = await b.createMultipartUpload(args.key, args.options);
          const parts = [];
          for (const [i, p] of args.parts.entries()) {
            parts.push(await up.uploadPart(i + 1, p.fill.repeat(p.size)));
          }
          result = describe(await up.complete(parts));
          break;
        }
        case "abort": {
          const up = await b.createMultipartUpload(args.key);
          await up.uploadPart(1, "x");
          await up.abort();
          try { await up.uploadPart(2, "y"); result = "uploaded after abort"; }
          catch (e) { result = String(e); }
          break;
        }
        default: throw new Error(`unknown op ${op}`);
      }
      return Response.json({ result });
    } catch (e) {
      return Response.json({ error: String(e) });
    }
  },
};
"#;

/// An emulator serving the R2 Worker over a new bucket; `None` when skipped.
async fn r2_worker() -> Option<Local> {
    let local = Local::start().await?;
    local.bucket("conformance").await;
    let status = local
        .deploy(
            "r2",
            R2_WORKER,
            json!({"bindings": [{"type": "r2_bucket", "name": "BUCKET", "bucket_name": "conformance"}]}),
        )
        .await;
    assert_eq!(status.running, ["r2"], "{status:?}");
    Some(local)
}

async fn op(local: &Local, op: &str, args: Value) -> Value {
    let answer = local.call("r2", "/", json!({"op": op, "args": args})).await;
    assert!(answer.get("error").is_none(), "{op} {args}: {answer}");
    answer["result"].clone()
}

fn object(key: &str) -> String {
    format!("/r2/buckets/conformance/objects/{key}")
}

/// Puts an object through the API; its answer.
async fn api_put(local: &Local, key: &str, body: &[u8], content_type: &str) -> Value {
    local
        .ok(local
            .api(Method::PUT, &object(key))
            .header("content-type", content_type)
            .body(body.to_vec()))
        .await
}

/// An object's bytes and content type through the API; `None` when it is missing.
async fn api_get(local: &Local, key: &str) -> Option<(Vec<u8>, String)> {
    let r = local.api(Method::GET, &object(key)).send().await.unwrap();
    if r.status() == 404 {
        return None;
    }
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    Some((r.bytes().await.unwrap().to_vec(), ct))
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(data))
}

#[tokio::test]
async fn put_writes_what_the_api_reads() {
    let Some(local) = r2_worker().await else {
        return;
    };
    let put = op(
        &local,
        "put",
        json!({"key": "docs/a.txt", "value": "from the worker",
               "options": {"httpMetadata": {"contentType": "text/plain"},
                           "customMetadata": {"owner": "ada"}}}),
    )
    .await;
    assert_eq!(put["size"], 15);
    assert_eq!(put["etag"], md5_hex(b"from the worker"));
    assert_eq!(put["checksums"]["md5"], md5_hex(b"from the worker"));
    assert_eq!(put["customMetadata"], json!({"owner": "ada"}));
    let (bytes, content_type) = api_get(&local, "docs/a.txt").await.unwrap();
    assert_eq!(bytes, b"from the worker");
    assert_eq!(content_type, "text/plain");
    // A checksum that does not match is refused with R2's code.
    let sha256 = "00".repeat(32);
    let err = local
        .call(
            "r2",
            "/",
            json!({"op": "put", "args": {"key": "bad", "value": "x", "options": {"sha256": sha256}}}),
        )
        .await;
    let err = err["error"].as_str().unwrap();
    assert!(err.contains("(10037)"), "{err}");
    assert!(api_get(&local, "bad").await.is_none());
    // Custom metadata holds up to 8,192 bytes, keys and values together (R2's limits page).
    let with_metadata = |value_len: usize| {
        json!({"op": "put", "args": {"key": "meta", "value": "x",
               "options": {"customMetadata": {"owner": "x".repeat(value_len)}}}})
    };
    let put = local.call("r2", "/", with_metadata(8192 - 5)).await;
    assert_eq!(
        put["result"]["customMetadata"]["owner"]
            .as_str()
            .map(str::len),
        Some(8187),
        "{put}"
    );
    let err = local.call("r2", "/", with_metadata(8192 - 4)).await;
    let err = err["error"].as_str().unwrap();
    assert!(err.contains("(10012)"), "{err}");
}

#[tokio::test]
async fn get_reads_what_the_api_wrote_whole_and_in_ranges() {
    let Some(local) = r2_worker().await else {
        return;
    };
    let put = api_put(&local, "n.txt", b"0123456789", "text/csv").await;
    let got = op(&local, "get", json!({"key": "n.txt"})).await;
    assert_eq!(got["text"], "0123456789");
    assert_eq!(got["etag"], put["etag"]);
    assert_eq!(got["etag"], md5_hex(b"0123456789"));
    assert_eq!(got["httpMetadata"]["contentType"], "text/csv");
    assert_eq!(got["range"], json!({"offset": 0, "length": 10}));
    for (range, text, offset, length) in [
        (json!({"offset": 2, "length": 3}), "234", 2, 3),
        (json!({"offset": 7}), "789", 7, 3),
        (json!({"suffix": 4}), "6789", 6, 4),
    ] {
        let got = op(
            &local,
            "get",
            json!({"key": "n.txt", "options": {"range": range}}),
        )
        .await;
        assert_eq!(got["text"], text, "{range}");
        assert_eq!(
            got["range"],
            json!({"offset": offset, "length": length}),
            "{range}"
        );
    }
    assert_eq!(
        op(&local, "get", json!({"key": "missing"})).await,
        Value::Null
    );
    assert!(api_get(&local, "missing").await.is_none());
}

#[tokio::test]
async fn conditional_get_answers_metadata_without_a_body() {
    let Some(local) = r2_worker().await else {
        return;
    };
    let put = api_put(&local, "c", b"conditional", "text/plain").await;
    let etag = put["etag"].as_str().unwrap();
    let hit = op(
        &local,
        "get",
        json!({"key": "c", "options": {"onlyIf": {"etagMatches": etag}}}),
    )
    .await;
    assert_eq!(hit["text"], "conditional");
    for only_if in [
        json!({"etagMatches": "other"}),
        json!({"etagDoesNotMatch": etag}),
    ] {
        let miss = op(
            &local,
            "get",
            json!({"key": "c", "options": {"onlyIf": only_if}}),
        )
        .await;
        assert_eq!(miss["hasBody"], false, "{only_if}: {miss}");
        assert_eq!(miss["etag"], etag);
    }
    // A conditional put that fails writes nothing and answers null.
    let refused = op(
        &local,
        "put",
        json!({"key": "c", "value": "replaced", "options": {"onlyIf": {"etagMatches": "other"}}}),
    )
    .await;
    assert_eq!(refused, Value::Null);
    assert_eq!(api_get(&local, "c").await.unwrap().0, b"conditional");
}

#[tokio::test]
async fn head_describes_what_the_api_stored() {
    let Some(local) = r2_worker().await else {
        return;
    };
    let put = api_put(&local, "h.bin", &[1, 2, 3], "application/octet-stream").await;
    let head = op(&local, "head", json!({"key": "h.bin"})).await;
    assert_eq!(head["size"], put["size"]);
    assert_eq!(head["etag"], put["etag"]);
    assert_eq!(head["version"], put["version"]);
    assert_eq!(head["hasBody"], false);
    assert_eq!(head["storageClass"], "Standard");
    assert_eq!(
        op(&local, "head", json!({"key": "missing"})).await,
        Value::Null
    );
}

#[tokio::test]
async fn list_sees_the_objects_the_api_put() {
    let Some(local) = r2_worker().await else {
        return;
    };
    for key in [
        "photos/2024/a.jpg",
        "photos/2024/b.jpg",
        "photos/2025/c.jpg",
        "photos/d.jpg",
        "readme",
    ] {
        api_put(&local, key, key.as_bytes(), "image/jpeg").await;
    }
    let all = op(&local, "list", json!({})).await;
    let keys: Vec<&str> = all["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "photos/2024/a.jpg",
            "photos/2024/b.jpg",
            "photos/2025/c.jpg",
            "photos/d.jpg",
            "readme"
        ]
    );
    // Without `include`, no HTTP metadata; with it, the API's content type.
    assert!(
        all["objects"][0]["httpMetadata"].is_null()
            || all["objects"][0]["httpMetadata"] == json!({})
    );
    let folded = op(
        &local,
        "list",
        json!({"options": {"prefix": "photos/", "delimiter": "/", "include": ["httpMetadata"]}}),
    )
    .await;
    assert_eq!(
        folded["delimitedPrefixes"],
        json!(["photos/2024/", "photos/2025/"])
    );
    let objects = folded["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0]["key"], "photos/d.jpg");
    assert_eq!(objects[0]["httpMetadata"]["contentType"], "image/jpeg");
    // Pages of two, followed by cursor, give every key once.
    let mut seen = Vec::new();
    let mut options = json!({"limit": 2});
    loop {
        let page = op(&local, "list", json!({ "options": options })).await;
        seen.extend(
            page["objects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["key"].clone()),
        );
        if page["truncated"] == false {
            break;
        }
        options["cursor"] = page["cursor"].clone();
    }
    assert_eq!(seen.len(), 5);
    let after = op(
        &local,
        "list",
        json!({"options": {"startAfter": "photos/d.jpg"}}),
    )
    .await;
    assert_eq!(after["objects"][0]["key"], "readme");
}

#[tokio::test]
async fn delete_removes_what_the_api_then_misses() {
    let Some(local) = r2_worker().await else {
        return;
    };
    for key in ["one", "two", "three"] {
        api_put(&local, key, b"x", "text/plain").await;
    }
    op(&local, "delete", json!({"keys": "one"})).await;
    op(
        &local,
        "delete",
        json!({"keys": ["two", "three", "never-there"]}),
    )
    .await;
    for key in ["one", "two", "three"] {
        assert!(api_get(&local, key).await.is_none(), "{key}");
    }
}

#[tokio::test]
async fn multipart_uploads_assemble_what_the_api_reads() {
    let Some(local) = r2_worker().await else {
        return;
    };
    let five_mib = 5 * 1024 * 1024;
    let done = op(
        &local,
        "multipart",
        json!({"key": "big", "options": {"httpMetadata": {"contentType": "video/mp4"}},
               "parts": [{"fill": "a", "size": five_mib}, {"fill": "b", "size": 10}]}),
    )
    .await;
    assert_eq!(done["size"], five_mib + 10);
    assert!(done["etag"].as_str().unwrap().ends_with("-2"), "{done}");
    assert_eq!(done["httpMetadata"]["contentType"], "video/mp4");
    let (bytes, content_type) = api_get(&local, "big").await.unwrap();
    assert_eq!(bytes.len(), five_mib + 10);
    assert!(bytes[..five_mib].iter().all(|b| *b == b'a'));
    assert_eq!(&bytes[five_mib..], b"bbbbbbbbbb");
    assert_eq!(content_type, "video/mp4");
    // A part under 5 MiB that is not the last is refused.
    let err = local
        .call(
            "r2",
            "/",
            json!({"op": "multipart", "args": {"key": "small", "parts": [{"fill": "a", "size": 10}, {"fill": "b", "size": 10}]}}),
        )
        .await;
    assert!(err["error"].as_str().unwrap().contains("(10011)"), "{err}");
    // After an abort, the upload takes no more parts.
    let aborted = op(&local, "abort", json!({"key": "gone"})).await;
    assert!(aborted.as_str().unwrap().contains("(10024)"), "{aborted}");
    assert!(api_get(&local, "gone").await.is_none());
}
