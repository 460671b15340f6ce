//! Who may do what in a room: the rules every read and write path asks
//! (pages, the API, chat joins, sends, edits, deletions, reactions,
//! moderation). They are pure functions of facts the callers load, often
//! inside the transaction that acts on them (the event writer);
//! `guard` loads them for a reader. A leaf: the store imports these types,
//! never the reverse.
//!
//! A refusal is a [`Denial`]. A room the person may not see answers
//! [`Denial::NotFound`] exactly as a room that does not exist, so nothing
//! about a private room leaks.

use chrono::{DateTime, TimeZone, Utc};

/// A member's standing in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Member,
    Moderator,
    Owner,
}

impl Role {
    /// The role as stored in `room_members.role`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Moderator => "moderator",
            Self::Member => "member",
        }
    }

    /// Parses the stored role; anything unknown grants nothing.
    pub fn parse(s: &str) -> Self {
        match s {
            "owner" => Self::Owner,
            "moderator" => Self::Moderator,
            _ => Self::Member,
        }
    }

    /// Whether the role keeps order in the room (moderator or owner).
    pub fn moderates(self) -> bool {
        matches!(self, Self::Owner | Self::Moderator)
    }
}

/// Who can find and read a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Listed in the directory; anyone signed in may read and join it.
    Public,
    /// Exists only for its members (and is joined by invitation).
    Private,
}

impl Visibility {
    /// The visibility as stored in `rooms.visibility` and written in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
        }
    }

    /// Parses the stored value; anything unknown is private (hides, never
    /// shows).
    pub fn parse(s: &str) -> Self {
        match s {
            "public" => Self::Public,
            _ => Self::Private,
        }
    }
}

/// What a room is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A named room with an owner, roles and moderation.
    Room,
    /// A direct conversation of 2 to 10 people: private, unnamed, everyone
    /// an equal member.
    Dm,
    /// A private conversation of one person with the assistant: named,
    /// owned by that person (who may rename and delete it), its members
    /// that person and the bot; nobody is invited, nobody moderates.
    Assistant,
}

impl Kind {
    /// The kind as stored in `rooms.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Room => "room",
            Self::Dm => "dm",
            Self::Assistant => "assistant",
        }
    }

    /// Parses the stored value (a DM unless it says room or assistant: the
    /// stricter).
    pub fn parse(s: &str) -> Self {
        match s {
            "room" => Self::Room,
            "assistant" => Self::Assistant,
            _ => Self::Dm,
        }
    }
}

/// The end of a restriction given "for good", as stored (9999-12-31):
/// chrono cannot read Postgres's `infinity`.
pub fn forever() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Whether a restriction ending at `until` is "for good".
pub fn is_forever(until: DateTime<Utc>) -> bool {
    until >= forever()
}

/// What the rules need to know of a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomFacts {
    pub id: i64,
    pub owner_id: Option<i64>,
    pub visibility: Visibility,
    pub kind: Kind,
    /// One message per this many seconds per member (0: off).
    pub slow_mode_secs: i32,
    /// Until when some member may be muted or banned (see the migration
    /// 2026-12-01-000001): before it, posting needs the authors' standing.
    pub restricted_until: Option<DateTime<Utc>>,
}

impl RoomFacts {
    /// A public room of kind `Room` with no slow mode and no restriction:
    /// what rooms were before private rooms and moderation.
    pub fn public(id: i64, owner_id: Option<i64>) -> Self {
        Self {
            id,
            owner_id,
            visibility: Visibility::Public,
            kind: Kind::Room,
            slow_mode_secs: 0,
            restricted_until: None,
        }
    }

    /// Whether anyone signed in may find and read the room.
    pub fn is_public(&self) -> bool {
        self.visibility == Visibility::Public
    }
}

/// One person's standing in one room: what the rules need to know of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Standing {
    pub user_id: i64,
    /// Their membership, if any.
    pub role: Option<Role>,
    /// Muted until then (may be past: mutes lapse by themselves).
    pub muted_until: Option<DateTime<Utc>>,
    /// Banned: `Some(None)` for good, `Some(Some(t))` until `t` (may be past).
    pub banned: Option<Option<DateTime<Utc>>>,
    /// When their last message was written (slow mode).
    pub last_posted_at: Option<DateTime<Utc>>,
    /// In a direct conversation of two, the other person blocked them:
    /// they still read it, but may not add to it. Always false elsewhere
    /// (the store fills it only for a DM of two members).
    pub blocked_by_peer: bool,
}

