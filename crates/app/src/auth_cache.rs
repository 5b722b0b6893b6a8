//! A cache of authenticated sessions, so that a request with a known token costs no database
//! round trip.
//!
//! Correctness rests on the authentication epoch (see the store): every change that can end or
//! narrow a session bumps it in its own transaction. Changes made through this process clear
//! the cache at once; a refresher polls the epoch every [`POLL`] and clears the cache when it
//! moved, so a change made by another node or by the CLI takes effect within that interval.
//! Until the refresher runs, the cache stays off and every request reads the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deskward_store::{Store, auth_epoch};

use crate::Authenticated;

/// How often the epoch is read from the database.
pub const POLL: Duration = Duration::from_millis(250);
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

    /// Turns the cache on and keeps it in step with the database until the process ends.
    pub fn start_refresher(self: &Arc<Self>, store: Store) {
        let cache = self.clone();
        tokio::spawn(async move {
            let mut seen: Option<i64> = None;
            loop {
                let epoch = match store.conn().await {
                    Ok(mut c) => auth_epoch::current(&mut c).await.ok(),
                    Err(_) => None,
                };
                match epoch {
                    Some(e) if seen == Some(e) => {}
                    Some(e) => {
                        cache.clear();
                        seen = Some(e);
                        cache.enabled.store(true, Ordering::Release);
                    }
                    // Database unreachable: stop trusting the cache rather than serve stale answers.
                    None => {
                        cache.enabled.store(false, Ordering::Release);
                        cache.clear();
                        seen = None;
                    }
                }
                tokio::time::sleep(POLL).await;
            }
        });
    }
}
