//! The whole life of a stack through the public API, against the emulator in this process:
//! first deploy, a no-op second deploy (no mutating request at all), a property change, a
//! removed resource, a replace, destroy; an interrupted deploy that converges without a
//! duplicate; drift of a Worker seen with `refresh` and repaired; the lock; wrong and missing
//! passwords.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use athanor_core::provider::{Applying, BoxFuture, Desired, Existing, Prepared};
use athanor_core::{Output, Provider, ProviderError, Resource};
use athanor_runtime::{Action, Error, Session, SessionOptions};
use common::*;

#[tokio::test]
async fn a_stack_lives_and_dies_with_the_fewest_requests() {
    let env = Env::start().await;
    let v1 = stack(vec![
        kv("sessions", "e2e-sessions"),
        kv("cache", "e2e-cache"),
        bucket("storage", "e2e-storage"),
        worker("api", "e2e-api", &["sessions", "storage"], "1"),
    ]);

    // First deploy.
    let outputs = env.session(v1.clone()).deploy().await.unwrap();
    assert_eq!(outputs.len(), 4);
    assert_eq!(outputs["sessions"].name(), "e2e-sessions");
    assert_eq!(env.kv_titles().await, ["e2e-cache", "e2e-sessions"]);
    let first = env.emulator.stats();
    assert!(first.mutating >= 4, "{first:?}");

    // Second deploy, nothing changed: not one mutating request.
    env.emulator.reset_stats();
    let plan = env.session(v1.clone()).plan().await.unwrap();
    assert!(!plan.has_changes(), "{}", plan.render(true));
    let again = env.session(v1.clone()).deploy().await.unwrap();
    assert_eq!(again, outputs);
    assert_eq!(
        env.emulator.stats().mutating,
        0,
        "{:?}",
        env.emulator.stats()
    );

    // A property change: one update, of the Worker.
    let v2 = stack(vec![
        kv("sessions", "e2e-sessions"),
        kv("cache", "e2e-cache"),
        bucket("storage", "e2e-storage"),
        worker("api", "e2e-api", &["sessions", "storage"], "2"),
    ]);
    let plan = env.session(v2.clone()).plan().await.unwrap();
    let s = plan.summary();
    assert_eq!((s.create, s.update, s.replace, s.delete), (0, 1, 0, 0));
    assert_eq!(plan.step("api").unwrap().action, Action::Update);
    env.emulator.reset_stats();
    env.session(v2.clone()).deploy().await.unwrap();
    let stats = env.emulator.stats();
    assert!(stats.mutating >= 1);
    assert!(
        stats
            .by_route
            .keys()
            .all(|r| !r.contains("storage/kv") || r.starts_with("GET")),
        "only the Worker changes: {stats:?}"
    );

    // A removed resource: one delete.
    let v3 = stack(vec![
        kv("sessions", "e2e-sessions"),
        bucket("storage", "e2e-storage"),
        worker("api", "e2e-api", &["sessions", "storage"], "2"),
    ]);
    env.emulator.reset_stats();
    env.session(v3.clone()).deploy().await.unwrap();
    let stats = env.emulator.stats();
    assert_eq!(stats.mutating, 1, "{stats:?}");
    assert_eq!(env.kv_titles().await, ["e2e-sessions"]);

    // A replace: the bucket's name changes; the Worker is re-pointed; the old bucket goes.
    let v4 = stack(vec![
        kv("sessions", "e2e-sessions"),
        bucket("storage", "e2e-storage-2"),
        worker("api", "e2e-api", &["sessions", "storage"], "2"),
    ]);
    let plan = env.session(v4.clone()).plan().await.unwrap();
    assert_eq!(plan.step("storage").unwrap().action, Action::Replace);
    assert_eq!(plan.step("api").unwrap().action, Action::Update);
    let outputs = env.session(v4.clone()).deploy().await.unwrap();
    assert_eq!(outputs["storage"].name(), "e2e-storage-2");
    let buckets = env.get("/r2/buckets").await;
    let names: Vec<&str> = buckets["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["e2e-storage-2"]);
    assert!(!env.session(v4.clone()).plan().await.unwrap().has_changes());

    // Destroy: everything goes, state is empty.
    let report = env.session(v4.clone()).destroy().await.unwrap();
    assert_eq!(report.deleted, ["api", "sessions", "storage"]);
    assert!(env.kv_titles().await.is_empty());
    assert!(
        athanor_runtime::internals::snapshot(&env.session(v4))
            .await
            .unwrap()
            .records
            .is_empty()
    );
}

/// Passes calls through, but fails the run right after the first create reached the target, as a
/// process killed at that instant would.
struct DiesAfterFirstCreate {
    inner: Arc<dyn Provider>,
    dead: AtomicBool,
}

impl Provider for DiesAfterFirstCreate {
    fn fingerprint<'a>(
        &'a self,
        desired: &'a Desired<'a>,
    ) -> BoxFuture<'a, Result<Option<String>, ProviderError>> {
        self.inner.fingerprint(desired)
    }

    fn prepare<'a>(
        &'a self,
        desired: &'a Desired<'a>,
        existing: Option<Existing<'a>>,
    ) -> BoxFuture<'a, Result<Prepared, ProviderError>> {
        self.inner.prepare(desired, existing)
    }

    fn start_create<'a>(
        &'a self,
        desired: &'a Desired<'a>,
        prepared: Prepared,
    ) -> BoxFuture<'a, Result<Applying<'a>, ProviderError>> {
        Box::pin(async move {
            if self.dead.load(Ordering::SeqCst) {
                return Err(ProviderError::Local {
                    message: "the process is gone".into(),
                });
            }
            let created = self
                .inner
                .start_create(desired, prepared)
                .await?
                .finish()
                .await?;
            self.dead.store(true, Ordering::SeqCst);
            drop(created);
            Err(ProviderError::Transport {
                target: "emulator".into(),
                message: "killed after the create was sent".into(),
            })
        })
    }

    fn start_update<'a>(
        &'a self,
        desired: &'a Desired<'a>,
        existing: Existing<'a>,
        prepared: Prepared,
    ) -> BoxFuture<'a, Result<Applying<'a>, ProviderError>> {
        self.inner.start_update(desired, existing, prepared)
    }

    fn delete<'a>(&'a self, existing: Existing<'a>) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.inner.delete(existing)
    }

    fn read<'a>(
        &'a self,
        existing: Existing<'a>,
    ) -> BoxFuture<'a, Result<Option<Output>, ProviderError>> {
        self.inner.read(existing)
    }
}

