//! The stack binary of the Rust Worker example: `cargo run -p rust-worker -- deploy` builds the
//! Worker (this crate's library) for wasm32 and deploys it with its resources.

fn main() -> std::process::ExitCode {
    athanor::cli::run(rust_worker::stack())
}
