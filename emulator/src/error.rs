//! The crate's error type: what can stop the emulator from starting.
//!
//! Errors answered to API clients are not here: they are v4 envelopes (see `envelope`).

use std::path::PathBuf;

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data directory could not be created.
    #[error(
        "could not create the emulator data directory {path}: {source}; check that its parent exists and is writable"
    )]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// The SQLite database could not be opened or prepared.
    #[error(
        "could not open the emulator database {path}: {source}; check that no other program holds it and that the disk is writable, or start with an empty data directory"
    )]
    Database {
        /// The database file.
        path: PathBuf,
        /// The underlying failure.
        source: rusqlite::Error,
    },
    /// The key that seals secret values could not be read or created.
    #[error(
        "could not read or create the emulator's secrets key {path}: {source}; check that the data directory is writable, or delete a damaged key file (the secrets sealed under it are then lost)"
    )]
    SecretsKey {
        /// The key file.
        path: PathBuf,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// The listening socket could not be bound.
    #[error(
        "could not listen on 127.0.0.1:{port}: {source}; choose another port (0 picks a free one)"
    )]
    Bind {
        /// The requested port.
        port: u16,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// The port Workers are served on could not be bound.
    #[error(
        "could not listen for Workers on 127.0.0.1:{port}: {source}; stop what uses that port, or choose another one (0 picks a free one)"
    )]
    WorkersPort {
        /// The requested port.
        port: u16,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// The configured account id is not 32 lowercase hex characters.
    #[error("invalid emulator account id {0:?}: expected 32 lowercase hex characters")]
    AccountId(String),
    /// The configured token is empty or has characters an HTTP header cannot carry.
    #[error(
        "invalid emulator API token: it must be 1 to 256 visible ASCII characters (the token itself is not shown)"
    )]
    Token,
    /// A blocking storage task could not be joined.
    #[error("the emulator's storage task failed: {0}")]
    Task(String),
}
