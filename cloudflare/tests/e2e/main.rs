//! End-to-end tests of the client and every provider against the real emulator, started
//! in-process. Providers are driven through the `Provider` trait with hand-built `Desired` /
//! `Existing` values, and results are read back through the API.

mod client;
mod common;
mod d1_database;
mod dispatch_namespace;
mod esbuild;
mod kv_namespace;
mod lost_answer;
mod queue;
mod quickstart;
mod r2_bucket;
mod secrets;
mod worker;
mod worker_read;
