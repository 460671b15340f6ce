//! The words the chat actors exchange, kept apart from the actors so that
//! none of them imports another for its types: what reaches a room
//! ([`Delivery`]), what a room queues for a connection ([`Outbound`]), a
//! connection's place in a room ([`Member`]), and the hub's inbox that the
//! broker and the connections deliver into ([`DeliverySink`]). A local send
//! comes through the sink twice, by design (see `room`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::protocol::UserRef;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::registry::{ConnId, Kick};

/// Deliveries waiting for the hub; beyond, they are dropped and recovered
/// from Postgres (a gap or the next catch-up shows them).
const INBOX: usize = 65_536;

/// Something for the members of a room.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// A stored room event (today a message). The frame is opaque here, so
    /// any kind of sequenced event travels alike.
    Sequenced {
        /// Orders and de-duplicates: 1, 2, 3, ... within the room.
        seq: i64,
        /// The event's frame, as clients receive it.
        frame: Utf8Bytes,
    },
    /// An ephemeral frame (presence, typing), never stored.
    Event {
        /// The user it is not for (its author); 0: for everyone.
        from_user: i64,
        /// The frame, as clients receive it.
        frame: Utf8Bytes,
    },
    /// The room was deleted.
    RoomDeleted,
}

/// What a connection's outbound queue carries: frames already serialized
/// once and shared by every recipient.
#[derive(Debug)]
pub enum Outbound {
    /// One frame.
    Frame(Utf8Bytes),
    /// Frames that go together, in one queue slot (and one write): a replay
    /// and its `joined`, or the events of a room that arrived together (up
    /// to `room::DRAIN`). The queue's budget counts each of its frames.
    Batch(Vec<Utf8Bytes>),
}

impl Outbound {
    /// Frames and bytes this slot holds, as the queue's budget counts them.
    pub fn cost(&self) -> Cost {
        match self {
            Self::Frame(f) => Cost {
                frames: 1,
                bytes: f.len(),
            },
            Self::Batch(fs) => Cost {
                frames: fs.len(),
                bytes: fs.iter().map(|f| f.len()).sum(),
            },
        }
    }
}

/// What queued frames weigh: how many, and their bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    /// Frames.
    pub frames: usize,
    /// Bytes of text.
    pub bytes: usize,
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, other: Self) {
        self.frames += other.frames;
        self.bytes += other.bytes;
    }
}

/// What a connection's queue may hold before the client counts as too
/// slow: `OUTBOUND_QUEUE_FRAMES` and `OUTBOUND_QUEUE_BYTES`.
#[derive(Debug, Clone, Copy)]
pub struct QueueLimits {
    /// Frames queued or being written.
    pub frames: usize,
    /// Their bytes.
    pub bytes: usize,
}

/// Frames and bytes queued for one connection, counted by every producer
/// before it queues and released by the connection once written.
struct Budget {
    frames: AtomicUsize,
    bytes: AtomicUsize,
    limits: QueueLimits,
}

impl Budget {
    fn try_reserve(&self, cost: Cost) -> bool {
        let frames = self.frames.fetch_add(cost.frames, Ordering::AcqRel) + cost.frames;
        let bytes = self.bytes.fetch_add(cost.bytes, Ordering::AcqRel) + cost.bytes;
        if frames > self.limits.frames || bytes > self.limits.bytes {
            self.release(cost);
            return false;
        }
        true
    }

    fn release(&self, cost: Cost) {
        self.frames.fetch_sub(cost.frames, Ordering::AcqRel);
        self.bytes.fetch_sub(cost.bytes, Ordering::AcqRel);
    }
}

/// A connection's outbound queue, bounded in frames and bytes (not slots:
/// a slot may be a replay of a thousand frames).
pub fn outbound(limits: QueueLimits) -> (OutboundTx, OutboundRx) {
    let budget = Arc::new(Budget {
        frames: AtomicUsize::new(0),
        bytes: AtomicUsize::new(0),
        limits,
    });
    // Every slot holds a frame at least: the frame budget bounds the slots.
    let (tx, rx) = mpsc::channel(limits.frames.max(1));
    (
        OutboundTx {
            tx,
            budget: budget.clone(),
        },
        OutboundRx { rx, budget },
    )
}

/// The producers' end of a connection's queue.
#[derive(Clone)]
pub struct OutboundTx {
    tx: mpsc::Sender<Outbound>,
    budget: Arc<Budget>,
}

