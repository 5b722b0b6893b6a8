//! A budget of security events per source and action. Some events cost an attacker nothing
//! (a malformed login, a query string with `<script>`), so without a budget an anonymous flood
//! could write the audit log full. Within a window each (source, action) may record a number of
//! events; further ones are counted, and when the window ends one `events.suppressed` record
//! per (source, action) says how many were not recorded. IPv6 sources count per /64, the block
//! one client usually holds; past 10,000 tracked sources the rest share one budget.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sources tracked in one window before the rest share a budget.
const MAX_SOURCES: usize = 10_000;

#[derive(Debug)]
pub struct EventLimit {
    per_window: u32,
    window: Duration,
    state: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    counts: HashMap<(String, String), Count>,
}

#[derive(Debug)]
struct Count {
    admitted: u32,
    suppressed: u64,
    chain: String,
}

/// Events of one (source, action) that were counted instead of recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    pub source: String,
    pub action: String,
    pub chain: String,
    pub count: u64,
}

/// The budget key of an address: itself for IPv4, its /64 for IPv6 (as the guard counts).
fn source_key(ip: &str) -> String {
    ip.parse::<IpAddr>().map_or_else(|_| ip.to_owned(), |ip| deskward_core::net::ban_network(ip).to_string())
}

impl EventLimit {
    pub fn new(per_window: u32, window: Duration) -> EventLimit {
        EventLimit { per_window, window, state: Mutex::new(Window { started: Instant::now(), counts: HashMap::new() }) }
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    pub fn per_window(&self) -> u32 {
        self.per_window
    }

    /// True when an event of `action` from `ip` may be recorded now; otherwise it is counted.
    pub fn admit(&self, ip: &str, action: &str, chain: &str) -> bool {
        let Ok(mut w) = self.state.lock() else { return true };
        let mut key = (source_key(ip), action.to_owned());
        if !w.counts.contains_key(&key) && w.counts.len() >= MAX_SOURCES {
            key.0 = "*".into();
        }
        let count = w.counts.entry(key).or_insert_with(|| Count { admitted: 0, suppressed: 0, chain: chain.to_owned() });
        if count.admitted < self.per_window {
            count.admitted += 1;
            true
        } else {
            count.suppressed += 1;
            false
        }
    }

    /// When the window has ended: starts a new one and answers what the old one suppressed.
    pub fn roll(&self) -> Vec<Suppressed> {
        let Ok(mut w) = self.state.lock() else { return Vec::new() };
        if w.started.elapsed() < self.window {
            return Vec::new();
        }
        w.started = Instant::now();
        let mut out: Vec<Suppressed> = w
            .counts
            .drain()
            .filter(|(_, c)| c.suppressed > 0)
            .map(|((source, action), c)| Suppressed { source, action, chain: c.chain, count: c.suppressed })
            .collect();
        out.sort_by(|a, b| (&a.source, &a.action).cmp(&(&b.source, &b.action)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_gets_its_budget_per_action_and_the_rest_is_counted() {
        let limit = EventLimit::new(3, Duration::ZERO);
        let admitted = (0..10).filter(|_| limit.admit("192.0.2.1", "login.failed", "example.org")).count();
        assert_eq!(admitted, 3);
        assert!(limit.admit("192.0.2.1", "request.suspicious", "_system"), "another action has its own budget");
        assert!(limit.admit("192.0.2.2", "login.failed", "example.org"), "another source has its own budget");
        assert_eq!(
            limit.roll(),
            vec![Suppressed { source: "192.0.2.1".into(), action: "login.failed".into(), chain: "example.org".into(), count: 7 }]
        );
        assert!(limit.admit("192.0.2.1", "login.failed", "example.org"), "a new window starts afresh");
    }

    #[test]
    fn ipv6_counts_per_64_and_many_sources_share_one_budget() {
        let limit = EventLimit::new(1, Duration::from_secs(3600));
        assert!(limit.admit("2001:db8:1:2::1", "x", "c"));
        assert!(!limit.admit("2001:db8:1:2:ffff::9", "x", "c"), "same /64");
        assert!(limit.admit("2001:db8:1:3::1", "x", "c"));
        assert_eq!(source_key("::ffff:192.0.2.7"), "192.0.2.7");
        for i in 0..MAX_SOURCES - 2 {
            limit.admit(&format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255), "y", "c");
        }
        assert!(limit.admit("198.51.100.1", "y", "c"), "the first overflow source takes the shared budget");
        assert!(!limit.admit("198.51.100.2", "y", "c"), "the next shares it");
        assert!(limit.roll().is_empty(), "the window has not ended");
    }
}
