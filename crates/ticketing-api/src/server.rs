//! The HTTP/1.1 server the local and container hosts run: an accept loop over hyper's connection builder, as
//! `axum::serve` is, with what `axum::serve` lacks. A client gets [`EdgeLimits::header_read_timeout`] to send each
//! request's headers, so silent connections (slowloris) are closed instead of piling up; at most
//! [`EdgeLimits::connections_max`] connections are open at once, past which new ones wait in the kernel's listen
//! queue. Every request carries its peer's address as [`ConnectInfo`], for the per-caller limits.
//!
//! Shutting down stops accepting, lets each connection finish the request it is working on (an idle one is closed
//! at once), and returns when every connection is closed.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use es_core::CancellationToken;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::edge::EdgeLimits;

/// How long the accept loop waits after an error that is not about one connection (out of file descriptors, say),
/// so that it does not spin while the condition lasts.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` within `limits` until `shutdown` is cancelled, then until every connection has
/// finished its request and closed.
pub async fn serve(listener: TcpListener, app: Router, limits: &EdgeLimits, shutdown: CancellationToken) {
    let connections_max = u32::try_from(limits.connections_max.max(1)).unwrap_or(u32::MAX);
    let connections = Arc::new(Semaphore::new(connections_max as usize));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    loop {
        // A permit first, then a connection: at the cap, new connections stay in the listen queue.
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = Arc::clone(&connections).acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    if !is_connection_error(&error) {
                        tracing::error!(%error, "accepting a connection failed");
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    }
                    continue;
                }
            },
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, %peer, "could not disable Nagle's algorithm");
        }
        let app = app.clone();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request)
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut connection = std::pin::pin!(connection);
            let served = tokio::select! {
                served = connection.as_mut() => served,
                () = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = served {
                // Header timeouts, resets and malformed requests: the client's business, not an operator's.
                tracing::debug!(%error, %peer, "a connection ended with an error");
            }
        });
    }
    drop(listener);
    // Every connection holds a permit until it closes.
    let _all = connections.acquire_many(connections_max).await;
}

/// Errors of `accept` that concern one connection only (it was reset before it was accepted); the loop goes on.
fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};

    use axum::routing::get;

    use super::*;

    async fn start(limits: EdgeLimits) -> (SocketAddr, CancellationToken, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let addr = listener.local_addr().expect("a bound address");
        let app = Router::new()
            .route("/health", get(|| async { "ok" }))
            .route("/peer", get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }));
        let shutdown = CancellationToken::new();
        let server = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { serve(listener, app, &limits, shutdown).await }
        });
        (addr, shutdown, server)
    }

    fn get_once(addr: SocketAddr, path: &str) -> String {
        let mut stream = TcpStream::connect(addr).expect("the server accepts");
        stream.set_read_timeout(Some(Duration::from_secs(5))).expect("a timeout");
        write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").expect("the request is sent");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("the response is read");
        response
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_carry_their_peer_and_shutdown_waits_for_nothing_when_idle() {
        let (addr, shutdown, server) = start(EdgeLimits::default()).await;

        let response = tokio::task::spawn_blocking(move || get_once(addr, "/peer")).await.expect("the client runs");

        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with("127.0.0.1"), "{response}");
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), server).await.expect("the server stops").expect("cleanly");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_connection_cap_a_new_connection_waits_until_one_closes() {
        let limits = EdgeLimits { connections_max: 1, ..EdgeLimits::default() };
        let (addr, shutdown, server) = start(limits).await;
        let first = TcpStream::connect(addr).expect("the server accepts");
        // Time for the accept loop to take the first connection, and with it the only permit.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let second = tokio::task::spawn_blocking(move || get_once(addr, "/health"));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!second.is_finished(), "the second connection waits while the first is open");

        drop(first);
        let response = second.await.expect("the client runs");

        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), server).await.expect("the server stops").expect("cleanly");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_that_sends_no_headers_is_closed_after_the_header_timeout() {
        let limits = EdgeLimits { header_read_timeout: Duration::from_millis(200), ..EdgeLimits::default() };
        let (addr, shutdown, server) = start(limits).await;

        let closed = tokio::task::spawn_blocking(move || {
            let mut silent = TcpStream::connect(addr).expect("the server accepts");
            silent.set_read_timeout(Some(Duration::from_secs(5))).expect("a timeout");
            let mut rest = Vec::new();
            silent.read_to_end(&mut rest).map(|_| ())
        });

        closed.await.expect("the client runs").expect("the server closes the connection before the client gives up");
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), server).await.expect("the server stops").expect("cleanly");
    }
}
