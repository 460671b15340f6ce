//! The process's Redis subscriptions: to a room's channel while this
//! process has members in the room, and to a user's channel while the user
//! has connections here (the hub says which), handing every payload to the
//! delivery sink. Pub/sub is at-most-once: after a reconnect the broker
//! resubscribes and asks for every room to be resynchronized from Postgres.
//!
//! One Redis ([`single`]) uses one classic pub/sub connection; a Redis
//! Cluster ([`cluster`]) uses sharded subscriptions, which the broker
//! rebuilds itself after a failover or a slot migration.

mod cluster;
mod single;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::config::RedisTarget;
use common::fanout::{self, Envelope};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::delivery::{Arrival, Delivery, DeliverySink};
use crate::metrics::Metrics;

/// A channel this process may listen to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// A room's events.
    Room(i64),
    /// Frames for one user's connections.
    User(i64),
}

impl Channel {
    /// The channel a Redis channel name of the deployment with `prefix` names.
    pub fn parse(prefix: &str, name: &str) -> Option<Self> {
        fanout::room_of_channel(prefix, name)
            .map(Self::Room)
            .or_else(|| fanout::user_of_channel(prefix, name).map(Self::User))
    }

    /// The Redis channel's name in the deployment with `prefix`.
    pub fn name(self, prefix: &str) -> String {
        match self {
            Self::Room(room) => fanout::room_channel(prefix, room),
            Self::User(user) => fanout::user_channel(prefix, user),
        }
    }
}

/// What the hub asks of the broker task.
enum Command {
    Subscribe(Channel, oneshot::Sender<()>),
    Unsubscribe(Channel),
}

/// Asks the broker task to (un)subscribe channels.
#[derive(Clone)]
pub struct BrokerHandle {
    tx: mpsc::UnboundedSender<Command>,
}

impl BrokerHandle {
    /// Subscribes to a channel; returns once Redis confirmed, or at once
    /// while Redis is down (the subscription is made on reconnect).
    pub async fn subscribe(&self, channel: Channel) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Command::Subscribe(channel, ack)).is_ok() {
            let _ = done.await;
        }
    }

    /// Subscribes without waiting for Redis to confirm, keeping the order
    /// of this handle's commands (a quick unsubscribe cannot overtake it).
    pub fn subscribe_now(&self, channel: Channel) {
        let (ack, _) = oneshot::channel();
        let _ = self.tx.send(Command::Subscribe(channel, ack));
    }

    /// Leaves a channel once nobody here needs it.
    pub fn unsubscribe(&self, channel: Channel) {
        let _ = self.tx.send(Command::Unsubscribe(channel));
    }
}

/// Turns a payload received on `channel` into an arrival for the hub.
pub(crate) fn decode(prefix: &str, channel: &str, payload: &[u8]) -> Option<Arrival> {
    let envelope = fanout::decode(payload)?;
    let bytes = Bytes::copy_from_slice(payload);
    let text = |range: std::ops::Range<usize>| Utf8Bytes::try_from(bytes.slice(range)).ok();
    if let Some(user) = fanout::user_of_channel(prefix, channel) {
        return match envelope {
            Envelope::ToUser { frame } => Some(Arrival::ToUser {
                user,
                frame: text(frame)?,
            }),
            Envelope::Membership { room, member } => {
                Some(Arrival::Membership { user, room, member })
            }
            _ => None,
        };
    }
    let room = fanout::room_of_channel(prefix, channel)?;
    let delivery = match envelope {
        Envelope::Sequenced { seq, frame } => Delivery::Sequenced {
            seq,
            frame: text(frame)?,
        },
        Envelope::Event { from_user, frame } => Delivery::Event {
            from_user,
            frame: text(frame)?,
        },
        Envelope::RoomDeleted => Delivery::RoomDeleted,
        Envelope::ToUser { .. } | Envelope::Membership { .. } => return None,
    };
    Some(Arrival::Deliver { room, delivery })
}

/// Records commands while Redis is unreachable, for `pause`; false once
/// every handle is gone.
async fn wait_down(
    wanted: &mut HashSet<Channel>,
    rx: &mut mpsc::UnboundedReceiver<Command>,
    pause: Duration,
) -> bool {
    let deadline = tokio::time::sleep(pause);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return true,
            cmd = rx.recv() => match cmd {
                None => return false,
                Some(Command::Subscribe(channel, ack)) => {
                    wanted.insert(channel);
                    let _ = ack.send(());
                }
                Some(Command::Unsubscribe(channel)) => {
                    wanted.remove(&channel);
                }
            },
        }
    }
}

/// Starts the broker task for `target`, delivering into `sink`.
pub fn start(
    target: &RedisTarget,
    prefix: String,
    sink: DeliverySink,
    metrics: Arc<Metrics>,
) -> common::Result<BrokerHandle> {
    let (tx, rx) = mpsc::unbounded_channel();
    match target {
        RedisTarget::Single(url) => {
            let client = redis::Client::open(url.expose().as_str())?;
            tokio::spawn(single::run(client, prefix, sink, rx));
        }
        RedisTarget::Cluster {
            seeds,
            classic_pubsub,
        } => {
            let cluster = cluster::Cluster {
                seeds: seeds.expose().clone(),
                sharded: !classic_pubsub,
                prefix,
                sink,
                metrics,
            };
            tokio::spawn(cluster.run(rx));
        }
    }
    Ok(BrokerHandle { tx })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_become_deliveries_sharing_one_buffer() {
        let payload = fanout::encode_sequenced(3, r#"{"type":"message"}"#);
        let Some(Arrival::Deliver {
            room,
            delivery: Delivery::Sequenced { seq, frame },
        }) = decode("p:", "p:room:9", payload.as_bytes())
        else {
            panic!("not decoded")
        };
        assert_eq!((room, seq, &*frame), (9, 3, r#"{"type":"message"}"#));
        assert!(decode("p:", "other:room:9", payload.as_bytes()).is_none());
        assert!(decode("p:", "p:room:9", b"garbage").is_none());
        assert!(matches!(
            decode("p:", "p:room:9", b"D"),
            Some(Arrival::Deliver {
                room: 9,
                delivery: Delivery::RoomDeleted
            })
        ));
        assert!(matches!(
            decode("p:", "p:user:5", br#"U {"type":"unread"}"#),
            Some(Arrival::ToUser { user: 5, .. })
        ));
        assert!(matches!(
            decode("p:", "p:user:5", b"W 9 1"),
            Some(Arrival::Membership {
                user: 5,
                room: 9,
                member: true
            })
        ));
        assert!(
            decode("p:", "p:user:5", b"D").is_none(),
            "room envelopes on a user channel"
        );
        assert!(
            decode("p:", "p:room:9", b"W 9 1").is_none(),
            "user envelopes on a room channel"
        );
        for channel in [Channel::Room(9), Channel::User(5)] {
            assert_eq!(Channel::parse("p:", &channel.name("p:")), Some(channel));
        }
        assert_eq!(Channel::parse("p:", "q:room:9"), None);
    }
}
