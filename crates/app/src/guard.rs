//! The brute-force guard's memory: failed logins counted per client and per account, and the
//! bans in force. Deciding costs one hash lookup under a shard lock and never touches the
//! database; bans are written to the store by `bans.rs` and reloaded here by every server on
//! the same database.
//!
//! - A client (an IPv4 address, or an IPv6 /64) with `max_failures` failures within
//!   `find_time` of its first one is banned.
//! - An account with `*_account_failures` failures, each within `find_time` of the previous
//!   one, is throttled: each further attempt must wait `account_delay`, doubling per failure up
//!   to `account_delay_max`. It is never locked: its owner gets in at the next free slot, and
//!   at once from a client that logged in to it successfully before.
//! - Past `max_tracked` entries, a full shard forgets its stale entries, then an arbitrary
//!   sixteenth of itself, so memory stays bounded whatever an attacker sends.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::{Mutex, RwLock};

use deskward_core::net::{self, Network, Networks};

const SHARDS: usize = 16;
/// Clients remembered per account as having logged in to it.
const TRUSTED_PER_ACCOUNT: usize = 4;

/// The guard's settings, in seconds.
#[derive(Debug, Clone)]
pub struct GuardRules {
    pub enabled: bool,
    pub max_failures: u32,
    pub find_time: i64,
    pub ban_time: i64,
    pub ban_time_max: i64,
    pub ignore: Networks,
    pub user_account_failures: u32,
    pub staff_account_failures: u32,
    pub account_delay: i64,
    pub account_delay_max: i64,
    pub max_tracked: usize,
}

impl Default for GuardRules {
    fn default() -> Self {
        GuardRules {
            enabled: true,
            max_failures: 5,
            find_time: 600,
            ban_time: 600,
            ban_time_max: 86_400,
            ignore: Networks::default(),
            user_account_failures: 10,
            staff_account_failures: 5,
            account_delay: 2,
            account_delay_max: 60,
            max_tracked: 1_000_000,
        }
    }
}

impl GuardRules {
    /// The length of a client's ban number `offences` (1 for the first).
    pub fn ban_length(&self, offences: i64) -> i64 {
        let doublings = u32::try_from(offences.saturating_sub(1).clamp(0, 40)).unwrap_or(40);
        self.ban_time.saturating_mul(1_i64 << doublings).min(self.ban_time_max)
    }
}

/// What the guard says about an attempt before the password is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// The client is banned until this time.
    Banned { until: i64 },
    /// The account takes no attempt before this time.
    Throttled { until: i64 },
}

#[derive(Debug, Clone, Copy)]
struct ClientCount {
    first: u32,
    failures: u32,
}

#[derive(Debug, Clone, Copy)]
struct AccountCount {
    last: u32,
    failures: u32,
    staff: bool,
    trusted: [u64; TRUSTED_PER_ACCOUNT],
}

type Shard<V> = Mutex<HashMap<u64, V, RandomState>>;

#[derive(Debug, Default)]
struct BanSet {
    /// Bans of exactly one client key (an IPv4 address or an IPv6 /64).
    clients: HashMap<u64, i64>,
    /// Every other range, checked one by one (administrators write few).
    ranges: Vec<(Network, i64)>,
}

#[derive(Debug)]
pub struct Guard {
    rules: GuardRules,
    hasher: RandomState,
    clients: Vec<Shard<ClientCount>>,
    accounts: Vec<Shard<AccountCount>>,
    bans: RwLock<BanSet>,
}

fn secs(t: i64) -> u32 {
    u32::try_from(t.max(0)).unwrap_or(u32::MAX)
}

impl Guard {
    pub fn new(rules: GuardRules) -> Guard {
        Guard { rules, hasher: RandomState::new(), clients: shards(), accounts: shards(), bans: RwLock::default() }
    }

    pub fn rules(&self) -> &GuardRules {
        &self.rules
    }