#[tokio::test]
async fn a_deploy_waits_for_as_many_round_trips_as_the_graph_is_deep() {
    let env = Env::start().await;
    let with_url = |version: &str| {
        let mut api = worker("api", "paths-api", &["first", "second", "files"], version);
        if let athanor_core::Props::Worker(w) = &mut api.props {
            w.url = true;
        }
        stack(vec![
            kv("first", "paths-first"),
            kv("second", "paths-second"),
            bucket("files", "paths-files"),
            api,
        ])
    };
    // Latency makes each round trip distinct: requests sent together overlap, and one sent
    // after another's answer arrives after it.
    env.emulator.set_faults(athanor_emulator::Faults {
        latency: std::time::Duration::from_millis(100),
        ..Default::default()
    });
    // First deploy: the namespaces' creates, the bucket's, the script's settings and the
    // account's subdomain go out together; then the upload beside the values; then workers.dev.
    env.emulator.reset_stats();
    env.session(with_url("1")).deploy().await.unwrap();
    let stats = env.emulator.stats();
    assert_eq!((stats.total, stats.round_trips), (9, 3), "{stats:?}");
    // A new version of the code: the upload, its workers.dev state read beside it.
    env.emulator.reset_stats();
    env.session(with_url("2")).deploy().await.unwrap();
    let stats = env.emulator.stats();
    assert_eq!((stats.total, stats.round_trips), (2, 1), "{stats:?}");
}

