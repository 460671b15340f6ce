//! Moderation as events of the room's log: what moderators and owners do
//! (kick, ban, mute, roles, ownership, topic, visibility, slow mode) is
//! checked under the room's lock like any other change, takes the room's
//! next seq, changes the state it concerns in the same transaction, and is
//! written to the moderation log with its reason.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;

use super::Refusal;
use crate::access::{self, Role, RoomFacts, Standing, Visibility};
use crate::domain::{Reason, Topic};
use crate::error::Result;
use crate::protocol::{ModerationEvent, ServerFrame, UserRef};
use crate::store::{bans, members, modlog, mutes, rooms};

/// One act of moderation, as a moderator or owner asks for it.
#[derive(Debug, Clone)]
pub enum Moderation {
    /// Takes a member out of the room; they may come back (by invitation
    /// in a private room).
    Kick { target: UserRef, reason: Reason },
    /// Takes someone out and keeps them out until `until` (`None`: for good).
    Ban {
        target: UserRef,
        until: Option<DateTime<Utc>>,
        reason: Reason,
    },
    /// Lets a banned person come back.
    Unban { target: UserRef, reason: Reason },
    /// A member reads but cannot post or react until `until` (`None`: until
    /// lifted).
    Mute {
        target: UserRef,
        until: Option<DateTime<Utc>>,
        reason: Reason,
    },
    /// Lifts a mute.
    Unmute { target: UserRef, reason: Reason },
    /// Makes a member a moderator, or a moderator a member (owner only).
    Role { target: UserRef, role: Role },
    /// Hands the room over to another member (owner only); the old owner
    /// stays as a moderator.
    Owner { target: UserRef },
    /// A new topic.
    Topic { topic: Topic },
    /// Public or private (owner only).
    Visibility { visibility: Visibility },
    /// Seconds between two messages of a member (0: off).
    SlowMode { secs: i32 },
}

impl Moderation {
    /// The action's name in the event, the log and the API.
    pub fn action(&self) -> &'static str {
        match self {
            Self::Kick { .. } => "kick",
            Self::Ban { .. } => "ban",
            Self::Unban { .. } => "unban",
            Self::Mute { .. } => "mute",
            Self::Unmute { .. } => "unmute",
            Self::Role { .. } => "role",
            Self::Owner { .. } => "owner",
            Self::Topic { .. } => "topic",
            Self::Visibility { .. } => "visibility",
            Self::SlowMode { .. } => "slow_mode",
        }
    }

    /// The person it concerns, if any.
    pub fn target(&self) -> Option<&UserRef> {
        match self {
            Self::Kick { target, .. }
            | Self::Ban { target, .. }
            | Self::Unban { target, .. }
            | Self::Mute { target, .. }
            | Self::Unmute { target, .. }
            | Self::Role { target, .. }
            | Self::Owner { target } => Some(target),
            Self::Topic { .. } | Self::Visibility { .. } | Self::SlowMode { .. } => None,
        }
    }

    fn reason(&self) -> &str {
        match self {
            Self::Kick { reason, .. }
            | Self::Ban { reason, .. }
            | Self::Unban { reason, .. }
            | Self::Mute { reason, .. }
            | Self::Unmute { reason, .. } => reason.as_str(),
            _ => "",
        }
    }
}

/// Whether `actor` may do `m` in `room`, with `standings` of everyone the
/// batch concerns (the target among them); `name_clash`: another public
/// room has this room's name (so it cannot go public). On success the
/// standings and the room are updated as the act leaves them, so later
/// drafts of the same batch are checked against that.
pub(super) fn check(
    room: &mut RoomFacts,
    standings: &mut HashMap<i64, Standing>,
    actor_id: i64,
    m: &Moderation,
    name_clash: bool,
    now: DateTime<Utc>,
) -> std::result::Result<(), Refusal> {
    let actor = standing(standings, actor_id);
    let manages = matches!(
        m,
        Moderation::Role { .. } | Moderation::Owner { .. } | Moderation::Visibility { .. }
    );
    let rule = if manages {
        access::may_manage
    } else {
        access::may_moderate
    };
    rule(room, &actor, now).map_err(Refusal::Denied)?;
    // An assistant chat's owner renames and deletes it, nothing more: it
    // has no roles to give, no one to hand it to, and stays private.
    if manages && room.kind == access::Kind::Assistant {
        return Err(Refusal::Denied(access::Denial::Forbidden));
    }
    let goes_public = matches!(
        m,
        Moderation::Visibility {
            visibility: Visibility::Public
        }
    );
    if goes_public && name_clash && !room.is_public() {
        return Err(Refusal::NameTaken);
    }
    if let Some(target) = m.target() {
        let them = standing(standings, target.id);
        if target.id == actor_id {
            return Err(Refusal::SelfTarget);
        }
        if !manages {
            access::may_act_on(room, &actor, &them).map_err(|_| Refusal::Outranks)?;
        }
        let member = them.role.is_some() || room.owner_id == Some(target.id);
        match m {
            Moderation::Kick { .. } | Moderation::Mute { .. } | Moderation::Owner { .. }
                if !member =>
            {
                return Err(Refusal::NotMember);
            }
            Moderation::Role { .. } if !member => return Err(Refusal::NotMember),
            Moderation::Role { .. }
                if them.role == Some(Role::Owner) || room.owner_id == Some(target.id) =>
            {
                return Err(Refusal::OwnerRole);
            }
            Moderation::Unban { .. } if them.ban_at(now).is_none() => {
                return Err(Refusal::NotRestricted);
            }
            Moderation::Unmute { .. } if them.mute_at(now).is_none() => {
                return Err(Refusal::NotRestricted);
            }
            _ => {}
        }
    }
    settle(room, standings, actor_id, m);
    Ok(())
}

