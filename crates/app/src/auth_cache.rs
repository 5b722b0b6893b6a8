//! A cache of authenticated sessions, so that a request with a known token costs no database
//! round trip.
//!
//! Correctness rests on the authentication epoch (see the store): every change that can end or
//! narrow a session bumps it in its own transaction. Changes made through this process clear
//! the cache at once; a poller (`epochs.rs`) reads the epoch every 250 ms and clears the cache when it
//! moved, so a change made by another node or by the CLI takes effect within that interval.
//! Until the refresher runs, the cache stays off and every request reads the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::Authenticated;

/// Bound on the entries kept; when full the cache is cleared (a rare, cheap event).
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Default)]
pub struct AuthCache {
    enabled: AtomicBool,
    /// Moves whenever the cache is cleared; an entry read from the database before a clear is
    /// not inserted after it.
    generation: AtomicU64,
    entries: Mutex<HashMap<String, Authenticated>>,
}

impl AuthCache {
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The generation, while the cache may be trusted at all (the epoch is known).
    pub(crate) fn live_generation(&self) -> Option<u64> {
        self.enabled.load(Ordering::Acquire).then(|| self.generation())
    }

    pub(crate) fn get(&self, token_hash: &str) -> Option<Authenticated> {
        if !self.enabled.load(Ordering::Acquire) {
            return None;
        }
        self.entries.lock().ok()?.get(token_hash).cloned()
    }

    /// Inserts unless the cache was cleared since `generation` was read.
    pub(crate) fn insert(&self, generation: u64, token_hash: String, value: Authenticated) {
        if !self.enabled.load(Ordering::Acquire) {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if self.generation() != generation {
                return;
            }
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(token_hash, value);
        }
    }

    pub(crate) fn remove(&self, token_hash: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(token_hash);
        }
    }

    /// Forgets everything; called after any change to sessions or what they may do.
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            entries.clear();
        }
    }

    /// Follows the polled authentication epoch (`epochs.rs`): clears the cache when it moved,
    /// turns the cache on once it is known, and off while the database cannot be read.
    pub(crate) fn follow(&self, epoch: Option<i64>, seen: &mut Option<i64>) {
        match epoch {
            Some(e) if *seen == Some(e) => {}
            Some(e) => {
                self.clear();
                *seen = Some(e);
                self.enabled.store(true, Ordering::Release);
            }
            // Database unreachable: stop trusting the cache rather than serve stale answers.
            None => {
                self.enabled.store(false, Ordering::Release);
                self.clear();
                *seen = None;
            }
        }
    }
}
