//! What a [`Client`](crate::Client) needs to know about its provider, and
//! the limits it keeps to.

use std::fmt;
use std::time::Duration;

/// Default longest wait for the first byte of an answer (and between two
/// chunks of it).
pub const DEFAULT_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(20);
/// Default longest time for a whole answer, retries included.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(120);
/// Default number of retries (after the first attempt) before the first token.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// Default first backoff; it doubles per retry, plus up to half again of jitter.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Default longest `Retry-After` honoured; a longer one ends the attempt
/// as [`LlmError::RateLimited`](crate::LlmError::RateLimited).
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// Default cap on the tokens of one answer (~3,500 characters is what a
/// message can hold; this leaves room).
pub const DEFAULT_MAX_TOKENS: u32 = 1024;

/// A provider and the limits kept when talking to it.
#[derive(Clone)]
pub struct ProviderConfig {
    /// The API's base URL, `/chat/completions` is appended: e.g.
    /// `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    /// The model name sent with every request.
    pub model: String,
    /// Sent as `Authorization: Bearer …` when set; never printed.
    pub api_key: Option<String>,
    /// Longest wait for the first byte of the answer's body (headers alone
    /// do not count), and then between two chunks.
    pub first_byte_timeout: Duration,
    /// Longest time for the whole answer, retries and backoff included.
    pub total_timeout: Duration,
    /// Retries after the first attempt, only before the first token, and
    /// only for connection failures, 429 and 5xx.
    pub max_retries: u32,
    /// The first retry's backoff; it doubles for each retry after it.
    pub backoff_base: Duration,
    /// The longest `Retry-After` that is waited for.
    pub max_retry_after: Duration,
    /// `max_tokens` sent with the request; `None` sends none.
    pub max_tokens: Option<u32>,
}

impl ProviderConfig {
    /// A provider at `base_url` serving `model`, without a key, with the
    /// default limits.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> ProviderConfig {
        ProviderConfig {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            first_byte_timeout: DEFAULT_FIRST_BYTE_TIMEOUT,
            total_timeout: DEFAULT_TOTAL_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            backoff_base: DEFAULT_BACKOFF_BASE,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
            max_tokens: Some(DEFAULT_MAX_TOKENS),
        }
    }
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "(set)"))
            .field("first_byte_timeout", &self.first_byte_timeout)
            .field("total_timeout", &self.total_timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff_base", &self.backoff_base)
            .field("max_retry_after", &self.max_retry_after)
            .field("max_tokens", &self.max_tokens)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_key() {
        let mut config = ProviderConfig::new("http://x/v1", "m");
        config.api_key = Some("sk-secret".into());
        let printed = format!("{config:?}");
        assert!(!printed.contains("sk-secret"), "{printed}");
        assert!(printed.contains("(set)"));
    }
}
