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
}

/// Opens a session for `user_id` lasting until `expires_at` (the absolute limit).
pub async fn create(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    expires_at: DateTime<Utc>,
) -> Result<Session> {
    let session = Session {
        id: Uuid::new_v4(),
        user_id,
        created_at: Utc::now(),
        expires_at,
        revoked_at: None,
    };
    Ok(diesel::insert_into(sessions::table)
        .values(&session)
        .returning(Session::as_returning())
        .get_result(conn)
        .await?)
}

/// The session and its user's current name, if the session belongs to
/// `user_id`, is not revoked and has not reached its absolute limit.
pub async fn find_active(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    user_id: i64,
) -> Result<Option<(Session, String)>> {
    Ok(sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(id))
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(diesel::dsl::now))
        .select((Session::as_select(), users::username))
        .first(conn)
        .await
        .optional()?)
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
