//! Tests of plan, deploy and destroy together, through [`Session`], against the in-memory
//! provider: the engine's rules without HTTP.

use std::sync::Arc;

use athanor_core::binding::{Binding, BindingValue};
use athanor_core::stack::{KvNamespace, R2Bucket, Secret, Worker};
use athanor_core::{Resource, ResourceRef, SecretSource, Stack};

use crate::error::Error;
use crate::plan::Action;
use crate::session::{Session, SessionOptions};
use crate::state::Status;
use crate::test_provider::MemoryProvider;

struct Fixture {
    dir: tempfile::TempDir,
    provider: Arc<MemoryProvider>,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
            provider: Arc::new(MemoryProvider::default()),
        }
    }

    fn session(&self, stack: Stack) -> Session {
        self.session_with(stack, |o| o)
    }

    fn session_with(
        &self,
        stack: Stack,
        f: impl FnOnce(SessionOptions) -> SessionOptions,
    ) -> Session {
        let options = SessionOptions::new("dev")
            .state_dir(self.dir.path().join("state"))
            .password("test password");
        Session::new(stack, self.provider.clone(), f(options))
    }

    fn root(&self) -> std::path::PathBuf {
        self.dir.path().to_owned()
    }
}

fn kv(id: &str) -> Resource {
    Resource::new(id, KvNamespace::default())
}

fn worker(id: &str, binds: &[&str], version: &str) -> Resource {
    let mut bindings: Vec<Binding> = binds
        .iter()
        .map(|b| {
            Binding::new(
                b.to_uppercase(),
                BindingValue::Resource(ResourceRef::new(*b)),
            )
        })
        .collect();
    bindings.push(Binding::new("VERSION", version));
    Resource::new(
        id,
        Worker {
            code: athanor_core::stack::WorkerCode::Entrypoint("src/worker.js".into()),
            bindings,
            ..Worker::default()
        },
    )
}

fn stack(f: &Fixture, resources: Vec<Resource>) -> Stack {
    resources
        .into_iter()
        .fold(Stack::new("app", f.root()), Stack::with)
}

#[tokio::test]
async fn first_deploy_creates_in_order_and_a_second_sends_nothing() {
    let f = Fixture::new();
    let s = stack(&f, vec![worker("api", &["sessions"], "1"), kv("sessions")]);
    let outputs = f.session(s.clone()).deploy().await.unwrap();
    assert_eq!(f.provider.take_calls(), ["create sessions", "create api"]);
    assert_eq!(outputs.len(), 2);
    assert_eq!(outputs["sessions"].name(), "app-sessions-dev");
    let plan = f.session(s.clone()).plan().await.unwrap();
    assert!(!plan.has_changes(), "{}", plan.render(true));
    f.session(s).deploy().await.unwrap();
    assert!(f.provider.calls().is_empty());
}

#[tokio::test]
async fn a_property_change_is_one_update_and_a_removed_resource_one_delete() {
    let f = Fixture::new();
    f.session(stack(&f, vec![kv("a"), kv("b"), worker("w", &["a"], "1")]))
        .deploy()
        .await
        .unwrap();
    f.provider.take_calls();
    let changed = stack(&f, vec![kv("a"), worker("w", &["a"], "2")]);
    let plan = f.session(changed.clone()).plan().await.unwrap();
    let summary = plan.summary();
    assert_eq!((summary.update, summary.delete, summary.create), (1, 1, 0));
    let text = plan.render(false);
    assert!(text.contains("bindings.VERSION"), "{text}");
    assert!(
        text.contains("0 to create, 1 to update, 0 to replace, 1 to delete"),
        "{text}"
    );
    f.session(changed).deploy().await.unwrap();
    assert_eq!(f.provider.take_calls(), ["update w", "delete b app-b-dev"]);
}

