//! Access settings of items' ancestor chains kept in memory, so a decision on a known item
//! costs no recursive query. An entry is valid only for the authentication cache's generation
//! it was read in: every change that can narrow access (grants, moves, deletions, group and
//! account removals) bumps the authentication epoch in its transaction and clears that cache
//! (here, or through the epoch poller on other nodes), which retires every entry at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use deskward_core::acl::NodeAcl;

use crate::AuthCache;

/// Bound on the chains kept; when full the cache starts over.
const MAX_ENTRIES: usize = 100_000;

/// An item's ancestor chain as decisions need it.
#[derive(Debug)]
pub struct Chain {
    pub domain_id: i64,
    /// The item's own settings first, then its parent's, up to the top level.
    pub acls: Vec<NodeAcl>,
}

#[derive(Debug, Default)]
pub struct AclCache {
    entries: Mutex<(u64, HashMap<i64, Arc<Chain>>)>,
}

impl AclCache {
    pub(crate) fn get(&self, auth: &AuthCache, item: i64) -> Option<Arc<Chain>> {
        let generation = auth.live_generation()?;
        let entries = self.entries.lock().ok()?;
        (entries.0 == generation).then(|| entries.1.get(&item).cloned()).flatten()
    }

    /// Keeps a chain read while `generation` was current.
    pub(crate) fn insert(&self, auth: &AuthCache, generation: Option<u64>, item: i64, chain: Arc<Chain>) {
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
