//! The forms that act on one message, each with a page of its own for a
//! browser without JavaScript: edit (`/edit`), delete (a confirmation step)
//! and react (a picker). Every form carries a nonce, so posting it twice
//! changes nothing the second time; success is a 303 back to the message.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use common::protocol::ChatMessage;
use serde::Deserialize;

use super::room::{Names, Quote, people_in};
use super::{at_message, new_nonce, nonce_or_new, refusal, see_other};
use crate::actions;
use crate::actions::Actor;
use crate::error::PageResult;
use crate::state::AppState;
use crate::web::layout::PageContext;
use crate::web::page::Page;
use crate::web::render::{FieldErrors, render};

/// The message a form acts on, shown above it.
pub struct Preview {
    /// The room's id, for the form's path and the way back.
    pub room_id: i64,
    /// The room's name (a DM's: its other people's).
    pub room_name: String,
    /// The message's id.
    pub id: i64,
    /// Its place in the room (`#m{seq}`).
    pub seq: i64,
    /// Who wrote it, as pages name them.
    pub author: String,
    /// Their username.
    pub username: String,
    /// Their id.
    pub author_id: i64,
    /// Its sanitized HTML (empty once deleted).
    pub html: String,
    /// Its Markdown source: the edit form's text.
    pub body: String,
    /// The message it answers.
    pub reply: Option<Quote>,
    /// When it was sent, in the viewer's zone and clock.
    pub time_long: String,
}

impl Preview {
    /// The message `id` of `room_id` as `viewer` may see it; 404 otherwise,
    /// and for a deleted message (nothing is left to act on).
    async fn load(
        state: &AppState,
        page: &Page,
        viewer: &Actor,
        room_id: i64,
        id: i64,
    ) -> PageResult<Self> {
        let (room, _) = actions::rooms::get(state, viewer, room_id).await?;
        let m: ChatMessage = actions::messages::find(state, viewer, room_id, id).await?;
        if m.deleted {
            return Err(common::Error::NotFound(common::error::Entity::Message).into());
        }
        let names = Names::load(state, &people_in(std::slice::from_ref(&m))).await?;
        Ok(Self {
            room_id,
            room_name: room.title_for(viewer.user_id),
            id,
            seq: m.seq,
            author: names.shown(&m.user),
            username: m.user.name.clone(),
            author_id: m.user.id,
            html: m.html.clone(),
            body: m.body.clone(),
            reply: m.reply_to.as_ref().map(|r| Quote::new(r, &names)),
            time_long: page.times(state).await.date_time(&m.sent_at),
        })
    }

    /// The room page at this message.
    pub fn back(&self) -> String {
        at_message(self.room_id, self.seq)
    }
}

/// The path of a message form: `/rooms/{room}/messages/{id}`.
#[derive(Deserialize)]
pub struct MessagePath {
    room: i64,
    id: i64,
}

#[derive(Template)]
#[template(path = "message_edit.html")]
struct EditPage {
    ctx: PageContext,
    message: Preview,
    body: String,
    nonce: String,
    errors: FieldErrors,
}

/// The edit form as posted; missing fields read as empty.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EditForm {
    body: String,
    nonce: String,
    csrf_token: String,
}

/// `GET /rooms/{room}/messages/{id}/edit`: the author's text in a form
/// (403 for someone else's message, 409 once the edit window has closed).
#[get("/rooms/{room}/messages/{id}/edit")]
pub async fn edit_page(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<MessagePath>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    let message = Preview::load(&state, &page, user, path.room, path.id).await?;
    if message.author_id != user.user_id {
        return Err(common::Error::Denied {
            code: common::error::Code::NotAuthor,
            message: "only its author can edit a message",
        }
        .into());
    }
    let view = EditPage {
        ctx: page.context_with_sidebar(&state, Some(path.room)).await,
        body: message.body.clone(),
        message,
        nonce: new_nonce(),
        errors: FieldErrors::default(),
    };
    Ok(render(StatusCode::OK, &view)?)
}

/// `POST /rooms/{room}/messages/{id}/edit`: saves the new text (303 to the
/// message), or shows the form again with the problem beside the text.
#[post("/rooms/{room}/messages/{id}/edit")]
pub async fn edit(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<MessagePath>,
    form: web::Form<EditForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let message = Preview::load(&state, &page, user, path.room, path.id).await?;
    let nonce = nonce_or_new(&form.nonce);
    let mut errors = FieldErrors::default();
    let status =
        match actions::messages::edit(&state, user, path.room, path.id, &form.body, &nonce).await {
            Ok(_) => return Ok(see_other(&message.back())),
            Err(e) if e.field() == Some("body") => {
                errors.absorb(e)?;
                StatusCode::BAD_REQUEST
            }
            Err(e @ common::Error::NotFound(_)) => return Err(e.into()),
            Err(e) => {
                let (status, text) = refusal(e)?;
                errors.add("body", text);
                status
            }
        };
    let view = EditPage {
        ctx: page.context_with_sidebar(&state, Some(path.room)).await,
        message,
        body: form.body.clone(),
        nonce,
        errors,
    };
    Ok(render(status, &view)?)
}

