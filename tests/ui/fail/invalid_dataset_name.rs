use athanor::infra;

infra! {
    let events = AnalyticsEngineDataset("events") { dataset: "app-events" };
}

fn main() {}