    fn shard<'a, V>(&self, shards: &'a [Shard<V>], key: u64) -> &'a Shard<V> {
        let h = self.hasher.hash_one(key);
        &shards[(h as usize) % SHARDS]
    }

    /// An account's key: a keyed hash of its login, so memory does not grow with name lengths.
    pub fn account_key(&self, login: &str) -> u64 {
        self.hasher.hash_one(login.to_ascii_lowercase())
    }

    /// Whether the guard counts this client at all.
    pub fn watches(&self, ip: IpAddr) -> bool {
        self.rules.enabled && !self.rules.ignore.contains(ip)
    }

    /// The ban in force on `ip`, if any. Bans apply even to ignored clients and with the guard
    /// off: an administrator wrote them.
    pub fn banned_until(&self, ip: IpAddr, now: i64) -> Option<i64> {
        let bans = self.bans.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut until = bans.clients.get(&net::client_key(ip)).copied().filter(|u| *u > now);
        for (network, end) in &bans.ranges {
            if *end > now && network.contains(ip) {
                until = until.max(Some(*end));
            }
        }
        until
    }

    /// The decision before a password is checked.
    pub fn check(&self, ip: IpAddr, account: u64, now: i64) -> Verdict {
        if let Some(until) = self.banned_until(ip, now) {
            return Verdict::Banned { until };
        }
        if !self.watches(ip) {
            return Verdict::Allowed;
        }
        let client = net::client_key(ip);
        let map = lock(self.shard(&self.accounts, account));
        let Some(a) = map.get(&account) else { return Verdict::Allowed };
        if a.trusted.contains(&client) {
            return Verdict::Allowed;
        }
        match self.account_free_at(a, now) {
            Some(at) if at > now => Verdict::Throttled { until: at },
            _ => Verdict::Allowed,
        }
    }

    /// When a throttled account takes its next attempt; `None` when it is not throttled.
    fn account_free_at(&self, a: &AccountCount, now: i64) -> Option<i64> {
        let threshold = if a.staff { self.rules.staff_account_failures } else { self.rules.user_account_failures };
        let last = i64::from(a.last);
        if a.failures < threshold || now - last > self.rules.find_time {
            return None;
        }
        let doublings = (a.failures - threshold).min(40);
        let wait = self.rules.account_delay.saturating_mul(1_i64 << doublings).min(self.rules.account_delay_max);
        Some(last + wait)
    }

    /// Counts a failed login. Returns the client's key when this failure reaches the ban
    /// threshold (exactly once per window, however many requests race).
    pub fn failure(&self, ip: IpAddr, account: Option<(u64, bool)>, now: i64) -> Option<u64> {
        if !self.watches(ip) {
            return None;
        }
        let t = secs(now);
        if let Some((key, staff)) = account {
            let shard = self.shard(&self.accounts, key);
            let mut map = lock(shard);
            self.make_room(&mut map, key, |a| now - i64::from(a.last) > self.rules.find_time);
            let a = map.entry(key).or_insert(AccountCount { last: t, failures: 0, staff, trusted: [0; TRUSTED_PER_ACCOUNT] });
            if now - i64::from(a.last) > self.rules.find_time {
                a.failures = 0;
            }
            a.failures = a.failures.saturating_add(1);
            a.last = t;
            a.staff |= staff;
        }
        let client = net::client_key(ip);
        let mut map = lock(self.shard(&self.clients, client));
        self.make_room(&mut map, client, |c| now - i64::from(c.first) > self.rules.find_time);
        let c = map.entry(client).or_insert(ClientCount { first: t, failures: 0 });
        if now - i64::from(c.first) > self.rules.find_time {
            *c = ClientCount { first: t, failures: 0 };
        }
        c.failures = c.failures.saturating_add(1);
        if c.failures == self.rules.max_failures {
            map.remove(&client);
            return Some(client);
        }
        None
    }

    /// A successful login: the account's failures are forgotten and the client is trusted for
    /// it. The client's own count stays, so logging in to one's own account does not wash away
    /// guesses at others.
    pub fn success(&self, ip: IpAddr, account: u64) {
        if !self.watches(ip) {
            return;
        }
        let client = net::client_key(ip);
        let mut map = lock(self.shard(&self.accounts, account));
        self.make_room(&mut map, account, |a| a.failures == 0);
        let a = map.entry(account).or_insert(AccountCount { last: 0, failures: 0, staff: false, trusted: [0; TRUSTED_PER_ACCOUNT] });
        a.failures = 0;
        if !a.trusted.contains(&client) {
            a.trusted.rotate_right(1);
            a.trusted[0] = client;
        }
    }

    /// Keeps a shard within its share of `max_tracked` before `key` is inserted.
    fn make_room<V>(&self, map: &mut HashMap<u64, V, RandomState>, key: u64, stale: impl Fn(&V) -> bool) {
        // A sixteenth of slack per shard: addresses never spread exactly evenly.
        let cap = (self.rules.max_tracked / SHARDS * 17 / 16).max(1);
        if map.len() < cap || map.contains_key(&key) {
            return;
        }
        map.retain(|_, v| !stale(v));
        if map.len() >= cap {
            let drop: Vec<u64> = map.keys().take(cap / 16 + 1).copied().collect();
            for k in drop {
                map.remove(&k);
            }
        }
    }

    /// Replaces the bans in force (after a reload from the store).
    pub fn set_bans(&self, bans: impl IntoIterator<Item = (Network, i64)>) {
        let mut set = BanSet::default();
        for (network, until) in bans {
            set_ban(&mut set, network, until);
        }
        *self.bans.write().unwrap_or_else(std::sync::PoisonError::into_inner) = set;
    }

    /// Adds one ban at once, before the next reload brings it.
    pub fn add_ban(&self, network: Network, until: i64) {
        set_ban(&mut self.bans.write().unwrap_or_else(std::sync::PoisonError::into_inner), network, until);
    }

    /// Clients tracked now (for the benchmark and tests).
    pub fn tracked_clients(&self) -> usize {
        self.clients.iter().map(|s| lock(s).len()).sum()
    }
}

