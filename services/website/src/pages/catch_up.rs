//! `/catch-up`: the rooms with unread messages, those that mention the
//! reader first (then in their sidebar's order), each with its counts, its
//! newest unread messages and a "Mark read" form. Works without
//! JavaScript; it only reads the rooms the reader is a member of.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;
use common::store::events::EXCERPT_CHARS;

use super::room::Names;
use crate::actions;
use crate::error::PageResult;
use crate::state::AppState;
use crate::web::layout::{PageContext, unread_label};
use crate::web::page::Page;
use crate::web::render::render;

/// An unread message as the view quotes it.
struct Excerpt {
    /// The author as pages name them, and their username.
    author: String,
    username: String,
    /// Plain text, cut short; empty when the reader blocked the author.
    text: String,
    /// The reader blocked the author: the text is not shown.
    blocked: bool,
    /// It mentions the reader.
    mentions_me: bool,
    /// Where it is in the room (`#m{seq}`).
    seq: i64,
    /// RFC 3339, and as the reader's clock writes it.
    sent_at: String,
    time_short: String,
    time_long: String,
}

/// A room of the view.
struct RoomCard {
    id: i64,
    name: String,
    /// "12", "999+".
    unread_label: String,
    mentions: i64,
    /// The read mark the form moves to: the room's last seq as shown.
    last_seq: i64,
    /// Oldest first.
    excerpts: Vec<Excerpt>,
    /// Unread messages not quoted.
    more: i64,
}

#[derive(Template)]
#[template(path = "catch_up.html")]
struct CatchUpPage {
    ctx: PageContext,
    rooms: Vec<RoomCard>,
    /// The rooms after those with mentions go by usage (else by name).
    by_usage: bool,
}

/// `GET /catch-up`: what is new in the reader's rooms, mentions first.
#[get("/catch-up")]
pub async fn show(page: Page, state: web::Data<AppState>) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    let prefs = page.preferences(&state).await;
    let found = actions::personal::catch_up(&state, user, &prefs).await?;
    let mut ids: Vec<i64> = found
        .iter()
        .flat_map(|c| c.lines.iter().map(|l| l.user_id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let names = Names::load(&state, &ids).await?;
    let blocked = actions::profiles::blocked_ids(&state, user).await?;
    let times = page.times(&state).await;
    let rooms = found
        .into_iter()
        .map(|c| {
            let unread = c.room.unread;
            let quoted = c.lines.len() as i64;
            let excerpts = c
                .lines
                .into_iter()
                .rev()
                .map(|l| {
                    let is_blocked = blocked.contains(&l.user_id);
                    Excerpt {
                        author: names.shown_by_id(&l.user_id, &l.username),
                        text: if is_blocked {
                            String::new()
                        } else {
                            common::markdown::quote_of(&l.body, EXCERPT_CHARS)
                        },
                        blocked: is_blocked,
                        mentions_me: l.mentions_me,
                        seq: l.seq,
                        sent_at: common::protocol::rfc3339_millis::format(&l.sent_at),
                        time_short: times.short_date_time(&l.sent_at),
                        time_long: times.date_time(&l.sent_at),
                        username: l.username,
                    }
                })
                .collect();
            RoomCard {
                id: c.room.room.room.id,
                name: c.room.room.room.name,
                unread_label: unread_label(unread.unread),
                mentions: unread.mentions,
                last_seq: unread.last_seq,
                excerpts,
                more: (unread.unread - quoted).max(0),
            }
        })
        .collect();
    let view = CatchUpPage {
        by_usage: prefs.effective_sidebar_order() == common::preferences::SidebarOrder::Usage,
        ctx: page.context_with_sidebar(&state, None).await,
        rooms,
    };
    Ok(render(StatusCode::OK, &view)?)
}
