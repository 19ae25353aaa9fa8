use athanor::infra;

infra! {
    app "platform";
    tenant(plan: &str, tenant: u32, kv: u8, (x, y): (u8, u8));

    let kv = KvNamespace("kv") { title: "shared-kv" };
    let dataset = AnalyticsEngineDataset("events") { dataset: "{tenant}_events" };
    let worker = Worker("worker") { name: "{tenant}-worker-with-a-name-long-enough-to-overflow", entrypoint: "./w.js" };
}

fn main() {}
