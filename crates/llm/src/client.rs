//! The client: one streamed answer per call, with the timeouts, retries and
//! cancellation of [`ProviderConfig`].

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use reqwest::header::{self, HeaderMap};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::ProviderConfig;
use crate::error::LlmError;
use crate::sse::SseParser;
use crate::wire::{self, ChatMessage, ChatRequest, StreamOptions, Usage};

/// A finished answer: all its text, complete or cut short.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// Every delta, concatenated.
    pub text: String,
    /// The provider's `finish_reason` (`stop`, `length`…), when it sent one.
    pub finish_reason: Option<String>,
    /// The provider's token counts, when it sent them.
    pub usage: Option<Usage>,
    /// Why the answer stopped before the provider finished it (the
    /// connection broke, a timeout, a malformed chunk, a cancel); `None` for
    /// a complete answer.
    pub interrupted: Option<LlmError>,
}

impl Completion {
    /// Whether the answer was cut short (store it marked as such).
    pub fn is_interrupted(&self) -> bool {
        self.interrupted.is_some()
    }
}

/// What [`Client::stream`] yields: deltas, then exactly one `End`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The next piece of the answer's text (never empty).
    Delta(String),
    /// The outcome: `Ok` whenever any text arrived (see
    /// [`Completion::interrupted`]), `Err` when none did.
    End(Result<Completion, LlmError>),
}

/// The stream of one answer's events. Polling it in a `select!` loop is
/// safe: its state lives in the stream, not in the `next()` future.
pub type EventStream = Pin<Box<dyn Stream<Item = Event> + Send>>;

/// A client of one provider and model. Cheap to clone; clones share the
/// connection pool.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    config: Arc<ProviderConfig>,
}

impl Client {
    /// A client for `config`'s provider. Fails only on a configuration that
    /// cannot work (a base URL that is not http(s), an empty model).
    pub fn new(config: ProviderConfig) -> Result<Client, LlmError> {
        let base = config.base_url.as_str();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(LlmError::Config(format!(
                "the base URL {base:?} is not http(s)"
            )));
        }
        if config.model.trim().is_empty() {
            return Err(LlmError::Config("the model name is empty".to_owned()));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.first_byte_timeout)
            .user_agent(concat!("parley/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LlmError::Config(e.to_string()))?;
        Ok(Client {
            http,
            config: Arc::new(config),
        })
    }

    /// The configuration this client was made with.
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.config.base_url.trim_end_matches('/'))
    }

    /// Asks for an answer to `messages`, streamed. Nothing is sent until the
    /// stream is first polled. Cancelling `cancel` (or dropping the stream)
    /// drops the response and so closes the connection; the stream then
    /// ends with `LlmError::Cancelled` (as the error, or as
    /// [`Completion::interrupted`] when text had arrived).
    pub fn stream(&self, messages: Vec<ChatMessage>, cancel: CancellationToken) -> EventStream {
        let body = ChatRequest {
            model: &self.config.model,
            messages: &messages,
            stream: true,
            stream_options: StreamOptions {
                include_usage: true,
            },
            max_tokens: self.config.max_tokens,
        };
        let run = match serde_json::to_vec(&body) {
            Ok(body) => Run::new(self, Bytes::from(body), cancel),
            Err(e) => {
                let end = Event::End(Err(LlmError::Config(format!(
                    "the request cannot be encoded: {e}"
                ))));
                return Box::pin(futures_util::stream::iter([end]));
            }
        };
        Box::pin(futures_util::stream::unfold(run, |mut run| async move {
            let event = run.next().await?;
            Some((event, run))
        }))
    }

    /// [`stream`](Client::stream), driven to its end: `on_delta` gets each
    /// delta as it arrives, and the outcome is returned.
    pub async fn complete(
        &self,
        messages: Vec<ChatMessage>,
        cancel: CancellationToken,
        mut on_delta: impl FnMut(&str),
    ) -> Result<Completion, LlmError> {
        let mut events = self.stream(messages, cancel);
        while let Some(event) = events.next().await {
            match event {
                Event::Delta(delta) => on_delta(&delta),
                Event::End(outcome) => return outcome,
            }
        }
        Err(LlmError::BadResponse(
            "the answer ended without an outcome".to_owned(),
        ))
    }

    /// The ids of the models the provider lists (`GET {base_url}/models`),
    /// within the first-byte timeout; for readiness checks. Not retried.
    pub async fn list_models(&self) -> Result<Vec<String>, LlmError> {
        let mut request = self.http.get(self.url("models"));
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let by = Instant::now() + self.config.first_byte_timeout;
        let never = CancellationToken::new();
        let response = guard(&never, by, request.send()).await?.map_err(connect)?;
        if !response.status().is_success() {
            return Err(status_error(response, &never, by).await);
        }
        let body = guard(&never, by, response.bytes())
            .await?
            .map_err(connect)?;
        let listed: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| LlmError::BadResponse(format!("the model list is not JSON: {e}")))?;
        let data = listed
            .get("data")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| LlmError::BadResponse("the model list has no `data`".to_owned()))?;
        Ok(data
            .iter()
            .filter_map(|m| {
                m.get("id")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            })
            .collect())
    }
}