#[derive(Template)]
#[template(path = "message_delete.html")]
struct DeletePage {
    ctx: PageContext,
    message: Preview,
    nonce: String,
    problem: Option<String>,
}

/// The delete form: its nonce and CSRF token.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DeleteForm {
    nonce: String,
    csrf_token: String,
}

/// `GET /rooms/{room}/messages/{id}/delete`: asks before deleting for good.
#[get("/rooms/{room}/messages/{id}/delete")]
pub async fn delete_page(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<MessagePath>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    let message = Preview::load(&state, &page, user, path.room, path.id).await?;
    let view = DeletePage {
        ctx: page.context_with_sidebar(&state, Some(path.room)).await,
        message,
        nonce: new_nonce(),
        problem: None,
    };
    Ok(render(StatusCode::OK, &view)?)
}

/// `POST /rooms/{room}/messages/{id}/delete`: deletes the message (its
/// author, or the room's owner); 303 to where it was. Posting it again
/// (same nonce) changes nothing.
#[post("/rooms/{room}/messages/{id}/delete")]
pub async fn delete(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<MessagePath>,
    form: web::Form<DeleteForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let nonce = nonce_or_new(&form.nonce);
    match actions::messages::delete(&state, user, path.room, path.id, &nonce).await {
        Ok(_) => {
            // The message's place: read it back (deleted, it keeps its seq).
            let seq = actions::messages::find(&state, user, path.room, path.id)
                .await
                .map(|m| m.seq)?;
            page.set_notice("message_deleted");
            Ok(see_other(&at_message(path.room, seq)))
        }
        Err(e @ common::Error::NotFound(_)) => Err(e.into()),
        Err(e) => {
            let (status, text) = refusal(e)?;
            let message = Preview::load(&state, &page, user, path.room, path.id).await?;
            let view = DeletePage {
                ctx: page.context_with_sidebar(&state, Some(path.room)).await,
                message,
                nonce,
                problem: Some(text),
            };
            Ok(render(status, &view)?)
        }
    }
}

#[derive(Template)]
#[template(path = "message_react.html")]
struct ReactPage {
    ctx: PageContext,
    message: Preview,
    /// The user's most used emoji first, then the common ones.
    emoji: Vec<String>,
    /// What was typed in the "another emoji" field.
    other: String,
    nonce: String,
    errors: FieldErrors,
}

/// The picker's emoji for the signed-in user (personalization).
async fn picker(page: &Page, state: &AppState, user: &Actor) -> Vec<String> {
    let prefs = page.preferences(state).await;
    actions::personal::picker_emoji(state, user, &prefs).await
}

/// A reaction form: the emoji, whether to add (`on=true`, the default) or
/// take it back (`on=false`), its nonce and CSRF token.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReactForm {
    emoji: String,
    on: String,
    nonce: String,
    csrf_token: String,
}

/// `GET /rooms/{room}/messages/{id}/react`: the picker of common emoji, and
/// a field for any other one.
#[get("/rooms/{room}/messages/{id}/react")]
pub async fn react_page(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<MessagePath>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    let message = Preview::load(&state, &page, user, path.room, path.id).await?;
    let view = ReactPage {
        emoji: picker(&page, &state, user).await,
        ctx: page.context_with_sidebar(&state, Some(path.room)).await,
        message,
        other: String::new(),
        nonce: new_nonce(),
        errors: FieldErrors::default(),
    };
    Ok(render(StatusCode::OK, &view)?)
}

/// `POST /rooms/{room}/messages/{id}/reactions`: adds or takes back the
/// viewer's reaction (303 to the message); a bad emoji shows the picker
/// again with the problem beside the field and the text kept (400).
#[post("/rooms/{room}/messages/{id}/reactions")]
pub async fn react(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<MessagePath>,
    form: web::Form<ReactForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let on = !matches!(form.on.as_str(), "false" | "0" | "off");
    let nonce = nonce_or_new(&form.nonce);
    let reacted =
        actions::messages::react(&state, user, path.room, path.id, &form.emoji, on, &nonce).await;
    let mut errors = FieldErrors::default();
    let status = match reacted {
        Ok(_) => {
            let seq = actions::messages::find(&state, user, path.room, path.id)
                .await
                .map(|m| m.seq)?;
            return Ok(see_other(&at_message(path.room, seq)));
        }
        Err(e @ common::Error::NotFound(_)) => return Err(e.into()),
        Err(e) => {
            let (status, text) = refusal(e)?;
            errors.add("emoji", text);
            status
        }
    };
    let message = Preview::load(&state, &page, user, path.room, path.id).await?;
    let view = ReactPage {
        emoji: picker(&page, &state, user).await,
        ctx: page.context_with_sidebar(&state, Some(path.room)).await,
        message,
        other: form.emoji.clone(),
        nonce,
        errors,
    };
    Ok(render(status, &view)?)
}