impl Standing {
    /// Someone with no membership and no restriction in the room.
    pub fn outsider(user_id: i64) -> Self {
        Self {
            user_id,
            ..Self::default()
        }
    }

    /// A member with `role` and no restriction.
    pub fn member(user_id: i64, role: Role) -> Self {
        Self {
            user_id,
            role: Some(role),
            ..Self::default()
        }
    }

    /// The end of a ban in force at `now` (`Some(None)`: for good).
    pub fn ban_at(&self, now: DateTime<Utc>) -> Option<Option<DateTime<Utc>>> {
        self.banned
            .filter(|until| until.is_none_or(|t| t > now))
            .map(|until| until.filter(|t| !is_forever(*t)))
    }

    /// The end of a mute in force at `now`.
    pub fn mute_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.muted_until.filter(|t| *t > now)
    }

    /// The member's role, or the owner's for the room's recorded owner.
    fn role_in(&self, room: &RoomFacts) -> Option<Role> {
        if room.owner_id == Some(self.user_id) {
            Some(Role::Owner)
        } else {
            self.role
        }
    }
}

/// Why the rules refuse something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The room does not exist for this person (private, or a DM they are
    /// not in): answered exactly like a room that does not exist.
    NotFound,
    /// They may see the room but not do this (a member moderating).
    Forbidden,
    /// Banned from the room (a public one: a private one is `NotFound`),
    /// until then (`None`: for good).
    Banned { until: Option<DateTime<Utc>> },
    /// Muted until then: they read, but cannot post or react.
    Muted { until: DateTime<Utc> },
    /// Slow mode: their next message may come in this many seconds.
    SlowMode { retry_after_secs: u64 },
    /// The other person of a direct conversation of two blocked them.
    Blocked,
}

/// Whether `who` may see the room and its history, events, presence and
/// typing (and so join it on a WebSocket).
pub fn may_read(room: &RoomFacts, who: &Standing, now: DateTime<Utc>) -> Result<(), Denial> {
    let member = who.role_in(room).is_some();
    match (room.is_public(), who.ban_at(now)) {
        (false, _) if !member => Err(Denial::NotFound),
        (false, Some(_)) => Err(Denial::NotFound),
        (true, Some(until)) => Err(Denial::Banned { until }),
        _ => Ok(()),
    }
}

/// Whether posting in the room needs the authors' [`Standing`] (so a
/// writer loads it only then): not for a public room without slow mode
/// and without a mute or ban in force.
pub fn posting_needs_standing(room: &RoomFacts, now: DateTime<Utc>) -> bool {
    !room.is_public() || room.slow_mode_secs > 0 || room.restricted_until.is_some_and(|t| t > now)
}

/// Whether `who` may add to a room's log (send, react, edit or delete
/// their own message). In a public room writing makes one a member. In a
/// DM of two whose other person blocked them, they only read.
pub fn may_post(room: &RoomFacts, who: &Standing, now: DateTime<Utc>) -> Result<(), Denial> {
    may_read(room, who, now)?;
    if let Some(until) = who.mute_at(now) {
        return Err(Denial::Muted { until });
    }
    if room.kind == Kind::Dm && who.blocked_by_peer {
        return Err(Denial::Blocked);
    }
    Ok(())
}

/// Whether `who` may send a new message now: [`may_post`], and slow mode
/// for members (moderators and owners are not slowed).
pub fn may_send(room: &RoomFacts, who: &Standing, now: DateTime<Utc>) -> Result<(), Denial> {
    may_post(room, who, now)?;
    let slowed = room.slow_mode_secs > 0 && !who.role_in(room).is_some_and(Role::moderates);
    if let Some(last) = who.last_posted_at.filter(|_| slowed) {
        let next = last + chrono::Duration::seconds(i64::from(room.slow_mode_secs));
        if next > now {
            let wait = (next - now).num_milliseconds().max(0) as u64;
            return Err(Denial::SlowMode {
                retry_after_secs: wait.div_ceil(1000).max(1),
            });
        }
    }
    Ok(())
}

/// Whether `who` may become a member: a public room unless banned; a
/// private room with an invitation (`invited`), unless banned; never a DM
/// nor an assistant chat (their members are set when they start).
pub fn may_join(
    room: &RoomFacts,
    who: &Standing,
    invited: bool,
    now: DateTime<Utc>,
) -> Result<(), Denial> {
    if matches!(room.kind, Kind::Dm | Kind::Assistant) {
        return may_read(room, who, now);
    }
    // A private room without an invitation does not exist for its
    // non-members, the banned among them: a ban is said only to whom the
    // room is known (a public room, or an invitation in hand).
    if !room.is_public() && !invited && who.role_in(room).is_none() {
        return Err(Denial::NotFound);
    }
    match who.ban_at(now) {
        Some(until) => Err(Denial::Banned { until }),
        None => Ok(()),
    }
}

