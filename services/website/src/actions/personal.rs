//! Personalization (docs/http.md, "Personalization"): what is learned from
//! a person's own activity and what it changes for them: the order of
//! their rooms, their quick reactions, the public rooms suggested to them,
//! and the order of the catch-up view. Everything is computed from the
//! rooms they are a member of now, in this deployment's database, and
//! nothing is learned or used while their `personalization` preference is
//! off.

use std::collections::HashMap;

use chrono::{TimeDelta, Utc};
use common::Result;
use common::preferences::{Preferences, SidebarOrder};
use common::store::messages::{self, UnreadLine};
use common::store::rooms::{self, RoomView};
use common::store::{reactions, suggestions, usage};

use super::Actor;
use super::rooms::MyRoom;
use crate::state::AppState;

/// Quick reactions: the first row of the picker.
pub const QUICK_EMOJI: usize = 6;
/// Suggested rooms shown at most.
pub const SUGGESTIONS: i64 = 5;
/// Unread messages the catch-up view quotes per room.
pub const CATCH_UP_LINES: i64 = 3;

/// Notes that `actor` used a room (opened its page, moved their read mark):
/// at most once per `USAGE_WRITE_INTERVAL_SECS`, only for a member with
/// personalization on. Never fails the request it rides on.
pub async fn record_use(state: &AppState, actor: &Actor, room_id: i64) {
    let interval =
        TimeDelta::from_std(state.config.limits.usage_write_interval).unwrap_or(TimeDelta::MAX);
    let written = match state.pool.get().await {
        Ok(mut conn) => usage::record(&mut conn, actor.user_id, room_id, interval).await,
        Err(e) => Err(e.into()),
    };
    if let Err(e) = written {
        tracing::warn!(error = %e, user.id = actor.user_id, room.id = room_id, "a room's use could not be noted");
    }
}

/// Puts the actor's rooms in the sidebar's order: most used first (see
/// `usage::Usage::score`; unused rooms after, by name) or by name, as
/// their preferences say; rooms of equal score by name.
pub async fn order_rooms(
    state: &AppState,
    actor: &Actor,
    prefs: &Preferences,
    rooms: &mut [MyRoom],
) -> Result<()> {
    let by_name = |r: &MyRoom| (r.room.room.name.to_lowercase(), r.room.room.id);
    if prefs.effective_sidebar_order() == SidebarOrder::Alphabetical {
        rooms.sort_by_cached_key(by_name);
        return Ok(());
    }
    let now = Utc::now();
    let scores: HashMap<i64, f64> = {
        let mut conn = state.pool.get().await?;
        usage::of_member(&mut conn, actor.user_id)
            .await?
            .into_iter()
            .map(|u| (u.room_id, u.score(now)))
            .collect()
    };
    let score = |id: i64| scores.get(&id).copied().unwrap_or(0.0);
    rooms.sort_by(|a, b| {
        score(b.room.room.id)
            .total_cmp(&score(a.room.room.id))
            .then_with(|| by_name(a).cmp(&by_name(b)))
    });
    Ok(())
}

/// The picker's emoji, as many as the common ones: the actor's most used
/// first (their quick reactions, at most [`QUICK_EMOJI`]: the first row),
/// then the common ones they have not used; with personalization off, the
/// common ones alone.
pub async fn picker_emoji(state: &AppState, actor: &Actor, prefs: &Preferences) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if prefs.personalization {
        let used = match state.pool.get().await {
            Ok(mut conn) => {
                reactions::most_used(&mut conn, actor.user_id, QUICK_EMOJI as i64).await
            }
            Err(e) => Err(e.into()),
        };
        match used {
            Ok(used) => out = used,
            // The common ones will do: a picker never fails a page.
            Err(e) => tracing::warn!(error = %e, "the most used emoji could not be read"),
        }
    }
    for e in common::emoji::COMMON {
        if !out.iter().any(|u| u == e) {
            out.push((*e).to_owned());
        }
    }
    // Whole rows of the picker: as many as the common ones fill, so a
    // learned emoji takes the place of the last common one (the reaction
    // page's field takes any other).
    out.truncate(common::emoji::COMMON.len().max(QUICK_EMOJI));
    out
}

