//! Durable Objects keep their storage under the emulator's data directory: a counter counts on
//! across an emulator restart, for SQLite-backed and key-value classes, and a class is reachable
//! from another Worker through `script_name`.

use serde_json::json;

use crate::common::Local;

const COUNTERS: &str = r#"
import { DurableObject } from "cloudflare:workers";
export class SqlCounter extends DurableObject {
  async bump() {
    const n = ((await this.ctx.storage.get("n")) ?? 0) + 1;
    await this.ctx.storage.put("n", n);
    this.ctx.storage.sql.exec("SELECT 1");
    return n;
  }
}
export class KvCounter {
  constructor(state) { this.state = state; }
  async fetch() {
    const n = ((await this.state.storage.get("n")) ?? 0) + 1;
    await this.state.storage.put("n", n);
    return new Response(String(n));
  }
}
export default {
  async fetch(request, env) {
    const sql = await env.SQL.get(env.SQL.idFromName("one")).bump();
    const kv = await (await env.KV.get(env.KV.idFromName("one")).fetch("http://do/")).text();
    return new Response(`${sql} ${kv}`);
  },
};
"#;

const CALLER: &str = r#"
export default {
  async fetch(request, env) {
    return new Response("other " + (await env.SQL.get(env.SQL.idFromName("one")).bump()));
  },
};
"#;

#[tokio::test]
async fn a_counter_counts_on_after_the_emulator_restarts() {
    let Some(local) = Local::start().await else {
        return;
    };
    let status = local
        .deploy(
            "counter",
            COUNTERS,
            json!({
                "bindings": [
                    {"type": "durable_object_namespace", "name": "SQL", "class_name": "SqlCounter"},
                    {"type": "durable_object_namespace", "name": "KV", "class_name": "KvCounter"},
                ],
                "migrations": {"new_tag": "v1", "new_sqlite_classes": ["SqlCounter"], "new_classes": ["KvCounter"]},
            }),
        )
        .await;
    assert_eq!(status.running, ["counter"], "{status:?}");
    assert_eq!(local.get("counter", "/").await, (200, "1 1".into()));
    assert_eq!(local.get("counter", "/").await, (200, "2 2".into()));
    // Another Worker reaches the same object through the class's script.
    let status = local
        .deploy(
            "caller",
            CALLER,
            json!({"bindings": [{"type": "durable_object_namespace", "name": "SQL",
                                 "class_name": "SqlCounter", "script_name": "counter"}]}),
        )
        .await;
    assert!(status.failed.is_empty(), "{status:?}");
    assert_eq!(local.get("caller", "/").await, (200, "other 3".into()));

    let dir = local.dir.clone();
    let tmp = local.stop().await;
    let again = Local::start_in(&dir).await.unwrap();
    again.emu.workers_ready().await;
    assert_eq!(again.get("counter", "/").await, (200, "4 3".into()));
    again.stop().await;
    drop(tmp);
}
