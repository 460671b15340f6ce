//! `/users/{username}`: a small profile page, where mentions link to.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::actions;
use crate::error::PageResult;
use crate::state::AppState;
use crate::web::layout::PageContext;
use crate::web::page::Page;
use crate::web::render::render;

#[derive(Template)]
#[template(path = "user.html")]
struct ProfilePage {
    ctx: PageContext,
    username: String,
    /// RFC 3339 date, for `<time datetime>`.
    since_date: String,
    /// Like "21 November 2026".
    since_label: String,
    /// The viewer's own profile.
    me: bool,
}

/// `GET /users/{username}`: the member's name and since when they are
/// here; the 404 page for a name nobody has.
#[get("/users/{username}")]
pub async fn show(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> PageResult<HttpResponse> {
    let viewer = page.require_user()?;
    let profile = actions::accounts::profile(&state, &path)
        .await?
        .ok_or(common::Error::NotFound(common::error::Entity::User))?;
    let times = page.times(&state).await;
    let view = ProfilePage {
        ctx: page.context_with_sidebar(&state, None).await,
        me: profile.username.eq_ignore_ascii_case(&viewer.username),
        since_date: times.day(&profile.created_at),
        since_label: times.date_label(&profile.created_at),
        username: profile.username,
    };
    Ok(render(StatusCode::OK, &view)?)
}
