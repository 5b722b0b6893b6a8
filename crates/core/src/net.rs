//! IP networks (CIDR) for ban lists, allow-lists, trusted proxies and network restrictions,
//! and the key the brute-force guard counts an address under.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::IpNet;

/// One network: an address with a prefix length. A bare address is a /32 (IPv4) or /128
/// (IPv6). IPv4-mapped IPv6 addresses are treated as the IPv4 address they carry, so one
/// client is never two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Network(IpNet);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid network {0:?}: write an IP address or a CIDR range like 10.0.0.0/8 or 2001:db8::/32")]
pub struct BadNetwork(pub String);

impl Network {
    /// The network of exactly one address.
    pub fn host(ip: IpAddr) -> Network {
        let ip = canonical(ip);
        Network(IpNet::from(ip))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&canonical(ip))
    }

    /// True for a single address (/32 or /128).
    pub fn is_host(&self) -> bool {
        self.0.prefix_len() == self.0.max_prefix_len()
    }

    /// The first address, for a single-address network the address itself.
    pub fn addr(&self) -> IpAddr {
        self.0.network()
    }
}

impl FromStr for Network {
    type Err = BadNetwork;

    fn from_str(s: &str) -> Result<Network, BadNetwork> {
        let t = s.trim();
        let bad = || BadNetwork(s.chars().take(64).collect());
        if t.len() > 64 {
            return Err(bad());
        }
        let net = match t.parse::<IpNet>() {
            Ok(net) => net,
            Err(_) => IpNet::from(t.parse::<IpAddr>().map_err(|_| bad())?),
        };
        // Host bits set ("10.1.2.3/8") are almost always a typo for something else: refuse.
        if net.trunc() != net {
            return Err(bad());
        }
        let net = match net {
            IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
                Some(v4) if v6.prefix_len() >= 96 => {
                    IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).map_err(|_| bad())?
                }
                _ => net,
            },
            v4 => v4,
        };
        Ok(Network(net))
    }
}

impl fmt::Display for Network {
    /// A single address prints without its prefix length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_host() { write!(f, "{}", self.0.addr()) } else { write!(f, "{}", self.0) }
    }
}

/// A list of networks; empty means none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Networks(Vec<Network>);

impl Networks {
    pub fn new(list: Vec<Network>) -> Networks {
        Networks(list)
    }

    /// Parses every item, reporting the first bad one.
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Networks, BadNetwork> {
        items.into_iter().filter(|s| !s.trim().is_empty()).map(str::parse).collect::<Result<_, _>>().map(Networks)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Network> {
        self.0.iter()
    }
}

impl fmt::Display for Networks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&items.join(", "))
    }
}

/// An IPv4-mapped IPv6 address is the IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The key a client is counted under: an IPv4 address, or the /64 an IPv6 address is in (one
/// subscriber usually holds a whole /64, so counting single IPv6 addresses would let one
/// attacker rotate through 2^64 of them). IPv4 keys have the top bit set; a /64 prefix with
/// that bit set is in 8000::/1, which is not allocated, so keys never collide in practice.
pub fn client_key(ip: IpAddr) -> u64 {
    match canonical(ip) {
        IpAddr::V4(v4) => (1 << 63) | u64::from(u32::from(v4)),
        IpAddr::V6(v6) => (u128::from(v6) >> 64) as u64,
    }
}

/// The network a [`client_key`] stands for, as bans are written.
pub fn key_network(key: u64) -> Network {
    if key >> 63 == 1 {
        Network::host(IpAddr::V4(Ipv4Addr::from((key & 0xffff_ffff) as u32)))
    } else {
        let addr = Ipv6Addr::from(u128::from(key) << 64);
        Network(IpNet::new(IpAddr::V6(addr), 64).unwrap_or(IpNet::from(IpAddr::V6(addr))))
    }
}

/// The network a ban of `ip` covers: the address, or its /64 for IPv6.
pub fn ban_network(ip: IpAddr) -> Network {
    key_network(client_key(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn parses_addresses_and_ranges() {
        let n: Network = "10.0.0.0/8".parse().unwrap_or(Network::host(ip("0.0.0.0")));
        assert!(n.contains(ip("10.200.1.1")));
        assert!(!n.contains(ip("11.0.0.1")));
        assert!(n.contains(ip("::ffff:10.1.1.1")), "mapped IPv6 is the IPv4 address");
        assert_eq!(n.to_string(), "10.0.0.0/8");
        assert_eq!("192.0.2.7".parse::<Network>().map(|n| n.to_string()), Ok("192.0.2.7".into()));
        assert_eq!("::ffff:192.0.2.7".parse::<Network>().map(|n| n.to_string()), Ok("192.0.2.7".into()));
        assert_eq!("2001:db8::/32".parse::<Network>().map(|n| n.to_string()), Ok("2001:db8::/32".into()));
    }

    #[test]
    fn refuses_garbage_and_host_bits() {
        for bad in ["", "10.0.0.0/33", "10.1.2.3/8", "example.org", "1.2.3.4; DROP", "::/129", &"1".repeat(100)] {
            assert!(bad.parse::<Network>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ipv6_clients_count_per_64() {
        assert_eq!(client_key(ip("2001:db8:1:2::1")), client_key(ip("2001:db8:1:2:ffff::9")));
        assert_ne!(client_key(ip("2001:db8:1:2::1")), client_key(ip("2001:db8:1:3::1")));
        assert_eq!(ban_network(ip("2001:db8:1:2::1")).to_string(), "2001:db8:1:2::/64");
        assert_eq!(ban_network(ip("203.0.113.9")).to_string(), "203.0.113.9");
        assert_eq!(client_key(ip("::ffff:203.0.113.9")), client_key(ip("203.0.113.9")));
        assert!(ban_network(ip("2001:db8:1:2::1")).contains(ip("2001:db8:1:2::77")));
    }
}
