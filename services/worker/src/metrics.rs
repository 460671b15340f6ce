//! Prometheus metrics of the worker, served at `/metrics`.

use prometheus::{Counter, Encoder, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};

/// The registry and the metrics the worker updates.
pub struct Metrics {
    registry: Registry,
    /// Events of room logs each follower applied, by follower.
    pub events_followed: IntCounterVec,
    /// Passes of a follower that failed (and were retried).
    pub follow_errors: IntCounter,
    /// Assistant jobs ended, by state (`done`, `refused`, `failed`, ...).
    pub jobs_ended: IntCounterVec,
    /// Transcript annotations appended.
    pub transcripts: IntCounter,
    /// Audio files that could not be transcribed (unreadable, gone) and
    /// were skipped.
    pub transcripts_skipped: IntCounter,
    /// Seconds of audio transcribed.
    pub audio_seconds: Counter,
    /// Seconds spent decoding and transcribing.
    pub transcribe_seconds: Counter,
    /// Pending uploads deleted by the sweeper (never sent in time).
    pub uploads_expired: IntCounter,
    /// Files whose bytes the sweeper deleted from the store.
    pub blobs_deleted: IntCounter,
    /// Sweeps that failed (and were tried again later).
    pub sweep_errors: IntCounter,
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
        let int = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let float = |name: &str, help: &str| -> prometheus::Result<Counter> {
            let c = Counter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        Ok(Self {
            transcripts: int(
                "transcripts_total",
                "Transcripts of voice messages appended",
            )?,
            transcripts_skipped: int(
                "transcripts_skipped_total",
                "Audio files that could not be transcribed and were skipped",
            )?,
            audio_seconds: float(
                "transcribed_audio_seconds_total",
                "Seconds of audio transcribed",
            )?,
            transcribe_seconds: float(
                "transcribe_seconds_total",
                "Seconds spent decoding and transcribing audio",
            )?,
            uploads_expired: int(
                "uploads_expired_total",
                "Pending uploads deleted by the sweeper",
            )?,
            blobs_deleted: int(
                "blobs_deleted_total",
                "Files whose bytes the sweeper deleted from the store",
            )?,
            sweep_errors: int("sweep_errors_total", "Sweeps of the file store that failed")?,
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
