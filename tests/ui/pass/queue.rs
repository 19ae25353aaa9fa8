use athanor::model::stack::Props;
use athanor::infra;

infra! {
    app "jobs";

    let jobs = Queue("jobs") { name: "jobs", delivery_delay: 5, message_retention_period: 86400 };
    let failed = Queue("failed-jobs");
    let api = Worker("api") { entrypoint: "./api.js", bindings: { JOBS: jobs } };
    let runner = Worker("runner") { entrypoint: "./runner.js" };
    let consumer = QueueConsumer("runner-consumes-jobs") {
        queue: jobs,
        worker: runner,
        batch_size: 10,
        max_retries: 3,
        max_wait_time_ms: 2000,
        retry_delay: 30,
        dead_letter_queue: failed,
    };
}

fn main() {
    let stack = stack();
    let Props::Queue(jobs) = &stack.get("jobs").unwrap().props else { panic!() };
    assert_eq!(jobs.name.as_deref(), Some("jobs"));
    assert_eq!(jobs.delivery_delay, Some(5));
    let consumer = stack.get("runner-consumes-jobs").unwrap();
    let Props::QueueConsumer(c) = &consumer.props else { panic!() };
    assert_eq!(c.queue.0, "jobs");
    assert_eq!(c.worker.0, "runner");
    assert_eq!(c.batch_size, Some(10));
    assert_eq!(c.max_concurrency, None);
    assert_eq!(c.dead_letter_queue.as_ref().map(|r| r.0.as_str()), Some("failed-jobs"));
    assert_eq!(consumer.dependencies(), ["failed-jobs", "jobs", "runner"].into());
    assert!(api::TYPESCRIPT_ENV.contains("JOBS: Queue;"), "{}", api::TYPESCRIPT_ENV);
}
