//! The chat service's HTTP side, on the one Tokio runtime everything else
//! runs on: hyper serves each TCP connection (HTTP/1.1: the health
//! endpoints and the WebSocket upgrade), and an upgraded socket becomes a
//! connection task on the same runtime that writes its frames itself. No
//! second runtime and no hand-off between threads per frame.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::ChatState;
use crate::{health, upgrade};

/// An HTTP answer with its whole body.
pub type HttpResponse = Response<Full<Bytes>>;

/// How long a client may take to send a request's headers (slow clients
/// cannot hold connections open without asking anything).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The pause after a failed accept (out of file descriptors), so the loop
/// does not spin while connections close.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The accepting loop; [`Server::stop`] ends it. Open sockets are closed
/// by the registry, not here.
pub struct Server {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Server {
    /// Starts accepting on `listener` (already bound, so start-up errors
    /// are the caller's).
    pub fn start(state: Arc<ChatState>, listener: std::net::TcpListener) -> std::io::Result<Self> {
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept(state, listener, stopped));
        Ok(Self { stop, task })
    }

    /// Stops accepting and waits for the loop to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn accept(state: Arc<ChatState>, listener: TcpListener, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    tokio::spawn(serve(state.clone(), tcp));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
}

/// Serves one TCP connection's requests until it closes or upgrades.
async fn serve(state: Arc<ChatState>, tcp: TcpStream) {
    // Frames are written whole and coalesced per connection: no reason to
    // let Nagle hold the last one back.
    let _ = tcp.set_nodelay(true);
    let service = service_fn(move |req| route(state.clone(), req));
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(tcp), service)
        .with_upgrades()
        .await;
    if let Err(e) = served {
        tracing::debug!(error = %e, "HTTP connection ended with an error");
    }
}

async fn route(state: Arc<ChatState>, req: Request<Incoming>) -> Result<HttpResponse, Infallible> {
    let path = req.uri().path();
    let get = req.method() == Method::GET;
    Ok(match path {
        "/ws" if get => upgrade::ws(&state, req).await,
        "/healthz" if get => health::healthz(),
        "/readyz" if get => health::readyz(&state).await,
        "/metrics" if get => health::metrics(&state),
        "/ws" | "/healthz" | "/readyz" | "/metrics" => {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "only GET is served here");
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET"));
            response
        }
        _ => text(StatusCode::NOT_FOUND, "not found"),
    })
}

/// A plain-text answer.
pub fn text(status: StatusCode, body: &'static str) -> HttpResponse {
    with_type(
        status,
        "text/plain; charset=utf-8",
        Bytes::from_static(body.as_bytes()),
    )
}

/// An answer of `status` with a body of `content_type`.
pub fn with_type(status: StatusCode, content_type: &'static str, body: Bytes) -> HttpResponse {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