#[tokio::test]
async fn an_interrupted_deploy_converges_without_a_duplicate() {
    let env = Env::start().await;
    let s = stack(vec![
        kv("a", "e2e-a"),
        kv("b", "e2e-b"),
        worker("api", "e2e-interrupted", &["a", "b"], "1"),
    ]);
    let dying = Arc::new(DiesAfterFirstCreate {
        inner: env.provider.clone(),
        dead: AtomicBool::new(false),
    });
    let options = SessionOptions::new("test")
        .state_dir(env.state_dir())
        .concurrency(1);
    let err = Session::new(s.clone(), dying, options)
        .deploy()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Failed { .. }), "{err}");
    let plan = env.session(s.clone()).plan().await.unwrap();
    // `a` was created before the "kill"; `b`'s create was never sent but its marker is down too.
    let step = plan.step("a").unwrap();
    // Resumed as this stack's own create, not as the user's `adopt`.
    assert!(step.resumed && !step.adopt, "{}", plan.render(true));
    env.session(s.clone()).deploy().await.unwrap();
    assert_eq!(env.kv_titles().await, ["e2e-a", "e2e-b"]);
    env.emulator.reset_stats();
    env.session(s).deploy().await.unwrap();
    assert_eq!(env.emulator.stats().mutating, 0);
}

#[tokio::test]
async fn destroy_after_an_interrupted_create_deletes_what_it_made() {
    let env = Env::start().await;
    // A derived title (`e2e-cache-test`): athanor can tell the namespace is this stack's.
    let s = stack(vec![Resource::new(
        "cache",
        athanor_core::stack::KvNamespace::default(),
    )]);
    let dying = Arc::new(DiesAfterFirstCreate {
        inner: env.provider.clone(),
        dead: AtomicBool::new(false),
    });
    let options = SessionOptions::new("test").state_dir(env.state_dir());
    Session::new(s.clone(), dying, options)
        .deploy()
        .await
        .unwrap_err();
    assert_eq!(env.kv_titles().await, ["e2e-cache-test"]);
    let report = env.session(s).destroy().await.unwrap();
    assert_eq!(report.deleted, ["cache"]);
    assert!(env.kv_titles().await.is_empty(), "nothing leaks");
}

#[tokio::test]
async fn refused_credentials_stop_the_run_with_one_message_naming_the_variable() {
    let env = Env::start().await;
    // More resources than requests in flight, so that the stop shows.
    let mut resources: Vec<Resource> = (0..12)
        .map(|i| kv(&format!("n{i}"), &format!("e2e-cred-{i}")))
        .collect();
    resources.push(worker("api", "e2e-cred", &["n0", "n1"], "1"));
    let s = stack(resources);
    let token =
        |t: &str| athanor_cloudflare::Auth::Token(secrecy::SecretString::from(t.to_owned()));
    let key = athanor_cloudflare::Auth::Key {
        key: secrecy::SecretString::from("not-the-key".to_owned()),
        email: "someone@example.com".into(),
    };
    for (stage, auth, account, says) in [
        (
            "token",
            token("not-the-token"),
            env.emulator.account_id().to_owned(),
            "Cloudflare does not know the token in CLOUDFLARE_API_TOKEN",
        ),
        (
            "key",
            key,
            env.emulator.account_id().to_owned(),
            "Cloudflare refuses the global API key in CLOUDFLARE_API_KEY and CLOUDFLARE_EMAIL",
        ),
        (
            "account",
            token(env.emulator.token()),
            "0123456789abcdef0123456789abcdef".to_owned(),
            "are valid, but Cloudflare refuses them for account 0123456789abcdef0123456789abcdef: check CLOUDFLARE_ACCOUNT_ID",
        ),
    ] {
        let mut config = athanor_cloudflare::ClientConfig::new(env.emulator.base_url(), auth);
        config.account_id = Some(account);
        let refused: Arc<dyn Provider> = Arc::new(athanor_cloudflare::CloudflareProvider::new(
            athanor_cloudflare::Client::connect(config).await.unwrap(),
        ));
        let options = SessionOptions::new(stage)
            .state_dir(env.state_dir())
            .concurrency(4);
        env.emulator.reset_stats();
        let err = Session::new(s.clone(), refused, options)
            .deploy()
            .await
            .unwrap_err();
        let Error::CredentialsRefused { count, .. } = &err else {
            panic!("{err}")
        };
        assert!(*count >= 1);
        let text = err.to_string();
        assert!(text.contains(says), "{stage}: {text}");
        assert_eq!(text.lines().count(), 1, "one message: {text}");
        // The requests in flight when the first refusal came, and the check's (two at most);
        // nothing after.
        let sent = env.emulator.stats().total;
        assert!(sent <= 4 + 2, "{stage}: {sent} requests sent");
    }
    assert!(env.kv_titles().await.is_empty());
}