/// Whether `who` may end their membership: anyone who may read the room.
/// A mute outlives the membership (`room_mutes`), so a muted member may
/// leave and finds the mute on their return.
pub fn may_leave(room: &RoomFacts, who: &Standing, now: DateTime<Utc>) -> Result<(), Denial> {
    may_read(room, who, now)
}

/// Whether `who` keeps order in the room: deletes anyone's message, kicks,
/// bans, mutes, sets the topic and slow mode, reads the moderation log.
pub fn may_moderate(room: &RoomFacts, who: &Standing, now: DateTime<Utc>) -> Result<(), Denial> {
    may_read(room, who, now)?;
    match who.role_in(room) {
        Some(role) if role.moderates() && room.kind == Kind::Room => Ok(()),
        _ => Err(Denial::Forbidden),
    }
}

/// Whether `who` runs the room: visibility, roles, ownership, invitations
/// by link, deletion; for an assistant chat, its name and its deletion
/// (the callers offer nothing else for one).
pub fn may_manage(room: &RoomFacts, who: &Standing, now: DateTime<Utc>) -> Result<(), Denial> {
    may_read(room, who, now)?;
    match who.role_in(room) {
        Some(Role::Owner) if matches!(room.kind, Kind::Room | Kind::Assistant) => Ok(()),
        _ => Err(Denial::Forbidden),
    }
}

/// Whether `who` may invite people by name: any member of a room (not a
/// DM nor an assistant chat) who is not muted.
pub fn may_invite(room: &RoomFacts, who: &Standing, now: DateTime<Utc>) -> Result<(), Denial> {
    // Nobody invites to a DM or an assistant chat: its members are told so
    // (`forbidden`), the blocked one too, before anything about posting.
    if matches!(room.kind, Kind::Dm | Kind::Assistant) {
        may_read(room, who, now)?;
        return Err(Denial::Forbidden);
    }
    may_post(room, who, now)?;
    match who.role_in(room) {
        Some(_) => Ok(()),
        None => Err(Denial::Forbidden),
    }
}

