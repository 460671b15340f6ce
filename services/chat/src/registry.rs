//! The connections this process holds, so that something outside a
//! connection's own task can end it: a logout (revocation), a full outbound
//! queue, shutdown. Touched on connect, disconnect and by periodic sweeps,
//! never per message.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use uuid::Uuid;

/// Identifies a connection within this process.
pub type ConnId = u64;

/// Close codes the server ends connections with.
pub mod close {
    /// Server shutting down: reconnect elsewhere.
    pub const GOING_AWAY: u16 = 1001;
    /// Session revoked or expired.
    pub const POLICY: u16 = 1008;
    /// The client could not keep up: reconnect and resume with `since`.
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// What a room tells a connection that joined it about the person behind
/// it, read before the connection's next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Taken out of the room (kicked, banned, no longer allowed to read):
    /// the room no longer counts as joined.
    Removed(i64),
    /// Muted in the room until then (`None`: lifted): their typing is not
    /// relayed.
    Muted(i64, Option<chrono::DateTime<chrono::Utc>>),
}

impl Notice {
    /// The room it is about.
    pub fn room(self) -> i64 {
        match self {
            Self::Removed(room) | Self::Muted(room, _) => room,
        }
    }
}

/// A request to close one connection, with the close code to use; and
/// what its rooms tell it ([`Notice`]).
#[derive(Default)]
pub struct Kick {
    code: AtomicU16,
    notify: Notify,
    notices: Mutex<Vec<Notice>>,
}

impl Kick {
    /// Asks the connection to close with `code`; the first request wins.
    pub fn kick(&self, code: u16) {
        if self
            .code
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.notify.notify_one();
        }
    }

    /// Tells the connection something about one of its rooms. Only the
    /// latest notice of a room is kept, so a connection that sends nothing
    /// holds at most one per room.
    pub fn notice(&self, notice: Notice) {
        if let Ok(mut notices) = self.notices.lock() {
            let room = notice.room();
            notices.retain(|n| n.room() != room || matches!(n, Notice::Removed(_)));
            notices.push(notice);
        }
    }

    /// What the connection's rooms told it since the last call.
    pub fn take_notices(&self) -> Vec<Notice> {
        self.notices
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default()
    }

    /// The code of the kick, if there was one.
    pub fn code(&self) -> Option<u16> {
        Some(self.code.load(Ordering::Acquire)).filter(|c| *c != 0)
    }

    /// Waits for a kick and returns its code.
    pub async fn kicked(&self) -> u16 {
        loop {
            let code = self.code.load(Ordering::Acquire);
            if code != 0 {
                return code;
            }
            self.notify.notified().await;
        }
    }
}

/// What the registry knows of a connection.
#[derive(Clone)]
pub struct ConnEntry {
    /// Whose connection it is (per-user connection counts).
    pub user_id: i64,
    /// The session it was opened with (closed when that session is revoked).
    pub session_id: Uuid,
    /// Ends the connection from outside its task.
    pub kick: Arc<Kick>,
}

/// The process's open connections.
#[derive(Default)]
pub struct Registry {
    next_id: AtomicU64,
    conns: Mutex<HashMap<ConnId, ConnEntry>>,
}

impl Registry {
    /// A fresh connection id.
    pub fn next_id(&self) -> ConnId {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Records an open connection, so logout and shutdown can reach it.
    pub fn insert(&self, id: ConnId, entry: ConnEntry) {
        if let Ok(mut conns) = self.conns.lock() {
            conns.insert(id, entry);
        }
    }

    /// Forgets a closed connection.
    pub fn remove(&self, id: ConnId) {
        if let Ok(mut conns) = self.conns.lock() {
            conns.remove(&id);
        }
    }

    /// Closes every connection of the given sessions with 1008.
    pub fn revoke(&self, sessions: &[Uuid]) -> usize {
        let Ok(conns) = self.conns.lock() else {
            return 0;
        };
        let mut n = 0;
        for entry in conns.values().filter(|e| sessions.contains(&e.session_id)) {
            entry.kick.kick(close::POLICY);
            n += 1;
        }
        n
    }

    /// Closes every connection with `code` (shutdown).
    pub fn kick_all(&self, code: u16) {
        if let Ok(conns) = self.conns.lock() {
            for entry in conns.values() {
                entry.kick.kick(code);
            }
        }
    }

    /// `(conn, user)` of every connection, for refreshing shared counts.
    pub fn snapshot(&self) -> Vec<(ConnId, i64)> {
        self.conns
            .lock()
            .map(|c| c.iter().map(|(id, e)| (*id, e.user_id)).collect())
            .unwrap_or_default()
    }

    /// Whether no connection is open here (shutdown waits for this).
    pub fn is_empty(&self) -> bool {
        self.conns.lock().map(|c| c.is_empty()).unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_keeps_only_its_latest_mute_notice() {
        let kick = Kick::default();
        for _ in 0..100 {
            kick.notice(Notice::Muted(7, None));
        }
        kick.notice(Notice::Removed(7));
        kick.notice(Notice::Muted(8, None));
        assert_eq!(
            kick.take_notices(),
            // The removal supersedes the mutes before it (a re-join reads
            // the standing again).
            [Notice::Removed(7), Notice::Muted(8, None)]
        );
        assert!(kick.take_notices().is_empty());
    }

    #[tokio::test]
    async fn the_first_kick_wins_and_wakes_the_waiter() {
        let kick = Arc::new(Kick::default());
        let waiter = tokio::spawn({
            let kick = kick.clone();
            async move { kick.kicked().await }
        });
        kick.kick(close::TRY_AGAIN_LATER);
        kick.kick(close::GOING_AWAY);
        assert_eq!(waiter.await.ok(), Some(close::TRY_AGAIN_LATER));
    }

    #[test]
    fn revoking_a_session_kicks_only_its_connections() {
        let registry = Registry::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let entries: Vec<_> = [a, a, b]
            .iter()
            .map(|sid| ConnEntry {
                user_id: 1,
                session_id: *sid,
                kick: Arc::new(Kick::default()),
            })
            .collect();
        for e in &entries {
            registry.insert(registry.next_id(), e.clone());
        }
        assert_eq!(registry.revoke(&[a]), 2);
        let codes: Vec<u16> = entries
            .iter()
            .map(|e| e.kick.code.load(Ordering::Acquire))
            .collect();
        assert_eq!(codes, [close::POLICY, close::POLICY, 0]);
    }
}
