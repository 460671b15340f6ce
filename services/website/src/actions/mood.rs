//! A room's mood (issue 12): how its messages' emotion tags mix over time,
//! what its newest messages feel like, and the messages that moved it most.
//! Read with the same rule as history; the page and the API show the same
//! numbers.

use chrono::{DateTime, Duration, DurationRound, Utc};
use common::emotion::Emotion;
use common::error::{Code, Error, Result};
use common::guard;
use common::protocol::ChatMessage;
use common::store::annotations::{self, Tagged};
use common::store::{messages, rooms};

use super::Actor;
use crate::state::AppState;

/// How many messages that moved the mood are shown.
pub const MOVERS: i64 = 5;

/// The width of the chart's bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// The last 24 hours, by hour.
    Hour,
    /// The last 30 days, by day.
    Day,
    /// The last 12 weeks, by week.
    Week,
}

impl Span {
    /// `hour`, `day` (the default) or `week`; anything else is a 422 on
    /// `by`.
    pub fn parse(by: Option<&str>) -> Result<Self> {
        match by.map(str::trim) {
            None | Some("") | Some("day") => Ok(Self::Day),
            Some("hour") => Ok(Self::Hour),
            Some("week") => Ok(Self::Week),
            Some(_) => Err(Error::invalid(
                "by",
                Code::BadFilter,
                "by is hour, day or week",
            )),
        }
    }

    /// Its name in addresses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
        }
    }

    /// One bar's width.
    pub fn bucket(self) -> Duration {
        match self {
            Self::Hour => Duration::hours(1),
            Self::Day => Duration::days(1),
            Self::Week => Duration::weeks(1),
        }
    }

    /// How many bars the chart has.
    pub fn buckets(self) -> usize {
        match self {
            Self::Hour => 24,
            Self::Day => 30,
            Self::Week => 12,
        }
    }
}

/// How many tagged messages had each emotion as their strongest, in the
/// order of [`Emotion::ALL`].
pub type Mix = [i64; 7];

/// One bar of the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// Its start (UTC, on a whole hour, day or week).
    pub start: DateTime<Utc>,
    /// Its messages by strongest emotion.
    pub mix: Mix,
}

/// A message that moved the mood: its strongest emotion and how strong.
#[derive(Debug, Clone)]
pub struct Mover {
    /// As the viewer sees it.
    pub message: ChatMessage,
    /// Its strongest emotion.
    pub emotion: Emotion,
    /// That emotion's score, 0 to 1.
    pub score: f32,
}

/// Everything the mood page and API show.
#[derive(Debug, Clone)]
pub struct Mood {
    /// The chart's bars' width.
    pub span: Span,
    /// The chart's bars, oldest first, every one present (empty ones too).
    pub buckets: Vec<Bucket>,
    /// The mix of the room's newest tagged messages.
    pub now: Mix,
    /// How many messages `now` counts (at most `MOOD_WINDOW`).
    pub window: i64,
    /// The strongest non-neutral messages of the chart's period, strongest
    /// first.
    pub movers: Vec<Mover>,
    /// The room's owner lets the server tag its messages.
    pub tagging: bool,
}

impl Mood {
    /// The emotion most of the newest messages show, neutral aside, when
    /// any does.
    pub fn dominant(&self) -> Option<Emotion> {
        dominant(&self.now)
    }
}

/// The strongest non-neutral emotion of a mix, when any message shows one.
pub fn dominant(mix: &Mix) -> Option<Emotion> {
    Emotion::ALL
        .iter()
        .zip(mix)
        .filter(|(e, n)| **e != Emotion::Neutral && **n > 0)
        .rev()
        .max_by_key(|(_, n)| **n)
        .map(|(e, _)| *e)
}

/// Where the chart's last bar ends: after the current hour, or the
/// current day or week (from Monday) in the viewer's `zone`.
pub fn chart_end(span: Span, now: DateTime<Utc>, zone: chrono_tz::Tz) -> Result<DateTime<Utc>> {
    use chrono::{Datelike, TimeZone};
    if span == Span::Hour {
        return Ok(now
            .duration_trunc(Duration::hours(1))
            .map_err(|e| Error::internal_from("the mood's hour", e))?
            + Duration::hours(1));
    }
    let today = now.with_timezone(&zone).date_naive();
    let first = match span {
        Span::Week => today - Duration::days(i64::from(today.weekday().num_days_from_monday())),
        _ => today,
    };
    let midnight = zone
        .from_local_datetime(&first.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| Error::internal("a day without a midnight"))?;
    Ok(midnight + span.bucket())
}

