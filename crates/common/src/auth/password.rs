//! Password hashing with argon2id (m = 19 MiB, t = 2, p = 1), on threads of
//! its own at a lower OS priority (`hash_threads`), never on the async
//! executor. Hashes are expensive by design,
//! so a bounded number run at once and a bounded number wait; beyond that the
//! caller gets `Error::Busy` at once instead of queueing memory without end.

use std::sync::Arc;
use std::time::Duration;

use argon2::{Argon2, PasswordHasher as _, PasswordVerifier as _};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use super::hash_threads::DEFAULT_NICE;
use super::hash_threads::HashThreads;
use crate::error::{Error, Result};

/// Hashes and verifies passwords under a concurrency cap.
#[derive(Clone)]
pub struct PasswordHasher {
    /// Running plus waiting hashes; full means "busy".
    admission: Arc<Semaphore>,
    /// Hashes running on the hashing threads.
    running: Arc<Semaphore>,
    /// The hashing threads, one per running hash.
    threads: Arc<HashThreads>,
    /// How long an admitted hash may wait for a running slot.
    max_wait: Duration,
    /// Verified against when the account does not exist, so that a login for
    /// an unknown name costs the same time as one for a known name.
    dummy_hash: Arc<str>,
}

fn argon2() -> Argon2<'static> {
    // Argon2id, version 0x13, m = 19 MiB, t = 2, p = 1 (OWASP's recommendation).
    Argon2::default()
}

impl PasswordHasher {
    /// `running` hashes at once (about the number of cores), `waiting` more
    /// queued, on threads at nice value `nice` (0-19).
    pub async fn new(running: usize, waiting: usize, nice: u8) -> Result<Self> {
        let threads = Arc::new(HashThreads::start(running.max(1), nice)?);
        let dummy_hash: Arc<str> = threads
            .run(|| hash_now(b"parley dummy password for timing"))
            .await??
            .into();
        Ok(Self {
            threads,
            admission: Arc::new(Semaphore::new(running.max(1) + waiting)),
            running: Arc::new(Semaphore::new(running.max(1))),
            max_wait: Duration::from_secs(10),
            dummy_hash,
        })
    }

    async fn permits(&self) -> Result<(OwnedSemaphorePermit, OwnedSemaphorePermit)> {
        let admitted = self
            .admission
            .clone()
            .try_acquire_owned()
            .map_err(|_| Error::Busy)?;
        let running = tokio::time::timeout(self.max_wait, self.running.clone().acquire_owned())
            .await
            .map_err(|_| Error::Busy)?
            .map_err(|_| Error::Busy)?;
        Ok((admitted, running))
    }

    /// A PHC string for a new password.
    pub async fn hash(&self, password: &str) -> Result<String> {
        let permits = self.permits().await?;
        let password = password.to_owned();
        self.threads
            .run(move || {
                let _permits = permits;
                hash_now(password.as_bytes())
            })
            .await?
    }

    /// Whether `password` matches `stored`. With no stored hash (unknown
    /// account) it verifies against the dummy hash and answers false, taking
    /// the same time as a real check.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool> {
        let permits = self.permits().await?;
        let password = password.to_owned();
        let known = stored.is_some();
        let hash: String = stored.unwrap_or(&self.dummy_hash).to_owned();
        let matched = self
            .threads
            .run(move || {
                let _permits = permits;
                argon2()
                    .verify_password(password.as_bytes(), hash.as_str())
                    .is_ok()
            })
            .await?;
        Ok(known && matched)
    }
}

fn hash_now(password: &[u8]) -> Result<String> {
    argon2()
        .hash_password(password)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal_from("hashing a password", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_use_argon2id_with_owasp_parameters() {
        let Ok(hasher) = PasswordHasher::new(2, 2, DEFAULT_NICE).await else {
            panic!("hasher")
        };
        let hash = hasher.hash("correct horse").await.unwrap_or_default();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(matches!(
            hasher.verify("correct horse", Some(&hash)).await,
            Ok(true)
        ));
        assert!(matches!(
            hasher.verify("wrong horse", Some(&hash)).await,
            Ok(false)
        ));
        assert!(matches!(
            hasher.verify("correct horse", None).await,
            Ok(false)
        ));
        assert!(matches!(
            hasher.verify("x", Some("not a phc string")).await,
            Ok(false)
        ));
    }

    #[tokio::test]
    async fn excess_hashes_are_refused_not_queued() {
        let Ok(hasher) = PasswordHasher::new(1, 0, DEFAULT_NICE).await else {
            panic!("hasher")
        };
        // Hold the only admission slot, as a running hash would.
        let held = hasher.admission.clone().try_acquire_owned();
        assert!(held.is_ok());
        assert!(matches!(hasher.hash("password1").await, Err(Error::Busy)));
        drop(held);
        assert!(hasher.hash("password1").await.is_ok());
    }
}