/// A public room suggested to the actor, and why.
pub struct Suggestion {
    /// The room.
    pub room: RoomView,
    /// One line a person reads: "3 people you talk with are here",
    /// "Like #rust and #cooking".
    pub reason: String,
    /// Higher is a better match: people you talk with who are members,
    /// plus ten times the full-text rank of its name and topic.
    pub score: f64,
}

/// What a room is suggested for, before its score decides the order.
#[derive(Default)]
struct Signals {
    people: i64,
    rank: f64,
    like: Vec<String>,
}

impl Signals {
    fn score(&self) -> f64 {
        let raw = self.people as f64 + 10.0 * self.rank;
        (raw * 100.0).round() / 100.0
    }

    fn reason(&self) -> String {
        if self.people > 0 && self.people as f64 >= 10.0 * self.rank {
            match self.people {
                1 => "Someone you talk with is here".to_owned(),
                n => format!("{n} people you talk with are here"),
            }
        } else {
            match self.like.as_slice() {
                [] => "About what your rooms talk about".to_owned(),
                [one] => format!("Like #{one}"),
                [one, two, ..] => format!("Like #{one} and #{two}"),
            }
        }
    }
}

/// Public rooms the actor is not in (nor banned from) that they may like,
/// best first: where the people they talk with are, and rooms whose name
/// and topic share the words of their rooms. None with personalization
/// off.
pub async fn suggestions(
    state: &AppState,
    actor: &Actor,
    prefs: &Preferences,
) -> Result<Vec<Suggestion>> {
    if !prefs.personalization {
        return Ok(Vec::new());
    }
    let mut conn = state.pool.get().await?;
    let mut signals: HashMap<i64, Signals> = HashMap::new();
    for m in suggestions::by_people(&mut conn, actor.user_id, SUGGESTIONS).await? {
        signals.entry(m.room_id).or_default().people = m.people;
    }
    for m in suggestions::by_words(&mut conn, actor.user_id, SUGGESTIONS).await? {
        let s = signals.entry(m.room_id).or_default();
        s.rank = m.rank;
        s.like = m.like;
    }
    let ids: Vec<i64> = signals.keys().copied().collect();
    let mut out: Vec<Suggestion> = rooms::by_ids(&mut conn, &ids)
        .await?
        .into_iter()
        .filter_map(|room| {
            let s = signals.get(&room.room.id)?;
            Some(Suggestion {
                reason: s.reason(),
                score: s.score(),
                room,
            })
        })
        .collect();
    // by_ids sorted them by name: equal scores stay so.
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out.truncate(SUGGESTIONS as usize);
    Ok(out)
}

/// A room of the catch-up view.
pub struct CatchUp {
    /// The room and the actor's unread state in it.
    pub room: MyRoom,
    /// Its newest unread messages by others, newest first (at most
    /// [`CATCH_UP_LINES`]).
    pub lines: Vec<UnreadLine>,
}

/// The actor's rooms with unread messages: those that mention them first,
/// then in their sidebar's order (by usage, or by name), each with its
/// newest unread messages.
pub async fn catch_up(
    state: &AppState,
    actor: &Actor,
    prefs: &Preferences,
) -> Result<Vec<CatchUp>> {
    let mut mine = super::rooms::mine(state, actor).await?;
    mine.retain(|r| r.unread.unread > 0);
    order_rooms(state, actor, prefs, &mut mine).await?;
    // Stable: the sidebar's order holds within each group.
    mine.sort_by_key(|r| r.unread.mentions == 0);
    let ids: Vec<i64> = mine.iter().map(|r| r.room.room.id).collect();
    let mut lines: HashMap<i64, Vec<UnreadLine>> = HashMap::new();
    {
        let mut conn = state.pool.get().await?;
        for line in messages::newest_unread(&mut conn, actor.user_id, &ids, CATCH_UP_LINES).await? {
            lines.entry(line.room_id).or_default().push(line);
        }
    }
    Ok(mine
        .into_iter()
        .map(|room| CatchUp {
            lines: lines.remove(&room.room.room.id).unwrap_or_default(),
            room,
        })
        .collect())
}

/// What is stored about the actor's use of their rooms: how many rooms'.
pub async fn learned(state: &AppState, actor: &Actor) -> Result<i64> {
    let mut conn = state.pool.get().await?;
    usage::stored(&mut conn, actor.user_id).await
}
