//! `/api/v1/messages/{id}/assistant`: where the assistant's answer to a
//! question stands, and Stop. Asking is sending a message that mentions
//! `@assistant` (any of the send paths); the answer arrives as the bot's
//! reply to it.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::types::ErrorBody;
use crate::actions;
use crate::actions::assistant::JobInfo;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::web::auth::ApiUser;

/// The assistant's work on one question.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AssistantJob {
    /// The job's id (as in `assistant_delta` and `assistant_status` frames).
    pub id: i64,
    /// Its room.
    pub room: i64,
    /// The question: the message that mentions the assistant.
    pub question: i64,
    /// `queued`, `running`, `done`, `refused`, `failed` or `cancelled`.
    pub state: String,
    /// Why it was refused, failed or cancelled (`assistant_not_in_room`,
    /// `question_empty`, `question_too_long`, `rate_limited`,
    /// `budget_spent`, `stopped`, ...); empty otherwise.
    pub code: String,
    /// Where it stands, in a sentence for people.
    pub message: String,
    /// The answer's message id, once stored.
    pub answer: Option<i64>,
    /// Whether the caller may stop it.
    pub can_stop: bool,
}

/// One job.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AssistantJobEnvelope {
    /// The job.
    pub job: AssistantJob,
}

impl From<JobInfo> for AssistantJob {
    fn from(i: JobInfo) -> Self {
        Self {
            id: i.job.id,
            room: i.job.room_id,
            question: i.job.question_id,
            state: i.job.state,
            code: i.job.code,
            message: i.message.to_owned(),
            answer: i.job.answer_id,
            can_stop: i.can_stop,
        }
    }
}

/// The assistant's job for this message (one that mentions `@assistant`).
#[utoipa::path(get, path = "/api/v1/messages/{id}/assistant", tag = "assistant", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = AssistantJobEnvelope),
              (status = 404, body = ErrorBody, description = "job_not_found: no job, or a room the caller may not read"),
              (status = 401, body = ErrorBody)))]
#[get("/messages/{id}/assistant")]
pub async fn show(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let info = actions::assistant::of_question(&state, user.actor(), path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(AssistantJobEnvelope { job: info.into() }))
}

/// Stops the answer to this message: what was written so far is stored,
/// marked as stopped. Its asker, or a moderator of the room.
#[utoipa::path(post, path = "/api/v1/messages/{id}/assistant/stop", tag = "assistant", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204),
              (status = 403, body = ErrorBody, description = "neither the asker nor a moderator"),
              (status = 404, body = ErrorBody, description = "job_not_found"),
              (status = 409, body = ErrorBody, description = "job_finished"),
              (status = 401, body = ErrorBody)))]
#[post("/messages/{id}/assistant/stop")]
pub async fn stop(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    actions::assistant::stop(&state, user.actor(), path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