fn standing(standings: &HashMap<i64, Standing>, user_id: i64) -> Standing {
    standings
        .get(&user_id)
        .copied()
        .unwrap_or_else(|| Standing::outsider(user_id))
}

/// What the act leaves of the room and the standings.
fn settle(
    room: &mut RoomFacts,
    standings: &mut HashMap<i64, Standing>,
    actor_id: i64,
    m: &Moderation,
) {
    fn entry(standings: &mut HashMap<i64, Standing>, id: i64) -> &mut Standing {
        standings
            .entry(id)
            .or_insert_with(|| Standing::outsider(id))
    }
    match m {
        Moderation::Kick { target, .. } => entry(standings, target.id).role = None,
        Moderation::Ban { target, until, .. } => {
            let s = entry(standings, target.id);
            s.role = None;
            s.banned = Some(*until);
        }
        Moderation::Unban { target, .. } => entry(standings, target.id).banned = None,
        Moderation::Mute { target, until, .. } => {
            entry(standings, target.id).muted_until = Some(until.unwrap_or_else(access::forever));
        }
        Moderation::Unmute { target, .. } => entry(standings, target.id).muted_until = None,
        Moderation::Role { target, role } => entry(standings, target.id).role = Some(*role),
        Moderation::Owner { target } => {
            entry(standings, actor_id).role = Some(Role::Moderator);
            entry(standings, target.id).role = Some(Role::Owner);
            room.owner_id = Some(target.id);
        }
        Moderation::Topic { .. } => {}
        Moderation::Visibility { visibility } => room.visibility = *visibility,
        Moderation::SlowMode { secs } => room.slow_mode_secs = *secs,
    }
}

/// Carries out an act that [`check`] accepted, as event `seq`, and returns
/// its frame.
pub(super) async fn apply(
    conn: &mut AsyncPgConnection,
    room_id: i64,
    seq: i64,
    actor: &UserRef,
    m: &Moderation,
    nonce: &str,
    now: DateTime<Utc>,
) -> Result<ServerFrame> {
    let mut event = ModerationEvent {
        room: room_id,
        seq,
        action: m.action().to_owned(),
        by: actor.clone(),
        target: m.target().cloned(),
        until: None,
        role: None,
        topic: None,
        visibility: None,
        slow_mode_secs: None,
        at: now,
        nonce: nonce.to_owned(),
    };
    let mut detail = String::new();
    let mut until = None;
    match m {
        Moderation::Kick { target, .. } => {
            members::remove(conn, room_id, target.id).await?;
        }
        Moderation::Ban {
            target, until: end, ..
        } => {
            members::remove(conn, room_id, target.id).await?;
            bans::put(conn, room_id, target.id, *end, actor.id).await?;
            rooms::restrict(conn, room_id, end.unwrap_or_else(access::forever)).await?;
            until = *end;
        }
        Moderation::Unban { target, .. } => {
            bans::lift(conn, room_id, target.id).await?;
        }
        Moderation::Mute {
            target, until: end, ..
        } => {
            let stored = end.unwrap_or_else(access::forever);
            mutes::put(conn, room_id, target.id, stored, actor.id).await?;
            rooms::restrict(conn, room_id, stored).await?;
            until = *end;
        }
        Moderation::Unmute { target, .. } => {
            mutes::lift(conn, room_id, target.id).await?;
        }
        Moderation::Role { target, role } => {
            members::set_role(conn, room_id, target.id, *role).await?;
            event.role = Some(role.as_str().to_owned());
            detail = role.as_str().to_owned();
        }
        Moderation::Owner { target } => {
            // One owner at a time (a unique index): step down first.
            members::set_role(conn, room_id, actor.id, Role::Moderator).await?;
            members::set_role(conn, room_id, target.id, Role::Owner).await?;
            rooms::set_owner(conn, room_id, target.id).await?;
            event.role = Some(Role::Owner.as_str().to_owned());
        }
        Moderation::Topic { topic } => {
            rooms::set_topic(conn, room_id, topic).await?;
            event.topic = Some(topic.as_str().to_owned());
            detail = topic.as_str().chars().take(300).collect();
        }
        Moderation::Visibility { visibility } => {
            rooms::set_visibility(conn, room_id, *visibility).await?;
            event.visibility = Some(visibility.as_str().to_owned());
            detail = visibility.as_str().to_owned();
        }
        Moderation::SlowMode { secs } => {
            rooms::set_slow_mode(conn, room_id, *secs).await?;
            event.slow_mode_secs = Some(*secs);
            detail = secs.to_string();
        }
    }
    event.until = until;
    modlog::insert(
        conn,
        &modlog::NewEntry {
            room_id,
            seq,
            actor_id: actor.id,
            target_id: m.target().map(|t| t.id),
            message_id: None,
            action: m.action(),
            detail: &detail,
            until,
            reason: m.reason(),
        },
    )
    .await?;
    Ok(ServerFrame::Moderation(event))
}
