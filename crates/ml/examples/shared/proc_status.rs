//! What the measurement examples read of their own process.

/// A field of /proc/self/status: kB for VmRSS (resident memory) and VmHWM
/// (its peak), a count for Threads; 0 when unreadable.
pub fn status(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}
