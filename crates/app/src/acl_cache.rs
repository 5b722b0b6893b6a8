//! Access decisions kept in memory per item and asker, so a repeated decision costs no
//! recursive query. An entry is valid only for the authentication cache's generation
//! it was read in: every change that can narrow access (grants, moves, deletions, group and
//! account removals) bumps the authentication epoch in its transaction and clears that cache
//! (here, or through the epoch poller on other nodes), which retires every entry at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use deskward_core::acl::Decision;

use crate::AuthCache;

/// Bound on the decisions kept; when full the cache starts over.
const MAX_ENTRIES: usize = 100_000;

/// (item, (account or 0, link item or 0, share password given)).
pub(crate) type Key = (i64, (i64, i64, bool));

/// A decision on an item, with what its users need besides.
#[derive(Debug)]
pub struct Decided {
    pub decision: Decision,
    /// The item's ancestors, nearest first.
    pub ancestors: Vec<i64>,
}

#[derive(Debug, Default)]
pub struct AclCache {
    entries: Mutex<(u64, HashMap<Key, Arc<Decided>>)>,
}

impl AclCache {
    pub(crate) fn get(&self, auth: &AuthCache, item: Key) -> Option<Arc<Decided>> {
        let generation = auth.live_generation()?;
        let entries = self.entries.lock().ok()?;
        (entries.0 == generation).then(|| entries.1.get(&item).cloned()).flatten()
    }

    /// Keeps a decision read while `generation` was current.
    pub(crate) fn insert(&self, auth: &AuthCache, generation: Option<u64>, item: Key, chain: Arc<Decided>) {
        let (Some(read_in), Some(now)) = (generation, auth.live_generation()) else { return };
        if read_in != now {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.0 != now || entries.1.len() >= MAX_ENTRIES {
                *entries = (now, HashMap::new());
            }
            entries.1.insert(item, chain);
        }
    }
}
