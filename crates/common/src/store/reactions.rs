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
    room_id: i64,
    message_id: i64,
    user_id: i64,
    emoji: &Emoji,
    on: bool,
) -> Result<i64> {
    if on {
        diesel::insert_into(message_reactions::table)
            .values((
                message_reactions::room_id.eq(room_id),
                message_reactions::message_id.eq(message_id),
                message_reactions::user_id.eq(user_id),
                message_reactions::emoji.eq(emoji.as_str()),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
    } else {
        diesel::delete(message_reactions::table.find((
            room_id,
            message_id,
            user_id,
            emoji.as_str(),
        )))
        .execute(conn)
        .await?;
    }
    Ok(message_reactions::table
        .filter(message_reactions::room_id.eq(room_id))
        .filter(message_reactions::message_id.eq(message_id))
        .filter(message_reactions::emoji.eq(emoji.as_str()))
        .count()
        .get_result(conn)
        .await?)
}

/// Removes every reaction to a deleted message.
pub(crate) async fn clear(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    message_id: i64,
) -> Result<()> {
    diesel::delete(
        message_reactions::table
            .filter(message_reactions::room_id.eq(room_id))
            .filter(message_reactions::message_id.eq(message_id)),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Each message's reaction summary as `viewer` sees it: one entry per
/// emoji, in the order the emoji was first used. The messages are of the
/// rooms `room_ids` (which keep the statement on those rooms' rows).
pub async fn summaries(
    conn: &mut AsyncPgConnection,
    room_ids: &[i64],
    message_ids: &[i64],
    viewer: i64,
) -> Result<HashMap<i64, Vec<ReactionCount>>> {
    if message_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, String, i64)> = message_reactions::table
        .filter(message_reactions::room_id.eq_any(room_ids))
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

/// The person's reactions looked at for their most used emoji: the newest
/// this many.
pub const REACTIONS_COUNTED: i64 = 1000;

/// The emoji the person reacts with most (then most recently), at most
/// `limit`, counted over their newest reactions to messages of rooms they
/// are a member of now.
pub async fn most_used(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    limit: i64,
) -> Result<Vec<String>> {
    use diesel::sql_types::{BigInt, Text};

    #[derive(QueryableByName)]
    struct Used {
        #[diesel(sql_type = Text)]
        emoji: String,
    }
    let rows: Vec<Used> = super::Fixed::new(
        "WITH p AS (SELECT $1::bigint AS uid, $2::bigint AS scan, $3::bigint AS lim), \
         mine AS (SELECT r.room_id, r.emoji, r.created_at FROM message_reactions r, p \
                  WHERE r.user_id = p.uid ORDER BY r.created_at DESC LIMIT (SELECT scan FROM p)) \
         SELECT mine.emoji FROM mine \
           JOIN room_members rm ON rm.room_id = mine.room_id, p \
         WHERE rm.user_id = p.uid \
         GROUP BY mine.emoji ORDER BY count(*) DESC, max(mine.created_at) DESC, mine.emoji \
         LIMIT (SELECT lim FROM p)",
    )
    .bind::<BigInt, _>(user_id)
    .bind::<BigInt, _>(REACTIONS_COUNTED)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|u| u.emoji).collect())
}
