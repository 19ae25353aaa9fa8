//! The local runtime: Workers deployed through the v4 API run on a real workerd, with bindings
//! backed by the emulator's own data. Each test starts its own emulator and workerd.
//!
//! workerd comes from `ATHANOR_WORKERD` or the pinned copy that `npm ci --prefix
//! emulator/tests/workerd` installs; without it these tests fail, unless `ATHANOR_SKIP_WORKERD=1`
//! says to skip them.

mod analytics_engine;
mod common;
mod d1_conformance;
mod durable_objects;
mod kv_conformance;
mod queues;
mod r2_conformance;
mod scheduled;
mod serving;
