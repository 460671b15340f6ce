//! The `room_usage` table: how much a person uses each of their rooms, the
//! one thing personalization learns and stores (docs/http.md,
//! "Personalization"). Written from page opens and read-mark moves, at
//! most once per person and room per interval, and never on the message
//! send path; read only through the person's current memberships, so a
//! room they left or were removed from stops counting at once.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::Fixed;
use crate::error::Result;
use crate::schema::{room_members, room_usage};

/// A person's messages in a room counted at most this far when a use is
/// written: a cap, so counting stays a short walk of the log's
/// `(room_id, user_id, nonce)` index whoever posts a lot (`messages` has
/// no index by author: a count there would walk the whole room).
pub const POSTS_COUNTED: i64 = 100;

/// How fast an unused room sinks: its count halves for every this many
/// days since it was last used.
pub const HALF_LIFE_DAYS: f64 = 14.0;

/// What is stored of a person's use of one room.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    pub room_id: i64,
    /// Uses written (page opens and read-mark moves, one per interval).
    pub opens: i32,
    /// Their messages in the room when a use was last written (capped at
    /// [`POSTS_COUNTED`]).
    pub posts: i32,
    pub last_used_at: DateTime<Utc>,
}

impl Usage {
    /// Frequency with recency decay: every use (an open or a message)
    /// counts once, and the sum halves for every [`HALF_LIFE_DAYS`] since
    /// the room was last used.
    pub fn score(&self, now: DateTime<Utc>) -> f64 {
        let uses = f64::from(self.opens) + f64::from(self.posts);
        let days = (now - self.last_used_at).num_seconds().max(0) as f64 / 86_400.0;
        uses * 0.5f64.powf(days / HALF_LIFE_DAYS)
    }
}

/// Notes that `user_id` used `room_id` now: one more use and their message
/// count, unless a use was written less than `interval` ago. Nothing is
/// written when they are not a member of the room or have turned
/// personalization off. One statement; true when a use was written.
pub async fn record(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    room_id: i64,
    interval: TimeDelta,
) -> Result<bool> {
    let written = Fixed::new(
        "WITH p AS (SELECT $1::bigint AS uid, $2::bigint AS rid, \
                    make_interval(secs => $3::float8) AS every, $4::bigint AS cap) \
         INSERT INTO room_usage (user_id, room_id, opens, posts, last_used_at) \
         SELECT p.uid, p.rid, 1, \
           (SELECT count(*) FROM (SELECT 1 FROM room_events x \
              WHERE x.room_id = p.rid AND x.user_id = p.uid AND x.kind = 'message' \
              LIMIT p.cap) c)::int, \
           now() \
         FROM p \
         WHERE EXISTS (SELECT 1 FROM room_members m WHERE m.room_id = p.rid AND m.user_id = p.uid) \
           AND NOT EXISTS (SELECT 1 FROM user_preferences u \
                           WHERE u.user_id = p.uid AND NOT u.personalization) \
           AND NOT EXISTS (SELECT 1 FROM room_usage r \
                           WHERE r.user_id = p.uid AND r.room_id = p.rid \
                             AND r.last_used_at > now() - p.every) \
         ON CONFLICT (user_id, room_id) DO UPDATE \
           SET opens = room_usage.opens + 1, posts = excluded.posts, \
               last_used_at = excluded.last_used_at",
    )
    .bind::<BigInt, _>(user_id)
    .bind::<BigInt, _>(room_id)
    .bind::<Double, _>(interval.num_milliseconds() as f64 / 1000.0)
    .bind::<BigInt, _>(POSTS_COUNTED)
    .execute(conn)
    .await?;
    Ok(written > 0)
}

/// The person's usage of the rooms they are a member of now.
pub async fn of_member(conn: &mut AsyncPgConnection, user_id: i64) -> Result<Vec<Usage>> {
    let rows: Vec<(i64, i32, i32, DateTime<Utc>)> = room_usage::table
        .inner_join(
            room_members::table.on(room_members::room_id
                .eq(room_usage::room_id)
                .and(room_members::user_id.eq(room_usage::user_id))),
        )
        .filter(room_usage::user_id.eq(user_id))
        .select((
            room_usage::room_id,
            room_usage::opens,
            room_usage::posts,
            room_usage::last_used_at,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(room_id, opens, posts, last_used_at)| Usage {
            room_id,
            opens,
            posts,
            last_used_at,
        })
        .collect())
}

/// How many rooms' usage is stored for the person (the settings page says
/// what is learned).
pub async fn stored(conn: &mut AsyncPgConnection, user_id: i64) -> Result<i64> {
    Ok(room_usage::table
        .filter(room_usage::user_id.eq(user_id))
        .count()
        .get_result(conn)
        .await?)
}

/// Deletes everything learned about the person (personalization turned
/// off); how many rows went.
pub async fn forget(conn: &mut AsyncPgConnection, user_id: i64) -> Result<usize> {
    Ok(
        diesel::delete(room_usage::table.filter(room_usage::user_id.eq(user_id)))
            .execute(conn)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(opens: i32, posts: i32, days_ago: i64, now: DateTime<Utc>) -> Usage {
        Usage {
            room_id: 1,
            opens,
            posts,
            last_used_at: now - TimeDelta::days(days_ago),
        }
    }

    #[test]
    fn a_score_is_uses_halved_per_half_life_of_disuse() {
        let now = Utc::now();
        assert!((usage(3, 1, 0, now).score(now) - 4.0).abs() < 1e-9);
        assert!((usage(4, 0, 14, now).score(now) - 2.0).abs() < 1e-9);
        // Often long ago loses to a little lately.
        assert!(usage(10, 0, 60, now).score(now) < usage(2, 0, 1, now).score(now));
        // A clock a little behind never inflates a score.
        assert!((usage(1, 0, -1, now).score(now) - 1.0).abs() < 1e-9);
    }
}
