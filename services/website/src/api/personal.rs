//! `/api/v1/me/suggestions`: public rooms suggested to me from the rooms I
//! am in (personalization; nothing while it is off).

use actix_web::{HttpResponse, get, web};

use super::types::{ErrorBody, RoomJson, SuggestionJson, SuggestionsAnswer};
use crate::actions;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::web::auth::ApiUser;

/// Public rooms I am not in (nor banned from) that I may like, best first:
/// where the people I talk with are, and rooms whose name and topic share
/// the words of my rooms. Empty while `personalization` is off.
#[utoipa::path(get, path = "/api/v1/me/suggestions", tag = "rooms", security(("bearer" = [])),
    responses((status = 200, body = SuggestionsAnswer), (status = 401, body = ErrorBody)))]
#[get("/me/suggestions")]
pub async fn suggestions(user: ApiUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let prefs = actions::preferences::get(&state, user.actor()).await?;
    let found = actions::personal::suggestions(&state, user.actor(), &prefs).await?;
    Ok(HttpResponse::Ok().json(SuggestionsAnswer {
        suggestions: found
            .iter()
            .map(|s| SuggestionJson {
                room: RoomJson::from(&s.room),
                reason: s.reason.clone(),
                score: s.score,
            })
            .collect(),
    }))
}
