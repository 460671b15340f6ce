//! The one error type of this crate.

use std::time::Duration;

/// Why a provider gave no answer, or why an answer stopped early. Each kind
/// has a stable [`code`](LlmError::code) for logs, job rows and statuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    /// No byte within the first-byte timeout (or between two chunks), or the
    /// total timeout ran out.
    #[error("the language model did not answer in time")]
    Timeout,
    /// 429, still after the retries, or with a `Retry-After` too long to wait.
    #[error("the language model's provider is rate limiting us")]
    RateLimited {
        /// What the provider asked us to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// A 5xx, still after the retries.
    #[error("the language model's provider failed (HTTP {0})")]
    Server(u16),
    /// Not what an OpenAI-compatible provider sends: another content type,
    /// a chunk that is not JSON, an error object inside the stream.
    #[error("the language model's provider sent a malformed answer: {0}")]
    BadResponse(String),
    /// The connection could not be made, or broke (still after the retries
    /// when before the first token).
    #[error("could not talk to the language model's provider: {0}")]
    Connect(String),
    /// The caller cancelled.
    #[error("the answer was cancelled")]
    Cancelled,
    /// 401 or 403: the API key is missing or wrong.
    #[error("the language model's provider refused the API key")]
    Unauthorized,
    /// 404 about the model: the provider does not serve it.
    #[error("the language model's provider does not serve this model")]
    ModelNotFound,
    /// Another 4xx (a request too long for the model's context, say).
    #[error("the language model's provider rejected the request (HTTP {status}): {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The provider's own message, if it gave one.
        message: String,
    },
    /// The configuration cannot work (a base URL that is not http(s)).
    #[error("the language model client is misconfigured: {0}")]
    Config(String),
}

impl LlmError {
    /// A stable snake_case name of the kind.
    pub fn code(&self) -> &'static str {
        match self {
            LlmError::Timeout => "timeout",
            LlmError::RateLimited { .. } => "rate_limited",
            LlmError::Server(_) => "server_error",
            LlmError::BadResponse(_) => "bad_response",
            LlmError::Connect(_) => "connect",
            LlmError::Cancelled => "cancelled",
            LlmError::Unauthorized => "unauthorized",
            LlmError::ModelNotFound => "model_not_found",
            LlmError::Rejected { .. } => "rejected",
            LlmError::Config(_) => "config",
        }
    }

    /// Whether another attempt might succeed (before the first token only).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LlmError::Connect(_) | LlmError::RateLimited { .. } | LlmError::Server(_)
        )
    }
}