#[tokio::test]
async fn refresh_reads_go_out_concurrency_at_a_time() {
    let env = Env::start().await;
    let s = stack(
        (0..12)
            .map(|i| kv(&format!("n{i}"), &format!("e2e-refresh-{i}")))
            .collect(),
    );
    env.session(s.clone()).deploy().await.unwrap();
    // Answers 50 ms late, so that each round of four ends before the next starts.
    env.emulator.set_faults(athanor_emulator::Faults {
        latency: std::time::Duration::from_millis(50),
        ..Default::default()
    });
    env.emulator.reset_stats();
    let plan = env
        .session_with(s.clone(), |o| o.refresh(true).concurrency(4))
        .plan()
        .await
        .unwrap();
    assert!(!plan.has_changes(), "{}", plan.render(true));
    let stats = env.emulator.stats();
    assert_eq!(stats.total, 12, "{:?}", stats.by_route);
    // Four at a time: three rounds (one more when the slots drift apart), not twelve.
    assert!(stats.round_trips <= 4, "{} round trips", stats.round_trips);

    // A refused read ends the refresh, with one message naming the variable to fix: the reads
    // in flight finish, the check of the credentials goes out, no more reads start.
    let mut config = athanor_test_support::client_config(&env.emulator);
    config.auth = athanor_cloudflare::Auth::Token(secrecy::SecretString::from("nope".to_owned()));
    let refused: Arc<dyn Provider> = Arc::new(athanor_cloudflare::CloudflareProvider::new(
        athanor_cloudflare::Client::connect(config).await.unwrap(),
    ));
    env.emulator.reset_stats();
    let options = SessionOptions::new("test")
        .state_dir(env.state_dir())
        .refresh(true)
        .concurrency(4);
    let err = Session::new(s, refused, options).plan().await.unwrap_err();
    let report = err.report();
    assert!(
        report.contains("`n0`") && report.contains("CLOUDFLARE_API_TOKEN"),
        "{report}"
    );
    assert!(
        matches!(
            err,
            Error::CredentialsRefused {
                problem: Some(_),
                ..
            }
        ),
        "{report}"
    );
    assert!(
        env.emulator.stats().total <= 4 + 2,
        "{:?}",
        env.emulator.stats()
    );
}

