//! The hub: one task per process that knows which rooms have members here,
//! and the only one that tells the broker which room channels to hear. It
//! subscribes a room's channel and starts its actor on the first join,
//! routes deliveries (from the broker and local sends) to the room's actor,
//! asks every room to catch up from Postgres periodically (what no later
//! event reveals: a publish lost, a sender dead between commit and publish)
//! and after a Redis reconnect, and retires rooms that stayed empty or ended.
//!
//! It also knows which users have connections here: it listens to their
//! user channels (their read marks, their memberships) and has each room a
//! connection's user belongs to send that connection `unread` frames, so a
//! sidebar stays current for rooms the connection has not joined. One
//! subscription per room and per user, however many connections.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::db::DbPools;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::broker::{BrokerHandle, Channel};
use crate::delivery::{Arrival, Delivery, DeliveryInbox, DeliverySink, Member, Outbound};
use crate::history::Replay;
use crate::registry::ConnId;
use crate::room::{self, Control, Ended, Exit, RoomDeps};

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
        replay: Replay,
    },
    Leave {
        room: i64,
        conn: ConnId,
    },
    Answer {
        room: i64,
        member: Member,
        seq: i64,
        frame: Utf8Bytes,
    },
    LastSeqs {
        queried: Vec<i64>,
        found: Vec<(i64, i64)>,
    },
    Connect {
        member: Member,
        rooms: Vec<i64>,
    },
    Disconnect {
        conn: ConnId,
        user: i64,
    },
}

/// Sends commands to the hub; cheap to clone.
#[derive(Clone)]
pub struct HubHandle {
    control: mpsc::UnboundedSender<HubCmd>,
    sink: DeliverySink,
}

impl HubHandle {
    /// Adds a connection to a room, replaying after `since` first (what the
    /// connection read already, and what was stored since).
    pub fn join(&self, room: i64, member: Member, since: Option<i64>, replay: Replay) {
        let _ = self.control.send(HubCmd::Join {
            room,
            member,
            since,
            replay,
        });
    }

    /// Removes a connection from a room (a `leave`, or the socket closed).
    pub fn leave(&self, room: i64, conn: ConnId) {
        let _ = self.control.send(HubCmd::Leave { room, conn });
    }

    /// A connection opened: it hears its user's channel, and follows the
    /// unread state of `rooms` (its user's memberships).
    pub fn connect(&self, member: Member, rooms: Vec<i64>) {
        let _ = self.control.send(HubCmd::Connect { member, rooms });
    }

    /// A connection closed: it follows nothing any more.
    pub fn disconnect(&self, conn: ConnId, user: i64) {
        let _ = self.control.send(HubCmd::Disconnect { conn, user });
    }

