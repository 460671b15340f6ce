//! What one connection observed, and the merged report.

use std::collections::HashMap;

/// Per-connection observations.
#[derive(Default, Debug)]
pub struct Observed {
    /// The room this connection joined.
    pub room: i64,
    /// Send-to-receipt latencies in microseconds.
    pub latencies_us: Vec<u32>,
    pub delivered: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    /// Holes seen in seq (messages skipped) at the moment they were seen.
    pub gaps: u64,
    pub sent: u64,
    pub rate_limited: u64,
    pub errors: u64,
    /// The last seq received per room.
    pub last_seq: HashMap<i64, i64>,
    /// Messages received per room.
    pub received: HashMap<i64, u64>,
    pub closed_early: bool,
}

impl Observed {
    /// Records a `message` frame with its seq and the latency from its body.
    pub fn message(&mut self, room: i64, seq: i64, latency_us: Option<u32>) {
        let last = self.last_seq.entry(room).or_insert(0);
        if seq <= *last {
            if seq == *last {
                self.duplicated += 1
            } else {
                self.out_of_order += 1
            }
            return;
        }
        if *last > 0 && seq > *last + 1 {
            self.gaps += (seq - *last - 1) as u64;
        }
        *last = seq;
        *self.received.entry(room).or_insert(0) += 1;
        self.delivered += 1;
        if let Some(l) = latency_us {
            self.latencies_us.push(l);
        }
    }
}

/// The value at quantile `q` of sorted data.
pub fn percentile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_reorders_and_gaps_are_counted() {
        let mut o = Observed::default();
        for seq in [1, 2, 2, 1, 5, 6] {
            o.message(9, seq, Some(10));
        }
        assert_eq!(
            (o.delivered, o.duplicated, o.out_of_order, o.gaps),
            (4, 1, 1, 2)
        );
        assert_eq!(o.received.get(&9), Some(&4));
    }

    #[test]
    fn percentiles_pick_ranks() {
        let data: Vec<u32> = (1..=1000).collect();
        assert_eq!(percentile(&data, 0.5), 500);
        assert_eq!(percentile(&data, 0.99), 990);
        assert_eq!(percentile(&data, 0.999), 999);
        assert_eq!(percentile(&data, 1.0), 1000);
        assert_eq!(percentile(&[], 0.5), 0);
    }
}
