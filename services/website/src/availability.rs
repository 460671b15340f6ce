//! "Is this username / e-mail free?" answered by Bloom filters kept in Redis
//! as bitmaps, shared by every website instance. A clear bit means definitely
//! free, answered from the filter alone; all bits set means maybe taken, and
//! the database (which stays the authority) confirms. A missing filter is
//! rebuilt from the database in the background while the database answers.
//!
//! Sizing: for n = 1,000,000 accounts and a false-positive rate p = 1 %,
//! m = -n ln p / (ln 2)^2 = 9,585,059 bits (1.2 MB per filter) and
//! k = (m / n) ln 2 = 7 hashes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::Result;
use common::db::DbPool;
use common::redis_client::RedisConn;
use common::store::users;
use sha2::{Digest, Sha256};

/// Bits per filter.
pub const BITS: u64 = 9_585_059;
/// Hash functions per item.
pub const HASHES: usize = 7;
const REBUILD_PAGE: i64 = 10_000;

/// Which filter: usernames and e-mails are kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Usernames, compared ignoring case.
    Username,
    /// E-mail addresses, compared ignoring case.
    Email,
}

impl Kind {
    /// The filter's key after the prefix: a hash tag, so that the filter
    /// and its staging copy (`RENAME`d over it) share a Redis Cluster slot.
    fn key_suffix(self) -> &'static str {
        match self {
            Self::Username => "{bloom:username:v1}",
            Self::Email => "{bloom:email:v1}",
        }
    }
}

/// The `k` bit positions of an item (case-insensitive), by double hashing
/// one SHA-256: position i = h1 + i * h2 mod m.
pub fn positions(item: &str) -> [u64; HASHES] {
    let digest = Sha256::digest(item.to_lowercase().as_bytes());
    let h1 = u64::from_le_bytes(digest[0..8].try_into().unwrap_or_default());
    let h2 = u64::from_le_bytes(digest[8..16].try_into().unwrap_or_default()) | 1;
    let mut out = [0u64; HASHES];
    for (i, p) in out.iter_mut().enumerate() {
        *p = h1.wrapping_add((i as u64).wrapping_mul(h2)) % BITS;
    }
    out
}

/// -1: the filter does not exist; 1: every bit set (maybe present); 0: absent.
const CHECK: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
for _, p in ipairs(ARGV) do
  if redis.call('GETBIT', KEYS[1], p) == 0 then return 0 end
end
return 1";

/// Sets the bits only if the filter exists: a partial filter must never
/// appear where a rebuilt one is expected.
const ADD: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for _, p in ipairs(ARGV) do redis.call('SETBIT', KEYS[1], p, 1) end
return 1";

/// The shared filters and how to rebuild them.
#[derive(Clone)]
pub struct Availability {
    redis: RedisConn,
    pool: DbPool,
    prefix: String,
    rebuilding: Arc<AtomicBool>,
}

impl Availability {
    /// The filters under `prefix` in Redis, confirmed from `pool`; nothing is
    /// read until the first question.
    pub fn new(redis: RedisConn, pool: DbPool, prefix: String) -> Self {
        Self {
            redis,
            pool,
            prefix,
            rebuilding: Arc::new(AtomicBool::new(false)),
        }
    }

    fn key(&self, kind: Kind) -> String {
        format!("{}{}", self.prefix, kind.key_suffix())
    }

    /// Whether `item` is free: from the filter when it says "definitely",
    /// else from the database.
    pub async fn is_free(&self, kind: Kind, item: &str) -> Result<bool> {
        let verdict: i64 = redis::Script::new(CHECK)
            .key(self.key(kind))
            .arg(&positions(item)[..])
            .invoke_async(&mut self.redis.clone())
            .await?;
        if verdict == 0 {
            return Ok(true);
        }
        if verdict < 0 {
            self.rebuild_in_background();
        }
        let mut conn = self.pool.get().await?;
        let taken = match kind {
            Kind::Username => users::username_taken(&mut conn, item).await?,
            Kind::Email => users::email_taken(&mut conn, item).await?,
        };
        Ok(!taken)
    }