    /// Answers a repeated nonce with the event stored before, through the
    /// room: after every event up to its seq, so the client sees seqs in
    /// order.
    pub fn answer(&self, room: i64, member: Member, seq: i64, frame: Utf8Bytes) {
        let _ = self.control.send(HubCmd::Answer {
            room,
            member,
            seq,
            frame,
        });
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
    /// Connections that follow the room's unread state without joining it.
    watchers: HashSet<ConnId>,
    generation: u64,
    empty_since: Option<Instant>,
}

impl RoomEntry {
    /// Nobody here joined or follows the room any more: its grace starts.
    fn mark_if_empty(&mut self) {
        if self.members.is_empty() && self.watchers.is_empty() {
            self.empty_since = Some(Instant::now());
        }
    }
}

struct Hub {
    rooms: HashMap<i64, RoomEntry>,
    deps: Arc<RoomDeps>,
    broker: BrokerHandle,
    /// Where the periodic catch-up check reads (`common::reads`).
    db: DbPools,
    /// Each open room's last seq as the previous check found it: an answer
    /// older than that is a replica behind, read again on the primary.
    seen: HashMap<i64, i64>,
    /// For the answers of the hub's own background queries.
    control: mpsc::UnboundedSender<HubCmd>,
    /// Given to each room actor to report its end.
    ended: mpsc::UnboundedSender<Ended>,
    next_generation: u64,
    /// Each user's connections here, for their user channel.
    users: HashMap<i64, HashMap<ConnId, Member>>,
    /// The rooms each connection follows.
    watching: HashMap<ConnId, HashSet<i64>>,
}

/// Starts the hub task, reading `inbox` (the other end of `sink`), and
/// returns its handle.
pub fn start(
    inbox: DeliveryInbox,
    sink: DeliverySink,
    deps: Arc<RoomDeps>,
    broker: BrokerHandle,
    db: DbPools,
    catch_up_every: Duration,
) -> HubHandle {
    let (control_tx, control) = mpsc::unbounded_channel();
    let (ended_tx, ended) = mpsc::unbounded_channel();
    let hub = Hub {
        rooms: HashMap::new(),
        deps,
        broker,
        db,
        seen: HashMap::new(),
        control: control_tx.clone(),
        ended: ended_tx,
        next_generation: 0,
        users: HashMap::new(),
        watching: HashMap::new(),
    };
    tokio::spawn(hub.run(control, ended, inbox, catch_up_every));
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
        catch_up_every: Duration,
    ) {
        let mut tick = tokio::time::interval(catch_up_every);
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
                replay,
            } => {
                let conn = member.conn;
                let mut join = Control::Join {
                    member,
                    since,
                    replay,
                };
                // A room whose actor ended (it could not start, or was just
                // deleted) before its end was read here: start it anew
                // rather than lose the join.
                for _ in 0..2 {
                    let entry = self.entry(room);
                    entry.members.insert(conn);
                    entry.empty_since = None;
                    match entry.control.send(join) {
                        Ok(()) => break,
                        Err(mpsc::error::SendError(returned)) => {
                            self.rooms.remove(&room);
                            join = returned;
                        }
                    }
                }
            }
            HubCmd::Answer {
                room,
                member,
                seq,
                frame,
            } => match self.rooms.get(&room) {
                Some(entry) => {
                    let _ = entry.control.send(Control::Answer { member, seq, frame });
                }
                // The room is not open here (the connection left it): no
                // order to keep.
                None => {
                    let _ = member.tx.try_send(Outbound::Frame(frame));
                }
            },
            HubCmd::Leave { room, conn } => {
                if let Some(entry) = self.rooms.get_mut(&room)
                    && entry.members.remove(&conn)
                {
                    let _ = entry.control.send(Control::Leave { conn });
                    entry.mark_if_empty();
                }
            }
            HubCmd::Connect { member, rooms } => {
                let (user, conn) = (member.user.id, member.conn);
                let conns = self.users.entry(user).or_default();
                if conns.is_empty() {
                    self.broker.subscribe_now(Channel::User(user));
                }
                conns.insert(conn, member.clone());
                for room in rooms {
                    self.watch(room, member.clone());
                }
            }
            HubCmd::Disconnect { conn, user } => {
                for room in self.watching.remove(&conn).unwrap_or_default() {
                    self.unwatch(room, conn);
                }
                if let Some(conns) = self.users.get_mut(&user) {
                    conns.remove(&conn);
                    if conns.is_empty() {
                        self.users.remove(&user);
                        self.broker.unsubscribe(Channel::User(user));
                    }
                }
            }
            HubCmd::LastSeqs { queried, found } => {
                let found: HashMap<i64, i64> = found.into_iter().collect();
                for room in &queried {
                    match found.get(room) {
                        Some(last) => {
                            let seen = self.seen.entry(*room).or_insert(*last);
                            *seen = (*seen).max(*last);
                        }
                        None => {
                            self.seen.remove(room);
                        }
                    }
                }
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
            Arrival::ToUser { user, frame } => {
                for member in self.users.get(&user).into_iter().flat_map(|c| c.values()) {
                    // A full queue belongs to a slow connection its rooms
                    // will cut off; the next change corrects this frame.
                    let _ = member.tx.try_send(Outbound::Frame(frame.clone()));
                }
            }
            Arrival::Membership { user, room, member } => {
                let conns: Vec<Member> = self
                    .users
                    .get(&user)
                    .map(|c| c.values().cloned().collect())
                    .unwrap_or_default();
                for m in conns {
                    if member {
                        self.watch(room, m);
                    } else {
                        self.unwatch(room, m.conn);
                    }
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

    /// Has a room send a connection its unread state as it changes.
    fn watch(&mut self, room: i64, member: Member) {
        let conn = member.conn;
        if !self.watching.entry(conn).or_default().insert(room) {
            return;
        }
        let entry = self.entry(room);
        entry.watchers.insert(conn);
        entry.empty_since = None;
        let _ = entry.control.send(Control::Watch { member });
    }

    fn unwatch(&mut self, room: i64, conn: ConnId) {
        if let Some(rooms) = self.watching.get_mut(&conn) {
            rooms.remove(&room);
        }
        if let Some(entry) = self.rooms.get_mut(&room)
            && entry.watchers.remove(&conn)
        {
            let _ = entry.control.send(Control::Unwatch { conn });
            entry.mark_if_empty();
        }
    }

    /// A room ended by itself: forget it unless a successor replaced it.
    fn ended(&mut self, Ended { room, generation }: Ended) {
        if self
            .rooms
            .get(&room)
            .is_some_and(|e| e.generation == generation)
        {
            self.retire(room);
        }
    }

    /// Forgets a room: its channel, and the connections that followed it.
    fn retire(&mut self, room: i64) {
        let Some(entry) = self.rooms.remove(&room) else {
            return;
        };
        let _ = entry.control.send(Control::Close);
        self.broker.unsubscribe(Channel::Room(room));
        for conn in entry.watchers {
            if let Some(rooms) = self.watching.get_mut(&conn) {
                rooms.remove(&room);
            }
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
                    broker.subscribe(Channel::Room(room)).await;
                    room::run(deps, room, control_rx, deliveries_rx, exit).await;
                });
                slot.insert(RoomEntry {
                    control: control_tx,
                    deliveries: deliveries_tx,
                    members: HashSet::new(),
                    watchers: HashSet::new(),
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
            self.retire(room);
        }
        let queried: Vec<i64> = self.rooms.keys().copied().collect();
        if queried.is_empty() {
            return;
        }
        self.seen.retain(|room, _| self.rooms.contains_key(room));
        let (db, seen) = (self.db.clone(), self.seen.clone());
        let metrics = self.deps.metrics.clone();
        let control = self.control.clone();
        tokio::spawn(async move {
            // A replica may answer; a room it lacks (too new) or has older
            // than last time is asked of the primary, so that only the
            // primary's "no such room" deletes a room here.
            match common::reads::last_seqs(&db, &queried, &seen).await {
                Ok(read) => {
                    if read.fell_back {
                        metrics.read_fallbacks.inc();
                    }
                    let found = read.value;
                    let _ = control.send(HubCmd::LastSeqs { queried, found });
                }
                Err(e) => tracing::warn!(error = %e, "catch-up check failed; will retry"),
            }
        });
    }
}
