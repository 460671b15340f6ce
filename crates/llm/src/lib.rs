//! A client for OpenAI-compatible chat-completions providers (OpenAI,
//! Gemini's compatible endpoint, Ollama, vLLM, llama.cpp), with one job:
//! send a conversation to `{base_url}/chat/completions` with `stream: true`
//! and hand back the answer as it arrives.
//!
//! [`Client::stream`] yields [`Event::Delta`]s and then exactly one
//! [`Event::End`]: `Ok(Completion)` whenever some text arrived (with
//! [`Completion::interrupted`] saying why it stopped early, if it did), or
//! `Err(LlmError)` when the provider gave no text at all. A caller that must
//! store exactly one answer therefore needs one `match` at the end.
//!
//! Failures are retried (with backoff, honouring `Retry-After`) only until
//! the first token; after it a failure ends the answer as interrupted,
//! never as a second request. Cancelling drops the response, which closes
//! the connection.

mod client;
mod config;
mod error;
mod sse;
mod wire;

pub use client::{Client, Completion, Event, EventStream};
pub use config::{
    DEFAULT_BACKOFF_BASE, DEFAULT_FIRST_BYTE_TIMEOUT, DEFAULT_MAX_RETRIES, DEFAULT_MAX_RETRY_AFTER,
    DEFAULT_MAX_TOKENS, DEFAULT_TOTAL_TIMEOUT, ProviderConfig,
};
pub use error::LlmError;
pub use tokio_util::sync::CancellationToken;
pub use wire::{ChatMessage, Role, Usage};
