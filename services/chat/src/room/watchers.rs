//! The room's watchers: connections of its members that are open here but
//! have not joined the room (a sidebar). After a burst of events they get
//! one `unread` frame each, counted from Postgres (the log and their read
//! mark), so a count can never drift. One query per burst and room for
//! every watcher here, whatever the room's size.

use common::messaging::unread_frame;
use common::store::members;
use tokio::time::Instant;

use super::Room;
use crate::delivery::Outbound;
use crate::registry::{ConnId, close};

impl Room {
    /// Something sequenced happened: the watchers hear of it after the
    /// refresh delay, once for the whole burst.
    pub(super) fn unread_changed(&mut self) {
        if !self.watchers.is_empty() && self.unread_due.is_none() {
            self.unread_due = Some(Instant::now() + self.deps.unread_refresh);
        }
    }

    /// Sends each watcher that has not joined the room here its unread state.
    pub(super) async fn tell_watchers(&mut self) {
        self.unread_due = None;
        let targets: Vec<(ConnId, i64)> = self
            .watchers
            .iter()
            .filter(|(conn, _)| !self.members.contains_key(conn))
            .map(|(conn, m)| (*conn, m.user.id))
            .collect();
        if targets.is_empty() {
            return;
        }
        let mut users: Vec<i64> = targets.iter().map(|(_, u)| *u).collect();
        users.sort_unstable();
        users.dedup();
        let counted = async {
            let mut conn = self.deps.db.write.get().await?;
            members::unread_of_members(&mut conn, self.id, &users).await
        };
        let states = match counted.await {
            Ok(states) => states,
            Err(e) => {
                tracing::warn!(error = %e, room.id = self.id, "unread counts unavailable; retrying");
                self.unread_due = Some(Instant::now() + self.deps.unread_refresh * 4);
                return;
            }
        };
        for (user, state) in states {
            let frame =
                tokio_tungstenite::tungstenite::Utf8Bytes::from(unread_frame(&state).to_json());
            for (conn, _) in targets.iter().filter(|(_, u)| *u == user) {
                let Some(w) = self.watchers.get(conn) else {
                    continue;
                };
                if let Err(tokio::sync::mpsc::error::TrySendError::Full(_)) =
                    w.tx.try_send(Outbound::Frame(frame.clone()))
                {
                    self.deps.metrics.slow_consumers.inc();
                    w.kick.kick(close::TRY_AGAIN_LATER);
                }
            }
        }
    }
}
