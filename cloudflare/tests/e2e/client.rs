//! The client against the emulator: account discovery, auth errors, retries of 429, 5xx and
//! dropped connections, and the client-side rate limiter.

use std::time::Duration;

use athanor_cloudflare::{Auth, Client, ClientConfig, CloudflareProvider, RateLimit, RetryPolicy};
use athanor_core::stack::KvNamespace;
use athanor_core::{Provider, ProviderError};
use athanor_emulator::Faults;
use secrecy::SecretString;

use crate::common::{Decl, Fixture, fast_retry, start};

fn config(fx: &Fixture, token: &str) -> ClientConfig {
    let mut config = ClientConfig::new(
        fx.emulator.base_url(),
        Auth::Token(SecretString::from(token.to_owned())),
    );
    config.retry = fast_retry();
    config
}

async fn create_namespaces(
    provider: &CloudflareProvider,
    prefix: &str,
    n: usize,
) -> Result<(), ProviderError> {
    for i in 0..n {
        let decl = Decl::new(
            &format!("{prefix}-{i}"),
            &format!("{prefix}-{i}"),
            KvNamespace::default(),
        );
        provider.create(&decl.desired()).await?;
    }
    Ok(())
}

#[tokio::test]
async fn connect_finds_the_only_account() {
    let fx = start().await;
    let token = fx.emulator.token().to_owned();
    let client = Client::connect(config(&fx, &token)).await.unwrap();
    assert_eq!(client.account_id(), fx.emulator.account_id());
    assert_eq!(client.base_url(), fx.emulator.base_url());
    assert_eq!(fx.client.account_id(), client.account_id());
}

