//! A lock-free log-linear latency histogram (microseconds): 64 buckets per
//! power of two, so a reported percentile is within about 1.6 % of the
//! true value; exact below 128 µs. Many client tasks record into one.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

const SUB: u64 = 64;
const LINEAR: u64 = 2 * SUB;
const MAX_EXP: u64 = 40;
const BUCKETS: usize = (LINEAR + (MAX_EXP - 7 + 1) * SUB) as usize;

pub struct Hist {
    counts: Vec<AtomicU64>,
    total: AtomicU64,
    max: AtomicU64,
}

impl Default for Hist {
    fn default() -> Self {
        Self {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            total: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }
}

fn index(v: u64) -> usize {
    let v = v.min((1 << (MAX_EXP + 1)) - 1);
    if v < LINEAR {
        return v as usize;
    }
    let e = 63 - u64::from(v.leading_zeros());
    (LINEAR + (e - 7) * SUB + ((v >> (e - 6)) - SUB)) as usize
}

fn lower(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let k = i - LINEAR;
    (SUB + k % SUB) << (k / SUB + 1)
}

impl Hist {
    pub fn record(&self, us: u64) {
        if let Some(c) = self.counts.get(index(us)) {
            c.fetch_add(1, Relaxed);
        }
        self.total.fetch_add(1, Relaxed);
        self.max.fetch_max(us, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.total.load(Relaxed)
    }

    pub fn max(&self) -> u64 {
        self.max.load(Relaxed)
    }

    /// The value at quantile `q` (0..=1), in µs; 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        let n = self.count();
        if n == 0 {
            return 0;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        if rank == n {
            return self.max();
        }
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c.load(Relaxed);
            if seen >= rank {
                let (lo, hi) = (lower(i), lower(i + 1));
                return (lo + (hi - lo) / 2).min(self.max());
            }
        }
        self.max()
    }

    /// p50, p99, p99.9 and max in milliseconds, as JSON fields with `prefix`.
    pub fn summary(&self, prefix: &str) -> serde_json::Map<String, serde_json::Value> {
        let ms = |us: u64| serde_json::json!((us as f64 / 10.0).round() / 100.0);
        let mut m = serde_json::Map::new();
        m.insert(format!("{prefix}p50_ms"), ms(self.quantile(0.5)));
        m.insert(format!("{prefix}p99_ms"), ms(self.quantile(0.99)));
        m.insert(format!("{prefix}p999_ms"), ms(self.quantile(0.999)));
        m.insert(format!("{prefix}max_ms"), ms(self.max()));
        m.insert(format!("{prefix}count"), self.count().into());
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_cover_their_values() {
        for v in [
            0,
            1,
            127,
            128,
            129,
            255,
            256,
            1000,
            65_535,
            1 << 30,
            1 << 40,
        ] {
            let i = index(v);
            assert!(lower(i) <= v && v < lower(i + 1), "{v} in bucket {i}");
        }
        for i in 0..BUCKETS - 1 {
            assert_eq!(index(lower(i)), i);
            assert!(lower(i) < lower(i + 1));
        }
        assert!(index(u64::MAX) < BUCKETS);
    }

    #[test]
    fn quantiles_are_within_two_percent() {
        let h = Hist::default();
        for v in 1..=100_000u64 {
            h.record(v);
        }
        for (q, want) in [(0.5, 50_000.0), (0.99, 99_000.0), (0.999, 99_900.0)] {
            let got = h.quantile(q) as f64;
            assert!((got - want).abs() / want < 0.02, "q{q}: {got} vs {want}");
        }
        assert_eq!(h.quantile(1.0), 100_000);
        assert_eq!(h.count(), 100_000);
        assert_eq!(Hist::default().quantile(0.5), 0);
    }

    #[test]
    fn small_values_are_exact() {
        let h = Hist::default();
        for v in [5, 5, 5, 9] {
            h.record(v);
        }
        assert_eq!((h.quantile(0.5), h.quantile(1.0)), (5, 9));
        let s = h.summary("ack_");
        assert_eq!(s.get("ack_max_ms"), Some(&serde_json::json!(0.01)));
    }
}
