//! The hub: one task per process that knows which rooms have members here.
//! It starts a room's actor (and its Redis subscription) on the first join,
//! routes deliveries from the broker and local sends to the room's actor,
//! asks every room to catch up from Postgres periodically (what no later
//! message reveals: a publish lost, a sender dead between commit and publish)
//! and after a Redis reconnect, and retires rooms that stayed empty.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytestring::ByteString;
use common::db::DbPool;
use common::store::rooms;
use tokio::sync::mpsc;

use crate::broker::BrokerHandle;
use crate::registry::ConnId;
use crate::room::{self, Control, Member, RoomDeps};

/// How often rooms check Postgres for messages pub/sub did not bring.
pub const CATCH_UP_EVERY: Duration = Duration::from_secs(5);
/// How long a room with no members here keeps its subscription.
const EMPTY_GRACE: Duration = Duration::from_secs(10);
/// Deliveries waiting for a room's actor; beyond, they are dropped and
/// recovered from Postgres (the gap or the next catch-up shows them).
const ROOM_MAILBOX: usize = 8192;

/// Something for the members of a room.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// A stored message: `seq` orders and de-duplicates.
    Message { seq: i64, frame: ByteString },
    /// An ephemeral frame (presence, typing), not for `from_user` (0: for all).
    Event { from_user: i64, frame: ByteString },
    /// The room was deleted.
    RoomDeleted,
}

enum HubCmd {
    Join {
        room: i64,
        member: Member,
        since: Option<i64>,
    },
    Leave {
        room: i64,
        conn: ConnId,
    },
    Deliver {
        room: i64,
        delivery: Delivery,
    },
    Resync,
    Tick,
    LastSeqs {
        queried: Vec<i64>,
        found: Vec<(i64, i64)>,
    },
    RoomEnded {
        room: i64,
        generation: u64,
    },
}

/// Sends commands to the hub; cheap to clone.
#[derive(Clone)]
pub struct HubHandle {
    control: mpsc::UnboundedSender<HubCmd>,
    deliveries: mpsc::Sender<HubCmd>,
}

impl HubHandle {
    /// Adds a connection to a room, replaying after `since` first.
    pub fn join(&self, room: i64, member: Member, since: Option<i64>) {
        let _ = self.control.send(HubCmd::Join {
            room,
            member,
            since,
        });
    }

    pub fn leave(&self, room: i64, conn: ConnId) {
        let _ = self.control.send(HubCmd::Leave { room, conn });
    }

    /// Hands over a delivery; never waits. A full hub drops it: Postgres
    /// catch-up recovers messages, and events are ephemeral.
    pub fn deliver(&self, room: i64, delivery: Delivery) {
        let _ = self.deliveries.try_send(HubCmd::Deliver { room, delivery });
    }

    /// Every room re-reads what it may have missed (after a Redis reconnect).
    pub fn resync(&self) {
        let _ = self.control.send(HubCmd::Resync);
    }

    pub(crate) fn room_ended(&self, room: i64, generation: u64) {
        let _ = self.control.send(HubCmd::RoomEnded { room, generation });
    }
}

struct RoomEntry {
    control: mpsc::UnboundedSender<Control>,
    deliveries: mpsc::Sender<Delivery>,
    members: HashSet<ConnId>,
    generation: u64,
    empty_since: Option<Instant>,
}

struct Hub {
    rooms: HashMap<i64, RoomEntry>,
    deps: Arc<RoomDeps>,
    broker: BrokerHandle,
    pool: DbPool,
    handle: HubHandle,
    next_generation: u64,
}

/// The hub's channels, made before the hub itself so the broker and the
/// rooms can hold its handle.
pub struct HubChannels {
    control: mpsc::UnboundedReceiver<HubCmd>,
    deliveries: mpsc::Receiver<HubCmd>,
}

/// A handle and the receiving ends for [`start`].
pub fn channels() -> (HubHandle, HubChannels) {
    let (control_tx, control) = mpsc::unbounded_channel();
    let (deliveries_tx, deliveries) = mpsc::channel(65_536);
    (
        HubHandle {
            control: control_tx,
            deliveries: deliveries_tx,
        },
        HubChannels {
            control,
            deliveries,
        },
    )
}

/// Starts the hub task.
pub fn start(
    channels: HubChannels,
    handle: HubHandle,
    deps: Arc<RoomDeps>,
    broker: BrokerHandle,
    pool: DbPool,
) {
    let hub = Hub {
        rooms: HashMap::new(),
        deps,
        broker,
        pool,
        handle,
        next_generation: 0,
    };
    tokio::spawn(hub.run(channels));
}

