//! `/rooms`: the room list with search, rooms suggested for the viewer,
//! and creating a room.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use common::store::rooms::RoomView;
use serde::Deserialize;

use super::room::Names;
use super::see_other;
use crate::actions;
use crate::actions::personal::Suggestion;
use crate::actions::rooms::{ListError, NewRoom};
use crate::error::{Error, PageResult};
use crate::state::AppState;
use crate::web::layout::PageContext;
use crate::web::page::Page;
use crate::web::render::{FieldErrors, render};

/// Rooms per page of the list.
const PAGE_SIZE: i64 = 25;

#[derive(Template)]
#[template(path = "rooms.html")]
struct RoomsPage {
    ctx: PageContext,
    q: String,
    rooms: Vec<RoomView>,
    /// The owners' names as pages show them.
    owners: Names,
    /// The link to the next page, if there is one.
    next_page: Option<String>,
    /// Whether this is a later page (offers a link back to the first).
    paged: bool,
    name: String,
    topic: String,
    /// The create form asks for a private room.
    private: bool,
    errors: FieldErrors,
    /// Public rooms suggested to the viewer (personalization).
    suggested: Vec<Suggestion>,
}

/// The list's search text and page cursor; both may be empty.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    q: String,
    cursor: String,
}

/// The new-room form as posted; missing fields read as empty, so the page can say what is missing rather than refuse the post.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CreateForm {
    name: String,
    topic: String,
    #[serde(default)]
    visibility: String,
    csrf_token: String,
}

async fn rooms_page(
    page: &Page,
    state: &AppState,
    q: &str,
    cursor: &str,
    form: (String, String, String, FieldErrors),
    status: StatusCode,
) -> PageResult<HttpResponse> {
    let found = actions::rooms::list(state, q, Some(cursor), PAGE_SIZE)
        .await
        .map_err(|e| match e {
            ListError::BadCursor => Error::bad_request(
                common::error::Code::BadCursor,
                "that page link is not valid",
            ),
            e => e.into(),
        })?;
    let next_page = found.next_cursor.map(|c| {
        let query =
            serde_urlencoded::to_string([("q", q), ("cursor", c.as_str())]).unwrap_or_default();
        format!("/rooms?{query}")
    });
    let (name, topic, visibility, errors) = form;
    let owner_ids: Vec<i64> = found.rooms.iter().filter_map(|r| r.room.owner_id).collect();
    let owners = Names::load(state, &owner_ids).await?;
    let suggested = match &page.user {
        Some(session) => {
            let prefs = page.preferences(state).await;
            // Suggestions are a help: the list does not fail for them.
            actions::personal::suggestions(state, &session.actor, &prefs)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "suggestions could not be read");
                    Vec::new()
                })
        }
        None => Vec::new(),
    };
    let view = RoomsPage {
        suggested,
        owners,
        ctx: page.context_with_sidebar(state, None).await,
        q: q.to_owned(),
        rooms: found.rooms,
        next_page,
        paged: !cursor.is_empty(),
        name,
        topic,
        private: visibility == "private",
        errors,
    };
    Ok(render(status, &view)?)
}

/// `GET /rooms`: the room list, searched and paged, with the create form.
#[get("/rooms")]
pub async fn list(
    page: Page,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> PageResult<HttpResponse> {
    page.require_user()?;
    let empty_form = (
        String::new(),
        String::new(),
        String::new(),
        FieldErrors::default(),
    );
    rooms_page(
        &page,
        &state,
        &query.q,
        &query.cursor,
        empty_form,
        StatusCode::OK,
    )
    .await
}

/// `POST /rooms`: 303 to the new room, or the list again with each problem
/// beside its field (409 for a name taken).
#[post("/rooms")]
pub async fn create(
    page: Page,
    state: web::Data<AppState>,
    form: web::Form<CreateForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let mut errors = FieldErrors::default();
    let mut status = None;
    match NewRoom::parse(&form.name, &form.topic, Some(&form.visibility)) {
        Ok(new) => match actions::rooms::create(&state, user, &new).await {
            Ok(view) => return Ok(see_other(&format!("/rooms/{}", view.room.id))),
            // The form stays filled in: the person tries again later.
            Err(e @ common::Error::RateLimited { .. }) => {
                errors.add("name", e.to_string());
                status = Some(StatusCode::TOO_MANY_REQUESTS);
            }
            Err(e) => errors.absorb(e)?,
        },
        Err(problems) => {
            for e in problems {
                errors.absorb(e)?;
            }
        }
    }
    let status = status.unwrap_or_else(|| errors.status());
    rooms_page(
        &page,
        &state,
        "",
        "",
        (
            form.name.clone(),
            form.topic.clone(),
            form.visibility.clone(),
            errors,
        ),
        status,
    )
    .await
}