#[tokio::test]
async fn a_refused_token_is_an_api_error_that_never_shows_the_token() {
    let fx = start().await;
    let err = Client::connect(config(&fx, "wrong-token-value-123"))
        .await
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(matches!(err.status(), Some(401 | 403)), "{text}");
    assert!(text.contains("GET /accounts"), "{text}");
    assert!(!text.contains("wrong-token-value-123"), "{text}");
    assert!(
        !format!("{:?}", config(&fx, "wrong-token-value-123")).contains("wrong-token-value-123")
    );
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_until_success() {
    let fx = start().await;
    fx.emulator.set_faults(Faults {
        share_429: 0.2,
        share_5xx: 0.5,
        ..Faults::default()
    });
    fx.reset();
    create_namespaces(&fx.provider, "flaky", 8).await.unwrap();
    fx.emulator.set_faults(Faults::default());
    let stats = fx.stats();
    assert!(
        stats.total > 8,
        "some requests must have been retried: {stats:?}"
    );
    let (_, list) = fx.api_get("/storage/kv/namespaces?per_page=100").await;
    assert_eq!(
        list.as_array().unwrap().len(),
        8,
        "each namespace exactly once"
    );
}

#[tokio::test]
async fn dropped_connections_are_retried() {
    let fx = start().await;
    fx.emulator.set_faults(Faults {
        share_dropped: 0.4,
        ..Faults::default()
    });
    create_namespaces(&fx.provider, "dropped", 6).await.unwrap();
    fx.emulator.set_faults(Faults::default());
    let (_, list) = fx.api_get("/storage/kv/namespaces?per_page=100").await;
    assert_eq!(list.as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn retries_are_bounded_and_the_error_says_what_to_do() {
    let fx = start().await;
    let mut cfg = config(&fx, fx.emulator.token());
    cfg.account_id = Some(fx.emulator.account_id().to_owned());
    cfg.retry = RetryPolicy {
        max_attempts: 3,
        ..fast_retry()
    };
    let provider = CloudflareProvider::new(Client::connect(cfg).await.unwrap());
    fx.emulator.set_faults(Faults {
        share_5xx: 1.0,
        ..Faults::default()
    });
    fx.reset();
    let err = create_namespaces(&provider, "down", 1).await.unwrap_err();
    assert_eq!(fx.stats().total, 3);
    let text = athanor_core::provider::report(&err);
    assert!(
        err.api()
            .is_some_and(|api| (500..=599).contains(&api.status)),
        "{text}"
    );
    assert!(
        text.contains("KvNamespace \"down-0\"") && text.contains("deploy again later"),
        "{text}"
    );
}

#[tokio::test]
async fn an_unreachable_api_is_a_transport_error() {
    let mut cfg = ClientConfig::new(
        "http://127.0.0.1:9/client/v4",
        Auth::Token(SecretString::from("t")),
    );
    cfg.retry = RetryPolicy {
        max_attempts: 2,
        ..fast_retry()
    };
    let err = Client::connect(cfg).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("cannot reach http://127.0.0.1:9/client/v4"),
        "{text}"
    );
    assert!(text.contains("2 attempts"), "{text}");
    assert!(
        text.to_lowercase().contains("connect"),
        "the cause is named: {text}"
    );
}

#[tokio::test]
async fn the_client_side_limiter_keeps_under_the_server_limit() {
    let fx = start().await;
    fx.emulator.set_faults(Faults {
        rate_limit: Some(athanor_emulator::RateLimit {
            requests: 3,
            window: Duration::from_secs(1),
        }),
        ..Faults::default()
    });
    let mut cfg = config(&fx, fx.emulator.token());
    cfg.account_id = Some(fx.emulator.account_id().to_owned());
    // A little wider than the server's window: the server starts counting on arrival.
    cfg.rate_limit = RateLimit {
        requests: 3,
        window: Duration::from_millis(1500),
    };
    cfg.retry = RetryPolicy::none();
    let provider = CloudflareProvider::new(Client::connect(cfg).await.unwrap());
    fx.reset();
    // With no retries allowed, a single 429 would fail the run.
    create_namespaces(&provider, "limited", 7).await.unwrap();
    assert_eq!(fx.stats().total, 7);
    let clone = provider.client().clone();
    assert!(
        clone.rate_limiter().in_window() >= 1,
        "clones share one limiter"
    );
    assert!(provider.client().rate_limiter().in_window() <= 3);
}

#[tokio::test]
async fn page_and_cursor_listings_follow_every_page() {
    use athanor_core::stack::{KvValue, R2Bucket};
    use serde_json::Value;

    let fx = start().await;
    let account = fx.emulator.account_id().to_owned();
    create_namespaces(&fx.provider, "paged", 6).await.unwrap();
    let seeded = Decl::new(
        "keys",
        "keys",
        KvNamespace {
            title: None,
            values: (0..25)
                .map(|i| KvValue::new(format!("key-{i:02}"), "v"))
                .collect(),
        },
    );
    let ns = fx.provider.create(&seeded.desired()).await.unwrap();
    for name in ["bucket-a", "bucket-b", "bucket-c"] {
        let decl = Decl::new(name, name, R2Bucket::default());
        fx.provider.create(&decl.desired()).await.unwrap();
    }

    fx.reset();
    let namespaces: Vec<Value> = fx
        .client
        .list_pages(
            &format!("/accounts/{account}/storage/kv/namespaces"),
            &[],
            5,
        )
        .await
        .unwrap();
    assert_eq!(namespaces.len(), 7);
    assert_eq!(
        crate::common::count(
            &fx.stats(),
            "GET /accounts/{account_id}/storage/kv/namespaces"
        ),
        2
    );

    let keys: Vec<Value> = fx
        .client
        .list_cursor(
            &format!(
                "/accounts/{account}/storage/kv/namespaces/{}/keys",
                ns.id().unwrap()
            ),
            &[("limit", "10")],
            None,
        )
        .await
        .unwrap();
    assert_eq!(keys.len(), 25);
    assert_eq!(
        crate::common::count(
            &fx.stats(),
            "GET /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/keys"
        ),
        3
    );
    assert_eq!(keys[24]["name"], "key-24");

    let buckets: Vec<Value> = fx
        .client
        .list_cursor(
            &format!("/accounts/{account}/r2/buckets"),
            &[("per_page", "2")],
            Some("buckets"),
        )
        .await
        .unwrap();
    let names: Vec<&str> = buckets
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bucket-a", "bucket-b", "bucket-c"]);
}

#[tokio::test]
async fn a_global_key_with_email_authenticates() {
    let fx = start().await;
    let mut cfg = ClientConfig::new(
        fx.emulator.base_url(),
        Auth::Key {
            key: SecretString::from(fx.emulator.token().to_owned()),
            email: "ops@example.com".into(),
        },
    );
    cfg.retry = fast_retry();
    let client = Client::connect(cfg).await.unwrap();
    assert_eq!(client.account_id(), fx.emulator.account_id());
    let provider = CloudflareProvider::new(client);
    create_namespaces(&provider, "keyed", 1).await.unwrap();
}
