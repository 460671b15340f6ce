//! The words the chat actors exchange, kept apart from the actors so that
//! none of them imports another for its types: what reaches a room
//! ([`Delivery`]), what a room queues for a connection ([`Outbound`]), a
//! connection's place in a room ([`Member`]), and the hub's inbox that the
//! broker and the connections deliver into ([`DeliverySink`]). A local send
//! comes through the sink twice, by design (see `room`).

use std::sync::Arc;

use common::protocol::UserRef;
use tokio::sync::mpsc;
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
    /// and its `joined`, so a replay cannot make a fresh member look slow,
    /// or the events of a room that arrived together (up to `room::DRAIN`).
    Batch(Vec<Utf8Bytes>),
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
    pub tx: mpsc::Sender<Outbound>,
    /// Closes the connection (1013) when it cannot keep up.
    pub kick: Arc<Kick>,
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