impl Hub {
    async fn run(mut self, mut ch: HubChannels) {
        let mut tick = tokio::time::interval(CATCH_UP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let cmd = tokio::select! {
                biased;
                cmd = ch.control.recv() => cmd,
                cmd = ch.deliveries.recv() => cmd,
                _ = tick.tick() => Some(HubCmd::Tick),
            };
            let Some(cmd) = cmd else { return };
            self.handle(cmd);
        }
    }

    fn handle(&mut self, cmd: HubCmd) {
        match cmd {
            HubCmd::Join {
                room,
                member,
                since,
            } => {
                let conn = member.conn;
                let entry = self.entry(room);
                entry.members.insert(conn);
                entry.empty_since = None;
                let _ = entry.control.send(Control::Join { member, since });
            }
            HubCmd::Leave { room, conn } => {
                if let Some(entry) = self.rooms.get_mut(&room)
                    && entry.members.remove(&conn)
                {
                    let _ = entry.control.send(Control::Leave { conn });
                    if entry.members.is_empty() {
                        entry.empty_since = Some(Instant::now());
                    }
                }
            }
            HubCmd::Deliver { room, delivery } => {
                if let Some(entry) = self.rooms.get(&room) {
                    let _ = entry.deliveries.try_send(delivery);
                }
            }
            HubCmd::Resync => {
                for entry in self.rooms.values() {
                    let _ = entry.control.send(Control::CatchUp {
                        known_last_seq: None,
                    });
                }
            }
            HubCmd::Tick => self.tick(),
            HubCmd::LastSeqs { queried, found } => {
                let found: HashMap<i64, i64> = found.into_iter().collect();
                for room in queried {
                    if let Some(entry) = self.rooms.get(&room) {
                        let cmd = match found.get(&room) {
                            Some(last) => Control::CatchUp {
                                known_last_seq: Some(*last),
                            },
                            None => Control::Deleted,
                        };
                        let _ = entry.control.send(cmd);
                    }
                }
            }
            HubCmd::RoomEnded { room, generation } => {
                if self
                    .rooms
                    .get(&room)
                    .is_some_and(|e| e.generation == generation)
                {
                    self.rooms.remove(&room);
                    self.broker.unsubscribe(room);
                }
            }
        }
    }

    fn entry(&mut self, room: i64) -> &mut RoomEntry {
        if !self.rooms.contains_key(&room) {
            self.next_generation += 1;
            let generation = self.next_generation;
            let (control_tx, control_rx) = mpsc::unbounded_channel();
            let (deliveries_tx, deliveries_rx) = mpsc::channel(ROOM_MAILBOX);
            tokio::spawn(room::run(
                self.deps.clone(),
                self.broker.clone(),
                self.handle.clone(),
                room,
                generation,
                control_rx,
                deliveries_rx,
            ));
            self.rooms.insert(
                room,
                RoomEntry {
                    control: control_tx,
                    deliveries: deliveries_tx,
                    members: HashSet::new(),
                    generation,
                    empty_since: None,
                },
            );
        }
        // Just inserted if it was missing.
        self.rooms
            .get_mut(&room)
            .unwrap_or_else(|| unreachable!("room entry exists"))
    }

    /// Retires rooms empty for a while; asks Postgres how far the others got.
    fn tick(&mut self) {
        let now = Instant::now();
        let expired: Vec<i64> = self
            .rooms
            .iter()
            .filter(|(_, e)| {
                e.empty_since
                    .is_some_and(|t| now.duration_since(t) >= EMPTY_GRACE)
            })
            .map(|(id, _)| *id)
            .collect();
        for room in expired {
            if let Some(entry) = self.rooms.remove(&room) {
                let _ = entry.control.send(Control::Close);
                self.broker.unsubscribe(room);
            }
        }
        let queried: Vec<i64> = self.rooms.keys().copied().collect();
        if queried.is_empty() {
            return;
        }
        let pool = self.pool.clone();
        let handle = self.handle.clone();
        tokio::spawn(async move {
            let found = async {
                let mut conn = pool.get().await?;
                rooms::last_seqs(&mut conn, &queried).await
            };
            match found.await {
                Ok(found) => {
                    let _ = handle.control.send(HubCmd::LastSeqs { queried, found });
                }
                Err(e) => tracing::warn!(error = %e, "catch-up check failed; will retry"),
            }
        });
    }
}
