use athanor::infra;

infra! {
    let reports = Worker("reports") {
        entrypoint: "./reports.js",
        crons: ["*/15 * * * *", "0 25 * * *", "0 9 * * MON#6"],
    };
}

fn main() {}
