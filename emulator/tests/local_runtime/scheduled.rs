//! A Worker's `scheduled()` handler run on request, as a Cron Trigger would run it:
//! `/cdn-cgi/handler/scheduled?cron=...` on the Worker's host.

use serde_json::{Value, json};

use crate::common::Local;

#[tokio::test]
async fn the_scheduled_handler_runs_on_request_and_its_error_is_reported() {
    let Some(local) = Local::start().await else {
        return;
    };
    let ns = local.kv_namespace("cron-runs").await;
    let code = r#"
export default {
  async scheduled(controller, env) {
    if (controller.cron === "fail") throw new Error("the job broke");
    await env.RUNS.put("last", `${controller.cron} at ${controller.scheduledTime}`);
  },
  async fetch(request, env) {
    return new Response(await env.RUNS.get("last") ?? "never");
  },
};
"#;
    let status = local
        .deploy(
            "jobs",
            code,
            json!({"bindings": [{"type": "kv_namespace", "name": "RUNS", "namespace_id": ns}]}),
        )
        .await;
    assert_eq!(status.running, ["jobs"], "{status:?}");
    assert_eq!(local.get("jobs", "/").await, (200, "never".to_owned()));

    let (status, body) = local
        .get(
            "jobs",
            "/cdn-cgi/handler/scheduled?cron=*/5+*+*+*+*&time=1700000000000",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["outcome"], "ok");
    assert_eq!(
        local.get("jobs", "/").await,
        (200, "*/5 * * * * at 1700000000000".to_owned())
    );

    let (status, body) = local
        .get("jobs", "/cdn-cgi/handler/scheduled?cron=fail")
        .await;
    assert_eq!(status, 500);
    assert!(body.contains("the job broke"), "{body}");
}
