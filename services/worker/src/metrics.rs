//! Prometheus metrics of the worker, served at `/metrics`.

use prometheus::{Encoder, IntCounter, Registry, TextEncoder};

/// The registry and the metrics the worker updates.
pub struct Metrics {
    registry: Registry,
    /// Events of room logs the search follower applied.
    pub events_indexed: IntCounter,
    /// Passes of a follower that failed (and were retried).
    pub follow_errors: IntCounter,
}

impl Metrics {
    /// Registers every metric; fails only on a bad metric name.
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new_custom(Some("parley_worker".into()), None)?;
        let counter = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        Ok(Self {
            events_indexed: counter(
                "search_events_indexed_total",
                "Room events the search follower applied",
            )?,
            follow_errors: counter(
                "follow_errors_total",
                "Passes of a log follower that failed and were retried",
            )?,
            registry,
        })
    }

    /// The metrics in Prometheus's text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
