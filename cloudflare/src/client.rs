//! The v4 API client: authentication, the shared rate limiter, retries, the envelope and
//! listings.
//!
//! A [`Client`] is cheap to clone; clones share one connection pool, one [`RateLimiter`] and the
//! memoised workers.dev subdomain. Errors name the method and the path (never the query, a
//! credential or a request body).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use athanor_core::ApiError;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::{Auth, ClientConfig, WorkersUrls};
use crate::envelope::{self, Envelope};
use crate::error::Error;
use crate::pagination;
use crate::rate_limit::RateLimiter;
use crate::retry::{self, RetryPolicy};

/// The body of a request.
pub(crate) enum Body {
    /// No body.
    Empty,
    /// A JSON body.
    Json(Value),
    /// A `multipart/form-data` body, rebuilt for every attempt.
    Multipart(Vec<Part>),
}

/// One part of a multipart body.
#[derive(Clone)]
pub(crate) struct Part {
    /// The form field name.
    pub name: String,
    /// The file name, for module parts.
    pub filename: Option<String>,
    /// The part's content type.
    pub content_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A request to send, relative to the base URL.
pub(crate) struct Request {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Body,
}

impl Request {
    /// A request with no body.
    pub(crate) fn new(method: Method, path: impl Into<String>) -> Self {
        Request {
            method,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    /// `GET path`.
    pub(crate) fn get(path: impl Into<String>) -> Self {
        Request::new(Method::GET, path)
    }

    /// `POST path`.
    pub(crate) fn post(path: impl Into<String>) -> Self {
        Request::new(Method::POST, path)
    }

    /// `PUT path`.
    pub(crate) fn put(path: impl Into<String>) -> Self {
        Request::new(Method::PUT, path)
    }

    /// `PATCH path`.
    pub(crate) fn patch(path: impl Into<String>) -> Self {
        Request::new(Method::PATCH, path)
    }

    /// `DELETE path`.
    pub(crate) fn delete(path: impl Into<String>) -> Self {
        Request::new(Method::DELETE, path)
    }

    /// Adds a query parameter.
    pub(crate) fn query(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_owned(), value.to_string()));
        self
    }

    /// Adds a header.
    pub(crate) fn header(mut self, key: &str, value: impl Into<String>) -> Self {
        self.headers.push((key.to_owned(), value.into()));
        self
    }

    /// Sets a JSON body.
    pub(crate) fn json(mut self, value: Value) -> Self {
        self.body = Body::Json(value);
        self
    }

    /// Sets a multipart body.
    pub(crate) fn multipart(mut self, parts: Vec<Part>) -> Self {
        self.body = Body::Multipart(parts);
        self
    }
}

/// A raw answer that was not retried away.
pub(crate) struct RawResponse {
    pub status: u16,
    pub body: Vec<u8>,
    /// An earlier attempt was sent but got no answer, so it may have been applied.
    pub maybe_applied_before: bool,
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    auth: Auth,
    account_id: String,
    limiter: RateLimiter,
    retry: RetryPolicy,
    workers_urls: WorkersUrls,
    subdomain: tokio::sync::OnceCell<String>,
}

/// The Cloudflare v4 API client. Cheap to clone; clones share the rate limiter.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("account_id", &self.inner.account_id)
            .field("auth", &self.inner.auth)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct Account {
    id: String,
    #[serde(default)]
    name: String,
}

impl Client {
    /// Resolves the account: the configured id, else `GET /accounts`; several accounts and no
    /// id is an error listing them.
    pub async fn connect(config: ClientConfig) -> Result<Client, Error> {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .user_agent(concat!("athanor/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(180))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        let mut client = Client {
            inner: Arc::new(Inner {
                http,
                base_url: config.base_url.trim_end_matches('/').to_owned(),
                auth: config.auth,
                account_id: config.account_id.clone().unwrap_or_default(),
                limiter: RateLimiter::new(config.rate_limit),
                retry: config.retry,
                workers_urls: config.workers_urls,
                subdomain: tokio::sync::OnceCell::new(),
            }),
        };
        if config.account_id.is_none() {
            let accounts: Vec<Account> = client.list_pages("/accounts", &[], 50).await?;
            let id = match accounts.as_slice() {
                [] => {
                    return Err(Error::Account(
                        "the credentials see no Cloudflare account: check that the API token has account access, or set CLOUDFLARE_ACCOUNT_ID".into(),
                    ));
                }
                [one] => one.id.clone(),
                several => {
                    let list: Vec<String> = several
                        .iter()
                        .map(|a| format!("{} ({})", a.id, a.name))
                        .collect();
                    return Err(Error::Account(format!(
                        "the credentials see {} Cloudflare accounts: set CLOUDFLARE_ACCOUNT_ID to one of: {}",
                        several.len(),
                        list.join(", ")
                    )));
                }
            };
            let inner = Arc::get_mut(&mut client.inner).expect("the client is not shared yet");
            inner.account_id = id;
        }
        Ok(client)
    }

    /// The account every request works in.
    pub fn account_id(&self) -> &str {
        &self.inner.account_id
    }

    /// The credentials every request carries.
    pub(crate) fn auth(&self) -> &Auth {
        &self.inner.auth
    }

    /// The API base URL.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The shared rate limiter.
    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }

