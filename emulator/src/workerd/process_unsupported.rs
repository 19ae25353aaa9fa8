//! Where the local runtime cannot hand a listening socket to workerd (not a Unix system): Workers
//! are stored, and a start says why they do not run.

use std::path::Path;

use tokio::sync::broadcast;

use super::{WorkerEvent, Workerd};

/// Never constructed here.
pub(crate) struct Process(());

/// Why workerd did not start.
#[derive(Debug)]
pub(crate) struct StartFailure {
    pub stderr: Vec<String>,
}

/// Refuses: running Workers locally needs a Unix system (Linux or macOS).
pub(crate) async fn start(
    _workerd: &Workerd,
    _config: &Path,
    _socket: &std::net::TcpListener,
    _env: &[(String, String)],
    _events: broadcast::Sender<WorkerEvent>,
) -> Result<Process, StartFailure> {
    Err(StartFailure {
        stderr: vec![
            "running Workers locally needs Linux or macOS; deploy works here, dev does not".into(),
        ],
    })
}

impl Process {
    pub fn exited(&mut self) -> bool {
        true
    }

    pub async fn wait(&mut self) {}

    pub async fn stop(self) {}
}
