//! The broker on a Redis Cluster: sharded subscriptions (`SSUBSCRIBE`), so
//! a room's messages cost only the shard that owns its channel.
//!
//! The `redis` crate keeps sharded subscriptions only across a reconnect to
//! the same address. After a master fails over, or a slot moves, its
//! subscriptions go silent for good (measured in `notes/scale.md`: 107 of
//! 300 rooms never heard another message). So this broker owns recovery:
//!
//! - a `Disconnection` push, or a subscribe that fails or times out,
//!   **rebuilds**: a fresh client and connection (a fresh slot map),
//!   `SSUBSCRIBE` to every wanted channel, then a swap, retried with a short
//!   pause until every channel is subscribed;
//! - an unsolicited `sunsubscribe` (the slot moved) re-subscribes that
//!   channel, and a rebuild if that fails;
//! - either way every room is then resynchronized from Postgres, which
//!   holds whatever pub/sub dropped meanwhile.
//!
//! Pushes are handled in the redis-rs callback without waiting: payloads go
//! straight to the hub's bounded inbox (a full inbox drops them, as on one
//! Redis; the seq gap brings them back from Postgres), and the rare control
//! pushes go to this task.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use common::redis_client;
use futures_util::StreamExt;
use redis::cluster_async::ClusterConnection;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::mpsc;

use super::{Channel, Command, decode, wait_down};
use crate::delivery::DeliverySink;
use crate::metrics::Metrics;

/// How long one subscribe may take before the connection counts as broken.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long building a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Pauses between failed rebuilds: from short, doubling to at most a
/// second, because a promoted replica should be heard from within a second
/// or two of its promotion.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(1);
/// Subscribes in flight at once during a rebuild.
const SUBSCRIBE_CONCURRENCY: usize = 64;

/// What the push callback tells the task, tagged with the connection's
/// generation so pushes of a replaced connection are ignored.
enum Control {
    /// A node connection closed.
    Disconnected(u64),
    /// The server dropped a subscription (its slot moved).
    Unsubscribed(u64, String),
}

/// Why the subscriptions were remade (the `reason` label of
/// `chat_pubsub_resubscribes_total`).
#[derive(Clone, Copy)]
enum Reason {
    /// A node connection closed (failover, restart).
    Disconnection,
    /// A subscribe failed or timed out.
    Failure,
    /// The server unsubscribed a channel (slot migration).
    Moved,
}

impl Reason {
    fn label(self) -> &'static str {
        match self {
            Self::Disconnection => "disconnection",
            Self::Failure => "failure",
            Self::Moved => "moved",
        }
    }
}

/// The cluster broker's settings and outputs.
pub(super) struct Cluster {
    pub seeds: Vec<String>,
    /// `SSUBSCRIBE` (normal) or classic `SUBSCRIBE` (the benchmark's control).
    pub sharded: bool,
    pub prefix: String,
    pub sink: DeliverySink,
    pub metrics: Arc<Metrics>,
}

