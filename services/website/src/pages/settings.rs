//! `/settings`: my profile (display name, bio), changing the password, the
//! sessions signed in as me (device, address, last used) with a way to
//! sign any or all of them out, and the people I blocked. Plain forms: it
//! works without JavaScript.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

use super::see_other;
use crate::actions::profiles::{self, ProfileEdit};
use crate::actions::sessions::{self, SessionView};
use crate::error::PageResult;
use crate::state::AppState;
use crate::web::layout::PageContext;
use crate::web::page::Page;
use crate::web::render::{FieldErrors, render};

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    ctx: PageContext,
    sessions: Vec<SessionRow>,
    errors: FieldErrors,
    /// A refusal that is not about one field (too many attempts).
    problem: Option<String>,
    /// The profile form's values: as stored, or as just typed.
    profile: ProfileDraft,
    /// The people I blocked, the newest first.
    blocks: Vec<BlockRow>,
}

/// The profile form's fields.
struct ProfileDraft {
    username: String,
    display_name: String,
    bio: String,
}

/// Someone I blocked, as the page lists them.
struct BlockRow {
    username: String,
    shown_name: String,
    /// RFC 3339, for `<time datetime>`.
    since: String,
    /// Like "29 Nov 2026".
    since_label: String,
}

/// A session as the page lists it.
struct SessionRow {
    id: Uuid,
    device: String,
    address: String,
    /// RFC 3339, for `<time datetime>`.
    created_at: String,
    /// Like "29 Nov 2026, 10:40 UTC".
    created_label: String,
    last_seen_at: String,
    last_seen_label: String,
    current: bool,
}

impl From<SessionView> for SessionRow {
    fn from(s: SessionView) -> Self {
        const LABEL: &str = "%-d %b %Y, %H:%M UTC";
        Self {
            id: s.id,
            device: s.device,
            address: s.address,
            created_at: s.created_at.to_rfc3339(),
            created_label: s.created_at.format(LABEL).to_string(),
            last_seen_at: s.last_seen_at.to_rfc3339(),
            last_seen_label: s.last_seen_at.format(LABEL).to_string(),
            current: s.current,
        }
    }
}

async fn settings_page(
    page: &Page,
    state: &AppState,
    errors: FieldErrors,
    problem: Option<String>,
    status: StatusCode,
) -> PageResult<HttpResponse> {
    settings_page_with(page, state, errors, problem, status, None).await
}

/// The settings page; `typed`: the profile form as just posted (display
/// name, bio), shown instead of what is stored.
async fn settings_page_with(
    page: &Page,
    state: &AppState,
    errors: FieldErrors,
    problem: Option<String>,
    status: StatusCode,
    typed: Option<(String, String)>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    let sid = page.user.as_ref().map(|u| u.sid).unwrap_or_default();
    let list = sessions::list(state, user, sid).await?;
    let me = profiles::find(state, &user.username).await?;
    let (display_name, bio) = typed.unwrap_or((me.display_name, me.bio));
    let blocks = profiles::blocks(state, user)
        .await?
        .into_iter()
        .map(|b| BlockRow {
            shown_name: b.user.shown_name().to_owned(),
            username: b.user.username,
            since: b.created_at.to_rfc3339(),
            since_label: b.created_at.format("%-d %b %Y").to_string(),
        })
        .collect();
    let view = SettingsPage {
        ctx: page.context_with_sidebar(state, None).await,
        sessions: list.into_iter().map(SessionRow::from).collect(),
        errors,
        problem,
        profile: ProfileDraft {
            username: me.username,
            display_name,
            bio,
        },
        blocks,
    };
    Ok(render(status, &view)?)
}

/// `GET /settings`.
#[get("/settings")]
pub async fn show(page: Page, state: web::Data<AppState>) -> PageResult<HttpResponse> {
    settings_page(&page, &state, FieldErrors::default(), None, StatusCode::OK).await
}

/// The profile form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ProfileForm {
    csrf_token: String,
    display_name: String,
    bio: String,
}

