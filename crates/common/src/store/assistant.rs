//! The assistant's questions (`assistant_jobs`): one job per message that
//! mentions the bot, found by the worker in the event log, claimed by one
//! worker at a time under a lease, and ended with one state.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Int4, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::Fixed;
use crate::error::Result;
use crate::schema::{assistant_jobs, messages};

/// What a job is doing. Stored as text; anything unknown reads as failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting for a worker.
    Queued,
    /// A worker is answering (while its lease lasts).
    Running,
    /// The answer is stored.
    Done,
    /// Not answered, for a reason the asker can act on (`code`).
    Refused,
    /// Not answered because something failed (`code`).
    Failed,
    /// Stopped: the question was deleted, or the asker left the room.
    Cancelled,
}

impl State {
    /// The state as stored in `assistant_jobs.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Refused => "refused",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses the stored state.
    pub fn parse(s: &str) -> Self {
        match s {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "done" => Self::Done,
            "refused" => Self::Refused,
            "cancelled" => Self::Cancelled,
            _ => Self::Failed,
        }
    }

    /// Whether the job is over (nothing more will happen to it).
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Queued | Self::Running)
    }
}

/// A message that asks the bot something.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Question {
    pub id: i64,
    pub room_id: i64,
    pub seq: i64,
    pub user_id: i64,
}

/// The live messages among `ids` (of the rooms `room_ids`) that ask `bot`
/// something, sent after `since`: those that mention it (not its own), and
/// in an assistant chat every message of the chat's owner. The questions a
/// follower of the log turns into jobs.
pub async fn questions_among(
    conn: &mut AsyncPgConnection,
    room_ids: &[i64],
    ids: &[i64],
    bot: i64,
    since: DateTime<Utc>,
) -> Result<Vec<Question>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(messages::table
        .filter(messages::room_id.eq_any(room_ids))
        .filter(messages::id.eq_any(ids))
        .filter(messages::deleted_at.is_null())
        .filter(messages::user_id.ne(bot))
        .filter(messages::sent_at.gt(since))
        // In parentheses: diesel joins filters with a bare AND, and an OR
        // left bare would match every chat message in the table, whatever
        // `ids` (a scan of all messages per follower pass).
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("(")
                .bind::<BigInt, _>(bot)
                .sql(
                    " = ANY(messages.mentions) OR EXISTS (SELECT 1 FROM rooms r \
                      WHERE r.id = messages.room_id AND r.kind = 'assistant' \
                        AND r.owner_id = messages.user_id))",
                ),
        )
        .select((
            messages::id,
            messages::room_id,
            messages::seq,
            messages::user_id,
        ))
        .load(conn)
        .await?)
}

/// Queues a job for each question (one per question, whoever asks twice);
/// how many were new.
pub async fn enqueue(conn: &mut AsyncPgConnection, questions: &[Question]) -> Result<usize> {
    if questions.is_empty() {
        return Ok(0);
    }
    let rows: Vec<_> = questions
        .iter()
        .map(|q| {
            (
                assistant_jobs::room_id.eq(q.room_id),
                assistant_jobs::question_id.eq(q.id),
                assistant_jobs::question_seq.eq(q.seq),
                assistant_jobs::asker_id.eq(q.user_id),
            )
        })
        .collect();
    Ok(diesel::insert_into(assistant_jobs::table)
        .values(rows)
        .on_conflict(assistant_jobs::question_id)
        .do_nothing()
        .execute(conn)
        .await?)
}

/// A job as a worker claims it.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Job {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub room_id: i64,
    #[diesel(sql_type = BigInt)]
    pub question_id: i64,
    #[diesel(sql_type = BigInt)]
    pub question_seq: i64,
    #[diesel(sql_type = BigInt)]
    pub asker_id: i64,
    /// How many times a worker took it, this one included: more than one
    /// means an earlier worker stopped in the middle.
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
}

/// Takes the oldest job waiting, or one whose worker's lease ran out, for
/// `lease`: running, its attempts counted. `None` when there is none.
/// Workers skip each other's locked rows, so each job has one worker.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    lease: std::time::Duration,
) -> Result<Option<Job>> {
    let until = Utc::now() + chrono::Duration::milliseconds(lease.as_millis() as i64);
    let mut jobs: Vec<Job> = Fixed::new(
        "UPDATE assistant_jobs SET state = 'running', attempts = attempts + 1, \
                lease_until = $1, updated_at = now() \
         WHERE id = (SELECT id FROM assistant_jobs \
                     WHERE state = 'queued' OR (state = 'running' AND lease_until < now()) \
                     ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) \
         RETURNING id, room_id, question_id, question_seq, asker_id, attempts",
    )
    .bind::<Timestamptz, _>(until)
    .load(conn)
    .await?;
    Ok(jobs.pop())
}

