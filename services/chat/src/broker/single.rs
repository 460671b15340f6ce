//! The broker on one Redis: one classic pub/sub connection, reopened with
//! a backoff when it drops; every room is then resynchronized.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::Command;

use super::{Channel, decode, wait_down};
use crate::delivery::DeliverySink;

/// Runs the broker until every handle is gone.
pub(super) async fn run(
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
