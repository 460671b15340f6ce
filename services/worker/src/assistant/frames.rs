//! What the assistant tells a room while it works, on the room's channel
//! (ephemeral, never stored: the stored answer is the truth), and the text
//! streamed so far, kept in Redis so a worker taking over a job whose
//! worker died can store it as an interrupted answer.
//!
//! Frames (docs/protocol.md):
//! `{"type":"assistant_status","room","job","question","status","code"?}`
//! and `{"type":"assistant_delta","room","job","question","offset","text"}`.

use common::store::assistant::Job;
use serde::Serialize;

use crate::state::WorkerState;

/// How long a partial answer is kept in Redis.
const PARTIAL_TTL_SECS: u64 = 600;

/// Where a job stands, as its status frame says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Reading the history.
    Thinking,
    /// Text is coming (`assistant_delta` frames).
    Streaming,
    /// Not answered, for `code`.
    Refused,
    /// Failed, for `code`.
    Failed,
    /// Stopped before any text, or the question is gone.
    Cancelled,
}

#[derive(Serialize)]
struct StatusFrame<'a> {
    r#type: &'static str,
    room: i64,
    job: i64,
    question: i64,
    status: Status,
    #[serde(skip_serializing_if = "str::is_empty")]
    code: &'a str,
}

#[derive(Serialize)]
struct DeltaFrame<'a> {
    r#type: &'static str,
    room: i64,
    job: i64,
    question: i64,
    /// Characters of the answer before this text (a client that missed
    /// frames can tell).
    offset: usize,
    text: &'a str,
}

/// Tells the room's connections where `job` stands. Best effort.
pub async fn status(state: &WorkerState, job: &Job, status: Status, code: &str) {
    let frame = StatusFrame {
        r#type: "assistant_status",
        room: job.room_id,
        job: job.id,
        question: job.question_id,
        status,
        code,
    };
    publish(state, job.room_id, &frame).await;
}

/// Sends the room's connections `text`, which follows `offset` characters
/// of the answer, and keeps it with the partial answer. Best effort.
pub async fn delta(state: &WorkerState, job: &Job, offset: usize, text: &str) {
    let frame = DeltaFrame {
        r#type: "assistant_delta",
        room: job.room_id,
        job: job.id,
        question: job.question_id,
        offset,
        text,
    };
    publish(state, job.room_id, &frame).await;
    let key = partial_key(state, job.id);
    let kept: redis::RedisResult<()> = redis::pipe()
        .cmd("APPEND")
        .arg(&key)
        .arg(text)
        .ignore()
        .cmd("EXPIRE")
        .arg(&key)
        .arg(PARTIAL_TTL_SECS)
        .ignore()
        .query_async(&mut state.redis.clone())
        .await;
    if let Err(e) = kept {
        tracing::warn!(error = %e, job = job.id, "could not keep the partial answer");
    }
}

/// The text an earlier worker streamed for `job`, if any.
pub async fn partial(state: &WorkerState, job: i64) -> Option<String> {
    let got: redis::RedisResult<Option<String>> = redis::cmd("GET")
        .arg(partial_key(state, job))
        .query_async(&mut state.redis.clone())
        .await;
    got.ok().flatten().filter(|t| !t.is_empty())
}

/// Forgets the partial answer of a job that ended.
pub async fn forget_partial(state: &WorkerState, job: i64) {
    let _: redis::RedisResult<()> = redis::cmd("DEL")
        .arg(partial_key(state, job))
        .query_async(&mut state.redis.clone())
        .await;
}

fn partial_key(state: &WorkerState, job: i64) -> String {
    format!("{}assistant:partial:{job}", state.redis_prefix)
}

async fn publish(state: &WorkerState, room: i64, frame: &impl Serialize) {
    let Ok(json) = serde_json::to_string(frame) else {
        return;
    };
    if let Err(e) =
        common::fanout::publish_event(&state.redis, &state.redis_prefix, room, state.bot.id, &json)
            .await
    {
        tracing::warn!(error = %e, room.id = room, "could not publish an assistant frame");
    }
}
