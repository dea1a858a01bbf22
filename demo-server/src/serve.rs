//! Serving connections: a request's headers must arrive within a time limit, and a
//! shutdown closes idle and slow connections at once and waits only for the requests
//! whose handlers are running.
//!
//! `axum::serve` does neither: it sets no header timeout, so a client that sends half a
//! request head holds its connection for ever, and its graceful shutdown waits for
//! every connection that has started reading a request, so that one such client held
//! SIGTERM for the whole grace period. Here each connection is served by hyper's HTTP/1
//! server with a header read timeout, and counts the handlers running on it; at
//! shutdown a connection with none is dropped, and one with a handler running is asked
//! to finish that response and close.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower::ServiceExt;

/// How the connections ended once the server stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stopped {
    /// Connections closed at the stop because no handler was running on them (idle,
    /// or still sending their request's head or body before a handler began).
    pub closed_at_once: usize,
    /// Connections whose running handler finished within the grace period.
    pub finished: usize,
    /// Connections still running a handler when the grace period ended, cut off.
    pub cut_off: usize,
}

/// Counts a handler as running while it lives, on its connection's count.
struct Running(Arc<AtomicUsize>);

impl Running {
    fn start(count: &Arc<AtomicUsize>) -> Running {
        count.fetch_add(1, Ordering::AcqRel);
        Running(Arc::clone(count))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What one connection task reports when it ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// The client closed it, or it failed (a header timeout, say), before the stop.
    Served,
    /// Dropped at the stop: no handler was running.
    ClosedAtOnce,
    /// Its running handler finished after the stop.
    Finished,
}

/// Resolves once the server is stopping.
async fn stopping(mut closing: tokio::sync::watch::Receiver<bool>) {
    let _ = closing.wait_for(|closing| *closing).await;
}

/// Serves `app` on `listener` until `stop` resolves, then closes the connections:
/// at once where no handler is running, after their response where one is, and cuts
/// off what is still running after `grace`. A request's head must arrive within
/// `header_timeout` of the connection's first byte (or of the previous response on a
/// kept-alive connection), or the connection is closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    stop: impl std::future::Future<Output = ()>,
    grace: Duration,
) -> Stopped {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    let (closing, closing_watch) = tokio::sync::watch::channel(false);
    let mut connections: JoinSet<Ended> = JoinSet::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => {
                // A failed accept (too many open files, say) drops that client only.
                let Ok((stream, _)) = accepted else { continue };
                let running = Arc::new(AtomicUsize::new(0));
                let service = hyper::service::service_fn({
                    let (app, running) = (app.clone(), Arc::clone(&running));
                    move |request: hyper::Request<Incoming>| {
                        let app = app.clone();
                        let running = Running::start(&running);
                        async move {
                            let response = app.oneshot(request.map(Body::new)).await;
                            drop(running);
                            response
                        }
                    }
                });
                let connection = http.serve_connection(TokioIo::new(stream), service);
                let closing = closing_watch.clone();
                connections.spawn(async move {
                    let mut connection = std::pin::pin!(connection);
                    tokio::select! {
                        _ = connection.as_mut() => Ended::Served,
                        () = stopping(closing) => {
                            if running.load(Ordering::Acquire) == 0 {
                                return Ended::ClosedAtOnce;
                            }
                            connection.as_mut().graceful_shutdown();
                            let _ = connection.await;
                            Ended::Finished
                        }
                    }
                });
                // Reap the connections that ended, so the set holds the open ones.
                while let Some(ended) = connections.try_join_next() {
                    drop(ended);
                }
            }
        }
    }
    drop(listener);
    let _ = closing.send(true);
    let mut stopped = Stopped::default();
    let drained = tokio::time::timeout(grace, async {
        while let Some(ended) = connections.join_next().await {
            match ended {
                Ok(Ended::ClosedAtOnce) => stopped.closed_at_once += 1,
                Ok(Ended::Finished) => stopped.finished += 1,
                Ok(Ended::Served) | Err(_) => {}
            }
        }
    })
    .await;
    if drained.is_err() {
        stopped.cut_off = connections.len();
        connections.abort_all();
    }
    stopped
}
