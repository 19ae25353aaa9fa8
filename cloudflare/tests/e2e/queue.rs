//! Queue and QueueConsumer against the emulator: a queue with its settings, a producer binding,
//! a consumer with its batching and a dead-letter queue, settings changed in place with one call
//! each, a taken name refused unless adopted, detach and delete.

use athanor_core::output::QueueOutput;
use athanor_core::stack::{Queue, QueueConsumer, ResourceRef, Worker, WorkerCode};
use athanor_core::{Binding, BindingValue, Output, Provider, ProviderError};

use crate::common::{Decl, start, worker_output};

const CONSUMER: &str = "export default { async queue(batch) { batch.ackAll(); } };\n";

fn queue_of(out: &Output) -> &QueueOutput {
    match out {
        Output::Queue(q) => q,
        other => panic!("not a queue: {other:?}"),
    }
}

#[tokio::test]
async fn a_queue_its_producer_and_its_consumer_are_applied_and_removed() {
    let fx = start().await;
    let root = fx.dir.path().to_path_buf();
    std::fs::write(root.join("consumer.js"), CONSUMER).unwrap();

    let mut props = Queue {
        delivery_delay: Some(5),
        ..Queue::default()
    };
    let jobs = Decl::new("jobs", "app-jobs", props.clone());
    let jobs_out = fx.provider.create(&jobs.desired()).await.unwrap();
    let failed = Decl::new("failed", "app-failed", Queue::default());
    let failed_out = fx.provider.create(&failed.desired()).await.unwrap();
    let (_, listed) = fx
        .api_get(&format!("/queues/{}", queue_of(&jobs_out).id))
        .await;
    assert_eq!(listed["queue_name"], "app-jobs");
    assert_eq!(listed["settings"]["delivery_delay"], 5);

    // A settings change: one call.
    props.delivery_delay = Some(0);
    let jobs_now = Decl::new("jobs", "app-jobs", props);
    fx.reset();
    let jobs_out = fx
        .provider
        .update(&jobs_now.desired(), jobs.existing(&jobs_out))
        .await
        .unwrap();
    assert_eq!(fx.stats().total, 1, "{:?}", fx.stats());

    // The producer's binding names the queue.
    let producer = Worker {
        code: WorkerCode::Entrypoint("consumer.js".into()),
        bindings: vec![Binding::new(
            "JOBS",
            BindingValue::Resource(ResourceRef::new("jobs")),
        )],
        ..Worker::default()
    };
    let runner = Decl::new("runner", "app-runner", producer)
        .root(&root)
        .dep("jobs", jobs_out.clone());
    let runner_out = fx.provider.create(&runner.desired()).await.unwrap();
    let (_, settings) = fx.api_get("/workers/scripts/app-runner/settings").await;
    let binding = &settings["bindings"][0];
    assert_eq!(binding["type"], "queue");
    assert_eq!(binding["queue_name"], "app-jobs");

    let consumer = QueueConsumer {
        queue: ResourceRef::new("jobs"),
        worker: ResourceRef::new("runner"),
        batch_size: Some(25),
        max_retries: Some(2),
        max_wait_time_ms: None,
        max_concurrency: None,
        retry_delay: None,
        dead_letter_queue: Some(ResourceRef::new("failed")),
    };
    let attach = Decl::new("runner-consumes-jobs", "c", consumer.clone())
        .dep("jobs", jobs_out.clone())
        .dep("runner", runner_out.clone())
        .dep("failed", failed_out.clone());
    let attached = fx.provider.create(&attach.desired()).await.unwrap();
    let (_, consumers) = fx
        .api_get(&format!("/queues/{}/consumers", queue_of(&jobs_out).id))
        .await;
    let c = &consumers[0];
    assert_eq!(c["script_name"], worker_output(&runner_out).name);
    assert_eq!(c["settings"]["batch_size"], 25);
    assert_eq!(c["dead_letter_queue"], "app-failed");

    // Its settings changed: one call, in place.
    let mut changed = consumer;
    changed.batch_size = Some(50);
    let again = Decl::new("runner-consumes-jobs", "c", changed)
        .dep("jobs", jobs_out.clone())
        .dep("runner", runner_out.clone())
        .dep("failed", failed_out.clone());
    fx.reset();
    let attached = fx
        .provider
        .update(&again.desired(), attach.existing(&attached))
        .await
        .unwrap();
    assert_eq!(fx.stats().total, 1, "{:?}", fx.stats());
    assert_eq!(
        fx.provider.read(again.existing(&attached)).await.unwrap(),
        Some(attached.clone())
    );

    // Detached, then the queues deleted; a second time is fine.
    fx.provider.delete(again.existing(&attached)).await.unwrap();
    assert_eq!(
        fx.provider.read(again.existing(&attached)).await.unwrap(),
        None
    );
    fx.provider.delete(again.existing(&attached)).await.unwrap();
    fx.provider
        .delete(jobs_now.existing(&jobs_out))
        .await
        .unwrap();
    assert_eq!(
        fx.provider
            .read(jobs_now.existing(&jobs_out))
            .await
            .unwrap(),
        None
    );
    fx.provider
        .delete(jobs_now.existing(&jobs_out))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_taken_queue_name_is_an_error_unless_adopted() {
    let fx = start().await;
    let decl = Decl::new("jobs", "taken-jobs", Queue::default());
    let first = fx.provider.create(&decl.desired()).await.unwrap();
    let err = fx.provider.create(&decl.desired()).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::AlreadyExists { .. }),
        "{err:?}"
    );
    let adopter = Decl::new("jobs", "taken-jobs", Queue::default()).adopt();
    let adopted = fx.provider.create(&adopter.desired()).await.unwrap();
    assert_eq!(queue_of(&adopted).id, queue_of(&first).id);
}
