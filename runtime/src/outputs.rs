//! Deploy outputs (ids, names, URLs): typed for Rust callers, a table or JSON for people and CI.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use athanor_core::Output;

use crate::state::Snapshot;

/// Deploy results for Rust callers: outputs keyed by logical id.
pub type Outputs = BTreeMap<String, Output>;

/// The outputs recorded in state (what `outputs` shows without deploying).
pub(crate) fn from_state(state: &Snapshot) -> Outputs {
    state
        .records
        .values()
        .filter_map(|r| r.output.clone().map(|o| (r.id.clone(), o)))
        .collect()
}

/// A table: one line per resource with its kind, name, id and URL where it has them.
pub(crate) fn render(outputs: &Outputs) -> String {
    let mut rows: Vec<[String; 4]> = vec![[
        "RESOURCE".into(),
        "KIND".into(),
        "NAME".into(),
        "ID / URL".into(),
    ]];
    for (id, output) in outputs {
        let mut extra: Vec<&str> = Vec::new();
        extra.extend(output.id());
        extra.extend(output.url());
        rows.push([
            id.clone(),
            output.kind().as_str().to_owned(),
            output.name().to_owned(),
            extra.join("  "),
        ]);
    }
    let widths: Vec<usize> = (0..4)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let line = format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The outputs as JSON: `{ "<id>": { "kind": ..., "name": ..., "id": ..., "url": ..., ... } }`.
pub(crate) fn to_json(outputs: &Outputs) -> Value {
    let map: serde_json::Map<String, Value> = outputs
        .iter()
        .map(|(id, o)| {
            let mut v = serde_json::to_value(o).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("name".into(), json!(o.name()));
                if let Some(cf_id) = o.id() {
                    m.entry("id").or_insert(json!(cf_id));
                }
                if let Some(url) = o.url() {
                    m.insert("url".into(), json!(url));
                }
            }
            (id.clone(), v)
        })
        .collect();
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use athanor_core::output::{KvNamespaceOutput, WorkerOutput};

    #[test]
    fn the_table_shows_ids_and_urls() {
        let outputs = Outputs::from([
            (
                "api".to_owned(),
                Output::Worker(WorkerOutput {
                    name: "my-worker".into(),
                    namespace: None,
                    url: Some("https://my-worker.x.workers.dev".into()),
                    etag: None,
                    migration_tag: None,
                    content_hash: "h".into(),
                    durable_objects: Default::default(),
                    bindings: Default::default(),
                }),
            ),
            (
                "kv".to_owned(),
                Output::KvNamespace(KvNamespaceOutput {
                    id: "abc".into(),
                    title: "t".into(),
                }),
            ),
        ]);
        let table = render(&outputs);
        assert!(table.lines().next().unwrap().starts_with("RESOURCE"));
        assert!(table.contains("https://my-worker.x.workers.dev"));
        assert!(table.contains("abc"));
        let json = to_json(&outputs);
        assert_eq!(json["kv"]["id"], "abc");
        assert_eq!(json["api"]["url"], "https://my-worker.x.workers.dev");
    }
}