fn set_ban(set: &mut BanSet, network: Network, until: i64) {
    let key = net::client_key(network.addr());
    if net::key_network(key) == network {
        let end = set.clients.entry(key).or_insert(until);
        *end = (*end).max(until);
    } else {
        set.ranges.push((network, until));
    }
}

fn shards<V>() -> Vec<Shard<V>> {
    (0..SHARDS).map(|_| Mutex::new(HashMap::with_hasher(RandomState::new()))).collect()
}

fn lock<V>(shard: &Shard<V>) -> std::sync::MutexGuard<'_, HashMap<u64, V, RandomState>> {
    shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    fn rules() -> GuardRules {
        GuardRules { max_failures: 3, user_account_failures: 4, staff_account_failures: 2, ..GuardRules::default() }
    }

    #[test]
    fn a_client_is_reported_once_at_the_threshold() {
        let g = Guard::new(rules());
        let a = g.account_key("x@example.org");
        assert_eq!(g.failure(ip("192.0.2.1"), Some((a, false)), 100), None);
        assert_eq!(g.failure(ip("192.0.2.1"), None, 101), None);
        assert_eq!(g.failure(ip("192.0.2.1"), None, 102), Some(net::client_key(ip("192.0.2.1"))));
        // Outside the window the count starts again.
        assert_eq!(g.failure(ip("192.0.2.2"), None, 100), None);
        assert_eq!(g.failure(ip("192.0.2.2"), None, 101), None);
        assert_eq!(g.failure(ip("192.0.2.2"), None, 800), None);
    }

    #[test]
    fn bans_cover_clients_and_ranges() {
        let g = Guard::new(rules());
        g.set_bans([(net::ban_network(ip("2001:db8:1:2::5")), 200), ("10.0.0.0/8".parse().unwrap_or(Network::host(ip("1.1.1.1"))), 300)]);
        assert_eq!(g.check(ip("2001:db8:1:2::99"), 0, 100), Verdict::Banned { until: 200 });
        assert_eq!(g.check(ip("10.9.9.9"), 0, 100), Verdict::Banned { until: 300 });
        assert_eq!(g.check(ip("10.9.9.9"), 0, 300), Verdict::Allowed, "a ban ends");
        assert_eq!(g.check(ip("192.0.2.1"), 0, 100), Verdict::Allowed);
    }

    #[test]
    fn an_account_is_throttled_with_a_growing_delay_but_its_known_client_gets_in() {
        let g = Guard::new(rules());
        let a = g.account_key("boss@example.org");
        g.success(ip("198.51.100.7"), a);
        g.failure(ip("192.0.2.1"), Some((a, true)), 1000);
        assert_eq!(g.check(ip("192.0.2.2"), a, 1000), Verdict::Allowed);
        g.failure(ip("192.0.2.2"), Some((a, true)), 1000);
        assert_eq!(g.check(ip("192.0.2.3"), a, 1000), Verdict::Throttled { until: 1002 });
        assert_eq!(g.check(ip("192.0.2.3"), a, 1002), Verdict::Allowed);
        g.failure(ip("192.0.2.3"), Some((a, true)), 1002);
        assert_eq!(g.check(ip("192.0.2.4"), a, 1002), Verdict::Throttled { until: 1006 });
        assert_eq!(g.check(ip("198.51.100.7"), a, 1002), Verdict::Allowed, "the owner's client");
        g.success(ip("198.51.100.7"), a);
        assert_eq!(g.check(ip("192.0.2.4"), a, 1002), Verdict::Allowed, "a success clears the count");
    }

    #[test]
    fn ignored_clients_are_not_counted_but_bans_still_apply() {
        let g = Guard::new(GuardRules { ignore: Networks::parse(["127.0.0.0/8"]).unwrap_or_default(), ..rules() });
        for t in 0..10 {
            assert_eq!(g.failure(ip("127.0.0.1"), None, t), None);
        }
        g.add_ban(Network::host(ip("127.0.0.1")), 50);
        assert_eq!(g.check(ip("127.0.0.1"), 0, 10), Verdict::Banned { until: 50 });
    }

    #[test]
    fn memory_stays_within_max_tracked() {
        let g = Guard::new(GuardRules { max_tracked: 1600, ..rules() });
        for i in 0..20_000u32 {
            g.failure(IpAddr::from(i.to_be_bytes()), None, 10);
        }
        assert!(g.tracked_clients() <= 1700, "{}", g.tracked_clients());
        assert!(g.tracked_clients() >= 1000, "{}", g.tracked_clients());
    }

    #[test]
    fn bans_grow_and_stop_at_the_ceiling() {
        let r = rules();
        assert_eq!((r.ban_length(1), r.ban_length(2), r.ban_length(3)), (600, 1200, 2400));
        assert_eq!(r.ban_length(100), 86_400);
    }
}
