//! Who the client is: the socket peer, or, behind a trusted proxy, the right-most untrusted hop
//! of the one configured header; and the key that client shares limits under (IPv6 per prefix).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::http::{HeaderMap, HeaderName};
use ipnet::IpNet;

/// How the client IP is found behind trusted proxies.
#[derive(Debug, Clone)]
pub(crate) struct ClientIp {
    /// Peers believed about the client IP.
    trusted: Vec<IpNet>,
    /// The one header they name it in.
    header: HeaderName,
    /// Prefix length IPv6 clients are grouped by.
    ipv6_prefix_len: u8,
}

impl Default for ClientIp {
    fn default() -> Self {
        Self::new(Vec::new(), HeaderName::from_static("x-forwarded-for"), 64)
    }
}

impl ClientIp {
    /// Believes `header` from peers in `trusted`; groups IPv6 clients per `/ipv6_prefix_len`
    /// (clamped to 1..=128).
    pub(crate) fn new(trusted: Vec<IpNet>, header: HeaderName, ipv6_prefix_len: u8) -> Self {
        Self {
            trusted,
            header,
            ipv6_prefix_len: ipv6_prefix_len.clamp(1, 128),
        }
    }

    /// True when `ip` is a trusted proxy.
    pub(crate) fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client IP: the socket peer, unless the peer is a trusted proxy; then the right-most
    /// hop of the configured header that is not a trusted proxy. No other header is read, and
    /// a hop left of an unparsable entry is never believed: with no such hop, the peer.
    pub(crate) fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.ip().to_canonical();
        if !self.is_trusted(peer) {
            return peer;
        }
        let hops = hops(&self.header, headers);
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) if self.is_trusted(*ip) => continue,
                Some(ip) => return *ip,
                None => break,
            }
        }
        peer
    }

    /// The key `ip` shares limits under: IPv4 (IPv4-mapped IPv6 included) as is, IPv6 by prefix.
    pub(crate) fn bucket(&self, ip: IpAddr) -> IpAddr {
        bucket(ip, self.ipv6_prefix_len)
    }
}

/// `ip` with IPv4-mapped IPv6 made IPv4, and IPv6 cut to its first `prefix_len` bits.
pub(crate) fn bucket(ip: IpAddr, prefix_len: u8) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let bits = u32::from(prefix_len.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// Every hop of `header`, in order (all its lines, comma-separated); `None` for an entry that
/// is not an address (`unknown`, an obfuscated `_node`, garbage).
fn hops(header: &HeaderName, headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded = header.as_str() == "forwarded";
    headers
        .get_all(header)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("\u{0}").split(','))
        .map(|element| {
            if forwarded {
                forwarded_for(element)
            } else {
                parse_node(element)
            }
        })
        .collect()
}

/// The `for=` address of one RFC 7239 `Forwarded` element.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("for")
            .then(|| parse_node(v))?
    })
}

/// `1.2.3.4`, `1.2.3.4:80`, `"[2001:db8::1]:443"` or `2001:db8::1`, made canonical.
fn parse_node(v: &str) -> Option<IpAddr> {
    let v = v.trim().trim_matches('"');
    let ip = if let Ok(ip) = v.parse::<IpAddr>() {
        ip
    } else if let Some(rest) = v.strip_prefix('[') {
        let (host, port) = rest.split_once(']')?;
        let port_ok = port.is_empty()
            || port
                .strip_prefix(':')
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !port_ok {
            return None;
        }
        host.parse().ok()?
    } else {
        v.parse::<SocketAddr>().ok()?.ip()
    };
    Some(ip.to_canonical())
}
