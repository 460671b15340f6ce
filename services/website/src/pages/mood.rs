//! `/rooms/{id}/mood`: a room's mood (issue 12) for people: the chart of
//! its messages' emotions by hour, day or week (SVG from the server, so it
//! reads without JavaScript), what its newest messages feel like, and the
//! messages that moved it most, each linked to its place in the room.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;
use chrono::Utc;
use common::emotion::Emotion;
use common::store::events::EXCERPT_CHARS;
use serde::Deserialize;

use super::mood_chart::{self, Bar, STACK};
use super::room::Names;
use crate::actions::mood::{self, Mix, Mood, Span};
use crate::error::PageResult;
use crate::state::AppState;
use crate::web::layout::PageContext;
use crate::web::page::Page;
use crate::web::render::render;
use crate::web::times::Times;

/// `?by=hour|day|week`.
#[derive(Deserialize)]
pub struct MoodQuery {
    by: Option<String>,
}

/// An emotion's share of the newest messages, as the mood page and the
/// room page's panel list it.
pub struct Share {
    /// Its protocol name, for its colour.
    pub emotion: &'static str,
    /// Its name for people.
    pub title: &'static str,
    /// Its marker (none for neutral).
    pub emoji: &'static str,
    /// Messages.
    pub count: i64,
    /// Of the window, rounded: "42".
    pub percent: i64,
}

/// A message that moved the mood.
struct MoverLine {
    seq: i64,
    author: String,
    username: String,
    text: String,
    emoji: &'static str,
    title: &'static str,
    percent: i64,
    time_short: String,
    sent_at: String,
}

/// A row of the chart's table.
struct Row {
    title: String,
    counts: Vec<i64>,
    total: i64,
}

#[derive(Template)]
#[template(path = "mood.html")]
struct MoodPage {
    ctx: PageContext,
    room_id: i64,
    room_name: String,
    by: &'static str,
    chart: String,
    /// The chart's numbers, for those who cannot see it.
    columns: Vec<&'static str>,
    rows: Vec<Row>,
    tagged: i64,
    window: i64,
    shares: Vec<Share>,
    dominant: Option<(&'static str, &'static str)>,
    /// Some of the newest messages are neutral (left aside by `dominant`).
    neutral_aside: bool,
    movers: Vec<MoverLine>,
    tagging: bool,
    show_emotions: bool,
}

/// `GET /rooms/{id}/mood`: the room's mood, for whom may read the room.
#[get("/rooms/{id}/mood")]
pub async fn show(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    query: web::Query<MoodQuery>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    let room_id = *path;
    let span = Span::parse(query.by.as_deref())?;
    let prefs = page.preferences(&state).await;
    let times = Times::of(&prefs);
    let mood = mood::of_room(&state, user, room_id, span, Utc::now(), times.zone()).await?;
    let room = crate::actions::rooms::get(&state, user, room_id).await?.0;
    let ids: Vec<i64> = mood.movers.iter().map(|m| m.message.user.id).collect();
    let names = Names::load(&state, &ids).await?;
    let view = MoodPage {
        room_name: room.title_for(user.user_id),
        chart: mood_chart::svg(
            &bars(&mood, &times),
            &format!("Mood of the room by {}", span.as_str()),
        ),
        columns: STACK.iter().map(|e| e.title()).collect(),
        rows: rows(&mood, &times),
        tagged: mood.buckets.iter().map(|b| b.mix.iter().sum::<i64>()).sum(),
        window: mood.window,
        shares: shares(&mood.now, mood.window),
        dominant: mood
            .dominant()
            .map(|e| (e.title(), e.emoji().unwrap_or(""))),
        neutral_aside: mood_chart::count_of(&mood.now, Emotion::Neutral) > 0,
        movers: mood
            .movers
            .iter()
            .map(|m| MoverLine {
                seq: m.message.seq,
                author: names.shown(&m.message.user),
                username: m.message.user.name.clone(),
                text: common::markdown::excerpt(&m.message.body, EXCERPT_CHARS),
                emoji: m.emotion.emoji().unwrap_or(""),
                title: m.emotion.title(),
                percent: (m.score * 100.0).round() as i64,
                time_short: times.short_date_time(&m.message.sent_at),
                sent_at: common::protocol::rfc3339_millis::format(&m.message.sent_at),
            })
            .collect(),
        tagging: mood.tagging,
        show_emotions: prefs.show_emotions,
        by: span.as_str(),
        room_id,
        ctx: page.context_with_sidebar(&state, Some(room_id)).await,
    };
    Ok(render(StatusCode::OK, &view)?)
}

/// The chart's bars, labelled sparsely so the labels never collide.
fn bars(mood: &Mood, times: &Times) -> Vec<Bar> {
    let every = match mood.span {
        Span::Hour => 3,
        Span::Day => 5,
        Span::Week => 2,
    };
    let last = mood.buckets.len().saturating_sub(1);
    mood.buckets
        .iter()
        .enumerate()
        .map(|(i, b)| Bar {
            label: if (last - i).is_multiple_of(every) {
                label(mood.span, &b.start, times)
            } else {
                String::new()
            },
            title: title(mood.span, &b.start, times),
            mix: b.mix,
        })
        .collect()
}

fn label(span: Span, start: &chrono::DateTime<Utc>, times: &Times) -> String {
    match span {
        Span::Hour => times.hour(start),
        Span::Day | Span::Week => times.short_day(start),
    }
}

fn title(span: Span, start: &chrono::DateTime<Utc>, times: &Times) -> String {
    match span {
        Span::Hour => format!("{} {}", times.short_day(start), times.hour(start)),
        Span::Day => times.date_label(start),
        Span::Week => format!("Week of {}", times.date_label(start)),
    }
}

/// The table behind the chart: a row per bar with anything in it.
fn rows(mood: &Mood, times: &Times) -> Vec<Row> {
    mood.buckets
        .iter()
        .filter(|b| b.mix.iter().any(|n| *n > 0))
        .map(|b| Row {
            title: title(mood.span, &b.start, times),
            counts: STACK
                .iter()
                .map(|e| mood_chart::count_of(&b.mix, *e))
                .collect(),
            total: b.mix.iter().sum(),
        })
        .collect()
}

/// Each emotion's share of the newest messages, largest first, those with
/// none left out.
pub fn shares(mix: &Mix, window: i64) -> Vec<Share> {
    let mut out: Vec<Share> = Emotion::ALL
        .iter()
        .zip(mix)
        .filter(|(_, n)| **n > 0)
        .map(|(e, n)| Share {
            emotion: e.as_str(),
            title: e.title(),
            emoji: e.emoji().unwrap_or(""),
            count: *n,
            percent: if window > 0 {
                (*n * 100 + window / 2) / window
            } else {
                0
            },
        })
        .collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.count));
    out
}
