//! Limits checked before the upgrade: a per-IP handshake rate (token bucket), a per-client
//! concurrent-session cap and a replica-wide session cap; plus the client IP behind proxies
//! ([`ClientIp`]).
//!
//! With `[cluster]`, the per-IP rate and the per-client cap are also checked in Redis, shared by
//! every replica ([`crate::cluster`]); this replica's own checks still come first (they cost no
//! round trip, and never refuse what the cluster-wide check would admit), and stand in for the
//! cluster-wide ones under `fail_open` while Redis does not answer.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cluster::{Admission, Cluster, ClusterError, FailureMode, Lease};
use crate::conns::ConnectionLimit;
use arc_swap::ArcSwap;
use axum::http::HeaderMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

mod client_ip;

pub(crate) use client_ip::ClientIp;

/// Why a session may not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitError {
    /// The replica relays its maximum number of sessions.
    Global,
    /// The client already has this many sessions.
    Client(u32),
    /// Too many handshakes from this IP; retry after the duration.
    Rate(Duration),
    /// Redis does not answer and `cluster.failure_mode = "fail_closed"`.
    ClusterUnavailable,
    /// The client is revoked cluster-wide.
    ClientRevoked,
    /// The token is revoked cluster-wide.
    TokenRevoked,
}

/// Limit state shared by every handler.
pub(crate) struct Limits {
    /// The per-IP handshake rate; a reload may replace it.
    rate: ArcSwap<Rate>,
    ip: ClientIp,
    connections: Arc<ConnectionLimit>,
    /// The replica's session cap; a reload may change it.
    max_sessions: AtomicUsize,
    active: AtomicUsize,
    per_client: Mutex<HashMap<String, u32>>,
    /// Cluster-wide limits, when `[cluster]` is set.
    cluster: Option<Arc<Cluster>>,
}

/// The per-IP handshake rate: a reload that changes it replaces it whole.
struct Rate {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    /// Its settings, for the cluster-wide check.
    per_second: NonZeroU32,
    burst: NonZeroU32,
}

impl Rate {
    fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        Self {
            limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            per_second,
            burst,
        }
    }
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
pub(crate) struct Permit {
    limits: Arc<Limits>,
    client: String,
    /// The cluster-wide lease, when one was taken.
    _lease: Option<Lease>,
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
    /// `max_sessions` sessions, and client IPs found and grouped by `ip`.
    pub(crate) fn new(
        per_second: NonZeroU32,
        burst: NonZeroU32,
        max_sessions: usize,
        ip: ClientIp,
    ) -> Self {
        Self {
            rate: ArcSwap::from_pointee(Rate::new(per_second, burst)),
            connections: ConnectionLimit::new(0, ip.clone()),
            ip,
            max_sessions: AtomicUsize::new(max_sessions),
            active: AtomicUsize::new(0),
            per_client: Mutex::new(HashMap::new()),
            cluster: None,
        }
    }

    /// Takes on a reload's handshake rate, session cap and per-IP connection cap from
    /// `from` (the rest of it is restart-only). Per-IP rate buckets start full again only when
    /// the rate changed; sessions and connections already open are kept.
    pub(crate) fn reconfigure(&self, from: &Limits) {
        let new = from.rate.load();
        let old = self.rate.load();
        if (new.per_second, new.burst) != (old.per_second, old.burst) {
            self.rate
                .store(Arc::new(Rate::new(new.per_second, new.burst)));
        }
        let max = from.max_sessions.load(Ordering::SeqCst);
        self.max_sessions.store(max, Ordering::SeqCst);
        self.connections.set_max(from.connections.max());
    }

    /// The replica's session cap.
    pub(crate) fn max_sessions(&self) -> usize {
        self.max_sessions.load(Ordering::SeqCst)
    }

    /// Checks the rate and the per-client cap cluster-wide too, through `cluster`.
    pub(crate) fn with_cluster(mut self, cluster: Arc<Cluster>) -> Self {
        self.cluster = Some(cluster);
        self
    }

