//! The assistant's jobs as people see them: where the answer to a
//! question stands, and Stop. The worker answers; these only read the job
//! and ask it to stop. A job in a room the caller may not read does not
//! exist for them.

use common::access;
use common::error::{Code, Entity};
use common::guard;
use common::store::assistant::{self, JobView, State};
use common::{Error, Result};

use super::Actor;
use crate::state::AppState;

/// A job with what to tell people about it.
#[derive(Debug, Clone)]
pub struct JobInfo {
    /// The job as stored.
    pub job: JobView,
    /// Where it stands, in a sentence for people (empty once answered).
    pub message: &'static str,
    /// Whether the caller may press Stop (the asker, or a moderator, while
    /// it runs).
    pub can_stop: bool,
}

/// What a job's state and code mean for the people in the room.
pub fn describe(state: State, code: &str, is_dm: bool) -> &'static str {
    match (state, code) {
        (State::Queued | State::Running, _) => "The assistant is answering…",
        (State::Done, _) => "",
        (_, "assistant_not_in_room") if is_dm => "The assistant does not read direct messages.",
        (_, "assistant_not_in_room") => {
            "The assistant is not a member of this room: invite @assistant to ask it here."
        }
        (_, "assistant_muted") => "The assistant is muted in this room.",
        (_, "question_empty") => "Ask the assistant something after @assistant.",
        (_, "question_too_long") => "That question is too long for the assistant.",
        (_, "rate_limited") => {
            "The assistant is answering too many questions: ask again in a few minutes."
        }
        (_, "budget_spent") => "You have used today's assistant budget.",
        (_, "room_budget_spent") => "This room has used today's assistant budget.",
        (_, "stopped") => "Stopped before the assistant answered.",
        (State::Cancelled, _) => "",
        _ => "The assistant could not answer this one.",
    }
}

/// The job answering message `question`, if the caller may read its room.
pub async fn of_question(state: &AppState, reader: &Actor, question: i64) -> Result<JobInfo> {
    let mut conn = state.pool.get().await?;
    let job = assistant::by_question(&mut conn, question)
        .await?
        .ok_or(Error::NotFound(Entity::AssistantJob))?;
    let (facts, standing) = guard::readable(&mut conn, reader.user_id, job.room_id)
        .await
        .map_err(|e| match e {
            Error::NotFound(_) | Error::Denied { .. } => Error::NotFound(Entity::AssistantJob),
            e => e,
        })?;
    let stage = State::parse(&job.state);
    let moderates = access::may_moderate(&facts, &standing, chrono::Utc::now()).is_ok();
    Ok(JobInfo {
        message: describe(stage, &job.code, facts.kind == access::Kind::Dm),
        can_stop: !stage.is_final() && (job.asker_id == reader.user_id || moderates),
        job,
    })
}

/// Asks the job answering `question` to stop: its asker, or a moderator
/// of the room. What was streamed so far is kept as the answer.
pub async fn stop(state: &AppState, actor: &Actor, question: i64) -> Result<JobInfo> {
    let info = of_question(state, actor, question).await?;
    if State::parse(&info.job.state).is_final() {
        return Err(Error::conflict(
            "job",
            Code::JobFinished,
            "the assistant already ended this answer",
        ));
    }
    if !info.can_stop {
        return Err(Error::Forbidden(
            "only who asked, or a moderator, may stop an answer",
        ));
    }
    let mut conn = state.pool.get().await?;
    if !assistant::request_stop(&mut conn, info.job.id).await? {
        return Err(Error::conflict(
            "job",
            Code::JobFinished,
            "the assistant already ended this answer",
        ));
    }
    Ok(info)
}