impl OutboundTx {
    /// Queues `out` without waiting. Over the budget it is `Full`: the
    /// client is too slow (the caller disconnects it).
    pub fn try_send(&self, out: Outbound) -> Result<(), TrySendError<Outbound>> {
        let cost = out.cost();
        if !self.budget.try_reserve(cost) {
            return Err(TrySendError::Full(out));
        }
        self.tx
            .try_send(out)
            .inspect_err(|_| self.budget.release(cost))
    }
}

/// The connection's end of its queue.
pub struct OutboundRx {
    rx: mpsc::Receiver<Outbound>,
    budget: Arc<Budget>,
}

impl OutboundRx {
    /// The next slot; `None` once every producer is gone.
    pub async fn recv(&mut self) -> Option<Outbound> {
        self.rx.recv().await
    }

    /// The next slot if one is queued already.
    pub fn try_recv(&mut self) -> Option<Outbound> {
        self.rx.try_recv().ok()
    }

    /// Frees the budget of slots taken and written.
    pub fn release(&self, cost: Cost) {
        self.budget.release(cost);
    }
}

/// A connection's place in a room: what the room needs to reach it, and to
/// disconnect it when its queue is full.
#[derive(Clone)]
pub struct Member {
    /// The connection, unique in this process.
    pub conn: ConnId,
    /// Whose connection it is (presence, and events not echoed to their author).
    pub user: UserRef,
    /// The connection's bounded outbound queue.
    pub tx: OutboundTx,
    /// Closes the connection (1013) when it cannot keep up.
    pub kick: Arc<Kick>,
    /// The user appears offline (the preference `appear_offline`, as read
    /// at this join): never recorded nor announced in presence.
    pub hidden: bool,
}

/// What arrives in the hub's inbox.
pub enum Arrival {
    /// A delivery for one room.
    Deliver {
        /// The room it is for.
        room: i64,
        /// What it carries.
        delivery: Delivery,
    },
    /// A frame for every connection of one user here (their unread state).
    ToUser {
        /// Whose connections.
        user: i64,
        /// The frame, as clients receive it.
        frame: Utf8Bytes,
    },
    /// A user joined or left a room: their connections here start or stop
    /// following its unread state.
    Membership {
        /// Whose membership.
        user: i64,
        /// Which room.
        room: i64,
        /// True: now a member.
        member: bool,
    },
    /// Pub/sub may have lost deliveries (a Redis reconnect): every room
    /// re-reads what it may have missed.
    Resync,
}

/// Where deliveries for rooms are handed over, never waiting: the broker
/// puts pub/sub payloads here and connections their local sends.
#[derive(Clone)]
pub struct DeliverySink {
    deliveries: mpsc::Sender<Arrival>,
    resync: mpsc::UnboundedSender<()>,
}

/// The receiving end of a [`DeliverySink`]; the hub reads it.
pub struct DeliveryInbox {
    deliveries: mpsc::Receiver<Arrival>,
    resync: mpsc::UnboundedReceiver<()>,
}

/// A sink and its inbox, made before the broker and the hub so that the
/// broker can deliver without knowing the hub.
pub fn sink() -> (DeliverySink, DeliveryInbox) {
    let (deliveries_tx, deliveries) = mpsc::channel(INBOX);
    let (resync_tx, resync) = mpsc::unbounded_channel();
    (
        DeliverySink {
            deliveries: deliveries_tx,
            resync: resync_tx,
        },
        DeliveryInbox { deliveries, resync },
    )
}

impl DeliverySink {
    /// Hands over a delivery; never waits. A full inbox drops it: Postgres
    /// catch-up recovers sequenced events, and the others are ephemeral.
    pub fn deliver(&self, room: i64, delivery: Delivery) {
        self.arrive(Arrival::Deliver { room, delivery });
    }

    /// Hands over anything else for the hub (a user's frame or membership
    /// change); never waits, and a full inbox drops it (the client's next
    /// look at `/api/v1/me/rooms` or the next change corrects it).
    pub fn arrive(&self, arrival: Arrival) {
        let _ = self.deliveries.try_send(arrival);
    }

    /// Asks every room to re-read what it may have missed (after a Redis
    /// reconnect); never dropped.
    pub fn resync(&self) {
        let _ = self.resync.send(());
    }
}

impl DeliveryInbox {
    /// The next arrival, a resync first; `None` once every sink is gone.
    pub async fn recv(&mut self) -> Option<Arrival> {
        tokio::select! {
            biased;
            Some(()) = self.resync.recv() => Some(Arrival::Resync),
            d = self.deliveries.recv() => d,
        }
    }
}
