//! `/search`: searching the messages of every room the reader may read,
//! with filters, highlighted snippets and links that open the room at the
//! message. A form and links only: it works without JavaScript.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use super::room::Names;
use crate::actions;
use crate::actions::search::Ask;
use crate::error::PageResult;
use crate::state::AppState;
use crate::web::layout::PageContext;
use crate::web::page::Page;
use crate::web::render::{FieldErrors, render};

/// Hits per page.
const PAGE_SIZE: i64 = 20;

/// A hit as the page shows it.
struct HitView {
    room_id: i64,
    room_title: String,
    room_is_dm: bool,
    seq: i64,
    /// The author as pages name them, and their username.
    author: String,
    username: String,
    /// Safe HTML: escaped text, matches in `<mark>`.
    snippet: String,
    /// The reader blocked the author: the text is not shown.
    blocked: bool,
    sent_at: String,
    time_short: String,
    time_long: String,
}

/// A room the filter offers.
struct RoomOption {
    id: i64,
    name: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    ctx: PageContext,
    q: String,
    room: Option<i64>,
    from: String,
    after: String,
    before: String,
    replied: bool,
    /// The reader's rooms and DMs, for the room filter.
    rooms: Vec<RoomOption>,
    /// `None` until something was searched.
    hits: Option<Vec<HitView>>,
    /// The link to the next page, if there is one.
    next_page: Option<String>,
    errors: FieldErrors,
}

impl SearchPage {
    /// The room filter selects this room.
    fn selects(&self, id: &i64) -> bool {
        self.room == Some(*id)
    }
}

/// The search form's fields; all may be empty.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SearchForm {
    q: String,
    room: String,
    from: String,
    after: String,
    before: String,
    has: String,
    cursor: String,
}

impl SearchForm {
    /// The link to the page of results after `cursor`.
    fn page_link(&self, cursor: &str) -> String {
        let query = serde_urlencoded::to_string([
            ("q", self.q.as_str()),
            ("room", self.room.as_str()),
            ("from", self.from.as_str()),
            ("after", self.after.as_str()),
            ("before", self.before.as_str()),
            ("has", self.has.as_str()),
            ("cursor", cursor),
        ])
        .unwrap_or_default();
        format!("/search?{query}")
    }
}

/// `GET /search`: the form, and the results once something is asked.
#[get("/search")]
pub async fn show(
    page: Page,
    state: web::Data<AppState>,
    form: web::Query<SearchForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    let form = form.into_inner();
    let mut errors = FieldErrors::default();
    let room = match form.room.trim() {
        "" => None,
        raw => match raw.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.add("room", "choose a room from the list");
                None
            }
        },
    };
    let ctx = page.context_with_sidebar(&state, None).await;
    let rooms = ctx
        .sidebar
        .iter()
        .flat_map(|s| s.rooms.iter().chain(&s.dms))
        .map(|r| RoomOption {
            id: r.id,
            name: r.name.clone(),
        })
        .collect();
    let asked = !form.q.trim().is_empty() || !form.cursor.is_empty();
    let mut hits = None;
    let mut next_page = None;
    if asked && errors.is_empty() {
        let ask = Ask {
            q: form.q.clone(),
            room,
            from: form.from.clone(),
            after: form.after.clone(),
            before: form.before.clone(),
            has: form.has.clone(),
            limit: PAGE_SIZE,
            cursor: form.cursor.clone(),
        };
        match actions::search::run(&state, user, &ask).await {
            Ok(found) => {
                let mut ids: Vec<i64> = found.hits.iter().map(|h| h.message.user.id).collect();
                ids.sort_unstable();
                ids.dedup();
                let names = Names::load(&state, &ids).await?;
                let blocked = actions::profiles::blocked_ids(&state, user).await?;
                let times = page.times(&state).await;
                next_page = found.next_cursor.map(|c| form.page_link(&c));
                hits = Some(
                    found
                        .hits
                        .into_iter()
                        .map(|h| {
                            let m = &h.message;
                            HitView {
                                room_id: m.room,
                                room_title: h.room_title.clone(),
                                room_is_dm: h.room_is_dm,
                                seq: m.seq,
                                author: names.shown_by_id(&m.user.id, &m.user.name),
                                username: m.user.name.clone(),
                                blocked: blocked.contains(&m.user.id),
                                sent_at: common::protocol::rfc3339_millis::format(&m.sent_at),
                                time_short: times.short_date_time(&m.sent_at),
                                time_long: times.date_time(&m.sent_at),
                                snippet: h.snippet,
                            }
                        })
                        .collect(),
                );
            }
            Err(e) => errors.absorb(e)?,
        }
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let view = SearchPage {
        ctx,
        q: form.q,
        room,
        from: form.from,
        after: form.after,
        before: form.before,
        replied: form.has == "reply",
        rooms,
        hits,
        next_page,
        errors,
    };
    Ok(render(status, &view)?)
}