    /// `/accounts/{account_id}` followed by `rest`.
    pub(crate) fn account_path(&self, rest: &str) -> String {
        format!("/accounts/{}{}", self.inner.account_id, rest)
    }

    fn build(&self, req: &Request) -> Result<reqwest::RequestBuilder, Error> {
        let url = format!("{}{}", self.inner.base_url, req.path);
        let mut builder = self.inner.http.request(req.method.clone(), url);
        if !req.query.is_empty() {
            builder = builder.query(&req.query);
        }
        builder = match &self.inner.auth {
            Auth::Token(t) => builder.bearer_auth(t.expose_secret()),
            Auth::Key { key, email } => builder
                .header("X-Auth-Key", key.expose_secret())
                .header("X-Auth-Email", email),
        };
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        builder = match &req.body {
            Body::Empty => builder,
            Body::Json(v) => builder.json(v),
            Body::Multipart(parts) => {
                let mut form = reqwest::multipart::Form::new();
                for p in parts {
                    let mut part = reqwest::multipart::Part::bytes(p.bytes.clone());
                    if let Some(f) = &p.filename {
                        part = part.file_name(f.clone());
                    }
                    part = part.mime_str(&p.content_type).map_err(|_| {
                        Error::Local(format!(
                            "the content type `{}` of the upload part `{}` is invalid",
                            p.content_type, p.name
                        ))
                    })?;
                    form = form.part(p.name.clone(), part);
                }
                builder.multipart(form)
            }
        };
        Ok(builder)
    }

    /// Sends a request, retrying 408, 429, 5xx and connection errors within the policy, and
    /// returns the first answer that is not retried.
    pub(crate) async fn send(&self, req: &Request) -> Result<RawResponse, Error> {
        let started = Instant::now();
        let mut attempt: u32 = 0;
        let mut lost = false;
        loop {
            attempt += 1;
            let slot = self.inner.limiter.acquire().await;
            let result = self.build(req)?.send().await;
            // The answer's head has arrived (or the request failed): the request counts from now.
            drop(slot);
            let (retry_after, failure) = match result {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
                    match resp.bytes().await {
                        Ok(body) if !retry::is_retryable_status(status) => {
                            return Ok(RawResponse {
                                status,
                                body: body.to_vec(),
                                maybe_applied_before: lost,
                            });
                        }
                        Ok(body) => {
                            if status == 429
                                && let Some(wait) = retry_after
                            {
                                self.inner.limiter.pause(wait);
                            }
                            (retry_after, Ok((status, body.to_vec())))
                        }
                        Err(e) => {
                            lost = true;
                            (None, Err(e))
                        }
                    }
                }
                Err(e) => {
                    // A refused connection never reached the server; anything else may have.
                    lost |= !e.is_connect();
                    (None, Err(e))
                }
            };
            let jitter: f64 = rand::random();
            match self
                .inner
                .retry
                .delay(attempt, retry_after, jitter, started.elapsed())
            {
                Some(wait) => {
                    tracing::debug!(
                        method = %req.method, path = %req.path, attempt, ?wait,
                        "retrying a Cloudflare request"
                    );
                    tokio::time::sleep(wait).await;
                }
                None => {
                    return match failure {
                        Ok((status, body)) => Ok(RawResponse {
                            status,
                            body,
                            maybe_applied_before: lost,
                        }),
                        Err(e) => Err(Error::Transport {
                            target: self.inner.base_url.clone(),
                            method: req.method.to_string(),
                            path: req.path.clone(),
                            message: format!(
                                "{} (after {attempt} attempt{})",
                                error_chain(&e.without_url()),
                                if attempt == 1 { "" } else { "s" }
                            ),
                        }),
                    };
                }
            }
        }
    }

