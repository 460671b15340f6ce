//! Keeping order in a room: members and their roles, kicks, bans, mutes,
//! the topic, visibility and slow mode, and the moderation log. Every act
//! goes through the room's log (`Messenger::moderate`), where the writer
//! checks it under the room's lock; here the input is parsed and the
//! people it names are looked up.

use common::access::{self, Role, RoomFacts, Standing};
use common::domain::{Reason, Sentence, SlowMode, Topic};
use common::error::Code;
use common::guard;
use common::protocol::UserRef;
use common::store::events::{Appended, Moderation};
use common::store::members::{self, MemberRow};
use common::store::modlog::{self, Entry};
use common::store::rooms::RoomView;
use common::store::users;
use common::{Error, Result};

use super::Actor;
use crate::state::AppState;

/// What a moderator may do to one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sanction {
    /// Out of the room; may come back (by invitation if it is private).
    Kick,
    /// Out, and kept out until the ban ends.
    Ban,
    /// Lifts a ban.
    Unban,
    /// Reads, cannot post or react, until the mute ends.
    Mute,
    /// Lifts a mute.
    Unmute,
}

impl Sanction {
    /// The sanction a form or path names.
    pub fn parse(raw: &str) -> Result<Self> {
        match raw {
            "kick" | "kicks" => Ok(Self::Kick),
            "ban" | "bans" => Ok(Self::Ban),
            "unban" => Ok(Self::Unban),
            "mute" | "mutes" => Ok(Self::Mute),
            "unmute" => Ok(Self::Unmute),
            _ => Err(Error::invalid(
                "action",
                Code::BadRequest,
                "the action is kick, ban, unban, mute or unmute",
            )),
        }
    }
}

/// A room's people as its members page shows them: the room, what the
/// rules know of it and of the viewer, and its members, owner first.
pub struct Members {
    /// The room, with its owner's name.
    pub room: RoomView,
    /// What the access rules know of the room.
    pub facts: RoomFacts,
    /// The viewer's standing in it.
    pub viewer: Standing,
    /// The owner first, then moderators, then members by when they joined.
    pub rows: Vec<MemberRow>,
}

/// A room's members, if `actor` may read the room (one access check).
pub async fn members_of(state: &AppState, actor: &Actor, room_id: i64) -> Result<Members> {
    let mut conn = state.pool.get().await?;
    let (facts, viewer) = guard::readable(&mut conn, actor.user_id, room_id).await?;
    Ok(Members {
        room: common::store::rooms::find(&mut conn, room_id).await?,
        facts,
        viewer,
        rows: members::list(&mut conn, room_id).await?,
    })
}

/// The person an act names, by id.
async fn person(state: &AppState, user_id: i64) -> Result<UserRef> {
    let mut conn = state.pool.get().await?;
    match users::find(&mut conn, user_id).await {
        Ok(u) => Ok(UserRef {
            id: u.id,
            name: u.username,
        }),
        Err(Error::NotFound(_)) => Err(Error::invalid(
            "user_id",
            Code::UserNotFound,
            "there is no such person",
        )),
        Err(e) => Err(e),
    }
}

fn me(actor: &Actor) -> UserRef {
    UserRef {
        id: actor.user_id,
        name: actor.username.clone(),
    }
}

/// One sanction as asked for: on whom, for how long (absent: for good),
/// and why (only moderators read it).
#[derive(Debug, Clone)]
pub struct SanctionAsk<'a> {
    /// Which sanction.
    pub what: Sanction,
    /// On whom.
    pub user_id: i64,
    /// For how long (bans and mutes); absent: for good.
    pub duration_secs: Option<i64>,
    /// Why, for the moderation log; may be empty.
    pub reason: &'a str,
}

/// Kicks, bans, mutes or lifts a ban or mute.
pub async fn sanction(
    state: &AppState,
    actor: &Actor,
    room_id: i64,
    ask: &SanctionAsk<'_>,
    nonce: &str,
) -> Result<Appended> {
    let (what, user_id) = (ask.what, ask.user_id);
    let reason = Reason::parse(ask.reason)?;
    let sentence = Sentence::parse(ask.duration_secs)?;
    let target = person(state, user_id).await?;
    let until = sentence.until(chrono::Utc::now());
    let act = match what {
        Sanction::Kick => Moderation::Kick { target, reason },
        Sanction::Ban => Moderation::Ban {
            target,
            until,
            reason,
        },
        Sanction::Unban => Moderation::Unban { target, reason },
        Sanction::Mute => Moderation::Mute {
            target,
            until,
            reason,
        },
        Sanction::Unmute => Moderation::Unmute { target, reason },
    };
    let done = state
        .messenger
        .moderate(&me(actor), room_id, nonce, act)
        .await?;
    if matches!(what, Sanction::Kick | Sanction::Ban) {
        // Their sidebars stop following the room.
        state
            .messenger
            .announce_membership(user_id, room_id, false)
            .await;
    }
    Ok(done)
}

