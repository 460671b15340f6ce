//! The assistant's pages: `/assistant`, my private chats with it (start,
//! rename, delete; a chat itself is shown by the room page), and
//! `POST /messages/{id}/assistant/stop`, Stop under a question the
//! assistant is answering, without JavaScript.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{TokenForm, see_other};
use crate::actions;
use crate::error::PageResult;
use crate::state::AppState;
use crate::web::layout::PageContext;
use crate::web::page::Page;
use crate::web::render::{FieldErrors, render};

/// Stops the answer to message `id` (its asker, or a moderator); 303 back
/// to the question, where what was written so far shows once stored. An
/// answer that ended meanwhile is simply shown.
#[post("/messages/{id}/assistant/stop")]
pub async fn stop(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<TokenForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let job = match actions::assistant::stop(&state, user, *path).await {
        Ok(info) => info.job,
        Err(common::Error::Conflict { .. }) => {
            actions::assistant::of_question(&state, user, *path)
                .await?
                .job
        }
        Err(e) => return Err(e.into()),
    };
    let seq = job.question_seq;
    Ok(see_other(&format!(
        "/rooms/{}?at={seq}#m{seq}",
        job.room_id
    )))
}

/// One chat as `/assistant` lists it.
struct ChatItem {
    id: i64,
    name: String,
    messages: i64,
    /// When it was started, in the viewer's words.
    started: String,
}

#[derive(Template)]
#[template(path = "assistant.html")]
struct ChatsPage {
    ctx: PageContext,
    chats: Vec<ChatItem>,
    /// The new-chat form's name, as typed.
    name: String,
    errors: FieldErrors,
}

/// The new-chat form; an empty name gives the default.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewChatForm {
    name: String,
    csrf_token: String,
}

async fn chats_page(
    page: &Page,
    state: &AppState,
    name: String,
    errors: FieldErrors,
    status: StatusCode,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    let times = page.times(state).await;
    let items: Vec<ChatItem> = actions::chats::list(state, user)
        .await?
        .into_iter()
        .map(|room| ChatItem {
            id: room.id,
            started: times.date_label(&room.created_at),
            name: room.name,
            messages: room.message_count,
        })
        .collect();
    let view = ChatsPage {
        ctx: page.context_with_sidebar(state, None).await,
        chats: items,
        name,
        errors,
    };
    Ok(render(status, &view)?)
}

/// `GET /assistant`: my private chats with the assistant, and a form to
/// start one.
#[get("/assistant")]
pub async fn list(page: Page, state: web::Data<AppState>) -> PageResult<HttpResponse> {
    chats_page(
        &page,
        &state,
        String::new(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

/// `POST /assistant`: starts a chat; 303 to it, or the page again with
/// the problem beside the name.
#[post("/assistant")]
pub async fn start(
    page: Page,
    state: web::Data<AppState>,
    form: web::Form<NewChatForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let mut errors = FieldErrors::default();
    let status = match actions::chats::start(&state, user, &form.name).await {
        Ok(view) => return Ok(see_other(&format!("/rooms/{}", view.room.id))),
        Err(e @ common::Error::RateLimited { .. }) => {
            errors.add("name", e.to_string());
            StatusCode::TOO_MANY_REQUESTS
        }
        Err(e @ common::Error::Conflict { .. }) => {
            errors.absorb(e)?;
            StatusCode::CONFLICT
        }
        Err(e) => {
            errors.absorb(e)?;
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    chats_page(&page, &state, form.name.clone(), errors, status).await
}

/// The rename form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RenameForm {
    name: String,
    csrf_token: String,
}

/// `POST /assistant/{id}/rename`: renames my chat; 303 back to it, or the
/// chat again with the problem beside the name (422).
#[post("/assistant/{id}/rename")]
pub async fn rename(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<RenameForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let room_id = path.into_inner();
    match actions::chats::rename(&state, user, room_id, &form.name).await {
        Ok(_) => {
            page.set_notice("chat_renamed");
            Ok(see_other(&format!("/rooms/{room_id}")))
        }
        Err(e @ common::Error::Invalid { .. }) => {
            let mut errors = FieldErrors::default();
            errors.absorb(e)?;
            super::room::rename_problem(&page, &state, room_id, form.name.clone(), errors).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /assistant/{id}/delete`: deletes my chat and its messages; 303
/// to `/assistant`.
#[post("/assistant/{id}/delete")]
pub async fn delete(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<TokenForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    actions::chats::delete(&state, user, path.into_inner()).await?;
    page.set_notice("chat_deleted");
    Ok(see_other("/assistant"))
}
