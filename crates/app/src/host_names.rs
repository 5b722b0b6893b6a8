//! Host names of clients' addresses (reverse DNS), for the audit log and the account page.
//! Answers, and their absence, are cached for `dns.cache_ttl`. A login starts the lookup when
//! it begins and waits for it at most until `dns.timeout` after that start, so the password
//! check hides the wait; a slow or dead resolver costs a login at most that, and a late answer
//! is still cached for the next request.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

/// Addresses cached at most; when full the cache is cleared (names come back on demand).
const MAX_CACHED: usize = 100_000;

#[derive(Debug, Clone)]
pub struct HostNames {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    resolver: TokioResolver,
    timeout: Duration,
    ttl: Duration,
    cache: Mutex<HashMap<IpAddr, (String, Instant)>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostNames").field("timeout", &self.timeout).field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

/// A lookup started at the beginning of a login.
#[derive(Debug)]
pub struct Pending {
    known: Option<String>,
    task: Option<(tokio::task::JoinHandle<String>, Instant)>,
}

impl Pending {
    /// The host name, waiting no later than the lookup's deadline; empty when unknown.
    pub async fn name(self) -> String {
        if let Some(name) = self.known {
            return name;
        }
        let Some((task, deadline)) = self.task else { return String::new() };
        match tokio::time::timeout_at(deadline.into(), task).await {
            Ok(Ok(name)) => name,
            _ => String::new(),
        }
    }
}

impl HostNames {
    /// No lookups at all.
    pub fn off() -> HostNames {
        HostNames { inner: None }
    }

    /// Resolves through `servers` only, or as the system does (its resolvers and hosts file)
    /// when the list is empty.
    pub fn new(servers: &[SocketAddr], timeout: Duration, ttl: Duration) -> Result<HostNames, String> {
        let mut builder = if servers.is_empty() {
            TokioResolver::builder_tokio().map_err(|e| format!("cannot read the system's DNS configuration: {e}"))?
        } else {
            let servers = servers
                .iter()
                .map(|s| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = s.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = s.port();
                    let mut server = NameServerConfig::udp_and_tcp(s.ip());
                    server.connections = vec![udp, tcp];
                    server
                })
                .collect();
            TokioResolver::builder_with_config(ResolverConfig::from_name_servers(servers), TokioRuntimeProvider::default())
        };
        let options = builder.options_mut();
        options.timeout = timeout;
        options.attempts = 1;
        // Named servers are the whole truth; the system's choice includes its hosts file.
        if !servers.is_empty() {
            options.use_hosts_file = ResolveHosts::Never;
        }
        let resolver = builder.build().map_err(|e| format!("cannot set up the DNS resolver: {e}"))?;
        Ok(HostNames { inner: Some(Arc::new(Inner { resolver, timeout, ttl, cache: Mutex::default() })) })
    }

    /// The cached name of `ip`, without waiting; empty when unknown.
    pub fn cached(&self, ip: &str) -> String {
        let (Some(inner), Ok(ip)) = (&self.inner, ip.parse::<IpAddr>()) else { return String::new() };
        inner.lookup_cache(ip).unwrap_or_default()
    }

    /// Starts resolving `ip` (unless cached) and returns the handle to wait on.
    pub fn start(&self, ip: &str) -> Pending {
        let (Some(inner), Ok(ip)) = (&self.inner, ip.parse::<IpAddr>()) else { return Pending { known: Some(String::new()), task: None } };
        if let Some(name) = inner.lookup_cache(ip) {
            return Pending { known: Some(name), task: None };
        }
        let deadline = Instant::now() + inner.timeout;
        let inner = inner.clone();
        let task = tokio::spawn(async move {
            let name = match tokio::time::timeout(inner.timeout * 4, inner.resolver.reverse_lookup(ip)).await {
                Ok(Ok(lookup)) => lookup
                    .answers()
                    .iter()
                    .find_map(|r| match &r.data {
                        RData::PTR(ptr) => Some(ptr.to_string().trim_end_matches('.').to_owned()),
                        _ => None,
                    })
                    .filter(|n| n.len() <= 253 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_'))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            if let Ok(mut cache) = inner.cache.lock() {
                if cache.len() >= MAX_CACHED {
                    cache.clear();
                }
                cache.insert(ip, (name.clone(), Instant::now() + inner.ttl));
            }
            name
        });
        Pending { known: None, task: Some((task, deadline)) }
    }
}

impl Inner {
    fn lookup_cache(&self, ip: IpAddr) -> Option<String> {
        let cache = self.cache.lock().ok()?;
        cache.get(&ip).filter(|(_, until)| *until > Instant::now()).map(|(name, _)| name.clone())
    }
}
