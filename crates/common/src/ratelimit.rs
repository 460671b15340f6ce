//! Fixed-window rate limits kept in Redis, so every website instance counts
//! together. Keys are hashed: no e-mail or name is stored in Redis.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::redis_client::RedisConn;
use sha2::{Digest, Sha256};

/// One limit: at most `max` events per `window` for a key.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub name: &'static str,
    pub max: u64,
    pub window: Duration,
}

/// Login attempts from one address (an IPv4 address or an IPv6 network).
pub const LOGIN_PER_ADDRESS: Limit = Limit {
    name: "login-addr",
    max: 30,
    window: Duration::from_secs(300),
};
/// Login attempts at one account from one address, counted before the
/// password is checked and forgotten on success: it slows the guesser's
/// address down, never the owner's.
pub const LOGIN_PER_ACCOUNT_ADDRESS: Limit = Limit {
    name: "login-acct-addr",
    max: 10,
    window: Duration::from_secs(900),
};
/// Registrations from one address.
pub const REGISTER_PER_ADDRESS: Limit = Limit {
    name: "register-addr",
    max: 20,
    window: Duration::from_secs(3600),
};
/// Registrations on the whole site: the last resort against many addresses.
pub const REGISTER_TOTAL: Limit = Limit {
    name: "register-all",
    max: 1000,
    window: Duration::from_secs(3600),
};
/// Availability look-ups from one address (against enumeration).
pub const AVAILABLE_PER_ADDRESS: Limit = Limit {
    name: "available-addr",
    max: 60,
    window: Duration::from_secs(60),
};
/// Rooms one user may create.
pub const ROOM_CREATE_PER_USER: Limit = Limit {
    name: "room-create",
    max: 10,
    window: Duration::from_secs(3600),
};
/// New direct conversations one user may start (opening an existing one
/// is not counted): a DM reaches people who never joined anything.
pub const DM_CREATE_PER_USER: Limit = Limit {
    name: "dm-create",
    max: 30,
    window: Duration::from_secs(3600),
};
/// Password changes one user may try (each checks the current password).
pub const PASSWORD_CHANGE_PER_USER: Limit = Limit {
    name: "password-change",
    max: 5,
    window: Duration::from_secs(900),
};
/// Changes to one's profile and blocks (display name, bio, block, unblock)
/// by one user: enough for a person, not for a script cycling names.
pub const PROFILE_CHANGE_PER_USER: Limit = Limit {
    name: "profile-change",
    max: 30,
    window: Duration::from_secs(600),
};
/// Message searches by one user (`SEARCH_LIMIT`): each ranks up to
/// `SEARCH_CANDIDATES` rows, so a script may not loop on them.
pub const SEARCH_PER_USER: Limit = Limit {
    name: "search",
    max: 30,
    window: Duration::from_secs(60),
};
/// Upload requests by one user (`UPLOAD_LIMIT`): each is decoded,
/// converted and thumbnailed on the server's cores.
pub const UPLOADS_PER_USER: Limit = Limit {
    name: "upload",
    max: 30,
    window: Duration::from_secs(60),
};
/// Reads of history, events and search by one user: each can return
/// megabytes, so a script cannot loop on them for free.
pub const READS_PER_USER: Limit = Limit {
    name: "reads",
    max: 600,
    window: Duration::from_secs(60),
};
/// Changes to rooms by one user (sends, edits, deletions, reactions),
/// however sent (WebSocket, form or API): the default of the `SEND_LIMIT`
/// and `SEND_LIMIT_WINDOW_SECS` settings.
pub const SEND_PER_USER: Limit = Limit {
    name: "send-user",
    max: 30,
    window: Duration::from_secs(10),
};

/// Counts events per key in Redis.
#[derive(Clone)]
pub struct RateLimiter {
    redis: RedisConn,
    prefix: String,
}

impl RateLimiter {
    pub fn new(redis: RedisConn, prefix: String) -> Self {
        Self { redis, prefix }
    }

