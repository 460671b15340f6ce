//! `/dms/new` and `POST /dms`: starting a direct conversation without
//! JavaScript. A profile's "Message" button posts here with one name; the
//! "New message" page takes up to nine, separated by commas.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{refusal, see_other};
use crate::actions::dms;
use crate::error::PageResult;
use crate::state::AppState;
use crate::web::layout::PageContext;
use crate::web::page::Page;
use crate::web::render::{FieldErrors, render};

#[derive(Template)]
#[template(path = "dm_new.html")]
struct NewDmPage {
    ctx: PageContext,
    /// The names as typed.
    usernames: String,
    max_others: usize,
    errors: FieldErrors,
}

/// `?to=`: a name to start with.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewQuery {
    to: String,
}

/// The form as posted: names separated by commas or spaces.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StartForm {
    usernames: String,
    csrf_token: String,
}

async fn new_page(
    page: &Page,
    state: &AppState,
    usernames: String,
    errors: FieldErrors,
    status: StatusCode,
) -> PageResult<HttpResponse> {
    let view = NewDmPage {
        ctx: page.context_with_sidebar(state, None).await,
        usernames,
        max_others: dms::MAX_OTHERS,
        errors,
    };
    Ok(render(status, &view)?)
}

/// `GET /dms/new`: the "New message" form.
#[get("/dms/new")]
pub async fn new(
    page: Page,
    state: web::Data<AppState>,
    query: web::Query<NewQuery>,
) -> PageResult<HttpResponse> {
    page.require_user()?;
    let to = query.into_inner().to;
    new_page(&page, &state, to, FieldErrors::default(), StatusCode::OK).await
}

/// `POST /dms`: 303 to the conversation (found or started), or the form
/// again with the problem beside the names, as typed.
#[post("/dms")]
pub async fn start(
    page: Page,
    state: web::Data<AppState>,
    form: web::Form<StartForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let names = dms::split_names(&form.usernames);
    let mut errors = FieldErrors::default();
    let status = match dms::start(&state, user, &names).await {
        Ok(view) => return Ok(see_other(&format!("/rooms/{}", view.room.id))),
        Err(e @ common::Error::Invalid { .. }) => {
            errors.absorb(e)?;
            StatusCode::BAD_REQUEST
        }
        Err(e) => {
            let (status, message) = refusal(e)?;
            errors.add("usernames", message);
            status
        }
    };
    new_page(&page, &state, form.usernames.clone(), errors, status).await
}
