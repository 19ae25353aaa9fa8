//! One workerd process: started on a configuration with the emulator's listening socket handed
//! over as a file descriptor (so requests that arrive while workerd restarts wait in the socket's
//! backlog instead of being refused), ready when it reports on its control pipe, stopped with
//! SIGTERM. Its stdout (console lines, which tail events carry better) is drained; its stderr is
//! kept for the start-up failure it explains, and forwarded as [`WorkerEvent::Runtime`] after.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::broadcast;

use super::{WorkerEvent, Workerd};

/// How long workerd may take to load a configuration (the emulator's own).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopping workerd gets before it is killed (the emulator's own).
const STOP_GRACE: Duration = Duration::from_secs(3);
/// The file descriptor numbers workerd is told about.
const SOCKET_FD: RawFd = 3;
const CONTROL_FD: RawFd = 4;

/// A running workerd.
pub(crate) struct Process {
    child: Child,
}

/// Why workerd did not start: what it printed on stderr.
#[derive(Debug)]
pub(crate) struct StartFailure {
    pub stderr: Vec<String>,
}

/// Starts workerd on `config` with `socket` as its `http` socket; returns once it listens, or the
/// lines it printed when it exits first.
pub(crate) async fn start(
    workerd: &Workerd,
    config: &Path,
    socket: &std::net::TcpListener,
    env: &[(String, String)],
    events: broadcast::Sender<WorkerEvent>,
) -> Result<Process, StartFailure> {
    let failure = |line: String| StartFailure { stderr: vec![line] };
    let (control_read, control_write) = pipe().map_err(|e| failure(format!("pipe: {e}")))?;
    let socket_fd = socket.as_raw_fd();
    let control_fd = control_write.as_raw_fd();
    let mut command = Command::new(workerd.path());
    command
        .arg("serve")
        .arg(config)
        .arg("--experimental")
        .arg(format!("--socket-fd=http={SOCKET_FD}"))
        .arg(format!("--control-fd={CONTROL_FD}"))
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // SAFETY: the closure runs in the child between fork and exec and only calls async-signal-safe
    // functions (fcntl, dup2, prctl) on descriptors that are open in the parent at fork time.
    unsafe {
        command.pre_exec(move || hand_over(socket_fd, control_fd));
    }
    let mut child = command
        .spawn()
        .map_err(|e| failure(format!("could not run {}: {e}", workerd.path().display())))?;
    drop(control_write);

    let stderr_lines = Arc::new(Mutex::new(Vec::new()));
    let started = Arc::new(AtomicBool::new(false));
    if let Some(out) = child.stdout.take() {
        tokio::spawn(drain(out));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(forward_stderr(
            err,
            stderr_lines.clone(),
            started.clone(),
            events,
        ));
    }
    let control = tokio::net::unix::pipe::Receiver::from_owned_fd(control_read)
        .map_err(|e| failure(format!("control pipe: {e}")))?;
    let mut control = BufReader::new(control).lines();
    let listening = async {
        while let Ok(Some(line)) = control.next_line().await {
            if line.contains("\"listen\"") {
                return true;
            }
        }
        false
    };
    let outcome = tokio::time::timeout(START_TIMEOUT, async {
        tokio::select! {
            ready = listening => ready,
            _ = child.wait() => false,
        }
    })
    .await;
    if matches!(outcome, Ok(true)) {
        started.store(true, Ordering::SeqCst);
        return Ok(Process { child });
    }
    let _ = child.start_kill();
    let _ = child.wait().await;
    // Let the stderr reader take the last lines.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut stderr = stderr_lines.lock().map(|l| l.clone()).unwrap_or_default();
    if outcome.is_err() {
        stderr.push(format!(
            "workerd did not start listening within {} s",
            START_TIMEOUT.as_secs()
        ));
    }
    Err(StartFailure { stderr })
}

impl Process {
    /// Whether it has exited.
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits until it exits.
    pub async fn wait(&mut self) {
        let _ = self.child.wait().await;
    }

    /// Asks it to stop (SIGTERM), and kills it if it has not after a grace period.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) with a pid this process spawned and has not reaped.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGTERM);
            }
        }
        if tokio::time::timeout(STOP_GRACE, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// A pipe whose ends close on exec (set right after creation: no other child is spawned while
/// the supervisor, the only spawner of this process's children here, is in this function).
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe(2) writes two new descriptors into the array on success.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by no one else.
    let ends = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    for fd in [ends.0.as_raw_fd(), ends.1.as_raw_fd()] {
        // SAFETY: fcntl(2) on a descriptor this function owns.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(ends)
}

/// In the child: puts the socket at [`SOCKET_FD`] and the control pipe at [`CONTROL_FD`] (dup2
/// clears close-on-exec on the copies), and asks to be killed when the emulator dies.
fn hand_over(socket: RawFd, control: RawFd) -> std::io::Result<()> {
    let check = |rc: libc::c_int| {
        if rc < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(rc)
        }
    };
    // SAFETY: only descriptor calls on descriptors open in this (child) process.
    unsafe {
        // Move both out of the way first, so that neither dup2 overwrites the other's source.
        let socket = check(libc::fcntl(socket, libc::F_DUPFD_CLOEXEC, 10))?;
        let control = check(libc::fcntl(control, libc::F_DUPFD_CLOEXEC, 10))?;
        check(libc::dup2(socket, SOCKET_FD))?;
        check(libc::dup2(control, CONTROL_FD))?;
        #[cfg(target_os = "linux")]
        check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL))?;
    }
    Ok(())
}

async fn drain(out: impl AsyncRead + Unpin) {
    let mut lines = BufReader::new(out).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::trace!(target: "workerd", "{line}");
    }
}

/// Keeps stderr's lines for a start-up failure; once started, forwards workerd's own diagnostics
/// (lines it prefixes with its source file) but not what tail events already carry: Workers'
/// `console.error` lines, and uncaught exceptions, which arrive there with their stack.
async fn forward_stderr(
    err: impl AsyncRead + Unpin,
    kept: Arc<Mutex<Vec<String>>>,
    started: Arc<AtomicBool>,
    events: broadcast::Sender<WorkerEvent>,
) {
    let mut lines = BufReader::new(err).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if !started.load(Ordering::SeqCst) {
            if let Ok(mut kept) = kept.lock()
                && kept.len() < 200
            {
                kept.push(line);
            }
            continue;
        }
        if line.starts_with("workerd/") && !line.contains("Uncaught exception") {
            let _ = events.send(WorkerEvent::Runtime { message: line });
        }
    }
}
