//! The client's address: the TCP peer, or, when the peer is a trusted reverse proxy
//! (`http.trusted_proxies`), the address the proxies' `Forwarded` or `X-Forwarded-For`
//! headers name. The headers are read from the right: each trusted hop appended the address
//! it saw, so the first untrusted address is the client and anything left of it could be
//! forged. From any other peer the headers are ignored.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use deskward_core::net::{Networks, canonical};

use crate::extract::PeerAddr;

/// The client's address, set for every request before anything else runs.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr {
    pub ip: IpAddr,
    /// An untrusted peer sent forwarding headers while proxies are configured: worth an event.
    pub forged_forwarding: bool,
}

pub async fn resolve(State(trusted): State<Arc<Networks>>, mut req: Request, next: Next) -> Response {
    if let Some(PeerAddr(peer)) = req.extensions().get::<PeerAddr>().copied() {
        let addr = client_addr(peer.ip(), req.headers(), &trusted);
        req.extensions_mut().insert(addr);
    }
    next.run(req).await
}

pub fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &Networks) -> ClientAddr {
    let peer = canonical(peer);
    let hops = forwarded_for(headers);
    if !trusted.contains(peer) {
        let forged_forwarding = !trusted.is_empty() && hops.is_some();
        return ClientAddr { ip: peer, forged_forwarding };
    }
    let mut ip = peer;
    for hop in hops.unwrap_or_default().iter().rev() {
        // An unreadable hop ("unknown", an obfuscated name) ends the walk at the last known one.
        let Some(addr) = hop else { break };
        ip = canonical(*addr);
        if !trusted.contains(ip) {
            break;
        }
    }
    ClientAddr { ip, forged_forwarding: false }
}

/// The addresses named by `Forwarded` (RFC 7239) or, without it, `X-Forwarded-For`, in
/// order; `None` when neither header is present.
fn forwarded_for(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let values = |name: &str| -> Vec<String> {
        headers.get_all(name).iter().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).collect()
    };
    let forwarded = values("forwarded");
    if !forwarded.is_empty() {
        let hops = forwarded
            .iter()
            .flat_map(|v| v.split(',').map(str::to_owned).collect::<Vec<_>>())
            .map(|element| {
                element
                    .split(';')
                    .find_map(|pair| pair.trim().split_once('=').filter(|(k, _)| k.eq_ignore_ascii_case("for")).map(|(_, v)| v.to_owned()))
                    .and_then(|v| parse_node(&v))
            })
            .collect();
        return Some(hops);
    }
    let xff = values("x-forwarded-for");
    if xff.is_empty() {
        return None;
    }
    Some(xff.iter().flat_map(|v| v.split(',').map(parse_node).collect::<Vec<_>>()).collect())
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `"[2001:db8::1]:4711"`.
fn parse_node(text: &str) -> Option<IpAddr> {
    let t = text.trim().trim_matches('"');
    if let Ok(ip) = t.parse() {
        return Some(ip);
    }
    if let Some(rest) = t.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    t.rsplit_once(':').and_then(|(ip, port)| port.parse::<u16>().ok().and(ip.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn an_untrusted_peer_cannot_name_another_client() {
        let trusted = Networks::parse(["10.0.0.1"]).unwrap_or_default();
        let a = client_addr(ip("198.51.100.9"), &headers(&[("x-forwarded-for", "192.0.2.1")]), &trusted);
        assert_eq!(a.ip, ip("198.51.100.9"));
        assert!(a.forged_forwarding);
        let a = client_addr(ip("198.51.100.9"), &headers(&[("x-forwarded-for", "192.0.2.1")]), &Networks::default());
        assert!(!a.forged_forwarding, "no proxies configured: nothing to report");
    }

    #[test]
    fn the_first_untrusted_hop_from_the_right_is_the_client() {
        let trusted = Networks::parse(["10.0.0.0/8"]).unwrap_or_default();
        // The client forged the leftmost entry; the proxy appended the real one.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.5, 10.0.0.2")]);
        assert_eq!(client_addr(ip("10.0.0.1"), &h, &trusted).ip, ip("203.0.113.5"));
        let h = headers(&[("forwarded", "for=1.2.3.4, for=\"[2001:db8::17]:4711\";proto=https")]);
        assert_eq!(client_addr(ip("10.0.0.1"), &h, &trusted).ip, ip("2001:db8::17"));
        let h = headers(&[("x-forwarded-for", "garbage, 10.0.0.3")]);
        assert_eq!(client_addr(ip("10.0.0.1"), &h, &trusted).ip, ip("10.0.0.3"));
        let h = headers(&[("x-forwarded-for", "203.0.113.5:5555")]);
        assert_eq!(client_addr(ip("10.0.0.1"), &h, &trusted).ip, ip("203.0.113.5"));
        assert_eq!(client_addr(ip("10.0.0.1"), &HeaderMap::new(), &trusted).ip, ip("10.0.0.1"));
    }
}
