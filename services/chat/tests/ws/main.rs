//! Integration tests of the chat service: real `chat` processes (several
//! per test where it matters) against real Postgres and Redis, driven by a
//! WebSocket client speaking protocol.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod abuse;
mod access_matrix;
mod bad_frames;
mod cluster;
mod delivery;
mod dms;
mod events;
mod failures;
mod heartbeats;
mod helpers;
mod moderation;
mod privacy;
mod refusals;
mod replica;
