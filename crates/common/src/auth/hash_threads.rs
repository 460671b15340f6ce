//! The threads argon2 runs on: threads of its own, at a lower OS priority
//! (a higher nice value) than the ones serving requests. A burst of
//! sign-ins then slows down sign-ins, not the chat and the pages that share
//! the cores (issue 8's isolation target): the kernel gives a thread at
//! nice 10 about a tenth of the CPU a thread at nice 0 gets when both want
//! it, and all of it when nothing else does.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use thread_priority::{ThreadPriority, ThreadPriorityValue, set_current_thread_priority};

use crate::error::{Error, Result};

/// The nice value hashes run at unless `PASSWORD_HASH_NICE` says otherwise.
pub const DEFAULT_NICE: u8 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of hashing threads fed by one queue; the threads end when
/// the last handle is dropped.
pub(super) struct HashThreads {
    jobs: mpsc::Sender<Job>,
}

impl HashThreads {
    /// Starts `threads` threads at nice value `nice` (0-19).
    pub(super) fn start(threads: usize, nice: u8) -> Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    lower_priority(nice);
                    loop {
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        // A panicking hash fails its caller, not the thread.
                        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                    }
                })
                .map_err(|e| Error::internal_from("starting a hashing thread", e))?;
        }
        Ok(Self { jobs })
    }

    /// Runs `work` on a hashing thread and returns what it returns.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.jobs
            .send(job)
            .map_err(|_| Error::internal("the hashing threads are gone"))?;
        result
            .await
            .map_err(|_| Error::internal("a hashing job failed"))
    }
}

/// Sets the calling thread's nice value (Linux keeps one per thread). A
/// failure leaves it as it was: hashing still works, only less politely.
fn lower_priority(nice: u8) {
    let set = crossplatform_value(nice.min(19))
        .ok_or_else(|| format!("no priority value gives nice {nice}"))
        .and_then(|v| ThreadPriorityValue::try_from(v).map_err(|e| e.to_string()))
        .and_then(|v| {
            set_current_thread_priority(ThreadPriority::Crossplatform(v)).map_err(|e| e.to_string())
        });
    if let Err(e) = set {
        tracing::warn!(error = %e, nice, "could not lower the hashing thread's priority");
    }
}

/// The crate's value (0..=99) that it maps onto nice value `nice` for
/// normal threads: its own formula, searched rather than inverted, so the
/// rounding is the crate's.
fn crossplatform_value(nice: u8) -> Option<u8> {
    (0..=99u8).find(|&p| {
        let ratio = 1f32 - f32::from(p) / 99f32;
        (39f32 * ratio) as i8 - 20 == nice as i8
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The calling thread's nice value, from /proc (Linux).
    fn nice_of_this_thread() -> Option<i64> {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
        // Fields after the command name, which is in parentheses: nice is the 19th field.
        let after = stat.rsplit_once(')')?.1;
        after.split_whitespace().nth(16)?.parse().ok()
    }

    #[tokio::test]
    async fn work_runs_at_the_nice_value_asked_for() {
        for nice in [0u8, 7, 10, 19] {
            let Ok(threads) = HashThreads::start(1, nice) else {
                panic!("threads")
            };
            let seen = threads.run(nice_of_this_thread).await.ok().flatten();
            assert_eq!(seen, Some(i64::from(nice)));
        }
    }

    #[tokio::test]
    async fn a_panicking_job_fails_its_caller_and_the_thread_lives_on() {
        let Ok(threads) = HashThreads::start(1, 0) else {
            panic!("threads")
        };
        let failed = threads.run(|| -> u8 { panic!("boom") }).await;
        assert!(failed.is_err());
        assert_eq!(threads.run(|| 42).await.ok(), Some(42));
    }
}
