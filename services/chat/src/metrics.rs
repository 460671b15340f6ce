//! Prometheus metrics of the chat service, served at `/metrics`.

use prometheus::{Encoder, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

/// The registry and the metrics the service updates.
pub struct Metrics {
    registry: Registry,
    /// Open WebSocket connections.
    pub connections: IntGauge,
    /// Messages stored from this instance's WebSocket sends.
    pub messages_stored: IntCounter,
    /// Sequenced frames queued to clients.
    pub messages_delivered: IntCounter,
    /// Connections closed for a full outbound queue.
    pub slow_consumers: IntCounter,
    /// Upgrades refused (401/403/429).
    pub upgrades_refused: IntCounter,
    /// Events read from Postgres because pub/sub did not bring them.
    pub catch_up_messages: IntCounter,
    /// Joins refused because their user spent the replay budget.
    pub replays_refused: IntCounter,
    /// Replica reads answered again by the primary because the replica
    /// was behind what the reader knew (`common::reads`).
    pub read_fallbacks: IntCounter,
    /// Times the Redis Cluster subscriptions were rebuilt on a fresh
    /// connection (a failover, a lost node).
    pub pubsub_rebuilds: IntCounter,
    /// Channels subscribed again, by why (`disconnection`, `failure`, `moved`).
    pub pubsub_resubscribes: IntCounterVec,
}

fn counter(registry: &Registry, name: &str, help: &str) -> prometheus::Result<IntCounter> {
    let c = IntCounter::new(name, help)?;
    let _ = registry.register(Box::new(c.clone()));
    Ok(c)
}

impl Metrics {
    /// Registers every metric; fails only on a bad metric name (a bug
    /// caught at start, not a panic).
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new_custom(Some("parley_chat".into()), None).unwrap_or_default();
        let connections = IntGauge::new("websocket_connections", "Open WebSocket connections")?;
        let _ = registry.register(Box::new(connections.clone()));
        Ok(Self {
            messages_stored: counter(
                &registry,
                "messages_stored_total",
                "Messages stored from WebSocket sends",
            )?,
            messages_delivered: counter(
                &registry,
                "messages_delivered_total",
                "Message frames queued to clients",
            )?,
            slow_consumers: counter(
                &registry,
                "slow_consumers_total",
                "Connections closed for a full outbound queue",
            )?,
            upgrades_refused: counter(
                &registry,
                "upgrades_refused_total",
                "WebSocket upgrades refused (401/403/429)",
            )?,
            catch_up_messages: counter(
                &registry,
                "catch_up_messages_total",
                "Messages recovered from Postgres (gaps, lost publishes)",
            )?,
            replays_refused: counter(
                &registry,
                "replays_refused_total",
                "Joins refused because their user spent the replay budget (REPLAY_BYTES_PER_USER)",
            )?,
            read_fallbacks: counter(
                &registry,
                "read_fallbacks_total",
                "Replica reads read again on the primary because the replica was behind (DATABASE_READ_URL)",
            )?,
            pubsub_rebuilds: counter(
                &registry,
                "pubsub_rebuilds_total",
                "Redis Cluster subscriptions rebuilt on a fresh connection",
            )?,
            pubsub_resubscribes: {
                let vec = IntCounterVec::new(
                    Opts::new(
                        "pubsub_resubscribes_total",
                        "Channels subscribed again after Redis dropped them, by reason",
                    ),
                    &["reason"],
                )?;
                let _ = registry.register(Box::new(vec.clone()));
                vec
            },
            connections,
            registry,
        })
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