/// `POST /settings/profile`: 303 back with a notice, or the page again
/// with the problems beside their fields and the typed text kept.
#[post("/settings/profile")]
pub async fn save_profile(
    page: Page,
    state: web::Data<AppState>,
    form: web::Form<ProfileForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let typed = Some((form.display_name.clone(), form.bio.clone()));
    let mut errors = FieldErrors::default();
    let saved = match ProfileEdit::parse(Some(&form.display_name), Some(&form.bio)) {
        Ok(edit) => profiles::update(&state, user, &edit).await,
        Err(problems) => {
            for e in problems {
                errors.absorb(e)?;
            }
            let status = errors.status();
            return settings_page_with(&page, &state, errors, None, status, typed).await;
        }
    };
    match saved {
        Ok(_) => {
            page.set_notice("profile_saved");
            Ok(see_other("/settings"))
        }
        Err(e @ common::Error::RateLimited { .. }) => {
            let problem = Some(e.to_string());
            let status = StatusCode::TOO_MANY_REQUESTS;
            settings_page_with(&page, &state, errors, problem, status, typed).await
        }
        Err(e) => {
            errors.absorb(e)?;
            let status = errors.status();
            settings_page_with(&page, &state, errors, None, status, typed).await
        }
    }
}

/// `POST /settings/blocks/{username}/unblock`: lifts a block from the
/// settings page's list; 303 back to it.
#[post("/settings/blocks/{username}/unblock")]
pub async fn unblock(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<TokenForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    profiles::unblock(&state, user, &path).await?;
    page.set_notice("unblocked");
    Ok(see_other("/settings"))
}

/// The password form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    csrf_token: String,
    current_password: String,
    new_password: String,
}

/// `POST /settings/password`: 303 back with a notice, or the page again
/// with the problem beside its field.
#[post("/settings/password")]
pub async fn change_password(
    page: Page,
    state: web::Data<AppState>,
    form: web::Form<PasswordForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let sid = page.user.as_ref().map(|u| u.sid).unwrap_or_default();
    let mut errors = FieldErrors::default();
    if form.current_password.is_empty() {
        errors.add("current_password", "Enter your current password.");
    }
    if form.new_password.is_empty() {
        errors.add("new_password", "Choose a new password.");
    }
    if !errors.is_empty() {
        return settings_page(&page, &state, errors, None, StatusCode::BAD_REQUEST).await;
    }
    let changed = sessions::change_password(
        &state,
        user,
        sid,
        &form.current_password,
        &form.new_password,
    )
    .await;
    match changed {
        Ok(_) => {
            page.set_notice("password_changed");
            page.rotate_csrf();
            Ok(see_other("/settings"))
        }
        Err(e @ common::Error::RateLimited { .. }) => {
            let problem = Some(e.to_string());
            settings_page(
                &page,
                &state,
                errors,
                problem,
                StatusCode::TOO_MANY_REQUESTS,
            )
            .await
        }
        Err(e) => {
            errors.absorb(e)?;
            let status = errors.status();
            settings_page(&page, &state, errors, None, status).await
        }
    }
}

/// A form that carries only its CSRF token.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TokenForm {
    csrf_token: String,
}

/// `POST /settings/sessions/{id}/sign-out`: signs one session out.
#[post("/settings/sessions/{id}/sign-out")]
pub async fn sign_out(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    form: web::Form<TokenForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    sessions::revoke(&state, user, path.into_inner()).await?;
    page.set_notice("session_signed_out");
    Ok(see_other("/settings"))
}

/// `POST /settings/sessions/sign-out-others`: every session but this one.
#[post("/settings/sessions/sign-out-others")]
pub async fn sign_out_others(
    page: Page,
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let sid = page.user.as_ref().map(|u| u.sid).unwrap_or_default();
    sessions::revoke_others(&state, user, sid).await?;
    page.set_notice("signed_out_elsewhere");
    Ok(see_other("/settings"))
}
