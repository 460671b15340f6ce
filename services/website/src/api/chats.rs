//! `/api/v1/assistant/chats`: the caller's private chats with the
//! assistant. A chat is a room of kind `assistant` (read and written
//! through the room endpoints: every message in it asks the assistant);
//! here it is started, listed, renamed and deleted. Another person's chat,
//! or a room that is not a chat, is 404 `room_not_found`.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use common::access::{Role, Standing};
use common::store::rooms::RoomView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::types::{ErrorBody, RoomEnvelope, RoomJson};
use crate::actions::chats;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::web::auth::ApiUser;

/// The caller's chats.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChatsPage {
    /// Newest activity first.
    pub chats: Vec<RoomJson>,
}

/// `POST /api/v1/assistant/chats`: the new chat's name (`{}` for the
/// default).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct NewChatBody {
    /// 1 to 64 characters; absent or empty: "New chat".
    pub name: Option<String>,
}

/// `PATCH /api/v1/assistant/chats/{room_id}`: the chat's new name.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RenameChatBody {
    /// 1 to 64 characters.
    pub name: String,
}

fn owned(user: &ApiUser, view: &RoomView) -> RoomJson {
    RoomJson::seen_by(view, &Standing::member(user.actor().user_id, Role::Owner))
}

/// My chats with the assistant, newest activity first.
#[utoipa::path(get, path = "/api/v1/assistant/chats", tag = "assistant", security(("bearer" = [])),
    responses((status = 200, body = ChatsPage), (status = 401, body = ErrorBody)))]
#[get("/assistant/chats")]
pub async fn list(user: ApiUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let chats = chats::list(&state, user.actor()).await?;
    let me = user.actor();
    Ok(HttpResponse::Ok().json(ChatsPage {
        chats: chats
            .into_iter()
            .map(|room| {
                owned(
                    &user,
                    &RoomView {
                        room,
                        owner_name: Some(me.username.clone()),
                        people: Vec::new(),
                    },
                )
            })
            .collect(),
    }))
}

/// Starts a chat with the assistant: a private room of kind `assistant`
/// whose members are the caller and the assistant. Every message the
/// caller sends in it is a question, answered from every room they may
/// read.
#[utoipa::path(post, path = "/api/v1/assistant/chats", tag = "assistant", request_body = NewChatBody, security(("bearer" = [])),
    responses((status = 201, body = RoomEnvelope), (status = 401, body = ErrorBody),
              (status = 409, description = "`chat_quota`: ASSISTANT_CHATS_PER_USER reached", body = ErrorBody),
              (status = 422, description = "`name_length`, `name_invalid` (field `name`)", body = ErrorBody),
              (status = 429, description = "over ROOM_CREATE_LIMIT", body = ErrorBody)))]
#[post("/assistant/chats")]
pub async fn create(
    user: ApiUser,
    state: web::Data<AppState>,
    body: web::Json<NewChatBody>,
) -> ApiResult<HttpResponse> {
    let name = body.into_inner().name.unwrap_or_default();
    let view = chats::start(&state, user.actor(), &name).await?;
    Ok(HttpResponse::Created().json(RoomEnvelope {
        room: owned(&user, &view),
    }))
}

/// Renames one of my chats.
#[utoipa::path(patch, path = "/api/v1/assistant/chats/{room_id}", tag = "assistant", params(("room_id" = i64, Path)),
    request_body = RenameChatBody, security(("bearer" = [])),
    responses((status = 200, body = RoomEnvelope), (status = 401, body = ErrorBody),
              (status = 404, description = "`room_not_found`: no chat of mine", body = ErrorBody),
              (status = 422, description = "`name_missing`, `name_length`, `name_invalid` (field `name`)", body = ErrorBody)))]
#[patch("/assistant/chats/{room_id}")]
pub async fn rename(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Json<RenameChatBody>,
) -> ApiResult<HttpResponse> {
    let view = chats::rename(&state, user.actor(), path.into_inner(), &body.name).await?;
    Ok(HttpResponse::Ok().json(RoomEnvelope {
        room: owned(&user, &view),
    }))
}

/// Deletes one of my chats and its messages.
#[utoipa::path(delete, path = "/api/v1/assistant/chats/{room_id}", tag = "assistant", params(("room_id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody),
              (status = 404, description = "`room_not_found`: no chat of mine", body = ErrorBody)))]
#[delete("/assistant/chats/{room_id}")]
pub async fn remove(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    chats::delete(&state, user.actor(), path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
