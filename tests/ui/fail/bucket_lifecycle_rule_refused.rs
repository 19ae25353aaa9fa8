use athanor::infra;

infra! {
    let logs = R2Bucket("logs") {
        lifecycle: [
            { id: "expire", prefix: "logs/", expire_after_days: 30 },
            { id: "expire", prefix: "tmp/", expire_after_days: 0 },
            { id: "nothing", prefix: "keep/" },
        ],
    };
}

fn main() {}
