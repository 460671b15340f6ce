//! `/api/v1/dms`: starting (or finding) a direct conversation.

use actix_web::{HttpResponse, post, web};

use super::types::{ErrorBody, NewDmBody, RoomEnvelope, RoomJson};
use crate::actions::dms;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::web::auth::ApiUser;

/// The conversation of the caller with exactly these people: the existing
/// one, or a new one (201 either way). It is a room of kind `dm`, read
/// and written through the room endpoints.
#[utoipa::path(post, path = "/api/v1/dms", tag = "rooms", request_body = NewDmBody, security(("bearer" = [])),
    responses((status = 201, body = RoomEnvelope), (status = 401, body = ErrorBody),
              (status = 403, description = "`blocked`: one of them blocked the caller", body = ErrorBody),
              (status = 422, description = "`dm_size` (1 to 9 others), `user_not_found` (field `usernames`)", body = ErrorBody),
              (status = 429, description = "over DM_CREATE_LIMIT", body = ErrorBody)))]
#[post("/dms")]
pub async fn create(
    user: ApiUser,
    state: web::Data<AppState>,
    body: web::Json<NewDmBody>,
) -> ApiResult<HttpResponse> {
    let view = dms::start(&state, user.actor(), &body.usernames).await?;
    let me = common::access::Standing::member(user.actor().user_id, common::access::Role::Member);
    Ok(HttpResponse::Created().json(RoomEnvelope {
        room: RoomJson::seen_by(&view, &me),
    }))
}
