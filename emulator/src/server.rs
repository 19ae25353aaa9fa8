//! The accept loop: HTTP/1.1 connections on a loopback listener, each served by the router.
//!
//! It is hand-rolled (rather than `axum::serve`) so that a fault can close a connection without
//! answering: every request carries a [`ConnectionDrop`] that stops its connection's task.

use std::sync::Arc;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

/// Closes the connection a request arrived on, without an answer.
#[derive(Clone)]
pub(crate) struct ConnectionDrop(Arc<Notify>);

impl ConnectionDrop {
    /// Signals the connection task to drop the socket.
    pub fn drop_now(&self) {
        self.0.notify_one();
    }
}

/// The running accept loop; stopping it (or dropping it) closes every connection.
pub(crate) struct ServerHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl ServerHandle {
    /// Stops the server and waits for the accept loop to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Spawns the accept loop on the current tokio runtime.
pub(crate) fn spawn(listener: TcpListener, app: Router) -> ServerHandle {
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, app, stopped));
    ServerHandle { stop, task }
}

async fn accept_loop(listener: TcpListener, app: Router, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve_connection(stream, app.clone(), stopped.clone()));
            }
        }
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    app: Router,
    mut stopped: watch::Receiver<bool>,
) {
    let drop = Arc::new(Notify::new());
    let handle = ConnectionDrop(drop.clone());
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(handle.clone());
        app.clone().oneshot(req)
    });
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        _ = drop.notified() => {}
        _ = stopped.changed() => {}
    }
}
