//! The hub: one task per process that knows which rooms have members here,
//! and the only one that tells the broker which room channels to hear. It
//! subscribes a room's channel and starts its actor on the first join,
//! routes deliveries (from the broker and local sends) to the room's actor,
//! asks every room to catch up from Postgres periodically (what no later
//! event reveals: a publish lost, a sender dead between commit and publish)
//! and after a Redis reconnect, and retires rooms that stayed empty or ended.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::db::DbPool;
use common::store::rooms;
use tokio::sync::mpsc;

use crate::broker::BrokerHandle;
use crate::delivery::{Arrival, Delivery, DeliveryInbox, DeliverySink, Member};
use crate::registry::ConnId;
use crate::room::{self, Control, Ended, Exit, RoomDeps};

/// How often rooms check Postgres for events pub/sub did not bring.
pub const CATCH_UP_EVERY: Duration = Duration::from_secs(5);
/// How long a room with no members here keeps its subscription.
const EMPTY_GRACE: Duration = Duration::from_secs(10);
/// Deliveries waiting for a room's actor; beyond, they are dropped and
/// recovered from Postgres (the gap or the next catch-up shows them).
const ROOM_MAILBOX: usize = 8192;

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
    LastSeqs {
        queried: Vec<i64>,
        found: Vec<(i64, i64)>,
    },
}

/// Sends commands to the hub; cheap to clone.
#[derive(Clone)]
pub struct HubHandle {
    control: mpsc::UnboundedSender<HubCmd>,
    sink: DeliverySink,
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

    /// Removes a connection from a room (a `leave`, or the socket closed).
    pub fn leave(&self, room: i64, conn: ConnId) {
        let _ = self.control.send(HubCmd::Leave { room, conn });
    }

    /// Hands over a local send (the shortcut past pub/sub, for latency; its
    /// pub/sub echo follows and the room drops it by seq); never waits. A
    /// full hub drops it: Postgres catch-up recovers it.
    pub fn deliver(&self, room: i64, delivery: Delivery) {
        self.sink.deliver(room, delivery);
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
    /// For the answers of the hub's own background queries.
    control: mpsc::UnboundedSender<HubCmd>,
    /// Given to each room actor to report its end.
    ended: mpsc::UnboundedSender<Ended>,
    next_generation: u64,
}

/// Starts the hub task, reading `inbox` (the other end of `sink`), and
/// returns its handle.
pub fn start(
    inbox: DeliveryInbox,
    sink: DeliverySink,
    deps: Arc<RoomDeps>,
    broker: BrokerHandle,
    pool: DbPool,
) -> HubHandle {
    let (control_tx, control) = mpsc::unbounded_channel();
    let (ended_tx, ended) = mpsc::unbounded_channel();
    let hub = Hub {
        rooms: HashMap::new(),
        deps,
        broker,
        pool,
        control: control_tx.clone(),
        ended: ended_tx,
        next_generation: 0,
    };
    tokio::spawn(hub.run(control, ended, inbox));
    HubHandle {
        control: control_tx,
        sink,
    }
}

impl Hub {
    async fn run(
        mut self,
        mut control: mpsc::UnboundedReceiver<HubCmd>,
        mut ended: mpsc::UnboundedReceiver<Ended>,
        mut inbox: DeliveryInbox,
    ) {
        let mut tick = tokio::time::interval(CATCH_UP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                // An ended room first: a join behind it then starts a new actor.
                Some(e) = ended.recv() => self.ended(e),
                cmd = control.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => return,
                },
                arrival = inbox.recv() => match arrival {
                    Some(arrival) => self.arrival(arrival),
                    None => return,
                },
                _ = tick.tick() => self.tick(),
            }
        }
    }

    fn command(&mut self, cmd: HubCmd) {
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
        }
    }

    fn arrival(&mut self, arrival: Arrival) {
        match arrival {
            Arrival::Deliver { room, delivery } => {
                if let Some(entry) = self.rooms.get(&room) {
                    let _ = entry.deliveries.try_send(delivery);
                }
            }
            Arrival::Resync => {
                for entry in self.rooms.values() {
                    let _ = entry.control.send(Control::CatchUp {
                        known_last_seq: None,
                    });
                }
            }
        }
    }

    /// A room ended by itself: forget it unless a successor replaced it.
    fn ended(&mut self, Ended { room, generation }: Ended) {
        if self
            .rooms
            .get(&room)
            .is_some_and(|e| e.generation == generation)
        {
            self.rooms.remove(&room);
            self.broker.unsubscribe(room);
        }
    }

    /// The room's entry, starting its actor on first use.
    fn entry(&mut self, room: i64) -> &mut RoomEntry {
        let Hub {
            rooms,
            deps,
            broker,
            ended,
            next_generation,
            ..
        } = self;
        match rooms.entry(room) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(slot) => {
                *next_generation += 1;
                let generation = *next_generation;
                let (control_tx, control_rx) = mpsc::unbounded_channel();
                let (deliveries_tx, deliveries_rx) = mpsc::channel(ROOM_MAILBOX);
                let exit = Exit::new(ended.clone(), room, generation);
                let (deps, broker) = (deps.clone(), broker.clone());
                tokio::spawn(async move {
                    // Subscribe first, then the room reads where it is: anything newer arrives.
                    broker.subscribe(room).await;
                    room::run(deps, room, control_rx, deliveries_rx, exit).await;
                });
                slot.insert(RoomEntry {
                    control: control_tx,
                    deliveries: deliveries_tx,
                    members: HashSet::new(),
                    generation,
                    empty_since: None,
                })
            }
        }
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
        let control = self.control.clone();
        tokio::spawn(async move {
            let found = async {
                let mut conn = pool.get().await?;
                rooms::last_seqs(&mut conn, &queried).await
            };
            match found.await {
                Ok(found) => {
                    let _ = control.send(HubCmd::LastSeqs { queried, found });
                }
                Err(e) => tracing::warn!(error = %e, "catch-up check failed; will retry"),
            }
        });
    }
}
