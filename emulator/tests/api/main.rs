//! Integration tests of the emulator over HTTP, one module per resource family. One test binary,
//! so the workspace links it once.

mod accounts_auth;
mod analytics_engine;
mod common;
mod d1;
mod faults_stats;
mod kv;
mod openapi;
mod persistence;
mod queues;
mod r2;
mod r2_settings;
mod secrets_dispatch;
mod workers;