/// The mood of a room `viewer` may read, at `now`, by `span`, with days
/// and weeks as they run in `zone`.
pub async fn of_room(
    state: &AppState,
    viewer: &Actor,
    room_id: i64,
    span: Span,
    now: DateTime<Utc>,
    zone: chrono_tz::Tz,
) -> Result<Mood> {
    let mut conn = state.pool.get().await?;
    guard::readable(&mut conn, viewer.user_id, room_id).await?;
    let tagging = rooms::find(&mut conn, room_id).await?.room.emotions;
    let step = span.bucket();
    let end = chart_end(span, now, zone)?;
    let from = end - step * span.buckets() as i32;
    let counts = annotations::counts_between(&mut conn, room_id, from, end, step).await?;
    let mut buckets: Vec<Bucket> = (0..span.buckets())
        .map(|i| Bucket {
            start: from + step * i as i32,
            mix: [0; 7],
        })
        .collect();
    for c in counts {
        let i = ((c.bucket - from).num_seconds() / step.num_seconds().max(1)) as usize;
        if let (Some(b), Some(e)) = (buckets.get_mut(i), index(&c.top)) {
            b.mix[e] += c.count;
        }
    }
    let window = state.config.limits.mood_window;
    let latest = annotations::latest_tags(&mut conn, room_id, window).await?;
    let mix = mix_of(&latest);
    let strongest = annotations::strongest_between(&mut conn, room_id, from, end, MOVERS).await?;
    let movers = movers(&mut conn, room_id, &strongest, viewer.user_id).await?;
    Ok(Mood {
        span,
        buckets,
        now: mix,
        window: latest.len() as i64,
        movers,
        tagging,
    })
}

/// The mix of a room's newest tagged messages and how many there are, for
/// the room page's mood panel. The caller has checked the reader may read
/// the room.
pub async fn now(state: &AppState, room_id: i64) -> Result<(Mix, i64)> {
    let mut conn = state.pool.get().await?;
    let latest =
        annotations::latest_tags(&mut conn, room_id, state.config.limits.mood_window).await?;
    Ok((mix_of(&latest), latest.len() as i64))
}

/// How many of `tags` had each emotion as their strongest.
fn mix_of(tags: &[Tagged]) -> Mix {
    let mut mix = [0; 7];
    for t in tags {
        if let Some(e) = index(&t.top) {
            mix[e] += 1;
        }
    }
    mix
}

/// The position of label `name` in [`Emotion::ALL`].
fn index(name: &str) -> Option<usize> {
    let e = Emotion::parse(name)?;
    Emotion::ALL.iter().position(|x| *x == e)
}

/// The messages of `strongest` (of room `room_id`), in its order, as
/// `viewer` sees them.
async fn movers(
    conn: &mut diesel_async::AsyncPgConnection,
    room_id: i64,
    strongest: &[Tagged],
    viewer: i64,
) -> Result<Vec<Mover>> {
    let ids: Vec<i64> = strongest.iter().map(|t| t.message_id).collect();
    let mut found = messages::live_by_ids(conn, &[room_id], &ids, viewer).await?;
    Ok(strongest
        .iter()
        .filter_map(|t| {
            let at = found.iter().position(|m| m.id == t.message_id)?;
            Some(Mover {
                message: found.swap_remove(at),
                emotion: Emotion::parse(&t.top)?,
                score: t.top_score,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_span_is_hour_day_or_week_and_day_by_default() {
        assert_eq!(Span::parse(None).ok(), Some(Span::Day));
        assert_eq!(Span::parse(Some(" week ")).ok(), Some(Span::Week));
        assert_eq!(Span::parse(Some("hour")).ok(), Some(Span::Hour));
        match Span::parse(Some("month")) {
            Err(Error::Invalid { field, .. }) => assert_eq!(field, "by"),
            other => panic!("expected a 422 on by, got {other:?}"),
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        match DateTime::parse_from_rfc3339(text) {
            Ok(t) => t.with_timezone(&Utc),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn the_chart_ends_after_the_viewers_hour_day_or_week() {
        let now = at("2026-12-02T23:30:00Z"); // a Wednesday
        let utc = chrono_tz::UTC;
        let paris = chrono_tz::Europe::Paris; // already Thursday there
        let end = |span, zone| match chart_end(span, now, zone) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(end(Span::Hour, utc), at("2026-12-03T00:00:00Z"));
        assert_eq!(end(Span::Day, utc), at("2026-12-03T00:00:00Z"));
        assert_eq!(end(Span::Day, paris), at("2026-12-03T23:00:00Z"));
        assert_eq!(end(Span::Week, utc), at("2026-12-07T00:00:00Z"));
        assert_eq!(end(Span::Week, paris), at("2026-12-06T23:00:00Z"));
    }

    #[test]
    fn the_dominant_emotion_leaves_neutral_aside() {
        // anger, disgust, fear, joy, neutral, sadness, surprise
        assert_eq!(dominant(&[0, 0, 0, 3, 40, 1, 0]), Some(Emotion::Joy));
        assert_eq!(dominant(&[2, 0, 0, 1, 40, 2, 0]), Some(Emotion::Anger));
        assert_eq!(dominant(&[0, 0, 0, 0, 9, 0, 0]), None);
        assert_eq!(dominant(&[0; 7]), None);
    }
}
