//! The `user_blocks` table: who blocked whom. A blocker sees the blocked
//! person's messages collapsed (and, with direct messages, gets none from
//! them); the blocked person is never told.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::users::User;
use crate::error::Result;
use crate::schema::{user_blocks, users};

/// One of a blocker's blocks, with who it is.
#[derive(Debug, Clone)]
pub struct Block {
    /// The blocked person.
    pub user: User,
    /// Since when.
    pub created_at: DateTime<Utc>,
}

/// Blocks `blocked` for `blocker`; blocking again changes nothing (the
/// first block's time stays). Returns whether a block was added.
pub async fn add(conn: &mut AsyncPgConnection, blocker: i64, blocked: i64) -> Result<bool> {
    let n = diesel::insert_into(user_blocks::table)
        .values((
            user_blocks::blocker_id.eq(blocker),
            user_blocks::blocked_id.eq(blocked),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(n > 0)
}

/// Lifts a block; lifting one that does not exist changes nothing. Returns
/// whether one was lifted.
pub async fn remove(conn: &mut AsyncPgConnection, blocker: i64, blocked: i64) -> Result<bool> {
    let n = diesel::delete(user_blocks::table.find((blocker, blocked)))
        .execute(conn)
        .await?;
    Ok(n > 0)
}

/// Whether `blocker` blocked `blocked`.
pub async fn exists(conn: &mut AsyncPgConnection, blocker: i64, blocked: i64) -> Result<bool> {
    let query = user_blocks::table.find((blocker, blocked));
    Ok(diesel::select(diesel::dsl::exists(query))
        .get_result(conn)
        .await?)
}

/// Those of `blockers` who blocked `blocked`: who will not hear from them.
pub async fn who_blocked(
    conn: &mut AsyncPgConnection,
    blockers: &[i64],
    blocked: i64,
) -> Result<Vec<i64>> {
    Ok(user_blocks::table
        .filter(user_blocks::blocker_id.eq_any(blockers))
        .filter(user_blocks::blocked_id.eq(blocked))
        .select(user_blocks::blocker_id)
        .load(conn)
        .await?)
}

/// The ids of the people `blocker` blocked: what the room page collapses.
pub async fn blocked_ids(conn: &mut AsyncPgConnection, blocker: i64) -> Result<Vec<i64>> {
    Ok(user_blocks::table
        .filter(user_blocks::blocker_id.eq(blocker))
        .select(user_blocks::blocked_id)
        .order(user_blocks::blocked_id)
        .load(conn)
        .await?)
}

/// `blocker`'s blocks with who each is, the newest first.
pub async fn list(conn: &mut AsyncPgConnection, blocker: i64) -> Result<Vec<Block>> {
    let rows: Vec<(User, DateTime<Utc>)> = user_blocks::table
        .inner_join(users::table.on(users::id.eq(user_blocks::blocked_id)))
        .filter(user_blocks::blocker_id.eq(blocker))
        .order((user_blocks::created_at.desc(), user_blocks::blocked_id))
        .select((User::as_select(), user_blocks::created_at))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(user, created_at)| Block { user, created_at })
        .collect())
}