#[tokio::test]
async fn delete_false_forgets_without_a_call() {
    let f = Fixture::new();
    f.session(stack(&f, vec![kv("keep").delete(false)]))
        .deploy()
        .await
        .unwrap();
    f.provider.take_calls();
    let session = f.session(stack(&f, vec![]));
    let plan = session.plan().await.unwrap();
    assert_eq!(plan.steps[0].action, Action::Forget);
    session.deploy().await.unwrap();
    assert!(f.provider.calls().is_empty());
    assert!(session.state().await.unwrap().records.is_empty());
    assert_eq!(f.provider.live.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_rename_replaces_creating_first_and_dependents_follow() {
    let f = Fixture::new();
    let bucket = |name: &str| {
        Resource::new(
            "bucket",
            R2Bucket {
                name: Some(name.into()),
                ..R2Bucket::default()
            },
        )
    };
    f.session(stack(
        &f,
        vec![bucket("old-bucket"), worker("w", &["bucket"], "1")],
    ))
    .deploy()
    .await
    .unwrap();
    f.provider.take_calls();
    let s = stack(
        &f,
        vec![bucket("new-bucket"), worker("w", &["bucket"], "1")],
    );
    let plan = f.session(s.clone()).plan().await.unwrap();
    let step = plan.step("bucket").unwrap();
    assert_eq!(step.action, Action::Replace);
    assert!(!step.delete_first);
    assert_eq!(plan.step("w").unwrap().action, Action::Update);
    assert!(plan.render(false).contains("dependency bucket (recreated)"));
    f.session(s.clone()).deploy().await.unwrap();
    assert_eq!(
        f.provider.take_calls(),
        ["create bucket", "update w", "delete bucket old-bucket"]
    );
    let state = f.session(s.clone()).state().await.unwrap();
    assert!(state.records["bucket"].superseded.is_empty());
    f.session(s).deploy().await.unwrap();
    assert!(f.provider.calls().is_empty());
}

#[tokio::test]
async fn a_replace_that_keeps_the_name_deletes_first() {
    let f = Fixture::new();
    let bucket = |hint: Option<&str>| {
        Resource::new(
            "bucket",
            R2Bucket {
                location_hint: hint.map(str::to_owned),
                ..R2Bucket::default()
            },
        )
    };
    f.session(stack(&f, vec![bucket(None)]))
        .deploy()
        .await
        .unwrap();
    f.provider.take_calls();
    let s = stack(&f, vec![bucket(Some("weur"))]);
    let plan = f.session(s.clone()).plan().await.unwrap();
    assert!(plan.step("bucket").unwrap().delete_first);
    f.session(s).deploy().await.unwrap();
    assert_eq!(
        f.provider.take_calls(),
        ["delete bucket app-bucket-dev", "create bucket"]
    );
}

#[tokio::test]
async fn a_failure_skips_dependents_keeps_independent_work_and_orphans() {
    let f = Fixture::new();
    f.session(stack(&f, vec![kv("orphan")]))
        .deploy()
        .await
        .unwrap();
    f.provider.take_calls();
    f.provider.fail_create.lock().unwrap().insert("a".into());
    let s = stack(&f, vec![kv("a"), worker("w", &["a"], "1"), kv("b")]);
    let err = f.session(s).deploy().await.unwrap_err();
    let Error::Failed { failures, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(failures.len(), 2);
    assert!(failures.iter().any(|x| x.id == "a" && !x.skipped));
    assert!(failures.iter().any(|x| x.id == "w" && x.skipped));
    let mut calls = f.provider.take_calls();
    calls.sort();
    assert_eq!(calls, ["create a", "create b"]);
    assert!(err.to_string().contains("refused to create a"));
}

fn seeded_kv(id: &str) -> Resource {
    Resource::new(
        id,
        KvNamespace {
            values: vec![athanor_core::stack::KvValue::new("k", "v")],
            ..KvNamespace::default()
        },
    )
}

#[tokio::test]
async fn a_dependent_deploys_while_its_dependency_finishes_and_ends_after_it() {
    let f = Fixture::new();
    // The namespace's rest (its values) ends only once the Worker's upload has been called: the
    // Worker needs the namespace's id, not its values.
    f.provider
        .rest_waits_for
        .lock()
        .unwrap()
        .insert("kv".into(), "create w".into());
    let s = stack(&f, vec![seeded_kv("kv"), worker("w", &["kv"], "1")]);
    f.session(s.clone()).deploy().await.unwrap();
    assert_eq!(f.provider.take_calls(), ["create kv", "create w"]);
    // The Worker's own rest (workers.dev, at Cloudflare) waits for the namespace to be complete.
    assert_eq!(*f.provider.rests.lock().unwrap(), ["kv", "w"]);
    let state = f.session(s.clone()).state().await.unwrap();
    assert!(state.records.values().all(|r| r.status == Status::Created));
    // Recorded with the namespace's handle: nothing to do the next time.
    assert!(!f.session(s).plan().await.unwrap().has_changes());
}

#[tokio::test]
async fn a_failure_after_the_output_was_published_keeps_what_dependents_did() {
    let f = Fixture::new();
    f.provider.fail_rest.lock().unwrap().insert("kv".into());
    let s = stack(&f, vec![seeded_kv("kv"), worker("w", &["kv"], "1")]);
    let err = f.session(s.clone()).deploy().await.unwrap_err();
    let Error::Failed { failures, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].id, "kv");
    assert!(err.to_string().contains("the rest of kv failed"));
    // The Worker was uploaded and is recorded; the namespace is not complete, so it stays
    // `creating` and the next deploy takes it over instead of making a second one.
    let state = f.session(s.clone()).state().await.unwrap();
    assert_eq!(state.records["kv"].status, Status::Creating);
    assert_eq!(state.records["w"].status, Status::Created);
    f.provider.fail_rest.lock().unwrap().clear();
    f.provider.take_calls();
    f.session(s.clone()).deploy().await.unwrap();
    assert_eq!(f.provider.take_calls()[0], "create kv (resumed)");
    assert_eq!(f.provider.live.lock().unwrap().len(), 2);
    assert!(!f.session(s).plan().await.unwrap().has_changes());
}

#[tokio::test]
async fn a_dependency_detail_changing_leaves_the_dependent_alone() {
    let f = Fixture::new();
    // `front` binds `api` (a service binding): a new version of `api` changes its etag and
    // content, not its name, so `front` is not uploaded again.
    let s = |version: &str| {
        stack(
            &f,
            vec![worker("api", &[], version), worker("front", &["api"], "1")],
        )
    };
    f.session(s("1")).deploy().await.unwrap();
    f.provider.take_calls();
    f.session(s("2")).deploy().await.unwrap();
    assert_eq!(f.provider.take_calls(), ["update api"]);
}

#[tokio::test]
async fn an_interrupted_create_is_adopted_not_duplicated() {
    let f = Fixture::new();
    f.provider
        .crash_after_create
        .lock()
        .unwrap()
        .insert("a".into());
    let s = stack(&f, vec![kv("a")]);
    assert!(f.session(s.clone()).deploy().await.is_err());
    let state = f.session(s.clone()).state().await.unwrap();
    assert_eq!(state.records["a"].status, Status::Creating);
    let plan = f.session(s.clone()).plan().await.unwrap();
    assert!(plan.step("a").unwrap().resumed);
    f.session(s.clone()).deploy().await.unwrap();
    assert_eq!(f.provider.take_calls(), ["create a", "create a (resumed)"]);
    assert_eq!(f.provider.live.lock().unwrap().len(), 1);
    assert_eq!(
        f.session(s).state().await.unwrap().records["a"].status,
        Status::Created
    );
}

#[tokio::test]
async fn a_module_change_updates_the_worker() {
    let f = Fixture::new();
    let s = stack(&f, vec![worker("w", &[], "1")]);
    f.provider
        .fingerprints
        .lock()
        .unwrap()
        .insert("w".into(), "h1".into());
    f.session(s.clone()).deploy().await.unwrap();
    f.provider
        .fingerprints
        .lock()
        .unwrap()
        .insert("w".into(), "h2".into());
    let plan = f.session(s).plan().await.unwrap();
    assert_eq!(plan.step("w").unwrap().action, Action::Update);
    assert!(plan.render(false).contains("modules (changed)"));
}

#[tokio::test]
async fn secrets_are_compared_by_digest_and_never_shown() {
    let f = Fixture::new();
    let secret_file = f.root().join("signing.key");
    std::fs::write(&secret_file, "first-secret-value\n").unwrap();
    let s = stack(
        &f,
        vec![Resource::new(
            "signing",
            Secret {
                value: SecretSource::file("signing.key"),
                name: None,
                store: None,
                scopes: vec![],
            },
        )],
    );
    f.session(s.clone()).deploy().await.unwrap();
    assert!(!f.session(s.clone()).plan().await.unwrap().has_changes());
    std::fs::write(&secret_file, "second-secret-value\n").unwrap();
    let plan = f.session(s.clone()).plan().await.unwrap();
    let text = plan.render(true);
    assert!(text.contains("value (sensitive)"), "{text}");
    assert!(!text.contains("second-secret-value"));
    assert!(!plan.to_json().to_string().contains("second-secret-value"));
    f.session(s.clone()).deploy().await.unwrap();
    assert_eq!(
        f.provider.take_calls(),
        ["create signing", "update signing"]
    );
    // Nothing in state holds the value, in plaintext or sealed: only its keyed digest. (The one
    // ciphertext is the password's check value, in the stage's meta.)
    let mut ciphertexts = 0;
    for entry in walk(&f.dir.path().join("state")) {
        let text = std::fs::read_to_string(&entry).unwrap();
        assert!(!text.contains("secret-value"), "{}", entry.display());
        ciphertexts += text.matches("\"ciphertext\"").count();
    }
    assert_eq!(ciphertexts, 1);
    let record = &f.session(s.clone()).state().await.unwrap().records["signing"];
    assert_eq!(record.digests.secrets.len(), 1);
    // Wrong and missing passwords are refused, and state is left as it was.
    let before = snapshot_files(&f.dir.path().join("state"));
    let wrong = f.session_with(s.clone(), |o| o.password("not it"));
    let err = wrong.deploy().await.unwrap_err();
    assert!(matches!(err, Error::WrongPassword { .. }), "{err}");
    let missing = f.session_with(s.clone(), |mut o| {
        o.password = None;
        o
    });
    let err = missing.plan().await.unwrap_err();
    assert!(matches!(err, Error::MissingPassword { .. }), "{err}");
    assert_eq!(before, snapshot_files(&f.dir.path().join("state")));
}

#[tokio::test]
async fn destroy_goes_dependents_first_and_reports_every_failure() {
    let f = Fixture::new();
    let s = stack(
        &f,
        vec![kv("a"), worker("w", &["a"], "1"), kv("b"), kv("c")],
    );
    f.session(s.clone()).deploy().await.unwrap();
    f.provider.take_calls();
    f.provider
        .fail_delete
        .lock()
        .unwrap()
        .extend(["w".to_owned(), "c".to_owned()]);
    let err = f.session(s.clone()).destroy().await.unwrap_err();
    let Error::Failed { failures, .. } = &err else {
        panic!("{err}")
    };
    let mut ids: Vec<(&str, bool)> = failures
        .iter()
        .map(|x| (x.id.as_str(), x.skipped))
        .collect();
    ids.sort();
    assert_eq!(ids, [("a", true), ("c", false), ("w", false)]);
    assert!(
        f.provider
            .calls()
            .contains(&"delete b app-b-dev".to_owned())
    );
    f.provider.fail_delete.lock().unwrap().clear();
    f.provider.take_calls();
    let report = f.session(s.clone()).destroy().await.unwrap();
    assert_eq!(report.deleted, ["a", "c", "w"]);
    let calls = f.provider.take_calls();
    let pos = |c: &str| calls.iter().position(|x| x.starts_with(c)).unwrap();
    assert!(pos("delete w") < pos("delete a"));
    assert!(f.session(s).state().await.unwrap().records.is_empty());
}

#[tokio::test]
async fn refresh_recreates_what_was_deleted_outside() {
    let f = Fixture::new();
    let s = stack(&f, vec![kv("a")]);
    f.session(s.clone()).deploy().await.unwrap();
    f.provider.live.lock().unwrap().clear();
    let plan = f.session_with(s, |o| o.refresh(true)).plan().await.unwrap();
    let step = plan.step("a").unwrap();
    assert_eq!(step.action, Action::Create);
    assert_eq!(step.drift.as_deref(), Some("deleted outside athanor"));
}

#[tokio::test]
async fn a_second_deploy_is_refused_while_the_lock_is_held() {
    let f = Fixture::new();
    let session = f.session(stack(&f, vec![kv("a")]));
    let _held = session.store.lock(session.lock_options()).await.unwrap();
    let err = session.deploy().await.unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    assert!(f.provider.calls().is_empty());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn snapshot_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = walk(dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn destroy_deletes_what_an_unfinished_create_made_and_forgets_what_is_kept() {
    let f = Fixture::new();
    for id in ["half", "named", "nothing"] {
        f.provider
            .crash_after_create
            .lock()
            .unwrap()
            .insert(id.into());
    }
    // `named` has a title of the user's choosing: athanor cannot tell it made what has it.
    let named = Resource::new(
        "named",
        KvNamespace {
            title: Some("shared-title".into()),
            ..KvNamespace::default()
        },
    );
    let s = stack(
        &f,
        vec![
            kv("kept").delete(false),
            kv("half"),
            named,
            kv("nothing"),
            kv("gone"),
        ],
    );
    assert!(f.session(s.clone()).deploy().await.is_err());
    // `nothing`'s create never reached the target after all.
    f.provider
        .live
        .lock()
        .unwrap()
        .remove("KvNamespace/app-nothing-dev");
    f.provider.take_calls();
    let recorder = Arc::new(crate::progress::Recorder::default());
    let report = f
        .session(s.clone())
        .with_observer(recorder.clone())
        .destroy()
        .await
        .unwrap();
    assert_eq!(report.deleted, ["gone", "half"]);
    assert_eq!(report.forgotten, ["kept", "named", "nothing"]);
    let mut calls = f.provider.take_calls();
    calls.sort();
    assert_eq!(
        calls,
        [
            "delete gone app-gone-dev",
            "delete half app-half-dev",
            "find half",
            "find named",
            "find nothing",
        ]
    );
    let live: Vec<String> = f.provider.live.lock().unwrap().keys().cloned().collect();
    assert_eq!(
        live,
        ["KvNamespace/app-kept-dev", "KvNamespace/shared-title"]
    );
    let warned: Vec<String> = recorder
        .events()
        .iter()
        .filter_map(|e| match e {
            crate::progress::Event::Warning { id, message } => Some(format!("{id}: {message}")),
            _ => None,
        })
        .collect();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].starts_with("named: ") && warned[0].contains("`shared-title` exists"),
        "{warned:?}"
    );
}

#[tokio::test]
async fn forget_removes_a_record_and_the_next_plan_creates_it_again() {
    let f = Fixture::new();
    let s = stack(&f, vec![kv("a")]);
    f.session(s.clone()).deploy().await.unwrap();
    let forget = async |session: Session| {
        crate::state::forget(&session.store, "a", session.lock_options()).await
    };
    let record = forget(f.session(s.clone())).await.unwrap();
    assert_eq!(record.id, "a");
    assert!(matches!(
        forget(f.session(s.clone())).await,
        Err(Error::NotInState { .. })
    ));
    let plan = f.session(s).plan().await.unwrap();
    assert_eq!(plan.step("a").unwrap().action, Action::Create);
}

/// A caller can spawn a session's work on a multi-threaded runtime.
#[test]
fn session_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    let f = Fixture::new();
    let session = f.session(stack(&f, vec![kv("a")]));
    send(&session.plan());
    send(&session.deploy());
    send(&session.destroy());
    send(&session.outputs());
}