    /// Adds a new account's name and e-mail to the filters.
    pub async fn record(&self, username: &str, email: &str) -> Result<()> {
        for (kind, item) in [(Kind::Username, username), (Kind::Email, email)] {
            let _: i64 = redis::Script::new(ADD)
                .key(self.key(kind))
                .arg(&positions(item)[..])
                .invoke_async(&mut self.redis.clone())
                .await?;
        }
        Ok(())
    }

    /// Starts a rebuild unless one is running here; across instances a Redis
    /// lock lets one instance do it.
    pub fn rebuild_in_background(&self) {
        if self.rebuilding.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.rebuild().await {
                tracing::warn!(error = %e, "rebuilding the availability filters failed; will retry on next miss");
            }
            this.rebuilding.store(false, Ordering::Release);
        });
    }

    /// Calls `f` with the name and e-mail of every account after `after_id`,
    /// a page at a time; returns the last id seen.
    async fn scan_accounts(&self, mut last_id: i64, mut f: impl FnMut(&str, &str)) -> Result<i64> {
        let mut conn = self.pool.get().await?;
        loop {
            let page = users::names_page(&mut conn, last_id, REBUILD_PAGE).await?;
            let Some((id, _, _)) = page.last() else {
                return Ok(last_id);
            };
            last_id = *id;
            for (_, username, email) in &page {
                f(username, email);
            }
        }
    }

    /// Builds both filters from the accounts in the database and swaps them in
    /// atomically (RENAME), then adds accounts created meanwhile.
    pub async fn rebuild(&self) -> Result<()> {
        let lock = format!("{}bloom:rebuild-lock", self.prefix);
        let mut redis = self.redis.clone();
        let locked: Option<String> = redis::cmd("SET")
            .arg(&lock)
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(120)
            .query_async(&mut redis)
            .await?;
        if locked.is_none() {
            return Ok(());
        }
        let mut names = vec![0u8; BITS.div_ceil(8) as usize];
        let mut emails = names.clone();
        let set = |bits: &mut [u8], item: &str| {
            for p in positions(item) {
                // Redis bit 0 is the most significant bit of byte 0.
                bits[(p / 8) as usize] |= 0x80 >> (p % 8);
            }
        };
        let last_id = self
            .scan_accounts(0, |username, email| {
                set(&mut names, username);
                set(&mut emails, email);
            })
            .await?;
        for (kind, bits) in [(Kind::Username, names), (Kind::Email, emails)] {
            let staging = format!("{}.staging", self.key(kind));
            let _: () = redis::pipe()
                .atomic()
                .set(&staging, bits)
                .rename(&staging, self.key(kind))
                .query_async(&mut redis)
                .await?;
        }
        // Accounts registered while we read found no filter to add to.
        let mut late = Vec::new();
        let last_id = self
            .scan_accounts(last_id, |u, e| late.push((u.to_owned(), e.to_owned())))
            .await?;
        for (username, email) in &late {
            self.record(username, email).await?;
        }
        let _: () = redis::cmd("DEL").arg(&lock).query_async(&mut redis).await?;
        tracing::info!(up_to_user = last_id, "availability filters rebuilt");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizing_meets_one_percent_at_a_million() {
        let (n, m, k) = (1_000_000f64, BITS as f64, HASHES as f64);
        let false_positive_rate = (1.0 - (-k * n / m).exp()).powf(k);
        assert!(false_positive_rate <= 0.0101, "{false_positive_rate}");
    }

    #[test]
    fn positions_are_stable_in_range_and_case_insensitive() {
        let p = positions("Ann");
        assert_eq!(p, positions("aNN"));
        assert_ne!(p, positions("bob"));
        assert!(p.iter().all(|&x| x < BITS));
        let distinct: std::collections::HashSet<_> = p.iter().collect();
        assert!(distinct.len() > 1);
    }
}