/// Awaits `work` unless `cancel` fires or `by` passes first.
async fn guard<T>(
    cancel: &CancellationToken,
    by: Instant,
    work: impl Future<Output = T>,
) -> Result<T, LlmError> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(LlmError::Cancelled),
        _ = tokio::time::sleep_until(by) => Err(LlmError::Timeout),
        out = work => Ok(out),
    }
}

fn connect(e: reqwest::Error) -> LlmError {
    // The source chain says what broke (refused, reset, closed early).
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    LlmError::Connect(message)
}

/// The error a non-2xx response stands for.
async fn status_error(
    response: reqwest::Response,
    cancel: &CancellationToken,
    by: Instant,
) -> LlmError {
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let body = match guard(cancel, by, response.bytes()).await {
        Ok(Ok(body)) => body,
        _ => Bytes::new(),
    };
    let (code, message) = wire::error_details(&body);
    match status {
        401 | 403 => LlmError::Unauthorized,
        404 if code == "model_not_found" || message.to_lowercase().contains("model") => {
            LlmError::ModelNotFound
        }
        429 => LlmError::RateLimited { retry_after },
        500..=599 => LlmError::Server(status),
        _ => LlmError::Rejected { status, message },
    }
}

/// `retry-after-ms` (OpenAI) or `Retry-After` in seconds; an HTTP date is
/// ignored (the backoff applies).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
    let seconds = number("retry-after-ms")
        .map(|ms| ms / 1000.0)
        .or_else(|| number(header::RETRY_AFTER.as_str()))?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(86_400.0)))
}

/// The backoff before retry number `retry` (1 for the first): the base,
/// doubled per retry, plus up to half of it again at random.
fn backoff(base: Duration, retry: u32) -> Duration {
    let doubled = base.saturating_mul(1 << retry.saturating_sub(1).min(16));
    doubled + doubled.mul_f64(rand::random::<f64>() / 2.0)
}

/// The state of one streamed answer across its attempts.
struct Run {
    http: reqwest::Client,
    config: Arc<ProviderConfig>,
    url: String,
    body: Bytes,
    cancel: CancellationToken,
    deadline: Instant,
    /// Requests sent so far.
    attempts: u32,
    response: Option<reqwest::Response>,
    /// When the next byte must have arrived.
    next_byte_by: Instant,
    parser: SseParser,
    /// Deltas parsed but not yet yielded.
    queue: VecDeque<String>,
    /// How the current attempt ended, once known (after `queue` drains).
    ending: Option<Result<(), LlmError>>,
    text: String,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    ended: bool,
}

impl Run {
    fn new(client: &Client, body: Bytes, cancel: CancellationToken) -> Run {
        let now = Instant::now();
        Run {
            http: client.http.clone(),
            config: client.config.clone(),
            url: client.url("chat/completions"),
            body,
            cancel,
            deadline: now + client.config.total_timeout,
            attempts: 0,
            response: None,
            next_byte_by: now,
            parser: SseParser::default(),
            queue: VecDeque::new(),
            ending: None,
            text: String::new(),
            finish_reason: None,
            usage: None,
            ended: false,
        }
    }

    /// The next event; `None` after the `End`.
    async fn next(&mut self) -> Option<Event> {
        if self.ended {
            return None;
        }
        loop {
            // A cancel wins over deltas already parsed: Stop stops at once.
            if self.cancel.is_cancelled() {
                return Some(self.end(Some(LlmError::Cancelled)));
            }
            if let Some(delta) = self.queue.pop_front() {
                self.text.push_str(&delta);
                return Some(Event::Delta(delta));
            }
            match self.ending.take() {
                Some(Ok(())) => return Some(self.end(None)),
                Some(Err(e)) if self.text.is_empty() && e.is_retryable() => {
                    if let Err(e) = self.back_off(e).await {
                        return Some(self.end(Some(e)));
                    }
                    self.response = None;
                    self.parser = SseParser::default();
                    self.finish_reason = None;
                    self.usage = None;
                }
                Some(Err(e)) => return Some(self.end(Some(e))),
                None if self.response.is_none() => match self.send().await {
                    Ok(response) => self.response = Some(response),
                    Err(e) => self.ending = Some(Err(e)),
                },
                None => self.read().await,
            }
        }
    }

    /// The `End` event; drops the response (closing the connection if the
    /// body was not read to its end).
    fn end(&mut self, error: Option<LlmError>) -> Event {
        self.ended = true;
        self.response = None;
        let outcome = match error {
            Some(e) if self.text.is_empty() => Err(e),
            interrupted => Ok(Completion {
                text: std::mem::take(&mut self.text),
                finish_reason: self.finish_reason.take(),
                usage: self.usage.take(),
                interrupted,
            }),
        };
        Event::End(outcome)
    }

