//! `/users/{username}`: a person's profile (avatar, name, bio, since when,
//! the rooms we share) with Block / Unblock; `/u/{username}` leads there;
//! `/avatars/{username}.svg` is everyone's generated picture.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::{TokenForm, see_other};
use crate::actions::profiles;
use crate::avatar;
use crate::error::{Error, PageResult};
use crate::state::AppState;
use crate::web::layout::PageContext;
use crate::web::page::Page;
use crate::web::render::render;

/// How long a browser may use an avatar before asking again (with its
/// ETag): a changed display name shows on other pages at once, on avatars
/// within this long.
const AVATAR_MAX_AGE_SECS: u32 = 300;

#[derive(Template)]
#[template(path = "user.html")]
struct ProfilePage {
    ctx: PageContext,
    username: String,
    /// The display name, or the username without one.
    shown_name: String,
    bio: String,
    /// RFC 3339 date, for `<time datetime>`.
    since_date: String,
    /// Like "21 November 2026".
    since_label: String,
    /// The viewer's own profile.
    me: bool,
    /// The viewer blocked this person.
    blocked: bool,
    /// Rooms both are members of, `(id, name)`.
    shared_rooms: Vec<(i64, String)>,
    /// The list stops at this many.
    shared_cap: usize,
}

/// `GET /users/{username}`: who the person is, the rooms we share, and
/// the Block / Unblock form; the 404 page for a name nobody has.
#[get("/users/{username}")]
pub async fn show(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> PageResult<HttpResponse> {
    let viewer = page.require_user()?;
    let profile = profiles::profile(&state, viewer, &path).await?;
    let times = page.times(&state).await;
    let view = ProfilePage {
        ctx: page.context_with_sidebar(&state, None).await,
        me: profile.user.id == viewer.user_id,
        blocked: profile.blocked,
        shown_name: profile.user.shown_name().to_owned(),
        bio: profile.user.bio.clone(),
        since_date: times.day(&profile.user.created_at),
        since_label: times.date_label(&profile.user.created_at),
        username: profile.user.username,
        shared_cap: usize::try_from(profiles::SHARED_ROOMS_SHOWN).unwrap_or(usize::MAX),
        shared_rooms: profile.shared_rooms,
    };
    Ok(render(StatusCode::OK, &view)?)
}

/// `GET /u/{username}`: a short address of a profile, 308 to
/// `/users/{username}` (where mentions link).
#[get("/u/{username}")]
pub async fn short(path: web::Path<String>) -> PageResult<HttpResponse> {
    // Only a possible username is sent on; anything else names nobody.
    let name = common::domain::Username::parse(&path).map_err(|_| Error::PageNotFound)?;
    Ok(HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, format!("/users/{name}")))
        .finish())
}

/// `POST /users/{username}/block`: 303 back to the profile.
#[post("/users/{username}/block")]
pub async fn block(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<TokenForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let blocked = profiles::block(&state, user, &path).await?;
    page.set_notice("blocked");
    Ok(see_other(&format!("/users/{}", blocked.username)))
}

/// `POST /users/{username}/unblock`: 303 back to the profile.
#[post("/users/{username}/unblock")]
pub async fn unblock(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<TokenForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let unblocked = profiles::unblock(&state, user, &path).await?;
    page.set_notice("unblocked");
    Ok(see_other(&format!("/users/{}", unblocked.username)))
}

/// `GET /avatars/{username}.svg`: the person's generated avatar, for
/// signed-in visitors (like profiles: it says that a name exists); 404 for
/// a name nobody has. Cached privately for a few minutes, then revalidated
/// by its ETag.
#[get("/avatars/{username}.svg")]
pub async fn avatar_svg(
    page: Page,
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> PageResult<HttpResponse> {
    if page.user.is_none() {
        return Ok(HttpResponse::Unauthorized()
            .content_type("text/plain; charset=utf-8")
            .body("sign in to see avatars"));
    }
    let user = profiles::find(&state, &path).await?;
    let shown = user.shown_name();
    let etag = avatar::etag(&user.username, shown);
    let cache = format!("private, max-age={AVATAR_MAX_AGE_SECS}");
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if fresh {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, cache))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache))
        .body(avatar::svg(&user.username, shown)))
}
