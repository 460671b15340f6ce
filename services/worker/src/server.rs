//! The worker's HTTP side: liveness, readiness, metrics, and semantic
//! search for the website (it serves no users; nginx does not route to
//! it).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use diesel_async::SimpleAsyncConnection;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::state::WorkerState;

type HttpResponse = Response<Full<Bytes>>;

/// The largest body `/internal/semantic` reads.
const SEMANTIC_BODY_MAX: usize = 16 * 1024;

/// How long a client may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `listener` until `stop` says so.
pub async fn serve(
    state: Arc<WorkerState>,
    listener: std::net::TcpListener,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(listener)?;
    loop {
        tokio::select! {
            _ = stop.changed() => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    let state = state.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |req| route(state.clone(), req));
                        let _ = http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(HEADER_READ_TIMEOUT)
                            .serve_connection(TokioIo::new(tcp), service)
                            .await;
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

async fn route(
    state: Arc<WorkerState>,
    req: Request<Incoming>,
) -> Result<HttpResponse, Infallible> {
    if req.uri().path() == "/internal/semantic" && req.method() == Method::POST {
        return Ok(semantic(&state, req).await);
    }
    if req.method() != Method::GET {
        return Ok(text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET is served here".into(),
        ));
    }
    Ok(match req.uri().path() {
        "/healthz" => text(StatusCode::OK, "ok".into()),
        "/readyz" => readyz(&state).await,
        "/metrics" => text(StatusCode::OK, state.metrics.render()),
        _ => text(StatusCode::NOT_FOUND, "not found".into()),
    })
}

/// Semantic search for the website (see `semantic.rs`).
async fn semantic(state: &WorkerState, req: Request<Incoming>) -> HttpResponse {
    let body = match Limited::new(req.into_body(), SEMANTIC_BODY_MAX)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "body too large".into()),
    };
    let ask: crate::semantic::Ask = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("bad request: {e}")),
    };
    match crate::semantic::nearest(state, ask).await {
        Ok(answer) => match serde_json::to_vec(&answer) {
            Ok(json) => {
                let mut response = Response::new(Full::new(Bytes::from(json)));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
            Err(_) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not write the answer".into(),
            ),
        },
        Err(e) => {
            tracing::warn!(error = %e, "semantic search unavailable");
            text(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
    }
}

/// 200 only while Postgres answers.
async fn readyz(state: &WorkerState) -> HttpResponse {
    let postgres = async {
        let mut conn = state.pool.get().await.map_err(|e| e.to_string())?;
        conn.batch_execute("SELECT 1")
            .await
            .map_err(|e| e.to_string())
    };
    match tokio::time::timeout(Duration::from_secs(2), postgres).await {
        Ok(Ok(())) => text(StatusCode::OK, "ready".into()),
        _ => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "postgres unavailable".into(),
        ),
    }
}

fn text(status: StatusCode, body: String) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
