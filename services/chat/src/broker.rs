//! The process's one Redis pub/sub connection: subscribed to a room's
//! channel while this process has members in the room (the hub says which),
//! handing every payload to the delivery sink. Pub/sub is at-most-once:
//! after a reconnect it resubscribes and asks for every room to be
//! resynchronized from Postgres.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;
use common::fanout::{self, Envelope};
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};

use crate::delivery::{Delivery, DeliverySink};

enum Command {
    Subscribe(i64, oneshot::Sender<()>),
    Unsubscribe(i64),
}

/// Asks the broker task to (un)subscribe room channels.
#[derive(Clone)]
pub struct BrokerHandle {
    tx: mpsc::UnboundedSender<Command>,
}

impl BrokerHandle {
    /// Subscribes to a room's channel; returns once Redis confirmed, or at
    /// once while Redis is down (the subscription is made on reconnect).
    pub async fn subscribe(&self, room: i64) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Command::Subscribe(room, ack)).is_ok() {
            let _ = done.await;
        }
    }

    /// Leaves a room's channel once this process has no members there.
    pub fn unsubscribe(&self, room: i64) {
        let _ = self.tx.send(Command::Unsubscribe(room));
    }
}

/// Turns a payload received on `channel` into a delivery for its room.
fn decode(prefix: &str, channel: &str, payload: &[u8]) -> Option<(i64, Delivery)> {
    let room = fanout::room_of_channel(prefix, channel)?;
    let envelope = fanout::decode(payload)?;
    let bytes = Bytes::copy_from_slice(payload);
    let text = |range: std::ops::Range<usize>| ByteString::try_from(bytes.slice(range)).ok();
    let delivery = match envelope {
        Envelope::Message { seq, frame } => Delivery::Sequenced {
            seq,
            frame: text(frame)?,
        },
        Envelope::Event { from_user, frame } => Delivery::Event {
            from_user,
            frame: text(frame)?,
        },
        Envelope::RoomDeleted => Delivery::RoomDeleted,
    };
    Some((room, delivery))
}

/// Starts the broker task, delivering into `sink`.
pub fn start(client: redis::Client, prefix: String, sink: DeliverySink) -> BrokerHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(client, prefix, sink, rx));
    BrokerHandle { tx }
}

/// Records commands while Redis is unreachable, for `pause`.
async fn wait_down(
    wanted: &mut HashSet<i64>,
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
                Some(Command::Subscribe(room, ack)) => {
                    wanted.insert(room);
                    let _ = ack.send(());
                }
                Some(Command::Unsubscribe(room)) => {
                    wanted.remove(&room);
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
    let mut wanted: HashSet<i64> = HashSet::new();
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
        for room in &wanted {
            if sink
                .subscribe(fanout::room_channel(&prefix, *room))
                .await
                .is_err()
            {
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
                rooms = wanted.len(),
                "redis pub/sub reconnected; resynchronizing rooms"
            );
            deliveries.resync();
        }
        connected_before = true;
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    None => return,
                    Some(Command::Subscribe(room, ack)) => {
                        wanted.insert(room);
                        let subscribed = sink.subscribe(fanout::room_channel(&prefix, room)).await;
                        let _ = ack.send(());
                        if subscribed.is_err() {
                            break;
                        }
                    }
                    Some(Command::Unsubscribe(room)) => {
                        wanted.remove(&room);
                        if sink.unsubscribe(fanout::room_channel(&prefix, room)).await.is_err() {
                            break;
                        }
                    }
                },
                msg = stream.next() => match msg {
                    Some(msg) => {
                        if let Some((room, delivery)) = decode(&prefix, msg.get_channel_name(), msg.get_payload_bytes()) {
                            deliveries.deliver(room, delivery);
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
        let payload = fanout::encode_message(3, r#"{"type":"message"}"#);
        let Some((room, Delivery::Sequenced { seq, frame })) =
            decode("p:", "p:room:9", payload.as_bytes())
        else {
            panic!("not decoded")
        };
        assert_eq!((room, seq, &*frame), (9, 3, r#"{"type":"message"}"#));
        assert!(decode("p:", "other:room:9", payload.as_bytes()).is_none());
        assert!(decode("p:", "p:room:9", b"garbage").is_none());
        assert!(matches!(
            decode("p:", "p:room:9", b"D"),
            Some((9, Delivery::RoomDeleted))
        ));
    }
}
