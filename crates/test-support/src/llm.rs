//! A stand-in for an OpenAI-compatible provider: a real HTTP server on
//! 127.0.0.1 that speaks `/v1/models` and `/v1/chat/completions` (streamed
//! as server-sent events, or as one JSON object), so the product's real
//! client is tested over real HTTP, never against a mock.
//!
//! The request's `model` picks the behaviour (see [`answer::Mode`]): `cite`,
//! `echo`, `slow-N`, `cut-K`, `429-R`, `500-N`, `never`, `garbage`,
//! `wrong-type`, `obey`; any other model gets 404 `model_not_found`. Every
//! request is recorded, with whether the client hung up before the stand-in
//! finished answering it.

pub mod answer;

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use answer::Mode;

/// How long the stand-in waits before cutting a stream, so that what it
/// sent before reaches the client first.
const CUT_GRACE: Duration = Duration::from_millis(20);

/// The `Retry-After` a `429-R` model answers with, in seconds (as OpenAI).
pub const RETRY_AFTER_SECS: u64 = 1;

/// How a stand-in is started.
#[derive(Clone, Debug, Default)]
pub struct StandInOptions {
    /// When set, every request must carry `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// The port to listen on; 0 picks a free one.
    pub port: u16,
}

/// One request the stand-in received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// `GET`, `POST`…
    pub method: String,
    /// The path, e.g. `/v1/chat/completions`.
    pub path: String,
    /// The `Authorization` header, verbatim.
    pub authorization: Option<String>,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
    /// The client closed the connection before the answer was complete.
    pub client_hung_up: bool,
}

/// A running stand-in; it stops accepting when dropped.
pub struct StandIn {
    base_url: String,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

struct Shared {
    api_key: Option<String>,
    log: Mutex<Vec<RecordedRequest>>,
    /// Requests seen per model name, for `429-R` and `500-N`.
    seen: Mutex<HashMap<String, u32>>,
}

impl Shared {
    fn record(&self, request: RecordedRequest) -> usize {
        let mut log = self.log.lock().unwrap();
        log.push(request);
        log.len() - 1
    }

    fn hung_up(&self, index: usize) {
        if let Some(r) = self.log.lock().unwrap().get_mut(index) {
            r.client_hung_up = true;
        }
    }

    /// How many requests for `model` this one is (1 for the first).
    fn count(&self, model: &str) -> u32 {
        let mut seen = self.seen.lock().unwrap();
        let n = seen.entry(model.to_owned()).or_insert(0);
        *n += 1;
        *n
    }
}

impl StandIn {
    /// Starts a stand-in on a free port, without an API key.
    pub async fn start() -> StandIn {
        StandIn::start_with(StandInOptions::default()).await
    }

    /// Starts a stand-in as `options` say.
    pub async fn start_with(options: StandInOptions) -> StandIn {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], options.port)))
            .await
            .expect("bind the LLM stand-in");
        let port = listener.local_addr().expect("stand-in address").port();
        let shared = Arc::new(Shared {
            api_key: options.api_key,
            log: Mutex::new(Vec::new()),
            seen: Mutex::new(HashMap::new()),
        });
        let accept = tokio::spawn(accept(listener, shared.clone()));
        StandIn {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            shared,
            accept,
        }
    }

    /// The base URL to configure a client with: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Waits until the client of request `index` has hung up; false when it
    /// has not within `within`.
    pub async fn wait_for_hang_up(&self, index: usize, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if self.requests().get(index).is_some_and(|r| r.client_hung_up) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((tcp, _)) => {
                tokio::spawn(serve(tcp, shared.clone()));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn serve(tcp: TcpStream, shared: Arc<Shared>) {
    let _ = tcp.set_nodelay(true);
    let service = service_fn(move |req| route(req, shared.clone()));
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(tcp), service)
        .await;
}

type Body = BoxBody<Bytes, io::Error>;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

fn respond(status: StatusCode, content_type: &'static str, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// An error object shaped like OpenAI's.
fn error(status: StatusCode, kind: &str, code: &str, message: &str) -> Response<Body> {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    respond(status, "application/json", full(body.to_string()))
}

async fn route(req: Request<Incoming>, shared: Arc<Shared>) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let index = shared.record(RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        authorization: authorization.clone(),
        body: body.clone(),
        client_hung_up: false,
    });

    if let Some(key) = &shared.api_key
        && authorization.as_deref() != Some(format!("Bearer {key}").as_str())
    {
        return Ok(error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "invalid_api_key",
            "Incorrect API key provided.",
        ));
    }
    Ok(match (method, path.as_str()) {
        (Method::GET, "/v1/models") => models(),
        (Method::POST, "/v1/chat/completions") => completions(&body, index, &shared),
        _ => error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "unknown_url",
            &format!("Unknown request URL: {path}."),
        ),
    })
}

fn models() -> Response<Body> {
    let data: Vec<Value> = answer::MODEL_NAMES
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "parley-stand-in"}))
        .collect();
    let body = json!({"object": "list", "data": data});
    respond(StatusCode::OK, "application/json", full(body.to_string()))
}

