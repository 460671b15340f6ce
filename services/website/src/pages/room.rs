//! `/rooms/{id}`: a room's recent messages, the send form (works without
//! JavaScript) and, for its owner, deleting it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use common::protocol::{ChatMessage, ServerFrame, rfc3339_millis};
use common::store::rooms::RoomView;
use serde::Deserialize;

use super::see_other;
use crate::actions;
use crate::actions::messages::ReadMark;
use crate::error::PageResult;
use crate::state::AppState;
use crate::web::layout::PageContext;
use crate::web::page::Page;
use crate::web::render::{FieldErrors, render};

/// Messages rendered per page.
const PAGE_SIZE: i64 = 50;

/// A message as the page shows it.
struct Line {
    seq: i64,
    author: String,
    /// Sanitized by `common::markdown` when stored: safe to include as is.
    html: String,
    deleted: bool,
    sent_at: String,
    sent_at_short: String,
}

impl From<&ChatMessage> for Line {
    fn from(m: &ChatMessage) -> Self {
        Self {
            seq: m.seq,
            author: m.user.name.clone(),
            html: m.html.clone(),
            deleted: m.deleted,
            sent_at: rfc3339_millis::format(&m.sent_at),
            sent_at_short: m.sent_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }
}

#[derive(Template)]
#[template(path = "room.html")]
struct RoomPage {
    ctx: PageContext,
    room: RoomView,
    is_owner: bool,
    lines: Vec<Line>,
    /// Link to the page of older messages, if any.
    older: Option<String>,
    /// Whether this shows an older page rather than the newest messages.
    historic: bool,
    /// The newest seq rendered: the page's script joins with `since` = this.
    last_seq: i64,
    body: String,
    nonce: String,
    errors: FieldErrors,
}

/// Which page of the room: the newest messages, or those before a seq.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RoomQuery {
    before: Option<i64>,
}

/// The send form as posted; missing fields read as empty, so the page can say what is missing rather than refuse the post.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SendForm {
    body: String,
    nonce: String,
    csrf_token: String,
}

/// The delete form: only its CSRF token, so no other site can delete a room.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DeleteForm {
    csrf_token: String,
}

fn new_nonce() -> String {
    format!("f-{}", uuid::Uuid::new_v4().simple())
}

async fn room_page(
    page: &Page,
    state: &AppState,
    room_id: i64,
    before: Option<i64>,
    form: (String, String, FieldErrors),
    status: StatusCode,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    let history =
        actions::messages::history(state, user, room_id, before, PAGE_SIZE, ReadMark::Advance)
            .await?;
    let oldest = history.messages.last().map_or(0, |m| m.seq);
    let (body, nonce, errors) = form;
    let view = RoomPage {
        ctx: page.context(),
        is_owner: history.room.is_owned_by(user.user_id),
        older: (oldest > 1).then(|| format!("/rooms/{room_id}?before={oldest}")),
        historic: before.is_some(),
        lines: history.messages.iter().rev().map(Line::from).collect(),
        last_seq: history.room.room.last_seq,
        room: history.room,
        body,
        nonce,
        errors,
    };
    Ok(render(status, &view)?)
}

/// `GET /rooms/{id}`: the room's newest messages (or an older page), which
/// marks them read; the page's script goes live from there.
#[get("/rooms/{id}")]
pub async fn show(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    query: web::Query<RoomQuery>,
) -> PageResult<HttpResponse> {
    let form = (String::new(), new_nonce(), FieldErrors::default());
    room_page(
        &page,
        &state,
        path.into_inner(),
        query.before.filter(|b| *b > 0),
        form,
        StatusCode::OK,
    )
    .await
}

/// `POST /rooms/{id}/messages`: sends without JavaScript, stored and fanned
/// out like a WebSocket send; 303 to the message, or the page again with the
/// problem beside the text.
#[post("/rooms/{id}/messages")]
pub async fn send(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<SendForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let room_id = path.into_inner();
    // A page from before nonces (or a hand-made form) still sends once.
    let nonce = if form.nonce.is_empty() {
        new_nonce()
    } else {
        form.nonce.clone()
    };
    let mut errors = FieldErrors::default();
    let sent = actions::messages::send(&state, user, room_id, &form.body, &nonce, None).await;
    let status = match sent {
        Ok(stored) => {
            let anchor = match stored.frame {
                ServerFrame::Message(m) => format!("#m{}", m.seq),
                _ => String::new(),
            };
            return Ok(see_other(&format!("/rooms/{room_id}{anchor}")));
        }
        Err(e @ common::Error::RateLimited { .. }) => {
            errors.add("body", e.to_string());
            StatusCode::TOO_MANY_REQUESTS
        }
        Err(e) => {
            errors.absorb(e)?;
            StatusCode::BAD_REQUEST
        }
    };
    room_page(
        &page,
        &state,
        room_id,
        None,
        (form.body.clone(), nonce, errors),
        status,
    )
    .await
}

/// `POST /rooms/{id}/delete`: the owner deletes the room (others: 403).
#[post("/rooms/{id}/delete")]
pub async fn delete(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<DeleteForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    actions::rooms::delete(&state, user, path.into_inner()).await?;
    page.set_notice("room_deleted");
    Ok(see_other("/rooms"))
}
