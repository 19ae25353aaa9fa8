use athanor::infra;

infra! {
    let tenants = DispatchNamespace("tenants");
    let jobs = Queue("jobs");
    let runner = Worker("runner") { entrypoint: "./runner.js" };
    let customer = Worker("customer") { namespace: tenants, entrypoint: "./customer.js" };
    let first = QueueConsumer("first") { queue: jobs, worker: runner, dead_letter_queue: jobs };
    let second = QueueConsumer("second") { queue: jobs, worker: customer, batch_size: 500 };
}

fn main() {}
