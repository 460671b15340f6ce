//! Prometheus metrics of the chat service, served at `/metrics`.

use prometheus::{Encoder, IntCounter, IntGauge, Registry, TextEncoder};

/// The registry and the metrics the service updates.
pub struct Metrics {
    registry: Registry,
    pub connections: IntGauge,
    pub messages_stored: IntCounter,
    pub messages_delivered: IntCounter,
    pub slow_consumers: IntCounter,
    pub upgrades_refused: IntCounter,
    pub catch_up_messages: IntCounter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let c =
        IntCounter::new(name, help).unwrap_or_else(|_| unreachable!("valid metric name {name}"));
    let _ = registry.register(Box::new(c.clone()));
    c
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("parley_chat".into()), None).unwrap_or_default();
        let connections = IntGauge::new("websocket_connections", "Open WebSocket connections")
            .unwrap_or_else(|_| unreachable!("valid metric name"));
        let _ = registry.register(Box::new(connections.clone()));
        Self {
            messages_stored: counter(
                &registry,
                "messages_stored_total",
                "Messages stored from WebSocket sends",
            ),
            messages_delivered: counter(
                &registry,
                "messages_delivered_total",
                "Message frames queued to clients",
            ),
            slow_consumers: counter(
                &registry,
                "slow_consumers_total",
                "Connections closed for a full outbound queue",
            ),
            upgrades_refused: counter(
                &registry,
                "upgrades_refused_total",
                "WebSocket upgrades refused (401/403/429)",
            ),
            catch_up_messages: counter(
                &registry,
                "catch_up_messages_total",
                "Messages recovered from Postgres (gaps, lost publishes)",
            ),
            connections,
            registry,
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