    /// The cluster-wide limits, when configured.
    pub(crate) fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.as_ref()
    }

    /// Caps open connections per client IP at `max` (0: no cap).
    pub(crate) fn with_connection_cap(mut self, max: u32) -> Self {
        self.connections = ConnectionLimit::new(max, self.ip.clone());
        self
    }

    /// The per-IP open-connection cap, checked at accept time.
    pub(crate) fn connections(&self) -> &Arc<ConnectionLimit> {
        &self.connections
    }

    /// Takes one handshake from `ip`'s bucket (its /64 for IPv6 by default): this replica's
    /// own, then the cluster's. `Err` holds how long until the next is allowed, or why the
    /// cluster-wide check could not be made.
    pub(crate) async fn check_rate(&self, ip: IpAddr) -> Result<(), LimitError> {
        let bucket = self.ip.bucket(ip);
        self.check_local_rate(bucket).map_err(LimitError::Rate)?;
        let Some(cluster) = &self.cluster else {
            return Ok(());
        };
        let (per_second, burst) = {
            let rate = self.rate.load();
            (rate.per_second.get(), rate.burst.get())
        };
        match cluster.check_rate(bucket, per_second, burst).await {
            Ok(decision) => decision.map_err(LimitError::Rate),
            Err(e) => fallback(cluster, &e),
        }
    }

    /// This replica's own check for `ip`'s bucket.
    #[cfg(test)]
    pub(crate) fn check_rate_here(&self, ip: IpAddr) -> Result<(), Duration> {
        self.check_local_rate(self.ip.bucket(ip))
    }

    fn check_local_rate(&self, bucket: IpAddr) -> Result<(), Duration> {
        self.rate
            .load()
            .limiter
            .check_key(&bucket)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets idle buckets (call periodically to bound memory).
    pub(crate) fn prune(&self) {
        let rate = self.rate.load();
        rate.limiter.retain_recent();
        rate.limiter.shrink_to_fit();
    }

    /// Reserves a session for `client` under the global cap and its own `cap`: this replica's
    /// count first, then (with `[cluster]`) a lease in Redis, which also refuses a revoked
    /// client or token (`jti`). `session_id` names the lease.
    pub(crate) async fn acquire(
        self: &Arc<Self>,
        client: &str,
        cap: Option<u32>,
        jti: Option<&str>,
        session_id: &str,
    ) -> Result<Permit, LimitError> {
        let mut permit = self.acquire_local(client, cap)?;
        let Some(cluster) = &self.cluster else {
            return Ok(permit);
        };
        match cluster.admit(client, jti, cap, session_id).await {
            Ok(Admission::Admitted(lease)) => {
                permit._lease = lease;
                Ok(permit)
            }
            Ok(Admission::Full(n)) => Err(LimitError::Client(n)),
            Ok(Admission::ClientRevoked) => Err(LimitError::ClientRevoked),
            Ok(Admission::TokenRevoked) => Err(LimitError::TokenRevoked),
            Err(e) => {
                fallback(cluster, &e)?;
                if cap.is_some() {
                    // counted cluster-wide once Redis answers again
                    permit._lease = Some(cluster.hold_unconfirmed(client, session_id));
                }
                Ok(permit)
            }
        }
    }

    /// Refuses a client revoked cluster-wide (what the grant endpoints check before minting a
    /// token; sessions are checked in their lease's round trip instead).
    pub(crate) async fn check_client(&self, client: &str) -> Result<(), LimitError> {
        let Some(cluster) = &self.cluster else {
            return Ok(());
        };
        match cluster.client_revoked(client).await {
            Ok(true) => Err(LimitError::ClientRevoked),
            Ok(false) => Ok(()),
            Err(e) => fallback(cluster, &e),
        }
    }

    /// This replica's own caps.
    fn acquire_local(
        self: &Arc<Self>,
        client: &str,
        cap: Option<u32>,
    ) -> Result<Permit, LimitError> {
        if self.active.fetch_add(1, Ordering::SeqCst) >= self.max_sessions() {
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
            _lease: None,
        })
    }

    /// The client IP (see [`ClientIp::client_ip`]).
    pub(crate) fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        self.ip.client_ip(peer, headers)
    }

    /// How client IPs are found and grouped.
    #[cfg(test)]
    pub(crate) fn ip(&self) -> &ClientIp {
        &self.ip
    }
}

/// When Redis could not answer: admit on this replica's own checks (`fail_open`), or refuse.
fn fallback(cluster: &Cluster, e: &ClusterError) -> Result<(), LimitError> {
    match cluster.failure_mode() {
        FailureMode::FailOpen => {
            tracing::debug!(error = %e, "cluster-wide check skipped: this replica's own applies");
            Ok(())
        }
        FailureMode::FailClosed => Err(LimitError::ClusterUnavailable),
    }
}

#[cfg(test)]
mod tests;