#[tokio::test]
async fn refresh_sees_a_worker_changed_outside_and_deploy_repairs_it() {
    let env = Env::start().await;
    let s = stack(vec![
        kv("sessions", "e2e-drift-sessions"),
        worker("api", "e2e-drift", &["sessions"], "1"),
    ]);
    env.session(s.clone()).deploy().await.unwrap();
    let refreshed = |env: &Env| env.session_with(s.clone(), |o| o.refresh(true));
    let plan = refreshed(&env).plan().await.unwrap();
    assert!(!plan.has_changes(), "no drift yet: {}", plan.render(true));

    // Someone removes the KV binding in the dashboard (a settings PATCH).
    let settings =
        serde_json::json!({"bindings": [{"type": "plain_text", "name": "VERSION", "text": "1"}]});
    let form = reqwest::multipart::Form::new().part(
        "settings",
        reqwest::multipart::Part::text(settings.to_string())
            .mime_str("application/json")
            .unwrap(),
    );
    let resp = reqwest::Client::new()
        .patch(
            env.emulator
                .account_url("/workers/scripts/e2e-drift/settings"),
        )
        .bearer_auth(env.emulator.token())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // Without --refresh the record is believed; with it the drift shows and is repaired.
    assert!(!env.session(s.clone()).plan().await.unwrap().has_changes());
    let plan = refreshed(&env).plan().await.unwrap();
    let step = plan.step("api").unwrap();
    assert_eq!(step.action, Action::Update, "{}", plan.render(true));
    let drift = step.drift.as_deref().unwrap_or_default();
    assert!(drift.contains("bindings"), "{drift}");
    refreshed(&env).deploy().await.unwrap();
    let live = env.get("/workers/scripts/e2e-drift/settings").await;
    let names: Vec<&str> = live["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"SESSIONS"), "{live}");
    let plan = refreshed(&env).plan().await.unwrap();
    assert!(!plan.has_changes(), "repaired: {}", plan.render(true));
}

#[tokio::test]
async fn a_concurrent_deploy_is_refused_by_the_lock() {
    let env = Env::start().await;
    let s = stack(vec![kv("a", "e2e-locked")]);
    let first = env.session(s.clone());
    let lock = athanor_runtime::internals::lock_stage(&first)
        .await
        .unwrap();
    let err = env.session(s.clone()).deploy().await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&format!("pid {}", std::process::id())),
        "{message}"
    );
    assert!(env.kv_titles().await.is_empty());
    // Another stage of the same stack has a lock of its own: it deploys meanwhile.
    let other = stack(vec![kv("a", "e2e-other-stage")]);
    env.session_with(other, |o| SessionOptions {
        stage: "other".into(),
        ..o
    })
    .deploy()
    .await
    .unwrap();
    assert_eq!(env.kv_titles().await, ["e2e-other-stage"]);
    drop(lock);
    env.session(s).deploy().await.unwrap();
}

#[tokio::test]
async fn wrong_and_missing_passwords_leave_state_untouched() {
    let env = Env::start().await;
    let secret_path = env.dir.path().join("token.txt");
    std::fs::write(&secret_path, "e2e-secret-value-3b7f").unwrap();
    let mut s = stack(vec![worker("api", "e2e-secret-worker", &[], "1")]);
    if let athanor_core::Props::Worker(w) = &mut s.resources[0].props {
        w.bindings.push(athanor_core::Binding::new(
            "TOKEN",
            athanor_core::SecretSource::file(&secret_path),
        ));
    }
    env.session(s.clone()).deploy().await.unwrap();
    let state_files = read_tree(&env.state_dir());
    assert!(
        state_files
            .iter()
            .all(|(_, text)| !text.contains("e2e-secret-value-3b7f"))
    );

    let err = env
        .session_with(s.clone(), |o| o.password("wrong"))
        .deploy()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WrongPassword { .. }), "{err}");
    let err = env
        .session_with(s.clone(), |mut o| {
            o.password = None;
            o
        })
        .deploy()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::MissingPassword { .. }), "{err}");
    assert_eq!(read_tree(&env.state_dir()), state_files);
    assert!(!err.to_string().contains("e2e-secret-value"));
}

fn read_tree(dir: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(read_tree(&path));
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            out.push((path, text));
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn a_secret_ref_to_a_secret_of_the_same_stack_deploys_the_first_time() {
    let env = Env::start().await;
    let value = env.dir.path().join("api-key.txt");
    std::fs::write(&value, "e2e-api-key").unwrap();
    // The reference is declared first; the graph still orders it after the secret it names.
    let s = stack(vec![
        Resource::new(
            "uses-key",
            athanor_core::stack::SecretRef {
                name: "API_KEY".into(),
                store: None,
            },
        ),
        Resource::new(
            "key",
            athanor_core::stack::Secret {
                value: athanor_core::SecretSource::file(&value),
                name: Some("API_KEY".into()),
                store: None,
                scopes: vec!["workers".into()],
            },
        ),
    ]);
    let outputs = env.session(s).deploy().await.unwrap();
    assert_eq!(outputs["uses-key"].name(), "API_KEY");
}