    /// Sends a request and parses the envelope; an error answer becomes [`Error::Api`].
    pub(crate) async fn call(&self, req: Request) -> Result<Envelope, Error> {
        let raw = self.send(&req).await?;
        envelope::parse(raw.status, &raw.body).map_err(|f| Error::Api {
            error: ApiError {
                method: req.method.to_string(),
                path: req.path.clone(),
                status: raw.status,
                codes: f.codes,
                message: f.message,
            },
            maybe_applied_before: raw.maybe_applied_before,
        })
    }

    /// Sends a request and decodes its `result`.
    pub(crate) async fn call_as<T: DeserializeOwned>(&self, req: Request) -> Result<T, Error> {
        let method = req.method.to_string();
        let path = req.path.clone();
        let env = self.call(req).await?;
        decode(&method, &path, env.result)
    }

    /// Sends a delete; a resource that is already gone counts as deleted.
    pub(crate) async fn delete_if_exists(&self, req: Request) -> Result<(), Error> {
        match self.call(req).await {
            Ok(_) => Ok(()),
            Err(err) if err.is_not_found() => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Sends a read and decodes its `result`; `None` when the resource does not exist.
    pub(crate) async fn get_if_exists<T: DeserializeOwned>(
        &self,
        req: Request,
    ) -> Result<Option<T>, Error> {
        match self.call_as::<T>(req).await {
            Ok(v) => Ok(Some(v)),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Every item of a page-style listing (`?page=&per_page=`) at `path` (relative to the base
    /// URL, e.g. `/accounts/ID/storage/kv/namespaces`).
    pub async fn list_pages<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        per_page: u32,
    ) -> Result<Vec<T>, Error> {
        let mut items = Vec::new();
        let mut page = 1u32;
        loop {
            let mut req = Request::get(path)
                .query("page", page)
                .query("per_page", per_page);
            for (k, v) in query {
                req = req.query(k, v);
            }
            let env = self.call(req).await?;
            let batch: Vec<T> = decode("GET", path, env.result)?;
            let received = batch.len();
            items.extend(batch);
            if !pagination::has_next_page(env.result_info.as_ref(), page, per_page, received) {
                return Ok(items);
            }
            page += 1;
        }
    }

    /// Every item of a cursor-style listing; `items_key` names the array inside `result` when
    /// the result is an object (`buckets` for R2).
    pub async fn list_cursor<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        items_key: Option<&str>,
    ) -> Result<Vec<T>, Error> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..pagination::MAX_PAGES {
            let mut req = Request::get(path);
            for (k, v) in query {
                req = req.query(k, v);
            }
            if let Some(c) = &cursor {
                req = req.query("cursor", c);
            }
            let env = self.call(req).await?;
            let result = match items_key {
                Some(key) => env.result.get(key).cloned().unwrap_or(Value::Array(vec![])),
                None => env.result,
            };
            let batch: Vec<T> = decode("GET", path, result)?;
            let empty = batch.is_empty();
            items.extend(batch);
            cursor = pagination::next_cursor(env.result_info.as_ref());
            if cursor.is_none() || empty {
                break;
            }
        }
        Ok(items)
    }

    /// The URL of account Worker `name` on workers.dev: `https://NAME.SUBDOMAIN.workers.dev`
    /// (the subdomain read once per client), or its local URL when a local runtime serves it.
    pub(crate) async fn workers_url(&self, name: &str) -> Result<String, Error> {
        match &self.inner.workers_urls {
            WorkersUrls::Local { authority } => Ok(format!("http://{name}.{authority}")),
            WorkersUrls::WorkersDev => {
                let sub = self.workers_subdomain().await?;
                Ok(format!("https://{name}.{sub}.workers.dev"))
            }
        }
    }

    /// The account's workers.dev subdomain, fetched once per client and memoised.
    async fn workers_subdomain(&self) -> Result<String, Error> {
        self.inner
            .subdomain
            .get_or_try_init(|| async {
                #[derive(serde::Deserialize)]
                struct Sub {
                    subdomain: Option<String>,
                    name: Option<String>,
                }
                let sub: Sub = self
                    .call_as(Request::get(self.account_path("/workers/subdomain")))
                    .await?;
                sub.subdomain.or(sub.name).ok_or_else(|| Error::Decode {
                    method: "GET".into(),
                    path: self.account_path("/workers/subdomain"),
                    message: "no `subdomain` in the answer".into(),
                })
            })
            .await
            .cloned()
    }
}

/// An error and its sources, joined with `: `.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// Decodes a `result` into `T`, naming the request on failure.
pub(crate) fn decode<T: DeserializeOwned>(
    method: &str,
    path: &str,
    value: Value,
) -> Result<T, Error> {
    serde_json::from_value(value).map_err(|e| Error::Decode {
        method: method.to_owned(),
        path: path.to_owned(),
        message: e.to_string(),
    })
}
