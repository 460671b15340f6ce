//! The `sessions` table: one row per login. Tokens name their session; a
//! revoked or past-its-absolute-limit session makes all its tokens worthless.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::Result;
use crate::schema::{sessions, users};

/// A login session as stored.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: Uuid,
    pub user_id: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The browser or client that signed in (its `User-Agent`, cut short).
    pub user_agent: String,
    /// Where from: the network key the rate limits use.
    pub address: String,
    /// When a request last used it, to within [`SEEN_EVERY`].
    pub last_seen_at: DateTime<Utc>,
}

/// What a session records of the device that opened it.
#[derive(Debug, Clone, Default)]
pub struct Device {
    /// The `User-Agent` header.
    pub user_agent: String,
    /// The client's network key.
    pub address: String,
}

/// How stale `last_seen_at` may get: it is written at most this often per
/// session, not on every request.
pub const SEEN_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// Opens a session for `user_id` lasting until `expires_at` (the absolute
/// limit), recording the device it was opened from.
pub async fn create(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    expires_at: DateTime<Utc>,
    device: &Device,
) -> Result<Session> {
    let now = Utc::now();
    let session = Session {
        id: Uuid::new_v4(),
        user_id,
        created_at: now,
        expires_at,
        revoked_at: None,
        user_agent: cut(&device.user_agent, 256),
        address: cut(&device.address, 64),
        last_seen_at: now,
    };
    Ok(diesel::insert_into(sessions::table)
        .values(&session)
        .returning(Session::as_returning())
        .get_result(conn)
        .await?)
}

/// The session and its user's current username and display name (empty:
/// none), if the session belongs to `user_id`, is not revoked and has not
/// reached its absolute limit.
pub async fn find_active(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    user_id: i64,
) -> Result<Option<(Session, String, String)>> {
    Ok(sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(id))
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(diesel::dsl::now))
        .select((Session::as_select(), users::username, users::display_name))
        .first(conn)
        .await
        .optional()?)
}

/// At most `max` characters of `s`, without control characters.
fn cut(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// Records that the session was used now, if its last record is older than
/// [`SEEN_EVERY`].
pub async fn seen(conn: &mut AsyncPgConnection, session: &Session) -> Result<()> {
    let now = Utc::now();
    if now - session.last_seen_at < SEEN_EVERY {
        return Ok(());
    }
    diesel::update(sessions::table.find(session.id))
        .set(sessions::last_seen_at.eq(now))
        .execute(conn)
        .await?;
    Ok(())
}

/// The user's sessions that still work, most recently used first.
pub async fn list_active(conn: &mut AsyncPgConnection, user_id: i64) -> Result<Vec<Session>> {
    Ok(sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(diesel::dsl::now))
        .order((sessions::last_seen_at.desc(), sessions::created_at.desc()))
        .select(Session::as_select())
        .load(conn)
        .await?)
}

/// Revokes one of the user's sessions; `false` when they have no such
/// active session (someone else's is not theirs to end).
pub async fn revoke_for(conn: &mut AsyncPgConnection, user_id: i64, id: Uuid) -> Result<bool> {
    let n = diesel::update(
        sessions::table
            .filter(sessions::id.eq(id))
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(diesel::dsl::now))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// Revokes every session of the user but `keep` ("sign out everywhere
/// else"); returns how many ended.
pub async fn revoke_all_except(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    keep: Uuid,
) -> Result<usize> {
    Ok(diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::id.ne(keep))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(diesel::dsl::now))
    .execute(conn)
    .await?)
}

/// Revokes a session (logout). Revoking twice is harmless.
pub async fn revoke(conn: &mut AsyncPgConnection, id: Uuid) -> Result<()> {
    diesel::update(
        sessions::table
            .filter(sessions::id.eq(id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(diesel::dsl::now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Ids of sessions revoked at or after `since`: the chat service closes
/// their live sockets.
pub async fn revoked_since(
    conn: &mut AsyncPgConnection,
    since: DateTime<Utc>,
) -> Result<Vec<Uuid>> {
    Ok(sessions::table
        .filter(sessions::revoked_at.ge(since))
        .select(sessions::id)
        .load(conn)
        .await?)
}
