//! Integration tests of the worker against real Postgres and Redis (and a
//! real OpenAI-compatible stand-in for the language model): one binary,
//! one module per area.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod assistant;
mod emotions;
mod follow;
mod helpers;
mod semantic;
mod sweeper;
mod transcripts;
