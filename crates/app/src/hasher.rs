//! Password hashing off the async runtime, on `max_in_flight` threads of its own. Each argon2id
//! hash holds `memory_kib` of RAM, so at most that many run at once and at most `max_queued`
//! more wait; beyond that callers get [`AppError::Busy`] (503 with Retry-After) instead of
//! exhausting memory under a login flood.
//!
//! Each hashing thread keeps its argon2 working memory for the next verification: a fresh
//! 19 MiB buffer per hash costs page faults and an unmap each time (it halved the hash rate),
//! and the runtime's blocking pool, which hands each hash to whichever thread is free, made
//! verifications about 10 % slower than threads of their own (`scripts/bench hasher`). A
//! thread idle for [`IDLE_RELEASE`] frees its memory, so an idle server gives it back. In the
//! server the hashing threads run at a lower priority than request handling ([`ThreadHooks`]):
//! a login's other work, and everyone else's requests, do not wait behind a hash.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use deskward_core::password::hash::{self, Block, HashParams, Verification};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::AppError;

#[derive(Debug, Clone, Copy)]
pub struct HasherLimits {
    /// Hashes computed at once; 0 means one per CPU core.
    pub max_in_flight: u32,
    pub max_queued: u32,
}

/// Work for a hashing thread, given the thread's argon2 memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

#[derive(Debug, Clone)]
pub struct Hasher {
    params: HashParams,
    /// Hashes running or queued; a permit is held until its hash is done, also when the
    /// caller stopped waiting, so abandoned requests cannot grow the queue.
    admitted: Arc<Semaphore>,
    /// Verified when the login names no account, so that answer takes as long as a wrong password.
    dummy: Arc<str>,
    /// To the hashing threads; they end when the last clone of the hasher is dropped.
    jobs: crossbeam_channel::Sender<Job>,
    /// Set by the server (see [`Hasher::use_hooks`]).
    hooks: Arc<OnceLock<ThreadHooks>>,
}

/// What the server asks of the operating system for the hashing threads.
#[derive(Debug, Clone, Copy)]
pub struct ThreadHooks {
    /// Lowers the calling thread's scheduling priority.
    pub lower_priority: fn(),
    /// Returns the allocator's free memory to the system, after a thread freed its idle memory.
    pub give_back: fn(),
}

/// A hashing thread idle this long frees its argon2 memory.
pub const IDLE_RELEASE: Duration = Duration::from_secs(10);

impl Hasher {
    pub fn new(params: HashParams, limits: HasherLimits) -> Result<Hasher, AppError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let in_flight = match limits.max_in_flight {
            0 => cores,
            n => n as usize,
        };
        let dummy = hash::hash("deskward-dummy-password", &rand::random(), params)?;
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        let hooks: Arc<OnceLock<ThreadHooks>> = Arc::default();
        for n in 0..in_flight {
            let (queue, hooks) = (queue.clone(), hooks.clone());
            std::thread::Builder::new()
                .name(format!("deskward-hash-{n}"))
                .spawn(move || hashing_thread(&queue, &hooks))
                .map_err(|e| AppError::Internal(format!("cannot start a hashing thread: {e}")))?;
        }
        Ok(Hasher { params, admitted: Arc::new(Semaphore::new(in_flight + limits.max_queued as usize)), dummy: dummy.into(), jobs, hooks })
    }

    /// A fresh argon2id hash of `password`.
    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let (password, params) = (password.to_owned(), self.params);
        let salt: [u8; 16] = rand::random();
        self.run(move |_| hash::hash(&password, &salt, params)).await?.map_err(AppError::from)
    }

    pub async fn verify(&self, password: &str, stored: &str) -> Result<Verification, AppError> {
        let (password, stored, params) = (password.to_owned(), stored.to_owned(), self.params);
        self.run(move |memory| hash::verify(&password, &stored, params, memory)).await?.map_err(AppError::from)
    }

    /// The server's hooks, applied by each hashing thread from its next hash on. Set once.
    pub fn use_hooks(&self, hooks: ThreadHooks) {
        let _ = self.hooks.set(hooks);
    }

    /// Spends the same work as a real verification and always fails.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), AppError> {
        let dummy = self.dummy.clone();
        self.verify(password, &dummy).await.map(|_| ())
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static) -> Result<T, AppError> {
        let admitted: OwnedSemaphorePermit = self.admitted.clone().try_acquire_owned().map_err(|_| AppError::Busy)?;
        let (answer, answered) = oneshot::channel();
        let queued = Instant::now();
        let job: Job = Box::new(move |memory| {
            let started = Instant::now();
            let out = work(memory);
            tracing::debug!(wait_us = (started - queued).as_micros() as u64, run_us = started.elapsed().as_micros() as u64, "password hash");
            drop(admitted);
            let _ = answer.send(out);
        });
        self.jobs.send(job).map_err(|_| AppError::Internal("the hashing threads have stopped".into()))?;
        answered.await.map_err(|_| AppError::Internal("a hashing thread stopped during a hash".into()))
    }
}

/// Runs hashes until every sender is gone, keeping its argon2 memory between them and freeing
/// it after [`IDLE_RELEASE`] without work.
fn hashing_thread(queue: &crossbeam_channel::Receiver<Job>, hooks: &OnceLock<ThreadHooks>) {
    let mut memory: Vec<Block> = Vec::new();
    let mut lowered = false;
    loop {
        match queue.recv_timeout(IDLE_RELEASE) {
            Ok(job) => {
                if !lowered && let Some(h) = hooks.get() {
                    (h.lower_priority)();
                    lowered = true;
                }
                // A panicking hash must not take the thread, and so the hasher's capacity, with it.
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut memory))).is_err() {
                    tracing::error!("a password hash panicked");
                    memory = Vec::new();
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if !memory.is_empty() {
                    memory = Vec::new();
                    if let Some(h) = hooks.get() {
                        (h.give_back)();
                    }
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn excess_work_is_refused_not_queued_without_bound() {
        let params = HashParams { memory_kib: 8 * 1024, iterations: 2, parallelism: 1 };
        let hasher = Hasher::new(params, HasherLimits { max_in_flight: 1, max_queued: 2 }).unwrap();
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let h = hasher.clone();
                tokio::spawn(async move { h.hash("x").await })
            })
            .collect();
        let mut busy = 0;
        let mut done = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => done += 1,
                Err(AppError::Busy) => busy += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(done >= 3, "at least the admitted ones finish: {done}");
        assert!(busy >= 1, "the rest are refused: {busy}");
        assert_eq!(done + busy, 20);
    }
}