/// Makes a member a moderator, or a moderator a member (owner only).
pub async fn set_role(
    state: &AppState,
    actor: &Actor,
    room_id: i64,
    user_id: i64,
    role: &str,
    nonce: &str,
) -> Result<Appended> {
    let role = match role {
        "moderator" => Role::Moderator,
        "member" => Role::Member,
        _ => {
            return Err(Error::invalid(
                "role",
                Code::BadRole,
                "the role is \"moderator\" or \"member\" (ownership is handed over apart)",
            ));
        }
    };
    let target = person(state, user_id).await?;
    state
        .messenger
        .moderate(
            &me(actor),
            room_id,
            nonce,
            Moderation::Role { target, role },
        )
        .await
}

/// Hands the room over to another member; the owner stays a moderator.
pub async fn hand_over(
    state: &AppState,
    actor: &Actor,
    room_id: i64,
    user_id: i64,
    nonce: &str,
) -> Result<Appended> {
    let target = person(state, user_id).await?;
    state
        .messenger
        .moderate(&me(actor), room_id, nonce, Moderation::Owner { target })
        .await
}

/// What a room's settings form or `PATCH` may change; `None`: unchanged.
#[derive(Debug, Default, Clone)]
pub struct RoomChanges {
    /// A new topic.
    pub topic: Option<String>,
    /// `public` or `private`.
    pub visibility: Option<String>,
    /// Seconds between two messages of a member (0: off).
    pub slow_mode_secs: Option<i64>,
    /// Emotion tags on messages (the owner only).
    pub emotions: Option<bool>,
}

/// Applies the changes that differ from the room as it is, each as its own
/// event (topic and slow mode: moderators; visibility: the owner). Every
/// field is checked before anything changes. The owner's switch of emotion
/// tags is a setting, not an event: the worker takes the room's tags back
/// (each an event) when it goes off.
pub async fn update_room(
    state: &AppState,
    actor: &Actor,
    room_id: i64,
    changes: &RoomChanges,
    nonce: &str,
) -> Result<()> {
    let topic = changes.topic.as_deref().map(Topic::parse).transpose()?;
    let visibility = changes
        .visibility
        .as_deref()
        .map(super::rooms::parse_visibility)
        .transpose()?;
    let slow = changes.slow_mode_secs.map(SlowMode::parse).transpose()?;
    let current = {
        let mut conn = state.pool.get().await?;
        guard::allowed(&mut conn, actor.user_id, room_id, access::may_moderate).await?;
        common::store::rooms::find(&mut conn, room_id).await?.room
    };
    let mut acts = Vec::new();
    if let Some(topic) = topic.filter(|t| t.as_str() != current.topic) {
        acts.push(("t", Moderation::Topic { topic }));
    }
    if let Some(secs) = slow.filter(|s| s.secs() != current.slow_mode_secs) {
        acts.push(("s", Moderation::SlowMode { secs: secs.secs() }));
    }
    if let Some(visibility) = visibility.filter(|v| *v != current.visibility()) {
        acts.push(("v", Moderation::Visibility { visibility }));
    }
    if let Some(on) = changes.emotions.filter(|on| *on != current.emotions) {
        let mut conn = state.pool.get().await?;
        guard::allowed(&mut conn, actor.user_id, room_id, access::may_manage).await?;
        common::store::rooms::set_emotions(&mut conn, room_id, on).await?;
    }
    for (part, act) in acts {
        // One nonce per field, so a retried form changes each once.
        let nonce = format!("{}.{part}", nonce.chars().take(60).collect::<String>());
        state
            .messenger
            .moderate(&me(actor), room_id, &nonce, act)
            .await?;
    }
    Ok(())
}

/// The moderation log, newest first, for the room's moderators.
pub async fn log(
    state: &AppState,
    actor: &Actor,
    room_id: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Entry>> {
    let mut conn = state.pool.get().await?;
    guard::allowed(&mut conn, actor.user_id, room_id, access::may_moderate).await?;
    modlog::page(&mut conn, room_id, before, limit).await
}

/// The bans in force in a room, for its moderators.
pub async fn bans(
    state: &AppState,
    actor: &Actor,
    room_id: i64,
) -> Result<Vec<common::store::bans::BanRow>> {
    let mut conn = state.pool.get().await?;
    guard::allowed(&mut conn, actor.user_id, room_id, access::may_moderate).await?;
    common::store::bans::in_force(&mut conn, room_id, chrono::Utc::now()).await
}
