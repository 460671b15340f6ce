//! The `moderation_actions` table: the room's moderation log, with the
//! reasons given, which only its moderators read. Every row is written by
//! the event writer beside the sequenced event it explains.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::Result;
use crate::schema::{moderation_actions, users};

/// One entry to write.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = moderation_actions)]
pub struct NewEntry<'a> {
    pub room_id: i64,
    pub seq: i64,
    pub actor_id: i64,
    pub target_id: Option<i64>,
    pub message_id: Option<i64>,
    pub action: &'a str,
    pub detail: &'a str,
    pub until: Option<DateTime<Utc>>,
    pub reason: &'a str,
}

/// Writes one entry.
pub async fn insert(conn: &mut AsyncPgConnection, entry: &NewEntry<'_>) -> Result<()> {
    diesel::insert_into(moderation_actions::table)
        .values(entry)
        .execute(conn)
        .await?;
    Ok(())
}

/// An entry as the log shows it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: i64,
    pub seq: i64,
    pub actor: Option<(i64, String)>,
    pub target: Option<(i64, String)>,
    pub message_id: Option<i64>,
    pub action: String,
    pub detail: String,
    pub until: Option<DateTime<Utc>>,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

/// A room's log, newest first, `limit` entries before the entry `before`.
pub async fn page(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Entry>> {
    type Row = (
        i64,
        i64,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        String,
        String,
        Option<DateTime<Utc>>,
        String,
        DateTime<Utc>,
    );
    let mut q = moderation_actions::table
        .filter(moderation_actions::room_id.eq(room_id))
        .order(moderation_actions::id.desc())
        .limit(limit)
        .select((
            moderation_actions::id,
            moderation_actions::seq,
            moderation_actions::actor_id,
            moderation_actions::target_id,
            moderation_actions::message_id,
            moderation_actions::action,
            moderation_actions::detail,
            moderation_actions::until,
            moderation_actions::reason,
            moderation_actions::created_at,
        ))
        .into_boxed();
    if let Some(before) = before {
        q = q.filter(moderation_actions::id.lt(before));
    }
    let rows: Vec<Row> = q.load(conn).await?;
    let mut ids: Vec<i64> = rows.iter().flat_map(|r| [r.2, r.3]).flatten().collect();
    ids.sort_unstable();
    ids.dedup();
    let names: std::collections::HashMap<i64, String> = users::table
        .filter(users::id.eq_any(&ids))
        .select((users::id, users::username))
        .load::<(i64, String)>(conn)
        .await?
        .into_iter()
        .collect();
    let named = |id: Option<i64>| id.and_then(|id| names.get(&id).map(|n| (id, n.clone())));
    Ok(rows
        .into_iter()
        .map(|r| Entry {
            id: r.0,
            seq: r.1,
            actor: named(r.2),
            target: named(r.3),
            message_id: r.4,
            action: r.5,
            detail: r.6,
            until: r.7,
            reason: r.8,
            created_at: r.9,
        })
        .collect())
}
