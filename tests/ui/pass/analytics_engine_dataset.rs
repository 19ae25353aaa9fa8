use athanor::model::stack::Props;
use athanor::infra;

infra! {
    app "metrics";

    let events = AnalyticsEngineDataset("events") { dataset: "app_events" };
    let derived = AnalyticsEngineDataset("page-views");
    let api = Worker("api") { entrypoint: "./api.js", bindings: { EVENTS: events, VIEWS: derived } };
}

fn main() {
    let stack = stack();
    let Props::AnalyticsEngineDataset(events) = &stack.get("events").unwrap().props else {
        panic!()
    };
    assert_eq!(events.dataset.as_deref(), Some("app_events"));
    assert!(api::TYPESCRIPT_ENV.contains("EVENTS: AnalyticsEngineDataset;"), "{}", api::TYPESCRIPT_ENV);
    assert_eq!(stack.get("api").unwrap().dependencies(), ["events", "page-views"].into());
}
