//! `[limits]` → [`Limits`]: rates, caps, and how client IPs are found and grouped.

use axum::http::HeaderName;

use super::super::LimitsConfig;
use crate::limits::{ClientIp, Limits};

pub(super) fn limits(l: &LimitsConfig, errors: &mut Vec<String>) -> Option<Limits> {
    let before = errors.len();
    let nz = |v: u32, key: &str, errors: &mut Vec<String>| {
        let n = std::num::NonZeroU32::new(v);
        if n.is_none() {
            errors.push(format!("limits.{key}: must be positive"));
        }
        n
    };
    let rate = nz(
        l.handshakes_per_second_per_ip,
        "handshakes_per_second_per_ip",
        errors,
    );
    let burst = nz(l.handshake_burst_per_ip, "handshake_burst_per_ip", errors);
    if l.max_sessions == 0 {
        errors.push("limits.max_sessions: must be positive".into());
    }
    if !(1..=128).contains(&l.ipv6_prefix_len) {
        errors.push("limits.ipv6_prefix_len: must be from 1 to 128".into());
    }
    let header = client_ip_header(&l.client_ip_header, errors);
    let trusted = l
        .trusted_proxies
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let net = p
                .parse::<ipnet::IpNet>()
                .ok()
                .or_else(|| p.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from));
            if net.is_none() {
                errors.push(format!(
                    "limits.trusted_proxies[{i}]: not an IP address or CIDR"
                ));
            }
            net
        })
        .collect();
    match (rate, burst) {
        (Some(rate), Some(burst)) if errors.len() == before => {
            let ip = ClientIp::new(trusted, header?, l.ipv6_prefix_len);
            let limits = Limits::new(rate, burst, l.max_sessions, ip);
            Some(limits.with_connection_cap(l.max_connections_per_ip))
        }
        _ => None,
    }
}

/// `limits.client_ip_header`: a header name; `Forwarded` is read as RFC 7239 `for=`.
fn client_ip_header(name: &str, errors: &mut Vec<String>) -> Option<HeaderName> {
    match HeaderName::from_bytes(name.trim().as_bytes()) {
        Ok(header) => Some(header),
        Err(_) => {
            errors.push(format!(
                "limits.client_ip_header: '{name}' is not a header name (e.g. X-Forwarded-For, Forwarded, X-Real-IP)"
            ));
            None
        }
    }
}
