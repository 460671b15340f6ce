//! `/rooms`: the room list with search, and creating a room.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use common::domain::{RoomName, Topic};
use common::store::rooms::{self, RoomView};
use serde::Deserialize;

use super::see_other;
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
    /// The link to the next page, if there is one.
    next_page: Option<String>,
    /// Whether this is a later page (offers a link back to the first).
    paged: bool,
    name: String,
    topic: String,
    errors: FieldErrors,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    q: String,
    cursor: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CreateForm {
    name: String,
    topic: String,
    csrf_token: String,
}

/// Opaque cursors: the base64 of the last room's lower-cased name.
pub mod cursor {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    pub fn encode(lower_name: &str) -> String {
        URL_SAFE_NO_PAD.encode(lower_name)
    }

    pub fn decode(raw: &str) -> Option<String> {
        URL_SAFE_NO_PAD
            .decode(raw)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
    }
}

/// One page of rooms and the cursor of the next page.
pub async fn list_page(
    state: &AppState,
    q: &str,
    after: Option<&str>,
    limit: i64,
) -> common::Result<(Vec<RoomView>, Option<String>)> {
    let mut conn = state.pool.get().await?;
    let mut rooms = rooms::search(&mut conn, Some(q), after, limit + 1).await?;
    let more = rooms.len() as i64 > limit;
    rooms.truncate(limit as usize);
    let next = if more {
        rooms
            .last()
            .map(|r| cursor::encode(&r.room.name.to_lowercase()))
    } else {
        None
    };
    Ok((rooms, next))
}

async fn rooms_page(
    page: &Page,
    state: &AppState,
    q: &str,
    cursor_raw: &str,
    form: (String, String, FieldErrors),
    status: StatusCode,
) -> PageResult<HttpResponse> {
    let after = match cursor_raw {
        "" => None,
        raw => Some(cursor::decode(raw).ok_or(Error::bad_request(
            "bad_cursor",
            "that page link is not valid",
        ))?),
    };
    let (rooms, next) = list_page(state, q, after.as_deref(), PAGE_SIZE).await?;
    let next_page = next.map(|c| {
        let query =
            serde_urlencoded::to_string([("q", q), ("cursor", c.as_str())]).unwrap_or_default();
        format!("/rooms?{query}")
    });
    let (name, topic, errors) = form;
    let view = RoomsPage {
        ctx: page.context(),
        q: q.to_owned(),
        rooms,
        next_page,
        paged: after.is_some(),
        name,
        topic,
        errors,
    };
    Ok(render(status, &view)?)
}

#[get("/rooms")]
pub async fn list(
    page: Page,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> PageResult<HttpResponse> {
    page.require_user()?;
    let empty_form = (String::new(), String::new(), FieldErrors::default());
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

#[post("/rooms")]
pub async fn create(
    page: Page,
    state: web::Data<AppState>,
    form: web::Form<CreateForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let mut errors = FieldErrors::default();
    let (name, topic) = (RoomName::parse(&form.name), Topic::parse(&form.topic));
    if let (Ok(name), Ok(topic)) = (&name, &topic) {
        let mut conn = state.pool.get().await.map_err(common::Error::from)?;
        match rooms::insert(&mut conn, name, topic, user.user_id).await {
            Ok(room) => return Ok(see_other(&format!("/rooms/{}", room.id))),
            Err(e) => errors.absorb(e)?,
        }
    }
    for e in [name.err(), topic.err()].into_iter().flatten() {
        errors.absorb(e)?;
    }
    let status = errors.status();
    rooms_page(
        &page,
        &state,
        "",
        "",
        (form.name.clone(), form.topic.clone(), errors),
        status,
    )
    .await
}
