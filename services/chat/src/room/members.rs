//! Who is in a room here: a join with its replay and `joined`, a leave,
//! and the presence they cause (a user's first connection into the room
//! makes them online, their last one leaving makes them offline).

use common::error::Code;
use common::protocol::{ServerFrame, UserRef};
use tokio::time::Instant;

use super::{CATCH_UP_PAGE, Joined, PresenceChange, Room};
use crate::delivery::{Member, Outbound};
use crate::error::protocol_error;
use crate::history::{self, Replay};
use crate::presence::by_name;

impl Room {
    /// Replays what the member missed, says `joined`, then streams live.
    /// The connection read the replay already; the room reads only what
    /// was stored since (usually nothing), so its deliveries do not wait.
    pub(super) async fn join(&mut self, member: Member, since: Option<i64>, replay: Replay) {
        let room = self.id;
        let previous = self.members.remove(&member.conn);
        let mut frames = Vec::new();
        let mut truncated = false;
        let delivered = self.order.delivered();
        let mut skip_through = delivered;
        if let Some(since) = since.map(|s| s.max(0)) {
            if since < delivered {
                let mut replay = replay;
                let through = replay.through(since);
                if through < delivered {
                    let page = history::stored_after(
                        &self.deps,
                        room,
                        through,
                        CATCH_UP_PAGE,
                        Some(delivered),
                    );
                    match page.await {
                        Ok(rows) => {
                            let was_truncated = replay.truncated;
                            replay.rows.extend(rows);
                            replay = Replay::within(replay.rows, since, self.deps.replay);
                            replay.truncated |= was_truncated;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, room.id = room, "replay failed; the join is refused");
                            let msg = "history is unavailable right now; join again";
                            let frame =
                                protocol_error(Code::Unavailable, msg, Some(room.to_string()));
                            let _ = member.tx.try_send(Outbound::Frame(frame));
                            if let Some(p) = previous {
                                self.left(&p.member.user, !p.member.hidden).await;
                            }
                            return;
                        }
                    }
                }
                truncated = replay.truncated;
                frames.extend(
                    replay
                        .rows
                        .into_iter()
                        .filter(|(seq, _)| *seq <= delivered)
                        .map(|(_, frame)| frame),
                );
            } else if since > delivered {
                // The client holds events this instance has not delivered
                // yet; never beyond what the room really has.
                self.catch_up(None).await;
                skip_through = since.min(self.order.delivered().max(skip_through));
            }
        }
        let user = member.user.clone();
        // Someone who appears offline is never recorded nor announced: only
        // their visible connections count for presence.
        let hidden = member.hidden;
        let was_visible = previous.as_ref().is_some_and(|p| !p.member.hidden);
        let first_here = !hidden
            && !was_visible
            && !self
                .members
                .values()
                .any(|j| j.member.user.id == user.id && !j.member.hidden);
        let leaving: Vec<i64> = self
            .presence_changes
            .iter()
            .filter(|(id, (_, c))| matches!(c, PresenceChange::Left { .. }) && **id != user.id)
            .map(|(id, _)| *id)
            .collect();
        let online = if first_here {
            self.deps
                .presence
                .arrive(room, &user, &leaving)
                .await
                .map(|(came, online)| {
                    self.presence_arrived(&user, came);
                    online
                })
        } else {
            self.deps.presence.online(room, &leaving).await
        };
        // Everyone online, and everyone visible here whatever Redis says
        // (the joining user too, unless they appear offline).
        let me = (!hidden).then_some(&user);
        let online = match online {
            Ok(online) => by_name(
                online
                    .into_iter()
                    .filter(|u| !hidden || u.id != user.id)
                    .chain(self.local_users(me))
                    .collect(),
            ),
            Err(e) => {
                tracing::warn!(error = %e, room.id = room, "presence unavailable");
                self.local_users(me)
            }
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
        if was_visible && hidden {
            // This connection was seen and now appears offline.
            self.left(&user, true).await;
        }
    }

    /// A member left (or was dropped, or now appears offline): presence
    /// follows the user's last visible connection here; `was_visible`:
    /// the member counted for presence.
    pub(super) async fn left(&mut self, user: &UserRef, was_visible: bool) {
        if !was_visible
            || self
                .members
                .values()
                .any(|j| j.member.user.id == user.id && !j.member.hidden)
        {
            return;
        }
        // An arrival not announced yet is never announced, nor its leaving.
        let announce = !matches!(
            self.presence_changes.get(&user.id),
            Some((_, PresenceChange::Arrived))
        );
        self.presence_changes
            .insert(user.id, (user.clone(), PresenceChange::Left { announce }));
        self.presence_soon();
    }

    /// A user's first connection here joined and is recorded; `came`: they
    /// came online. Coming back before their leaving was settled undoes it:
    /// nobody was told they left.
    fn presence_arrived(&mut self, user: &UserRef, came: bool) {
        match self.presence_changes.remove(&user.id) {
            Some((_, PresenceChange::Left { announce: false })) => {
                self.presence_changes
                    .insert(user.id, (user.clone(), PresenceChange::Arrived));
            }
            Some(_) => {}
            None if came => {
                self.presence_changes
                    .insert(user.id, (user.clone(), PresenceChange::Arrived));
                self.presence_soon();
            }
            None => {}
        }
    }

    fn presence_soon(&mut self) {
        let batch = self.deps.presence_batch;
        self.presence_due
            .get_or_insert_with(|| Instant::now() + batch);
    }

    /// Settles the gathered presence changes: departures removed from
    /// Redis, and who came and went announced, all in at most two round
    /// trips; the members get their frames together.
    pub(super) async fn flush_presence(&mut self) {
        self.presence_due = None;
        if self.presence_changes.is_empty() {
            return;
        }
        let mut arrived = Vec::new();
        let mut left = Vec::new();
        for (_, (user, change)) in self.presence_changes.drain() {
            match change {
                PresenceChange::Arrived => arrived.push(user),
                PresenceChange::Left { announce } => left.push((user, announce)),
            }
        }
        if let Err(e) = self.deps.presence.settle(self.id, &arrived, &left).await {
            tracing::warn!(error = %e, room.id = self.id, "presence unavailable");
        }
    }

    /// The users visible here (not appearing offline), and `extra`.
    fn local_users(&self, extra: Option<&UserRef>) -> Vec<UserRef> {
        let users = self
            .members
            .values()
            .filter(|j| !j.member.hidden)
            .map(|j| j.member.user.clone())
            .chain(extra.cloned())
            .collect();
        by_name(users)
    }

    /// Writes this instance's presence entries again (Redis may have lost
    /// them) and extends their key's life.
    pub(super) async fn refresh_presence(&mut self) {
        // Arrivals first: a refresh of an unrecorded arrival would hide it.
        self.flush_presence().await;
        let users = self.local_users(None);
        if let Err(e) = self.deps.presence.restore(self.id, &users).await {
            tracing::warn!(error = %e, room.id = self.id, "presence refresh failed");
        }
    }

    /// Removes dead instances' entries and announces their users offline.
    pub(super) async fn sweep_presence(&mut self) {
        match self.deps.presence.sweep(self.id).await {
            Ok(gone) => self.deps.presence.announce_offline(self.id, &gone).await,
            Err(e) => tracing::warn!(error = %e, room.id = self.id, "presence sweep failed"),
        }
    }
}
