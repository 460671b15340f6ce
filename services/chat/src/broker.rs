//! The process's one Redis pub/sub connection: subscribed to a room's
//! channel while this process has members in the room, and to a user's
//! channel while the user has connections here (the hub says which),
//! handing every payload to the delivery sink. Pub/sub is at-most-once:
//! after a reconnect it resubscribes and asks for every room to be
//! resynchronized from Postgres.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use common::fanout::{self, Envelope};
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::delivery::{Arrival, Delivery, DeliverySink};

/// A channel this process may listen to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// A room's events.
    Room(i64),
    /// Frames for one user's connections.
    User(i64),
}

impl Channel {
    fn name(self, prefix: &str) -> String {
        match self {
            Self::Room(room) => fanout::room_channel(prefix, room),
            Self::User(user) => fanout::user_channel(prefix, user),
        }
    }
}

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
fn decode(prefix: &str, channel: &str, payload: &[u8]) -> Option<Arrival> {
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

/// Starts the broker task, delivering into `sink`.
pub fn start(client: redis::Client, prefix: String, sink: DeliverySink) -> BrokerHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(client, prefix, sink, rx));
    BrokerHandle { tx }
}

/// Records commands while Redis is unreachable, for `pause`.
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

async fn run(
    client: redis::Client,
    prefix: String,
    deliveries: DeliverySink,
    mut rx: mpsc::UnboundedReceiver<Command>,
) {
    let mut wanted: HashSet<Channel> = HashSet::new();
    let mut connected_before = false;
    let mut pause = Duration::from_millis(100);
    loop {
        let pubsub = match client.get_async_pubsub().await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "redis pub/sub unavailable; retrying");
                if !wait_down(&mut wanted, &mut rx, pause).await {
                    return;
                }
                pause = (pause * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        let (mut sink, mut stream) = pubsub.split();
        let mut ok = true;
        for channel in &wanted {
            if sink.subscribe(channel.name(&prefix)).await.is_err() {
                ok = false;
                break;
            }
        }
        if !ok {
            continue;
        }
        pause = Duration::from_millis(100);
        if connected_before {
            tracing::info!(
                channels = wanted.len(),
                "redis pub/sub reconnected; resynchronizing rooms"
            );
            deliveries.resync();
        }
        connected_before = true;
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    None => return,
                    Some(Command::Subscribe(channel, ack)) => {
                        wanted.insert(channel);
                        let subscribed = sink.subscribe(channel.name(&prefix)).await;
                        let _ = ack.send(());
                        if subscribed.is_err() {
                            break;
                        }
                    }
                    Some(Command::Unsubscribe(channel)) => {
                        wanted.remove(&channel);
                        if sink.unsubscribe(channel.name(&prefix)).await.is_err() {
                            break;
                        }
                    }
                },
                msg = stream.next() => match msg {
                    Some(msg) => {
                        if let Some(arrival) = decode(&prefix, msg.get_channel_name(), msg.get_payload_bytes()) {
                            deliveries.arrive(arrival);
                        }
                    }
                    None => break,
                },
            }
        }
        tracing::warn!("redis pub/sub connection lost; reconnecting");
    }
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
    }
}