impl Cluster {
    /// Runs the broker until every handle is gone.
    pub async fn run(self, mut rx: mpsc::UnboundedReceiver<Command>) {
        let (control_tx, mut control) = mpsc::unbounded_channel();
        let mut wanted: HashSet<Channel> = HashSet::new();
        let mut generation = 0u64;
        let mut connected_before = false;
        let mut rebuild = Some(Reason::Disconnection);
        let mut conn: Option<ClusterConnection> = None;
        let mut pause = RETRY_FIRST;
        loop {
            if let Some(reason) = rebuild {
                generation += 1;
                match self.connect(generation, &control_tx, &wanted).await {
                    Ok(fresh) => {
                        conn = Some(fresh);
                        rebuild = None;
                        pause = RETRY_FIRST;
                        if connected_before {
                            self.metrics.pubsub_rebuilds.inc();
                            self.metrics
                                .pubsub_resubscribes
                                .with_label_values(&[reason.label()])
                                .inc_by(wanted.len() as u64);
                            tracing::info!(
                                channels = wanted.len(),
                                reason = reason.label(),
                                "redis cluster subscriptions rebuilt; resynchronizing rooms"
                            );
                            self.sink.resync();
                        }
                        connected_before = true;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "redis cluster pub/sub unavailable; retrying");
                        conn = None;
                        if !wait_down(&mut wanted, &mut rx, pause).await {
                            return;
                        }
                        pause = (pause * 2).min(RETRY_MAX);
                        continue;
                    }
                }
            }
            let Some(active) = conn.as_mut() else {
                rebuild = Some(Reason::Failure);
                continue;
            };
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    None => return,
                    Some(Command::Subscribe(channel, ack)) => {
                        wanted.insert(channel);
                        let done = self.subscribe(active, channel).await;
                        let _ = ack.send(());
                        if let Err(e) = done {
                            tracing::warn!(error = %e, "redis cluster subscribe failed; rebuilding");
                            rebuild = Some(Reason::Failure);
                        }
                    }
                    Some(Command::Unsubscribe(channel)) => {
                        wanted.remove(&channel);
                        // A failed unsubscribe only leaves a channel whose
                        // payloads the hub ignores; never worth a rebuild.
                        let _ = self.unsubscribe(active, channel).await;
                    }
                },
                Some(event) = control.recv() => match event {
                    Control::Disconnected(g) if g == generation => {
                        tracing::warn!("redis cluster node connection lost; rebuilding subscriptions");
                        rebuild = Some(Reason::Disconnection);
                    }
                    Control::Unsubscribed(g, name) if g == generation => {
                        let Some(channel) = Channel::parse(&self.prefix, &name).filter(|c| wanted.contains(c)) else {
                            continue;
                        };
                        self.metrics.pubsub_resubscribes.with_label_values(&[Reason::Moved.label()]).inc();
                        match self.subscribe(active, channel).await {
                            Ok(()) => {
                                tracing::info!(channel = %name, "redis cluster dropped a subscription (slot moved); resubscribed");
                                self.sink.resync();
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "resubscribing a moved channel failed; rebuilding");
                                rebuild = Some(Reason::Moved);
                            }
                        }
                    }
                    _ => {}
                },
            }
        }
    }

    /// A fresh connection whose pushes carry `generation`, subscribed to
    /// every channel in `wanted`; an error if any of it fails or is slow.
    async fn connect(
        &self,
        generation: u64,
        control: &mpsc::UnboundedSender<Control>,
        wanted: &HashSet<Channel>,
    ) -> common::Result<ClusterConnection> {
        let sink = self.sink.clone();
        let prefix = self.prefix.clone();
        let control = control.clone();
        let on_push = move |push: PushInfo| -> Result<(), ()> {
            handle_push(&prefix, &sink, &control, generation, push);
            Ok(())
        };
        let client = redis_client::cluster_builder(&self.seeds)
            .push_sender(on_push)
            .build()?;
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_connection())
            .await
            .map_err(|_| common::Error::unavailable("redis cluster (connect timed out)"))??;
        let subscribed = futures_util::stream::iter(wanted.iter().copied())
            .map(|channel| {
                let mut conn = conn.clone();
                async move { self.subscribe(&mut conn, channel).await }
            })
            .buffer_unordered(SUBSCRIBE_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        subscribed
            .into_iter()
            .collect::<common::Result<Vec<()>>>()?;
        Ok(conn)
    }

    async fn subscribe(
        &self,
        conn: &mut ClusterConnection,
        channel: Channel,
    ) -> common::Result<()> {
        self.change(conn, channel, true).await
    }

    async fn unsubscribe(
        &self,
        conn: &mut ClusterConnection,
        channel: Channel,
    ) -> common::Result<()> {
        self.change(conn, channel, false).await
    }

    /// (Un)subscribes `channel`, sharded or classic, within [`SUBSCRIBE_TIMEOUT`].
    async fn change(
        &self,
        conn: &mut ClusterConnection,
        channel: Channel,
        subscribe: bool,
    ) -> common::Result<()> {
        let name = channel.name(&self.prefix);
        let call = async {
            match (self.sharded, subscribe) {
                (true, true) => conn.ssubscribe(&name).await,
                (true, false) => conn.sunsubscribe(&name).await,
                (false, true) => conn.subscribe(&name).await,
                (false, false) => conn.unsubscribe(&name).await,
            }
        };
        tokio::time::timeout(SUBSCRIBE_TIMEOUT, call)
            .await
            .map_err(|_| common::Error::unavailable("redis cluster (subscription timed out)"))??;
        Ok(())
    }
}

/// Handles one push in the connection's own task, never waiting.
fn handle_push(
    prefix: &str,
    sink: &DeliverySink,
    control: &mpsc::UnboundedSender<Control>,
    generation: u64,
    push: PushInfo,
) {
    match push.kind {
        PushKind::SMessage | PushKind::Message => {
            let [Value::BulkString(channel), Value::BulkString(payload)] = push.data.as_slice()
            else {
                return;
            };
            let Ok(channel) = std::str::from_utf8(channel) else {
                return;
            };
            if let Some(arrival) = decode(prefix, channel, payload) {
                sink.arrive(arrival);
            }
        }
        PushKind::Disconnection => {
            let _ = control.send(Control::Disconnected(generation));
        }
        PushKind::SUnsubscribe | PushKind::Unsubscribe => {
            if let Some(Value::BulkString(channel)) = push.data.first()
                && let Ok(channel) = std::str::from_utf8(channel)
            {
                let _ = control.send(Control::Unsubscribed(generation, channel.to_owned()));
            }
        }
        _ => {}
    }
}
