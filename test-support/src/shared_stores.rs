//! The shared state stores the tests run against, as `.ci/services` starts them: an
//! S3-compatible server (`ATHANOR_TEST_S3=http://host:port/bucket`) and Postgres
//! (`ATHANOR_TEST_POSTGRES=postgres://...`). A test that needs one fails when it is not
//! configured, unless `ATHANOR_SKIP_S3=1` / `ATHANOR_SKIP_POSTGRES=1` says to skip it: a silent
//! skip would hide a broken set-up.

/// One shared store: its `--state` setting (a place of its own, under `unique`) and the
/// environment a process needs to reach it.
#[derive(Debug, Clone)]
pub struct SharedStore {
    /// `s3` or `postgres`.
    pub name: &'static str,
    /// The `--state` / `ATHANOR_STATE` setting.
    pub setting: String,
    /// Variables to set in a process that uses it.
    pub env: Vec<(&'static str, String)>,
}

/// The shared stores configured here, each with a place of its own named by `unique` (an S3 key
/// prefix; Postgres places apps by name, so the caller's app name keeps tests apart there).
pub fn shared_stores(unique: &str) -> Vec<SharedStore> {
    let mut stores = Vec::new();
    if let Some(url) = configured("ATHANOR_TEST_S3", "ATHANOR_SKIP_S3") {
        let (endpoint, bucket) = url
            .trim_end_matches('/')
            .rsplit_once('/')
            .unwrap_or_else(|| panic!("ATHANOR_TEST_S3={url}: expected http://host:port/bucket"));
        stores.push(SharedStore {
            name: "s3",
            setting: format!("s3://{bucket}/{unique}"),
            env: vec![
                ("AWS_ENDPOINT", endpoint.to_owned()),
                ("AWS_ALLOW_HTTP", "true".to_owned()),
                ("AWS_ACCESS_KEY_ID", "test".to_owned()),
                ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
                ("AWS_REGION", "us-east-1".to_owned()),
            ],
        });
    }
    if let Some(url) = configured("ATHANOR_TEST_POSTGRES", "ATHANOR_SKIP_POSTGRES") {
        stores.push(SharedStore {
            name: "postgres",
            setting: url,
            env: Vec::new(),
        });
    }
    stores
}

/// Sets the environment of every store in this process (the S3 store reads `AWS_*` from it).
/// Every test sets the same values, so tests running at once agree.
pub fn use_in_this_process(stores: &[SharedStore]) {
    for store in stores {
        for (name, value) in &store.env {
            // SAFETY: every test of this process sets the same values before its first use, and
            // nothing else in the tests writes the environment.
            unsafe { std::env::set_var(name, value) };
        }
    }
}

fn configured(var: &str, skip: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Some(value),
        _ if std::env::var(skip).is_ok_and(|v| v == "1") => {
            eprintln!("skipping the {var} store: {skip}=1");
            None
        }
        _ => panic!(
            "{var} is not set: start the shared-state servers with `eval \"$(.ci/services)\"` (or set {skip}=1 to skip this store)"
        ),
    }
}
