//! Limits checked before the upgrade: a per-IP handshake rate (token bucket), a per-client
//! concurrent-session cap and a replica-wide session cap; plus the client IP behind proxies.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;

/// Why a session may not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitError {
    /// The replica relays its maximum number of sessions.
    Global,
    /// The client already has this many sessions.
    Client(u32),
}

/// Limit state shared by every handler.
pub struct Limits {
    rate: DefaultKeyedRateLimiter<IpAddr>,
    trusted: Vec<IpNet>,
    max_sessions: usize,
    active: AtomicUsize,
    per_client: Mutex<HashMap<String, u32>>,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("max_sessions", &self.max_sessions)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// Holds one session's place under the caps; released on drop.
#[derive(Debug)]
pub struct Permit {
    limits: Arc<Limits>,
    client: String,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.limits.active.fetch_sub(1, Ordering::SeqCst);
        let mut map = self
            .limits
            .per_client
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.client);
            }
        }
    }
}

impl Limits {
    /// Limits with `per_second` sustained handshakes per IP (bursts of `burst`), at most
    /// `max_sessions` sessions, and proxies in `trusted` believed about the client IP.
    pub fn new(
        per_second: NonZeroU32,
        burst: NonZeroU32,
        max_sessions: usize,
        trusted: Vec<IpNet>,
    ) -> Self {
        Self {
            rate: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            trusted,
            max_sessions,
            active: AtomicUsize::new(0),
            per_client: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one handshake from `ip`'s bucket; `Err` holds how long until the next is allowed.
    pub fn check_rate(&self, ip: IpAddr) -> Result<(), Duration> {
        self.rate
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets idle buckets (call periodically to bound memory).
    pub fn prune(&self) {
        self.rate.retain_recent();
        self.rate.shrink_to_fit();
    }

    /// Reserves a session for `client` under the global cap and its own `cap`.
    pub fn acquire(self: &Arc<Self>, client: &str, cap: Option<u32>) -> Result<Permit, LimitError> {
        if self.active.fetch_add(1, Ordering::SeqCst) >= self.max_sessions {
            self.active.fetch_sub(1, Ordering::SeqCst);
            return Err(LimitError::Global);
        }
        let mut map = self.per_client.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(client.to_owned()).or_insert(0);
        if cap.is_some_and(|cap| *n >= cap) {
            let held = *n;
            if held == 0 {
                map.remove(client);
            }
            drop(map);
            self.active.fetch_sub(1, Ordering::SeqCst);
            return Err(LimitError::Client(held));
        }
        *n += 1;
        Ok(Permit {
            limits: self.clone(),
            client: client.to_owned(),
        })
    }

    /// The client IP: the socket peer, unless the peer is a trusted proxy, in which case the
    /// nearest untrusted address in `Forwarded` / `X-Forwarded-For` (read right to left).
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let trusted = |ip: &IpAddr| self.trusted.iter().any(|net| net.contains(ip));
        if !trusted(&peer.ip()) {
            return peer.ip();
        }
        let hops = forwarded_for(headers);
        hops.iter()
            .rev()
            .find(|ip| !trusted(ip))
            .or(hops.first())
            .copied()
            .unwrap_or(peer.ip())
    }
}

/// Addresses from `Forwarded: for=…` (RFC 7239) or, failing that, `X-Forwarded-For`, in order.
fn forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    let values = |name| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let forwarded: Vec<IpAddr> = values("forwarded")
        .iter()
        .flat_map(|element| element.split(';'))
        .filter_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            k.eq_ignore_ascii_case("for").then(|| parse_node(v))?
        })
        .collect();
    if !forwarded.is_empty() {
        return forwarded;
    }
    values("x-forwarded-for")
        .iter()
        .filter_map(|v| parse_node(v))
        .collect()
}

/// `1.2.3.4`, `1.2.3.4:80`, `"[2001:db8::1]:443"` or `2001:db8::1`.
fn parse_node(v: &str) -> Option<IpAddr> {
    let v = v.trim().trim_matches('"');
    if let Ok(ip) = v.parse() {
        return Some(ip);
    }
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    v.parse::<SocketAddr>().ok().map(|s| s.ip())
}

#[cfg(test)]
mod tests;
