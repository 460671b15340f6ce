//! Who is in a room here: a join with its replay and `joined`, a leave,
//! and the presence they cause (a user's first connection into the room
//! makes them online, their last one leaving makes them offline).

use common::error::Code;
use common::protocol::{ServerFrame, UserRef};

use super::{Joined, REPLAY_LIMIT, Room};
use crate::delivery::{Member, Outbound};
use crate::error::protocol_error;
use crate::history;

impl Room {
    /// Replays what the member missed, says `joined`, then streams live.
    pub(super) async fn join(&mut self, member: Member, since: Option<i64>) {
        let room = self.id;
        let previous = self.members.remove(&member.conn);
        let mut frames = Vec::new();
        let mut truncated = false;
        let delivered = self.order.delivered();
        let mut skip_through = delivered;
        if let Some(since) = since.map(|s| s.max(0)) {
            if since < delivered {
                let start = since.max(delivered - REPLAY_LIMIT);
                truncated = start > since;
                match history::stored_after(&self.deps.pool, room, start, REPLAY_LIMIT).await {
                    Ok(rows) => frames.extend(
                        rows.into_iter()
                            .filter(|(seq, _)| *seq <= delivered)
                            .map(|(_, frame)| frame),
                    ),
                    Err(e) => {
                        tracing::warn!(error = %e, room.id = room, "replay failed; the join is refused");
                        let msg = "history is unavailable right now; join again";
                        let frame = protocol_error(Code::Unavailable, msg, Some(room.to_string()));
                        let _ = member.tx.try_send(Outbound::Frame(frame));
                        if let Some(p) = previous {
                            self.left(&p.member.user).await;
                        }
                        return;
                    }
                }
            } else if since > delivered {
                // The client holds events this instance has not delivered
                // yet; never beyond what the room really has.
                self.catch_up(None).await;
                skip_through = since.min(self.order.delivered().max(skip_through));
            }
        }
        let user = member.user.clone();
        let first_here =
            previous.is_none() && !self.members.values().any(|j| j.member.user.id == user.id);
        if first_here {
            match self.deps.presence.join(room, &user).await {
                Ok(true) => self.deps.presence.announce(room, &user, true).await,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, room.id = room, "presence unavailable"),
            }
        }
        let online = match self.deps.presence.online(room).await {
            Ok(online) => online,
            Err(_) => self.local_users(Some(&user)),
        };
        let last_seq = self.order.delivered().max(skip_through);
        frames.push(
            ServerFrame::Joined {
                room,
                last_seq,
                online,
                truncated,
            }
            .to_json()
            .into(),
        );
        let conn = member.conn;
        self.members.insert(
            conn,
            Joined {
                member,
                skip_through,
            },
        );
        self.send(conn, Outbound::Batch(frames)).await;
    }

    /// A member left (or was dropped): presence follows the user's last connection here.
    pub(super) async fn left(&mut self, user: &UserRef) {
        if self.members.values().any(|j| j.member.user.id == user.id) {
            return;
        }
        match self.deps.presence.leave(self.id, user).await {
            Ok(true) => self.deps.presence.announce(self.id, user, false).await,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, room.id = self.id, "presence unavailable"),
        }
    }

    fn local_users(&self, extra: Option<&UserRef>) -> Vec<UserRef> {
        let mut users: Vec<UserRef> = self
            .members
            .values()
            .map(|j| j.member.user.clone())
            .chain(extra.cloned())
            .collect();
        users.sort_by(|a, b| a.name.cmp(&b.name));
        users.dedup_by_key(|u| u.id);
        users
    }

    /// Keeps this instance's presence entries alive and announces the users
    /// whose entries expired (an instance died).
    pub(super) async fn refresh_presence(&mut self) {
        let users = self.local_users(None);
        match self.deps.presence.refresh_and_sweep(self.id, &users).await {
            Ok(gone) => {
                for user in gone {
                    self.deps.presence.announce(self.id, &user, false).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, room.id = self.id, "presence refresh failed"),
        }
    }
}
