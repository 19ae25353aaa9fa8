//! The Cloudflare v4 API client of athanor and a provider for every resource kind.
//!
//! The public surface is what the runtime and a caller use: [`CloudflareProvider`] (the
//! engine's [`athanor_core::Provider`]), the [`Client`] it sends requests with and its settings
//! ([`ClientConfig`] from the environment, as wrangler reads it; [`RetryPolicy`], [`RateLimit`]),
//! [`Error`], and [`modules`]: a Worker's modules for upload (JS as is, TS stripped with oxc,
//! workers-rs builds, esbuild only for bare packages).
//!
//! Inside, the client's pure rules (`envelope`, `retry`, `rate_limit`, `pagination`) are tested
//! alone, and `providers` holds one module per resource kind, dispatched by `provider`.

#![warn(missing_docs)]
#![warn(unreachable_pub)]

mod client;
mod config;
mod credentials;
mod envelope;
mod error;
pub mod modules;
mod pagination;
mod provider;
mod providers;
mod rate_limit;
mod retry;
pub mod tls;

pub use client::Client;
pub use config::{Auth, ClientConfig, WorkersUrls};
pub use error::Error;
pub use provider::CloudflareProvider;
pub use rate_limit::RateLimit;
pub use retry::RetryPolicy;
