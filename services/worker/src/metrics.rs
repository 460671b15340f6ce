//! Prometheus metrics of the worker, served at `/metrics`.

use prometheus::{Encoder, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};

/// The registry and the metrics the worker updates.
pub struct Metrics {
    registry: Registry,
    /// Events of room logs each follower applied, by follower.
    pub events_followed: IntCounterVec,
    /// Passes of a follower that failed (and were retried).
    pub follow_errors: IntCounter,
    /// Assistant jobs ended, by state (`done`, `refused`, `failed`, ...).
    pub jobs_ended: IntCounterVec,
}

impl Metrics {
    /// Registers every metric; fails only on a bad metric name.
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new_custom(Some("parley_worker".into()), None)?;
        let events_followed = IntCounterVec::new(
            Opts::new("events_followed_total", "Room events a follower applied"),
            &["follower"],
        )?;
        registry.register(Box::new(events_followed.clone()))?;
        let jobs_ended = IntCounterVec::new(
            Opts::new("assistant_jobs_total", "Assistant jobs ended, by state"),
            &["state"],
        )?;
        registry.register(Box::new(jobs_ended.clone()))?;
        let follow_errors = IntCounter::new(
            "follow_errors_total",
            "Passes of a log follower that failed and were retried",
        )?;
        registry.register(Box::new(follow_errors.clone()))?;
        Ok(Self {
            registry,
            events_followed,
            follow_errors,
            jobs_ended,
        })
    }

    /// Events the `follower` applied so far.
    pub fn followed(&self, follower: &str) -> u64 {
        self.events_followed.with_label_values(&[follower]).get()
    }

    /// The metrics in Prometheus's text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
