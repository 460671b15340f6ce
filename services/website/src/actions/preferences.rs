//! A person's preferences and the notification level of their rooms, for
//! the settings page, the room page and the API alike.

use common::Result;
use common::guard;
use common::preferences::{NotifyLevel, Patch, Preferences};
use common::store::preferences as store;
use common::store::usage;
use diesel_async::AsyncConnection;

use super::Actor;
use crate::state::AppState;

/// The actor's preferences (the defaults when they never chose any).
pub async fn get(state: &AppState, actor: &Actor) -> Result<Preferences> {
    let mut conn = state.pool.get().await?;
    store::get(&mut conn, actor.user_id).await
}

/// Changes what `patch` names and keeps the rest; the preferences after.
/// Turning personalization off deletes what was learned (`room_usage`) in
/// the same transaction, and no more is written while it is off.
pub async fn update(state: &AppState, actor: &Actor, patch: &Patch) -> Result<Preferences> {
    let mut conn = state.pool.get().await?;
    let user_id = actor.user_id;
    let after = conn
        .transaction::<_, common::Error, _>(async |conn| {
            let after = store::update(conn, user_id, patch).await?;
            if !after.personalization {
                let forgotten = usage::forget(conn, user_id).await?;
                if forgotten > 0 {
                    tracing::info!(
                        user.id = user_id,
                        rooms = forgotten,
                        "learned usage deleted"
                    );
                }
            }
            Ok(after)
        })
        .await?;
    tracing::info!(user.id = user_id, "preferences changed");
    Ok(after)
}

/// The level the actor set for a room they may read (`None`: their default).
pub async fn room_level(
    state: &AppState,
    actor: &Actor,
    room_id: i64,
) -> Result<Option<NotifyLevel>> {
    let mut conn = state.pool.get().await?;
    store::room_level(&mut conn, actor.user_id, room_id).await
}

/// Every room the actor set a level for.
pub async fn room_levels(state: &AppState, actor: &Actor) -> Result<Vec<(i64, NotifyLevel)>> {
    let mut conn = state.pool.get().await?;
    store::room_levels(&mut conn, actor.user_id).await
}

/// Sets the actor's level for a room they may read (`None`: back to their
/// default); a room they may not read answers like a missing one.
pub async fn set_room_level(
    state: &AppState,
    actor: &Actor,
    room_id: i64,
    level: Option<NotifyLevel>,
) -> Result<()> {
    let mut conn = state.pool.get().await?;
    guard::readable(&mut conn, actor.user_id, room_id).await?;
    store::set_room_level(&mut conn, actor.user_id, room_id, level).await
}
