//! Who may do what in a room: the rules every read and write path asks
//! (chat joins, sends, edits, deletions, reactions, history). They are pure
//! functions of facts the callers load, often inside the transaction that
//! acts on them (the event writer); `guard::readable` loads them for a
//! reader. A leaf: the store imports these types, never the reverse. Every
//! room is public today; private rooms change these rules only.

/// A member's standing in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Owner,
    Moderator,
    Member,
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
}

/// What the rules need to know of a room.
#[derive(Debug, Clone, Copy)]
pub struct RoomFacts {
    pub id: i64,
    pub owner_id: Option<i64>,
}

/// Whether `user_id` may see a room and its history (`role`: their
/// membership, if any). Every room is public for now.
pub fn may_read(_room: &RoomFacts, _user_id: i64, _role: Option<Role>) -> bool {
    true
}

/// Whether [`may_post`] needs the authors' roles in this room (so a writer
/// loads them only then): not for a public room.
pub fn posting_needs_roles(_room: &RoomFacts) -> bool {
    false
}

/// Whether `user_id` may add to a room's log (send, react, edit their own).
pub fn may_post(room: &RoomFacts, user_id: i64, role: Option<Role>) -> bool {
    may_read(room, user_id, role)
}

/// Whether `user_id` may remove other people's messages.
pub fn may_moderate(room: &RoomFacts, user_id: i64, role: Option<Role>) -> bool {
    room.owner_id == Some(user_id) || matches!(role, Some(Role::Owner | Role::Moderator))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_and_moderators_moderate_members_do_not() {
        let room = RoomFacts {
            id: 1,
            owner_id: Some(7),
        };
        assert!(may_moderate(&room, 7, None));
        assert!(may_moderate(&room, 8, Some(Role::Moderator)));
        assert!(may_moderate(&room, 9, Some(Role::Owner)));
        assert!(!may_moderate(&room, 8, Some(Role::Member)));
        assert!(!may_moderate(&room, 8, None));
        let seeded = RoomFacts {
            id: 2,
            owner_id: None,
        };
        assert!(!may_moderate(&seeded, 7, None));
    }

    #[test]
    fn roles_round_trip_and_unknown_grants_nothing() {
        for r in [Role::Owner, Role::Moderator, Role::Member] {
            assert_eq!(Role::parse(r.as_str()), r);
        }
        assert_eq!(Role::parse("admin"), Role::Member);
    }
}