/// Whether a moderator `actor` may act on `target` (kick, ban, mute): an
/// owner on anyone else, a moderator on members and non-members only.
pub fn may_act_on(room: &RoomFacts, actor: &Standing, target: &Standing) -> Result<(), Denial> {
    let actor_role = actor.role_in(room).unwrap_or(Role::Member);
    let target_role = target.role_in(room);
    match target_role {
        Some(t) if t >= actor_role || t == Role::Owner => Err(Denial::Forbidden),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        match Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).single() {
            Some(t) => t,
            None => panic!("a fixed time"),
        }
    }

    fn private(id: i64) -> RoomFacts {
        RoomFacts {
            visibility: Visibility::Private,
            ..RoomFacts::public(id, Some(1))
        }
    }

    fn dm(id: i64) -> RoomFacts {
        RoomFacts {
            visibility: Visibility::Private,
            kind: Kind::Dm,
            ..RoomFacts::public(id, None)
        }
    }

    fn assistant_chat(id: i64) -> RoomFacts {
        RoomFacts {
            visibility: Visibility::Private,
            kind: Kind::Assistant,
            ..RoomFacts::public(id, Some(1))
        }
    }

    /// The standings of the access matrix, by name.
    fn standings() -> Vec<(&'static str, Standing)> {
        let later = now() + chrono::Duration::hours(1);
        vec![
            ("non-member", Standing::outsider(9)),
            ("member", Standing::member(9, Role::Member)),
            (
                "muted",
                Standing {
                    muted_until: Some(later),
                    ..Standing::member(9, Role::Member)
                },
            ),
            (
                "banned",
                Standing {
                    banned: Some(Some(later)),
                    ..Standing::outsider(9)
                },
            ),
            ("moderator", Standing::member(9, Role::Moderator)),
            ("owner", Standing::member(1, Role::Owner)),
            (
                "blocked",
                Standing {
                    blocked_by_peer: true,
                    ..Standing::member(9, Role::Member)
                },
            ),
        ]
    }

    fn cell(r: Result<(), Denial>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(Denial::NotFound) => "404",
            Err(Denial::Forbidden) => "403",
            Err(Denial::Banned { .. }) => "banned",
            Err(Denial::Muted { .. }) => "muted",
            Err(Denial::SlowMode { .. }) => "slow",
            Err(Denial::Blocked) => "blocked",
        }
    }

    /// The matrix of docs/http.md's access table, cell by cell: (room,
    /// operation) → the answer for non-member, member, muted, banned,
    /// moderator, owner, and a member whom the other person of a DM of
    /// two blocked (the flag means nothing outside a DM).
    #[test]
    fn the_access_matrix() {
        let t = now();
        let rooms = [
            ("public", RoomFacts::public(1, Some(1))),
            ("private", private(2)),
            ("dm", dm(3)),
            ("assistant", assistant_chat(4)),
        ];
        let expected: &[(&str, &str, [&str; 7])] = &[
            (
                "public",
                "read",
                ["ok", "ok", "ok", "banned", "ok", "ok", "ok"],
            ),
            (
                "public",
                "post",
                ["ok", "ok", "muted", "banned", "ok", "ok", "ok"],
            ),
            (
                "public",
                "join",
                ["ok", "ok", "ok", "banned", "ok", "ok", "ok"],
            ),
            (
                "public",
                "moderate",
                ["403", "403", "403", "banned", "ok", "ok", "403"],
            ),
            (
                "public",
                "manage",
                ["403", "403", "403", "banned", "403", "ok", "403"],
            ),
            (
                "public",
                "invite",
                ["403", "ok", "muted", "banned", "ok", "ok", "ok"],
            ),
            (
                "private",
                "read",
                ["404", "ok", "ok", "404", "ok", "ok", "ok"],
            ),
            (
                "private",
                "post",
                ["404", "ok", "muted", "404", "ok", "ok", "ok"],
            ),
            (
                "private",
                "join",
                ["404", "ok", "ok", "404", "ok", "ok", "ok"],
            ),
            (
                "private",
                "moderate",
                ["404", "403", "403", "404", "ok", "ok", "403"],
            ),
            (
                "private",
                "manage",
                ["404", "403", "403", "404", "403", "ok", "403"],
            ),
            (
                "private",
                "invite",
                ["404", "ok", "muted", "404", "ok", "ok", "ok"],
            ),
            ("dm", "read", ["404", "ok", "ok", "404", "ok", "404", "ok"]),
            (
                "dm",
                "post",
                ["404", "ok", "muted", "404", "ok", "404", "blocked"],
            ),
            ("dm", "join", ["404", "ok", "ok", "404", "ok", "404", "ok"]),
            (
                "dm",
                "moderate",
                ["404", "403", "403", "404", "403", "404", "403"],
            ),
            (
                "dm",
                "manage",
                ["404", "403", "403", "404", "403", "404", "403"],
            ),
            (
                "dm",
                "invite",
                ["404", "403", "403", "404", "403", "404", "403"],
            ),
            (
                "public",
                "leave",
                ["ok", "ok", "ok", "banned", "ok", "ok", "ok"],
            ),
            (
                "private",
                "leave",
                ["404", "ok", "ok", "404", "ok", "ok", "ok"],
            ),
            ("dm", "leave", ["404", "ok", "ok", "404", "ok", "404", "ok"]),
            (
                "dm",
                "send",
                ["404", "ok", "muted", "404", "ok", "404", "blocked"],
            ),
            // An assistant chat: read and written by its members (the
            // person and the bot), run (renamed, deleted) by its owner,
            // never moderated, joined nor invited to; a block means
            // nothing there.
            (
                "assistant",
                "read",
                ["404", "ok", "ok", "404", "ok", "ok", "ok"],
            ),
            (
                "assistant",
                "post",
                ["404", "ok", "muted", "404", "ok", "ok", "ok"],
            ),
            (
                "assistant",
                "send",
                ["404", "ok", "muted", "404", "ok", "ok", "ok"],
            ),
            (
                "assistant",
                "join",
                ["404", "ok", "ok", "404", "ok", "ok", "ok"],
            ),
            (
                "assistant",
                "moderate",
                ["404", "403", "403", "404", "403", "403", "403"],
            ),
            (
                "assistant",
                "manage",
                ["404", "403", "403", "404", "403", "ok", "403"],
            ),
            (
                "assistant",
                "invite",
                ["404", "403", "403", "404", "403", "403", "403"],
            ),
            (
                "assistant",
                "leave",
                ["404", "ok", "ok", "404", "ok", "ok", "ok"],
            ),
        ];
        for (room_name, op, answers) in expected {
            let room = rooms
                .iter()
                .find(|(n, _)| n == room_name)
                .map(|(_, r)| *r)
                .unwrap_or_else(|| panic!("no room {room_name}"));
            for ((who_name, who), want) in standings().iter().zip(answers) {
                // A DM has no owner: user 1 is an outsider there.
                let who = if room.kind == Kind::Dm && *who_name == "owner" {
                    Standing::outsider(1)
                } else {
                    *who
                };
                let got = match *op {
                    "read" => may_read(&room, &who, t),
                    "post" => may_post(&room, &who, t),
                    "join" => may_join(&room, &who, false, t),
                    "moderate" => may_moderate(&room, &who, t),
                    "manage" => may_manage(&room, &who, t),
                    "invite" => may_invite(&room, &who, t),
                    "send" => may_send(&room, &who, t),
                    "leave" => may_leave(&room, &who, t),
                    _ => panic!("unknown op {op}"),
                };
                assert_eq!(cell(got), *want, "{room_name} {op} as {who_name}");
            }
        }
    }

    #[test]
    fn a_private_room_is_joined_by_invitation_only() {
        let t = now();
        assert_eq!(
            may_join(&private(2), &Standing::outsider(9), false, t),
            Err(Denial::NotFound)
        );
        assert_eq!(
            may_join(&private(2), &Standing::outsider(9), true, t),
            Ok(())
        );
        // The banned hear of their ban only with an invitation in hand.
        let banned = Standing {
            banned: Some(None),
            ..Standing::outsider(9)
        };
        assert_eq!(
            may_join(&private(2), &banned, false, t),
            Err(Denial::NotFound)
        );
        assert_eq!(
            may_join(&private(2), &banned, true, t),
            Err(Denial::Banned { until: None })
        );
    }

    #[test]
    fn restrictions_lapse_by_themselves() {
        let t = now();
        let past = t - chrono::Duration::seconds(1);
        let lapsed = Standing {
            muted_until: Some(past),
            banned: Some(Some(past)),
            ..Standing::member(9, Role::Member)
        };
        assert_eq!(may_post(&private(2), &lapsed, t), Ok(()));
        let for_good = Standing {
            banned: Some(None),
            ..Standing::outsider(9)
        };
        assert_eq!(
            may_read(&RoomFacts::public(1, None), &for_good, t),
            Err(Denial::Banned { until: None })
        );
    }

    #[test]
    fn slow_mode_slows_members_not_moderators() {
        let t = now();
        let room = RoomFacts {
            slow_mode_secs: 30,
            ..RoomFacts::public(1, Some(1))
        };
        let recent = Some(t - chrono::Duration::seconds(10));
        let member = Standing {
            last_posted_at: recent,
            ..Standing::member(9, Role::Member)
        };
        assert_eq!(
            may_send(&room, &member, t),
            Err(Denial::SlowMode {
                retry_after_secs: 20
            })
        );
        let moderator = Standing {
            last_posted_at: recent,
            ..Standing::member(9, Role::Moderator)
        };
        assert_eq!(may_send(&room, &moderator, t), Ok(()));
        assert!(posting_needs_standing(&room, t));
        assert!(!posting_needs_standing(&RoomFacts::public(1, None), t));
    }

    #[test]
    fn moderators_act_on_members_owners_on_anyone_else() {
        let room = RoomFacts::public(1, Some(1));
        let owner = Standing::member(1, Role::Owner);
        let moderator = Standing::member(2, Role::Moderator);
        let other_moderator = Standing::member(3, Role::Moderator);
        let member = Standing::member(4, Role::Member);
        let outsider = Standing::outsider(5);
        assert_eq!(may_act_on(&room, &moderator, &member), Ok(()));
        assert_eq!(may_act_on(&room, &moderator, &outsider), Ok(()));
        assert_eq!(
            may_act_on(&room, &moderator, &other_moderator),
            Err(Denial::Forbidden)
        );
        assert_eq!(
            may_act_on(&room, &moderator, &owner),
            Err(Denial::Forbidden)
        );
        assert_eq!(may_act_on(&room, &owner, &moderator), Ok(()));
    }

    #[test]
    fn stored_values_round_trip_and_unknown_grants_nothing() {
        for r in [Role::Owner, Role::Moderator, Role::Member] {
            assert_eq!(Role::parse(r.as_str()), r);
        }
        assert_eq!(Role::parse("admin"), Role::Member);
        assert_eq!(Visibility::parse("secret"), Visibility::Private);
        assert_eq!(Kind::parse("group"), Kind::Dm);
        for k in [Kind::Room, Kind::Dm, Kind::Assistant] {
            assert_eq!(Kind::parse(k.as_str()), k);
        }
        assert!(is_forever(forever()));
    }
}