    fn key(&self, limit: &Limit, subject: &str) -> String {
        let digest = Sha256::digest(subject.to_lowercase().as_bytes());
        let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
        format!("{}rl:{}:{hex}", self.prefix, limit.name)
    }

    /// Counts one event; over the limit is `Error::RateLimited`.
    pub async fn hit(&self, limit: &Limit, subject: &str) -> Result<()> {
        let (count, ttl) = self.add(limit, subject, 1).await?;
        if count > limit.max {
            return Err(Error::RateLimited {
                retry_after_secs: ttl.max(1) as u64,
            });
        }
        Ok(())
    }

    /// Adds `amount` to the key's count, starting its window if new;
    /// returns the count and the seconds left in the window.
    async fn add(&self, limit: &Limit, subject: &str, amount: u64) -> Result<(u64, i64)> {
        let key = self.key(limit, subject);
        Ok(redis::pipe()
            .atomic()
            .cmd("INCRBY")
            .arg(&key)
            .arg(amount)
            .cmd("EXPIRE")
            .arg(&key)
            .arg(limit.window.as_secs())
            .arg("NX")
            .ignore()
            .ttl(&key)
            .query_async(&mut self.redis.clone())
            .await?)
    }

    /// Refuses when `subject` has spent its budget in this window, without
    /// spending: for costs known only afterwards (see [`Self::spend`]).
    pub async fn within_budget(&self, limit: &Limit, subject: &str) -> Result<()> {
        let key = self.key(limit, subject);
        let (spent, ttl): (Option<u64>, i64) = redis::pipe()
            .get(&key)
            .ttl(&key)
            .query_async(&mut self.redis.clone())
            .await?;
        if spent.unwrap_or(0) >= limit.max {
            return Err(Error::RateLimited {
                retry_after_secs: ttl.max(1) as u64,
            });
        }
        Ok(())
    }

    /// Adds `amount` to what `subject` spent in this window (bytes read for
    /// it, say); [`Self::within_budget`] refuses once it reaches the limit.
    pub async fn spend(&self, limit: &Limit, subject: &str, amount: u64) -> Result<()> {
        self.add(limit, subject, amount).await.map(drop)
    }

    /// Counts one event like [`Self::hit`], and returns what takes it back
    /// if it turns out not to count (a resend of something stored).
    pub async fn hit_refundable(&self, limit: &Limit, subject: &str) -> Result<Refund> {
        self.hit(limit, subject).await?;
        Ok(self.refund_of(limit, subject))
    }

    /// What takes back one event counted for `subject` (also one that was
    /// refused: a hit over the limit counts too).
    pub fn refund_of(&self, limit: &Limit, subject: &str) -> Refund {
        Refund {
            limiter: self.clone(),
            key: self.key(limit, subject),
        }
    }

    /// Forgets a key's count (a successful login clears its failures).
    pub async fn reset(&self, limit: &Limit, subject: &str) -> Result<()> {
        let _: () = redis::cmd("DEL")
            .arg(self.key(limit, subject))
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(())
    }
}

/// One counted event, to take back when it should not have counted: a
/// resend that stored nothing new, or a change that could not be stored.
pub struct Refund {
    limiter: RateLimiter,
    key: String,
}

impl Refund {
    /// Takes the event back (never below zero). A failure only means the
    /// user waits a little longer, so it is logged, not returned.
    pub async fn apply(self) {
        let script = redis::Script::new(
            "local n = tonumber(redis.call('GET', KEYS[1]) or '0') \
             if n > 0 then return redis.call('DECR', KEYS[1]) end return 0",
        );
        let refunded: redis::RedisResult<i64> = script
            .key(&self.key)
            .invoke_async(&mut self.limiter.redis.clone())
            .await;
        if let Err(e) = refunded {
            tracing::warn!(error = %e, "could not refund a rate-limit count");
        }
    }
}
