//! A room's event log and read mark over HTTP: `GET .../events` (what a
//! client missed, exactly as the WebSocket sent it), `POST .../read`, and
//! `GET /api/v1/me/rooms` (my rooms with unread counts).

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::types::{ErrorBody, EventPage, MyRoomJson, MyRoomsPage, ReadBody, RoomJson};
use crate::actions;
use crate::actions::messages::MAX_EVENTS;
use common::error::Code;

use crate::error::{ApiResult, Error};
use crate::state::AppState;
use crate::web::auth::ApiUser;

/// Where to start, and how many.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only events with a larger seq (default 0: from the start).
    after_seq: Option<i64>,
    /// 1..=1000, default 100.
    limit: Option<i64>,
}

/// The room's events after `after_seq`, oldest first.
#[utoipa::path(get, path = "/api/v1/rooms/{id}/events", tag = "messages", params(("id" = i64, Path), EventsQuery),
    security(("bearer" = [])),
    responses((status = 200, body = EventPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 401, body = ErrorBody)))]
#[get("/rooms/{id}/events")]
pub async fn list(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    query: web::Query<EventsQuery>,
) -> ApiResult<HttpResponse> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_EVENTS).contains(&limit) {
        return Err(Error::bad_request(Code::BadLimit, "limit must be between 1 and 1000").into());
    }
    let after = query.after_seq.unwrap_or(0);
    if after < 0 {
        return Err(Error::bad_request(Code::BadAfterSeq, "after_seq must be 0 or more").into());
    }
    let events =
        actions::messages::events(&state, user.actor(), path.into_inner(), after, limit).await?;
    // The stored frames go out as stored: no parsing, no re-serializing.
    let mut body =
        String::with_capacity(16 + events.iter().map(|(_, f)| f.len() + 1).sum::<usize>());
    body.push_str(r#"{"events":["#);
    for (i, (_, frame)) in events.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(frame);
    }
    body.push_str("]}");
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

/// Moves my read mark of the room forward; every connection of mine hears
/// the room's new unread state.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/read", tag = "messages", params(("id" = i64, Path)),
    request_body = ReadBody, security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody, description = "not a member"), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "read_mark_behind"),
              (status = 422, body = ErrorBody, description = "bad_read_mark"), (status = 401, body = ErrorBody)))]
#[post("/rooms/{id}/read")]
pub async fn read(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Json<ReadBody>,
) -> ApiResult<HttpResponse> {
    actions::messages::mark_read(&state, user.actor(), path.into_inner(), body.seq).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The rooms I am a member of, with my read mark and unread counts, in my
/// sidebar's order: by usage or by name (`sidebar_order`; by name while
/// `personalization` is off).
#[utoipa::path(get, path = "/api/v1/me/rooms", tag = "rooms", security(("bearer" = [])),
    responses((status = 200, body = MyRoomsPage), (status = 401, body = ErrorBody)))]
#[get("/me/rooms")]
pub async fn mine(user: ApiUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut rooms = actions::rooms::mine(&state, user.actor()).await?;
    let prefs = actions::preferences::get(&state, user.actor()).await?;
    actions::personal::order_rooms(&state, user.actor(), &prefs, &mut rooms).await?;
    Ok(HttpResponse::Ok().json(MyRoomsPage {
        rooms: rooms
            .iter()
            .map(|r| MyRoomJson {
                room: RoomJson::from(&r.room),
                read_seq: r.unread.read_seq,
                unread: r.unread.unread,
                mentions: r.unread.mentions,
            })
            .collect(),
    }))
}
