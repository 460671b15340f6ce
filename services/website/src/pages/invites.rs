//! Invitations as pages: an invite link (`/invites/{token}`: what it opens,
//! and Join), and the Accept and Decline forms of the sidebar's
//! invitations. Plain forms: they work without JavaScript.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;

use super::{TokenForm, see_other};
use crate::actions;
use crate::error::PageResult;
use crate::state::AppState;
use crate::web::layout::PageContext;
use crate::web::page::Page;
use crate::web::render::render;

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage {
    ctx: PageContext,
    token: String,
    room_id: i64,
    room_name: String,
    topic: String,
    private: bool,
    member: bool,
    expires: Option<String>,
}

/// `GET /invites/{token}`: where the link leads, and Join; the error page
/// (404 unknown or revoked, 410 expired or used up) when it leads nowhere.
#[get("/invites/{token}")]
pub async fn show(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    let preview = actions::invites::preview_link(&state, user, &path).await?;
    let times = page.times(&state).await;
    let view = InvitePage {
        ctx: page.context_with_sidebar(&state, None).await,
        token: path.into_inner(),
        room_id: preview.room.room.id,
        private: preview.room.room.visibility == "private",
        room_name: preview.room.room.name,
        topic: preview.room.room.topic,
        member: preview.member,
        expires: preview.expires_at.map(|t| times.date_time(&t)),
    };
    Ok(render(StatusCode::OK, &view)?)
}

/// `POST /invites/{token}`: joins through the link; 303 to the room.
#[post("/invites/{token}")]
pub async fn accept_link(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<TokenForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let room = actions::invites::accept_link(&state, user, &path).await?;
    page.set_notice("invite_accepted");
    Ok(see_other(&format!("/rooms/{}", room.room.id)))
}

/// `POST /invitations/{room_id}/accept`: 303 to the room.
#[post("/invitations/{room_id}/accept")]
pub async fn accept(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<TokenForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    actions::invites::accept(&state, user, *path).await?;
    page.set_notice("invite_accepted");
    Ok(see_other(&format!("/rooms/{}", *path)))
}

/// `POST /invitations/{room_id}/decline`: 303 back to the rooms.
#[post("/invitations/{room_id}/decline")]
pub async fn decline(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<TokenForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    actions::invites::decline(&state, user, *path).await?;
    page.set_notice("invite_declined");
    Ok(see_other("/rooms"))
}