/// Extends a running job's lease (the worker is alive); false when the job
/// is no longer running (it was stopped meanwhile).
pub async fn renew(
    conn: &mut AsyncPgConnection,
    id: i64,
    lease: std::time::Duration,
) -> Result<bool> {
    let until = Utc::now() + chrono::Duration::milliseconds(lease.as_millis() as i64);
    let n = diesel::update(
        assistant_jobs::table
            .find(id)
            .filter(assistant_jobs::state.eq(State::Running.as_str())),
    )
    .set(assistant_jobs::lease_until.eq(until))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// Asks a running or waiting job to stop; false when it is already over.
pub async fn request_stop(conn: &mut AsyncPgConnection, id: i64) -> Result<bool> {
    let n =
        diesel::update(assistant_jobs::table.find(id).filter(
            assistant_jobs::state.eq_any([State::Queued.as_str(), State::Running.as_str()]),
        ))
        .set(assistant_jobs::stop_requested_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
    Ok(n == 1)
}

/// Whether someone asked the job to stop.
pub async fn stop_requested(conn: &mut AsyncPgConnection, id: i64) -> Result<bool> {
    Ok(assistant_jobs::table
        .find(id)
        .select(assistant_jobs::stop_requested_at.is_not_null())
        .first(conn)
        .await
        .optional()?
        .unwrap_or(true))
}

/// Ends a job: `state` with `code` (why, for refusals and failures) and the
/// answer's id when one was stored. Only a job not already over changes.
pub async fn finish(
    conn: &mut AsyncPgConnection,
    id: i64,
    state: State,
    code: &str,
    answer_id: Option<i64>,
) -> Result<bool> {
    let n =
        diesel::update(assistant_jobs::table.find(id).filter(
            assistant_jobs::state.eq_any([State::Queued.as_str(), State::Running.as_str()]),
        ))
        .set((
            assistant_jobs::state.eq(state.as_str()),
            assistant_jobs::code.eq(code),
            assistant_jobs::answer_id.eq(answer_id),
            assistant_jobs::lease_until.eq(None::<DateTime<Utc>>),
            assistant_jobs::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(n == 1)
}

/// A job as pages and the API show it.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct JobView {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub room_id: i64,
    #[diesel(sql_type = BigInt)]
    pub question_id: i64,
    #[diesel(sql_type = BigInt)]
    pub question_seq: i64,
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = Text)]
    pub code: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub answer_id: Option<i64>,
    #[diesel(sql_type = BigInt)]
    pub asker_id: i64,
}

/// The jobs of a room's questions with seqs in `from..=to` (a page of
/// history), oldest first.
pub async fn in_room_between(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    from: i64,
    to: i64,
) -> Result<Vec<JobView>> {
    Ok(Fixed::new(
        "SELECT id, room_id, question_id, question_seq, state, code, answer_id, asker_id \
         FROM assistant_jobs WHERE room_id = $1 AND question_seq BETWEEN $2 AND $3 \
         ORDER BY question_seq LIMIT 200",
    )
    .bind::<BigInt, _>(room_id)
    .bind::<BigInt, _>(from)
    .bind::<BigInt, _>(to)
    .load(conn)
    .await?)
}

/// The last `limit` answered questions of a room before the question at
/// `before_seq`, as `(question_id, answer_id)`, oldest first: an assistant
/// chat's earlier turns, which the model is given so follow-ups work.
pub async fn earlier_turns(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    before_seq: i64,
    limit: i64,
) -> Result<Vec<(i64, i64)>> {
    #[derive(QueryableByName)]
    struct Turn {
        #[diesel(sql_type = BigInt)]
        question_id: i64,
        #[diesel(sql_type = BigInt)]
        answer_id: i64,
    }
    let mut turns: Vec<Turn> = Fixed::new(
        "SELECT question_id, answer_id FROM assistant_jobs \
         WHERE room_id = $1 AND question_seq < $2 AND state = 'done' AND answer_id IS NOT NULL \
         ORDER BY question_seq DESC LIMIT $3",
    )
    .bind::<BigInt, _>(room_id)
    .bind::<BigInt, _>(before_seq)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?;
    turns.reverse();
    Ok(turns
        .into_iter()
        .map(|t| (t.question_id, t.answer_id))
        .collect())
}

/// The jobs with these ids (those that exist).
pub async fn by_ids(conn: &mut AsyncPgConnection, ids: &[i64]) -> Result<Vec<JobView>> {
    Ok(Fixed::new(
        "SELECT id, room_id, question_id, question_seq, state, code, answer_id, asker_id \
         FROM assistant_jobs WHERE id = ANY($1) ORDER BY id",
    )
    .bind::<Array<BigInt>, _>(ids.to_vec())
    .load(conn)
    .await?)
}

/// The job of a question, if it has one.
pub async fn by_question(
    conn: &mut AsyncPgConnection,
    question_id: i64,
) -> Result<Option<JobView>> {
    let mut jobs: Vec<JobView> = Fixed::new(
        "SELECT id, room_id, question_id, question_seq, state, code, answer_id, asker_id \
         FROM assistant_jobs WHERE question_id = $1",
    )
    .bind::<BigInt, _>(question_id)
    .load(conn)
    .await?;
    Ok(jobs.pop())
}
