//! `GET /api/v1/rooms/{id}/mood`: a room's mood as JSON, the same numbers
//! as the mood page (issue 12).

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use common::emotion::Emotion;
use common::protocol::{ChatMessage, rfc3339_millis};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::types::ErrorBody;
use crate::actions;
use crate::actions::mood::{Mix, Span};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::web::auth::ApiUser;

/// `?by=hour|day|week`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MoodQuery {
    /// `hour` (the last 24 hours), `day` (default: the last 30 days) or
    /// `week` (the last 12 weeks), in my time zone.
    by: Option<String>,
}

/// `{mood}`.
#[derive(Serialize, ToSchema)]
pub struct MoodEnvelope {
    /// The room's mood.
    pub mood: MoodJson,
}

/// A room's mood.
#[derive(Serialize, ToSchema)]
pub struct MoodJson {
    /// The room's id.
    pub room: i64,
    /// `hour`, `day` or `week`.
    pub by: &'static str,
    /// The room's owner lets the server tag its messages.
    pub tagging: bool,
    /// Oldest first, every bucket present.
    pub buckets: Vec<MoodBucket>,
    /// The room's newest tagged messages (at most `MOOD_WINDOW`).
    pub now: MoodNow,
    /// The strongest non-neutral messages of the buckets' period.
    pub movers: Vec<MoodMover>,
}

/// One bucket: its tagged messages by strongest emotion.
#[derive(Serialize, ToSchema)]
pub struct MoodBucket {
    #[serde(with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime)]
    /// Its start.
    pub start: DateTime<Utc>,
    /// Every label, `neutral` included, 0 when none.
    pub counts: BTreeMap<&'static str, i64>,
    /// Its tagged messages.
    pub total: i64,
}

/// The mix of the newest tagged messages.
#[derive(Serialize, ToSchema)]
pub struct MoodNow {
    /// How many messages it counts.
    pub window: i64,
    /// By strongest emotion, every label present.
    pub counts: BTreeMap<&'static str, i64>,
    /// The emotion most of them show, neutral aside; null when none does.
    pub dominant: Option<&'static str>,
}

/// A message that moved the mood.
#[derive(Serialize, ToSchema)]
pub struct MoodMover {
    /// As I see it.
    pub message: ChatMessage,
    /// Its strongest emotion.
    pub emotion: &'static str,
    /// That emotion's score, 0 to 1.
    pub score: f32,
}

fn counts(mix: &Mix) -> BTreeMap<&'static str, i64> {
    Emotion::ALL
        .iter()
        .zip(mix)
        .map(|(e, n)| (e.as_str(), *n))
        .collect()
}

/// The room's mood: its messages' emotions over time, now, and the
/// messages that moved it most.
#[utoipa::path(get, path = "/api/v1/rooms/{id}/mood", tag = "messages", params(("id" = i64, Path), MoodQuery),
    security(("bearer" = [])),
    responses((status = 200, body = MoodEnvelope), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`bad_filter` on `by`"), (status = 401, body = ErrorBody)))]
#[get("/rooms/{id}/mood")]
pub async fn show(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    query: web::Query<MoodQuery>,
) -> ApiResult<HttpResponse> {
    let span = Span::parse(query.by.as_deref())?;
    let zone = actions::preferences::get(&state, user.actor())
        .await?
        .time_zone
        .0;
    let room = *path;
    let mood = actions::mood::of_room(&state, user.actor(), room, span, Utc::now(), zone).await?;
    Ok(HttpResponse::Ok().json(MoodEnvelope {
        mood: MoodJson {
            room,
            by: span.as_str(),
            tagging: mood.tagging,
            buckets: mood
                .buckets
                .iter()
                .map(|b| MoodBucket {
                    start: b.start,
                    counts: counts(&b.mix),
                    total: b.mix.iter().sum(),
                })
                .collect(),
            now: MoodNow {
                window: mood.window,
                counts: counts(&mood.now),
                dominant: mood.dominant().map(Emotion::as_str),
            },
            movers: mood
                .movers
                .into_iter()
                .map(|m| MoodMover {
                    emotion: m.emotion.as_str(),
                    score: common::protocol::Score::new(m.score).get(),
                    message: m.message,
                })
                .collect(),
        },
    }))
}
