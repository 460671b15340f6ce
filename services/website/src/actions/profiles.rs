//! People: looking someone up by name, their profile with the rooms we
//! share, editing my own profile (display name, bio), and my blocks.

use chrono::{DateTime, Utc};
use common::domain::{Bio, DisplayName, Username};
use common::error::{Code, Entity};
use common::store::blocks::{self, Block};
use common::store::members;
use common::store::users::{self, Person, User};
use common::{Error, Result};

use super::Actor;
use crate::state::AppState;

/// The most shared rooms a profile lists.
pub const SHARED_ROOMS_SHOWN: i64 = 100;

/// The account named `username` (ignoring case); a name that cannot be a
/// username is not found, like one nobody has.
pub async fn find(state: &AppState, username: &str) -> Result<User> {
    let name = Username::parse(username).map_err(|_| Error::NotFound(Entity::User))?;
    let mut conn = state.pool.get().await?;
    users::find_by_username(&mut conn, name.as_str()).await
}

/// A profile as `viewer` sees it.
pub struct ProfileView {
    /// The person.
    pub user: User,
    /// The rooms both are members of, `(id, name)` by name.
    pub shared_rooms: Vec<(i64, String)>,
    /// Whether the viewer blocked them.
    pub blocked: bool,
}

/// The profile of `username` for `viewer`: who they are, the rooms we
/// share (only rooms the viewer is a member of, so may read) and whether
/// the viewer blocked them.
pub async fn profile(state: &AppState, viewer: &Actor, username: &str) -> Result<ProfileView> {
    let user = find(state, username).await?;
    let mut conn = state.pool.get().await?;
    let (shared_rooms, blocked) = if user.id == viewer.user_id {
        (Vec::new(), false)
    } else {
        (
            members::shared_rooms(&mut conn, viewer.user_id, user.id, SHARED_ROOMS_SHOWN).await?,
            blocks::exists(&mut conn, viewer.user_id, user.id).await?,
        )
    };
    Ok(ProfileView {
        user,
        shared_rooms,
        blocked,
    })
}

/// A profile edit, validated field by field; a field left out stays as it is.
pub struct ProfileEdit {
    /// The new display name (empty: show the username).
    pub display_name: Option<DisplayName>,
    /// The new bio.
    pub bio: Option<Bio>,
}

impl ProfileEdit {
    /// Every field's problem at once, so a form can show them all.
    pub fn parse(display_name: Option<&str>, bio: Option<&str>) -> Result<Self, Vec<Error>> {
        let d = display_name.map(DisplayName::parse).transpose();
        let b = bio.map(Bio::parse).transpose();
        match (d, b) {
            (Ok(display_name), Ok(bio)) => Ok(Self { display_name, bio }),
            (d, b) => Err([d.err(), b.err()].into_iter().flatten().collect()),
        }
    }
}

/// Saves `actor`'s profile edit (counted against `PROFILE_CHANGE_LIMIT`)
/// and answers the account as it is now. Stored frames keep naming the
/// username; pages show the new name from now on.
pub async fn update(state: &AppState, actor: &Actor, edit: &ProfileEdit) -> Result<User> {
    count_change(state, actor).await?;
    let mut conn = state.pool.get().await?;
    let user = users::set_profile(
        &mut conn,
        actor.user_id,
        edit.display_name.as_ref(),
        edit.bio.as_ref(),
    )
    .await?;
    tracing::info!(user.id = actor.user_id, "profile changed");
    Ok(user)
}

async fn count_change(state: &AppState, actor: &Actor) -> Result<()> {
    state
        .limiter
        .hit(
            &state.config.limits.profile_change,
            &actor.user_id.to_string(),
        )
        .await
}

/// The account to block or unblock: known, and not the actor.
async fn target(state: &AppState, actor: &Actor, username: &str) -> Result<User> {
    let user = find(state, username).await?;
    if user.id == actor.user_id {
        return Err(Error::invalid(
            "username",
            Code::CannotBlockSelf,
            "You cannot block yourself.",
        ));
    }
    Ok(user)
}

/// `actor` blocks `username`: their messages are collapsed for the actor
/// from now on. Blocking again changes nothing.
pub async fn block(state: &AppState, actor: &Actor, username: &str) -> Result<User> {
    let user = target(state, actor, username).await?;
    count_change(state, actor).await?;
    let mut conn = state.pool.get().await?;
    blocks::add(&mut conn, actor.user_id, user.id).await?;
    Ok(user)
}

/// `actor` lifts their block of `username`; lifting none changes nothing.
pub async fn unblock(state: &AppState, actor: &Actor, username: &str) -> Result<User> {
    let user = target(state, actor, username).await?;
    count_change(state, actor).await?;
    let mut conn = state.pool.get().await?;
    blocks::remove(&mut conn, actor.user_id, user.id).await?;
    Ok(user)
}

/// `actor`'s blocks, the newest first.
pub async fn blocks(state: &AppState, actor: &Actor) -> Result<Vec<Block>> {
    let mut conn = state.pool.get().await?;
    blocks::list(&mut conn, actor.user_id).await
}

/// The ids of the people `actor` blocked (the room page collapses their
/// messages).
pub async fn blocked_ids(state: &AppState, actor: &Actor) -> Result<Vec<i64>> {
    let mut conn = state.pool.get().await?;
    blocks::blocked_ids(&mut conn, actor.user_id).await
}

/// The people with these ids, to show their names.
pub async fn people(
    state: &AppState,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, Person>> {
    let mut conn = state.pool.get().await?;
    users::people(&mut conn, ids).await
}

/// A day as profiles say "member since": RFC 3339 date and "21 November 2026".
pub fn since(t: &DateTime<Utc>) -> (String, String) {
    (
        t.format("%Y-%m-%d").to_string(),
        t.format("%-d %B %Y").to_string(),
    )
}