    /// Waits before the next attempt, or gives `error` back when no retry
    /// is left, the wait is too long, or it would pass the deadline.
    async fn back_off(&mut self, error: LlmError) -> Result<(), LlmError> {
        if self.attempts > self.config.max_retries {
            return Err(error);
        }
        let wait = match &error {
            LlmError::RateLimited {
                retry_after: Some(asked),
            } if *asked > self.config.max_retry_after => {
                return Err(error);
            }
            LlmError::RateLimited {
                retry_after: Some(asked),
            } => *asked,
            _ => backoff(self.config.backoff_base, self.attempts),
        };
        let until = Instant::now() + wait;
        if until >= self.deadline {
            return Err(error);
        }
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(LlmError::Cancelled),
            _ = tokio::time::sleep_until(until) => Ok(()),
        }
    }

    fn next_byte_deadline(&self) -> Instant {
        (Instant::now() + self.config.first_byte_timeout).min(self.deadline)
    }

    /// Sends the request; a response is returned only when it is a 2xx
    /// event stream.
    async fn send(&mut self) -> Result<reqwest::Response, LlmError> {
        self.attempts += 1;
        self.next_byte_by = self.next_byte_deadline();
        let mut request = self
            .http
            .post(&self.url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "text/event-stream")
            .body(self.body.clone());
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let response = guard(&self.cancel, self.next_byte_by, request.send())
            .await?
            .map_err(connect)?;
        if !response.status().is_success() {
            return Err(status_error(response, &self.cancel, self.next_byte_by).await);
        }
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !content_type
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("text/event-stream")
        {
            return Err(LlmError::BadResponse(format!(
                "expected text/event-stream, got {content_type:?}"
            )));
        }
        Ok(response)
    }

    /// Reads the next chunk of the body into `queue`, or sets `ending`.
    async fn read(&mut self) {
        let Some(response) = self.response.as_mut() else {
            return;
        };
        let chunk = match guard(&self.cancel, self.next_byte_by, response.chunk()).await {
            Ok(Ok(chunk)) => chunk,
            Ok(Err(e)) => {
                self.ending = Some(Err(connect(e)));
                return;
            }
            Err(e) => {
                self.ending = Some(Err(e));
                return;
            }
        };
        let Some(bytes) = chunk else {
            // The body ended without [DONE]: complete only if the provider
            // had said why it finished.
            self.ending = Some(match self.finish_reason {
                Some(_) => Ok(()),
                None => Err(LlmError::Connect(
                    "the stream ended before the answer did".to_owned(),
                )),
            });
            return;
        };
        self.next_byte_by = self.next_byte_deadline();
        let mut events = Vec::new();
        let parsed = self.parser.feed(&bytes, &mut events);
        for data in events {
            self.on_event(&data);
            if self.ending.is_some() {
                return;
            }
        }
        if let Err(message) = parsed {
            self.ending = Some(Err(LlmError::BadResponse(message)));
        }
    }

    fn on_event(&mut self, data: &str) {
        if data == "[DONE]" {
            self.ending = Some(Ok(()));
            return;
        }
        let chunk: wire::Chunk = match serde_json::from_str(data) {
            Ok(chunk) => chunk,
            Err(e) => {
                self.ending = Some(Err(LlmError::BadResponse(format!(
                    "a chunk is not JSON: {e}"
                ))));
                return;
            }
        };
        if let Some(error) = chunk.error {
            let (_, message) = wire::error_details(error.to_string().as_bytes());
            self.ending = Some(Err(LlmError::BadResponse(format!(
                "the provider reported: {message}"
            ))));
            return;
        }
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if let Some(content) = choice
                .delta
                .and_then(|d| d.content)
                .filter(|c| !c.is_empty())
            {
                self.queue.push_back(content);
            }
            if let Some(reason) = choice.finish_reason {
                self.finish_reason = Some(reason);
            }
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_up_to_half_of_jitter() {
        let base = Duration::from_millis(500);
        for (retry, floor) in [(1, 500), (2, 1000), (3, 2000)] {
            let wait = backoff(base, retry);
            assert!(wait >= Duration::from_millis(floor), "{wait:?}");
            assert!(wait <= Duration::from_millis(floor * 3 / 2), "{wait:?}");
        }
    }

    #[test]
    fn retry_after_reads_ms_then_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, header::HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", header::HeaderValue::from_static("150"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(150)));
        let mut date = HeaderMap::new();
        date.insert(
            header::RETRY_AFTER,
            header::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&date), None);
    }

    #[test]
    fn a_base_url_must_be_http() {
        match Client::new(ProviderConfig::new("ftp://x", "m")) {
            Err(LlmError::Config(_)) => {}
            other => panic!("{other:?}"),
        }
    }
}
