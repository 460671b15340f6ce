//! Prometheus metrics of the website: requests by route and status,
//! latencies, messages stored. Served at `/metrics`.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

/// The registry and the metrics handlers update: one per process, built in
/// `AppState`, so every worker counts into the same numbers.
pub struct Metrics {
    registry: Registry,
    /// Requests by method, route pattern and status.
    pub requests: IntCounterVec,
    /// Request latency by method and route pattern.
    pub latency: HistogramVec,
    /// Messages the website stored (form and API sends; repeats excluded).
    pub messages_stored: IntCounter,
    /// Files uploaded (each a pending attachment until a message sends it).
    pub uploads_stored: IntCounter,
    /// History read again on the primary because the replica was behind
    /// what the page showed (`common::reads`).
    pub read_fallbacks: IntCounter,
}

impl Metrics {
    /// Defines and registers the metrics. The definitions are constant, so
    /// this fails only if they are edited into something invalid, which
    /// stops the service at start rather than serving without metrics.
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new_custom(Some("parley_website".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, route and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by method and route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )?;
        let messages_stored = IntCounter::new(
            "messages_stored_total",
            "Messages stored through the website",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        let uploads_stored = IntCounter::new("uploads_stored_total", "Files uploaded")?;
        registry.register(Box::new(messages_stored.clone()))?;
        registry.register(Box::new(uploads_stored.clone()))?;
        let read_fallbacks = IntCounter::new(
            "read_fallbacks_total",
            "Replica reads read again on the primary because the replica was behind",
        )?;
        registry.register(Box::new(read_fallbacks.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            messages_stored,
            uploads_stored,
            read_fallbacks,
        })
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
