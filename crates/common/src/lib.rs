//! What Parley's services share: the schema and its queries, validated domain
//! types, authentication (tokens, passwords), configuration, the error type
//! and the wire shapes of protocol.md.

pub mod access;
pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod emoji;
pub mod emotion;
pub mod error;
pub mod fanout;
pub mod guard;
pub mod healthcheck;
pub mod markdown;
pub mod messaging;
pub mod passwords;
pub mod preferences;
pub mod protocol;
pub mod ratelimit;
pub mod reads;
pub mod redis_client;
pub mod search_text;
#[rustfmt::skip]
pub mod schema;
mod schema_joins;
pub mod store;
pub mod telemetry;
pub mod writer;

pub use error::{Error, Result};
