//! The Cloudflare v4 API client of athanor and a provider for every resource kind.
//!
//! - [`config`]: credentials and settings from the environment, as wrangler reads them.
//! - [`client`]: the HTTP client: auth, the envelope, retries, the rate limiter, listings.
//! - [`envelope`], [`retry`], [`rate_limit`], [`pagination`]: the client's pure rules, each
//!   tested alone.
//! - [`modules`]: a Worker's modules for upload (JS as is, TS stripped with oxc, workers-rs
//!   builds, esbuild only for bare packages).
//! - `providers`: one module per resource kind, and [`CloudflareProvider`], which implements
//!   [`athanor_core::Provider`] by dispatching on the kind.

#![warn(missing_docs)]

pub mod client;
pub mod config;
pub mod envelope;
pub mod error;
pub mod modules;
pub mod pagination;
pub mod provider;
mod providers;
pub mod rate_limit;
pub mod retry;

pub use client::Client;
pub use config::{Auth, ClientConfig, WorkersUrls};
pub use error::Error;
pub use provider::CloudflareProvider;
pub use rate_limit::RateLimit;
pub use retry::RetryPolicy;
