//! The `message_reactions` table: one row per user, message and emoji.
//! Only the event log (`store::events`) writes it.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::emoji::Emoji;
use crate::error::Result;
use crate::protocol::ReactionCount;
use crate::schema::message_reactions;

/// Adds (`on`) or takes back a user's reaction; returns how many users
/// react to the message with this emoji afterwards.
pub(crate) async fn set(
    conn: &mut AsyncPgConnection,
    message_id: i64,
    user_id: i64,
    emoji: &Emoji,
    on: bool,
) -> Result<i64> {
    if on {
        diesel::insert_into(message_reactions::table)
            .values((
                message_reactions::message_id.eq(message_id),
                message_reactions::user_id.eq(user_id),
                message_reactions::emoji.eq(emoji.as_str()),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
    } else {
        diesel::delete(message_reactions::table.find((message_id, user_id, emoji.as_str())))
            .execute(conn)
            .await?;
    }
    Ok(message_reactions::table
        .filter(message_reactions::message_id.eq(message_id))
        .filter(message_reactions::emoji.eq(emoji.as_str()))
        .count()
        .get_result(conn)
        .await?)
}

/// Removes every reaction to a deleted message.
pub(crate) async fn clear(conn: &mut AsyncPgConnection, message_id: i64) -> Result<()> {
    diesel::delete(message_reactions::table.filter(message_reactions::message_id.eq(message_id)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Each message's reaction summary as `viewer` sees it: one entry per
/// emoji, in the order the emoji was first used.
pub async fn summaries(
    conn: &mut AsyncPgConnection,
    message_ids: &[i64],
    viewer: i64,
) -> Result<HashMap<i64, Vec<ReactionCount>>> {
    if message_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, String, i64)> = message_reactions::table
        .filter(message_reactions::message_id.eq_any(message_ids))
        .order((message_reactions::message_id, message_reactions::created_at))
        .select((
            message_reactions::message_id,
            message_reactions::emoji,
            message_reactions::user_id,
        ))
        .load(conn)
        .await?;
    let mut out: HashMap<i64, Vec<ReactionCount>> = HashMap::new();
    for (message_id, emoji, user_id) in rows {
        let summary = out.entry(message_id).or_default();
        let entry = match summary.iter_mut().position(|r| r.emoji == emoji) {
            Some(i) => &mut summary[i],
            None => {
                summary.push(ReactionCount {
                    emoji,
                    count: 0,
                    me: false,
                });
                let last = summary.len() - 1;
                &mut summary[last]
            }
        };
        entry.count += 1;
        entry.me |= user_id == viewer;
    }
    Ok(out)
}