fn completions(body: &Value, index: usize, shared: &Arc<Shared>) -> Response<Body> {
    let model = body.get("model").and_then(Value::as_str).unwrap_or("");
    let Some(mode) = Mode::parse(model) else {
        return error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "model_not_found",
            &format!("The model `{model}` does not exist or you do not have access to it."),
        );
    };
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    match mode {
        Mode::RateLimited(r) if shared.count(model) <= r => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "requests",
                "rate_limit_exceeded",
                "Rate limit reached. Please try again in 1s.",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            return response;
        }
        Mode::Failing(n) if shared.count(model) <= n => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "server_error",
                "The server had an error while processing your request.",
            );
        }
        Mode::WrongType => {
            return respond(
                StatusCode::OK,
                "text/html; charset=utf-8",
                full("<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>"),
            );
        }
        _ => {}
    }

    let mut tokens = answer::tokens(mode, &messages);
    let mut finish = "stop";
    let limit = ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_u64));
    if let Some(limit) = limit.and_then(|l| usize::try_from(l).ok())
        && tokens.len() > limit
    {
        tokens.truncate(limit);
        finish = "length";
    }
    let usage = json!({
        "prompt_tokens": answer::count_words(&messages),
        "completion_tokens": tokens.len(),
        "total_tokens": answer::count_words(&messages) + tokens.len(),
    });
    let id = format!("chatcmpl-standin-{index}");
    let streamed = body.get("stream").and_then(Value::as_bool) == Some(true);
    let steps = if streamed {
        let include_usage = body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            == Some(true);
        let sse = Sse {
            id: &id,
            model,
            include_usage,
        };
        sse.steps(mode, &tokens, finish, &usage)
    } else {
        whole_steps(mode, &id, model, &tokens, finish, &usage)
    };
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(produce(steps, tx, shared.clone(), index));
    let content_type = if streamed {
        "text/event-stream"
    } else {
        "application/json"
    };
    let mut response = respond(StatusCode::OK, content_type, ChannelBody { rx }.boxed());
    if streamed {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    response
}

/// What the body producer does, in order.
enum Step {
    Send(Bytes),
    Sleep(Duration),
    /// Closes the connection without ending the body.
    Cut,
    /// Sends nothing more, until the client hangs up.
    Hang,
}

/// The chunks of one streamed answer.
struct Sse<'a> {
    id: &'a str,
    model: &'a str,
    include_usage: bool,
}

impl Sse<'_> {
    fn chunk(&self, delta: Value, finish: Option<&str>) -> Step {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": 0,
            "model": self.model,
            "system_fingerprint": null,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if self.include_usage {
            chunk["usage"] = Value::Null;
        }
        event(&chunk.to_string())
    }

    fn steps(&self, mode: Mode, tokens: &[String], finish: &str, usage: &Value) -> Vec<Step> {
        if mode == Mode::Never {
            return vec![Step::Hang];
        }
        let mut steps = vec![self.chunk(json!({"role": "assistant", "content": ""}), None)];
        for (i, token) in tokens.iter().enumerate() {
            if mode == Mode::Cut(i) {
                steps.extend([Step::Sleep(CUT_GRACE), Step::Cut]);
                return steps;
            }
            if let Mode::Slow(ms) = mode {
                steps.push(Step::Sleep(Duration::from_millis(ms)));
            }
            steps.push(self.chunk(json!({"content": token}), None));
            if mode == Mode::Garbage {
                steps.push(Step::Send(Bytes::from_static(b"data: {not json\n\n")));
                return steps;
            }
        }
        if let Mode::Cut(_) = mode {
            // Fewer tokens than K: cut where [DONE] would be.
            steps.extend([Step::Sleep(CUT_GRACE), Step::Cut]);
            return steps;
        }
        steps.push(self.chunk(json!({}), Some(finish)));
        if self.include_usage {
            let chunk = json!({
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": 0,
                "model": self.model,
                "system_fingerprint": null,
                "choices": [],
                "usage": usage,
            });
            steps.push(event(&chunk.to_string()));
        }
        steps.push(Step::Send(Bytes::from_static(b"data: [DONE]\n\n")));
        steps
    }
}

fn event(data: &str) -> Step {
    Step::Send(Bytes::from(format!("data: {data}\n\n")))
}

/// The body of an answer that is not streamed.
fn whole_steps(
    mode: Mode,
    id: &str,
    model: &str,
    tokens: &[String],
    finish: &str,
    usage: &Value,
) -> Vec<Step> {
    let text = tokens.concat();
    let body = json!({
        "id": id,
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": null, "finish_reason": finish}],
        "usage": usage,
    })
    .to_string();
    match mode {
        Mode::Never => vec![Step::Hang],
        Mode::Garbage => vec![Step::Send(Bytes::from_static(b"{not json"))],
        Mode::Cut(_) => {
            let half = body.len() / 2;
            vec![
                Step::Send(Bytes::copy_from_slice(&body.as_bytes()[..half])),
                Step::Sleep(CUT_GRACE),
                Step::Cut,
            ]
        }
        Mode::Slow(ms) => vec![
            Step::Sleep(Duration::from_millis(
                ms.saturating_mul(tokens.len() as u64),
            )),
            Step::Send(Bytes::from(body)),
        ],
        _ => vec![Step::Send(Bytes::from(body))],
    }
}

/// Runs the steps into the response body; notes a client that hangs up
/// before the last one.
async fn produce(
    steps: Vec<Step>,
    tx: mpsc::Sender<io::Result<Bytes>>,
    shared: Arc<Shared>,
    index: usize,
) {
    for step in steps {
        let gone = match step {
            Step::Send(bytes) => tx.send(Ok(bytes)).await.is_err(),
            Step::Sleep(duration) => tokio::select! {
                _ = tokio::time::sleep(duration) => false,
                _ = tx.closed() => true,
            },
            Step::Cut => {
                let _ = tx
                    .send(Err(io::Error::other("the stand-in cuts this stream")))
                    .await;
                return;
            }
            Step::Hang => {
                tx.closed().await;
                true
            }
        };
        if gone {
            shared.hung_up(index);
            return;
        }
    }
}

/// A response body fed by the producer task; hyper drops it (and with it
/// the receiver) when the client goes away.
struct ChannelBody {
    rx: mpsc::Receiver<io::Result<Bytes>>,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|next| next.map(|r| r.map(Frame::data)))
    }
}
