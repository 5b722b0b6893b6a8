//! Password hashing off the async runtime. Each argon2id hash holds `memory_kib` of RAM, so at
//! most `max_in_flight` run at once and at most `max_queued` more wait; beyond that callers get
//! [`AppError::Busy`] (503 with Retry-After) instead of exhausting memory under a login flood.
//!
//! Verification reuses argon2's working memory from a small pool: a fresh 19 MiB buffer per
//! hash costs page faults and an unmap each time (it halved the hash rate). Buffers unused for
//! [`IDLE_RELEASE`] are freed by the trimmer, so an idle server gives the memory back.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deskward_core::password::hash::{self, Block, HashParams, Verification};
use tokio::sync::Semaphore;

use crate::AppError;

#[derive(Debug, Clone, Copy)]
pub struct HasherLimits {
    /// Hashes computed at once; 0 means one per CPU core.
    pub max_in_flight: u32,
    pub max_queued: u32,
}

#[derive(Debug, Clone)]
pub struct Hasher {
    params: HashParams,
    running: Arc<Semaphore>,
    admitted: Arc<Semaphore>,
    /// Verified when the login names no account, so that answer takes as long as a wrong password.
    dummy: Arc<str>,
    /// Idle argon2 working memory, with when it was last used.
    pool: Arc<Mutex<Vec<Pooled>>>,
    /// Hashes computed at once, and so the most buffers the pool keeps.
    in_flight: usize,
}

/// argon2 working memory and when it was last used.
type Pooled = (Vec<Block>, Instant);

/// Pooled argon2 memory unused this long is freed.
pub const IDLE_RELEASE: Duration = Duration::from_secs(10);

impl Hasher {
    pub fn new(params: HashParams, limits: HasherLimits) -> Result<Hasher, AppError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let in_flight = match limits.max_in_flight {
            0 => cores,
            n => n as usize,
        };
        let dummy = hash::hash("deskward-dummy-password", &rand::random(), params)?;
        Ok(Hasher {
            params,
            running: Arc::new(Semaphore::new(in_flight)),
            admitted: Arc::new(Semaphore::new(in_flight + limits.max_queued as usize)),
            dummy: dummy.into(),
            pool: Arc::default(),
            in_flight,
        })
    }

    /// A fresh argon2id hash of `password`.
    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let (password, params) = (password.to_owned(), self.params);
        let salt: [u8; 16] = rand::random();
        self.run(move || hash::hash(&password, &salt, params)).await?.map_err(AppError::from)
    }

    pub async fn verify(&self, password: &str, stored: &str) -> Result<Verification, AppError> {
        let (password, stored, params) = (password.to_owned(), stored.to_owned(), self.params);
        let (pool, keep) = (self.pool.clone(), self.in_flight);
        // The buffer is taken inside the hashing slot: taken earlier, every queued call would
        // bring its own and the pool would grow with the queue.
        self.run(move || {
            let mut memory = pool.lock().ok().and_then(|mut p| p.pop()).map(|(m, _)| m).unwrap_or_default();
            let result = hash::verify(&password, &stored, params, &mut memory);
            if let Ok(mut p) = pool.lock()
                && p.len() < keep
            {
                p.push((memory, Instant::now()));
            }
            result
        })
        .await?
        .map_err(AppError::from)
    }

    /// Frees pooled memory idle for longer than `idle`; returns how many buffers were freed.
    pub fn release_idle(&self, idle: Duration) -> usize {
        let Ok(mut pool) = self.pool.lock() else { return 0 };
        let before = pool.len();
        pool.retain(|(_, used)| used.elapsed() < idle);
        before - pool.len()
    }

    /// Frees idle pooled memory every few seconds until the process ends; after it freed
    /// some, `give_back` asks the allocator to return what it keeps to the system.
    pub fn start_trimmer(&self, give_back: fn()) {
        let hasher = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(IDLE_RELEASE / 2).await;
                if hasher.release_idle(IDLE_RELEASE) > 0 {
                    give_back();
                }
            }
        });
    }

    /// Spends the same work as a real verification and always fails.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), AppError> {
        let dummy = self.dummy.clone();
        self.verify(password, &dummy).await.map(|_| ())
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let _admitted = self.admitted.clone().try_acquire_owned().map_err(|_| AppError::Busy)?;
        let queued = Instant::now();
        let _running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let started = Instant::now();
        let out = tokio::task::spawn_blocking(work).await.map_err(|e| AppError::Internal(e.to_string()));
        tracing::debug!(wait_us = (started - queued).as_micros() as u64, run_us = started.elapsed().as_micros() as u64, "password hash");
        out
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
