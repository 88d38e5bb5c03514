//! `[cluster]`: limits and revocations shared by every replica through one Redis.
//!
//! - Per-client concurrent sessions: a lease per session in a sorted set per client
//!   (`<prefix>:sessions:<client>`, member `<replica>:<session>`, score its expiry in ms of
//!   Redis's clock). Taken before the upgrade, refreshed by this replica's heartbeat, removed
//!   when the session ends; a replica that dies has its leases expire within `lease_ttl`.
//! - Per-IP handshake and grant rate: a GCRA per IP bucket (`<prefix>:rate:<bucket>`).
//! - Revocations: `<prefix>:revoked:jti:<jti>` and `<prefix>:revoked:client:<id>`, checked by
//!   the lease script in the same round trip, and by the heartbeat for live sessions.
//!
//! Every call is bounded by `cluster.timeout`. When Redis cannot answer, `failure_mode`
//! decides: `fail_open` falls back to the replica's own limits, `fail_closed` refuses new
//! sessions and grants with 503. Sessions already open are never ended by an outage.

mod scripts;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::metrics::Metrics;
use scripts::{HEARTBEAT_SCRIPT, LEASE_SCRIPT, RATE_SCRIPT};

/// Most leases refreshed (or released) in one script call.
const BATCH: usize = 500;
/// How often Redis is pinged to know whether it answers.
const PING_INTERVAL: Duration = Duration::from_secs(1);

/// What to do when Redis cannot answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    /// Fall back to this replica's own limits (the default: an outage of Redis is not an
    /// outage of voice).
    #[default]
    FailOpen,
    /// Refuse new sessions and grants with 503 `cluster_unavailable`, and answer `/readyz` 503.
    FailClosed,
}

impl FailureMode {
    /// The name used in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FailOpen => "fail_open",
            Self::FailClosed => "fail_closed",
        }
    }
}

/// `[cluster]`, validated: how to reach Redis and how to use it.
#[derive(Clone)]
pub struct ClusterSettings {
    client: redis::Client,
    /// `host:port` of Redis: all that is ever logged of the URL.
    pub endpoint: String,
    /// How long a lease outlives its last refresh.
    pub lease_ttl: Duration,
    /// Bound on every Redis call.
    pub timeout: Duration,
    /// What to do when Redis cannot answer.
    pub failure_mode: FailureMode,
    /// Every key's prefix.
    pub keys: Keys,
}

impl fmt::Debug for ClusterSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // never the URL: it may hold a password
        f.debug_struct("ClusterSettings")
            .field("endpoint", &self.endpoint)
            .field("lease_ttl", &self.lease_ttl)
            .field("timeout", &self.timeout)
            .field("failure_mode", &self.failure_mode)
            .finish_non_exhaustive()
    }
}

impl ClusterSettings {
    /// Parses `url` (`redis://` or `rediss://`, with `user:password@` when Redis wants them);
    /// the error never repeats the URL.
    pub fn new(
        url: &str,
        lease_ttl: Duration,
        timeout: Duration,
        failure_mode: FailureMode,
        prefix: &str,
    ) -> Result<Self, String> {
        let scheme = url.split_once("://").map(|(s, _)| s);
        if !matches!(scheme, Some("redis" | "rediss")) {
            return Err("must be a redis:// or rediss:// URL".into());
        }
        let client = redis::Client::open(url)
            .map_err(|_| "not a valid Redis URL (redis://[user:password@]host:port[/db])")?;
        let endpoint = client.get_connection_info().addr().to_string();
        Ok(Self {
            client,
            endpoint,
            lease_ttl,
            timeout,
            failure_mode,
            keys: Keys::new(prefix),
        })
    }
}

impl ClusterSettings {
    /// Trusts only the CA certificates in `pem` for a `rediss://` Redis (a private CA) instead of
    /// the public roots.
    pub fn trusting(mut self, pem: Vec<u8>) -> Result<Self, String> {
        let info = self.client.get_connection_info().clone();
        if !matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. }) {
            return Err("needs a rediss:// URL".into());
        }
        let certificates = redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(pem),
        };
        self.client = redis::Client::build_with_tls(info, certificates)
            .map_err(|_| "not usable CA certificates (PEM expected)".to_owned())?;
        Ok(self)
    }
}

/// The Redis keys voxrelay uses, under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys under `prefix` (`voxrelay` by default).
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// The sorted set of `client`'s session leases.
    pub fn leases(&self, client: &str) -> String {
        format!("{}:sessions:{client}", self.prefix)
    }

    /// The GCRA state of an IP bucket.
    pub fn rate(&self, bucket: IpAddr) -> String {
        format!("{}:rate:{bucket}", self.prefix)
    }

    /// Present while token `jti` is revoked.
    pub fn revoked_jti(&self, jti: &str) -> String {
        format!("{}:revoked:jti:{jti}", self.prefix)
    }

    /// Present while `client` is revoked.
    pub fn revoked_client(&self, client: &str) -> String {
        format!("{}:revoked:client:{client}", self.prefix)
    }
}

/// Redis did not answer in time, or answered with an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// Redis is known to be unreachable (the last call or ping failed): not tried.
    #[error("Redis is unreachable")]
    Down,
    /// The call took longer than `cluster.timeout`.
    #[error("Redis did not answer within the timeout")]
    Timeout,
    /// The call failed.
    #[error("Redis call failed: {0}")]
    Failed(String),
}

/// What the lease script decided.
#[derive(Debug)]
pub(crate) enum Admission {
    /// The session may start; the lease (when the client has a cap) is held until dropped.
    Admitted(Option<Lease>),
    /// The client already holds its cap (this many) of sessions across the cluster.
    Full(u32),
    /// The client is revoked.
    ClientRevoked,
    /// The token is revoked.
    TokenRevoked,
}

/// What a revocation check found among this replica's live sessions.
pub(crate) trait RevocationHook: Send + Sync {
    /// The distinct client ids and token ids of this replica's live sessions.
    fn live_credentials(&self) -> (Vec<String>, Vec<String>);
    /// Ends every live session of `client_id`.
    fn revoke_client(&self, client_id: &str, reason: &str);
    /// Ends every live session authenticated by token `jti`.
    fn revoke_jti(&self, jti: &str, reason: &str);
}

impl RevocationHook for crate::revoke::Revocations {
    fn live_credentials(&self) -> (Vec<String>, Vec<String>) {
        crate::revoke::Revocations::live_credentials(self)
    }
    fn revoke_client(&self, client_id: &str, reason: &str) {
        let ended = crate::revoke::Revocations::revoke_client(self, client_id, reason);
        if ended > 0 {
            info!(
                client = client_id,
                sessions = ended,
                "client revoked cluster-wide: sessions ended"
            );
        }
    }
    fn revoke_jti(&self, jti: &str, reason: &str) {
        let ended = crate::revoke::Revocations::revoke_jti(self, jti, reason);
        if ended > 0 {
            info!(
                jti,
                sessions = ended,
                "token revoked cluster-wide: sessions ended"
            );
        }
    }
}

/// One session's lease; dropping it hands the release to the background task (never blocks).
pub(crate) struct Lease {
    cluster: Arc<Cluster>,
    id: u64,
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease").field("id", &self.id).finish()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let held = self.cluster.lock().remove(&self.id);
        if let Some(held) = held {
            self.cluster.metrics.cluster_leases.dec();
            // a release that never reaches Redis is reclaimed by the TTL
            let _ = self.cluster.releases.send(held);
        }
    }
}

/// A lease as Redis knows it.
#[derive(Debug, Clone)]
struct Held {
    key: String,
    member: String,
}

/// The connection to Redis and this replica's leases.
pub(crate) struct Cluster {
    conn: ConnectionManager,
    settings: ClusterSettings,
    /// This replica's id in lease members.
    replica: String,
    metrics: Metrics,
    /// Whether the last call or ping succeeded.
    healthy: AtomicBool,
    leases: Mutex<HashMap<u64, Held>>,
    next: AtomicU64,
    releases: mpsc::UnboundedSender<Held>,
    pending: Mutex<Option<mpsc::UnboundedReceiver<Held>>>,
    hook: OnceLock<Arc<dyn RevocationHook>>,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("settings", &self.settings)
            .field("replica", &self.replica)
            .field("healthy", &self.healthy)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Sets up the connection (lazily: voxrelay starts while Redis is down) and pings once
    /// within the timeout, so the state is known before the first handshake.
    pub(crate) async fn connect(
        settings: ClusterSettings,
        metrics: Metrics,
    ) -> std::io::Result<Arc<Self>> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout))
            .set_response_timeout(Some(settings.timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(settings.client.clone(), config)
            .map_err(|e| std::io::Error::other(format!("Redis at {}: {e}", settings.endpoint)))?;
        let (releases, pending) = mpsc::unbounded_channel();
        let cluster = Arc::new(Self {
            conn,
            replica: uuid::Uuid::new_v4().simple().to_string(),
            metrics,
            healthy: AtomicBool::new(true),
            leases: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
            releases,
            pending: Mutex::new(Some(pending)),
            hook: OnceLock::new(),
            settings,
        });
        let ok = cluster.ping().await.is_ok();
        cluster.set_healthy(ok);
        info!(
            redis = %cluster.settings.endpoint,
            reachable = ok,
            failure_mode = cluster.settings.failure_mode.as_str(),
            lease_ttl = ?cluster.settings.lease_ttl,
            "cluster limits through Redis"
        );
        Ok(cluster)
    }

    /// Where the heartbeat reports revoked live sessions (set once, at start).
    pub(crate) fn set_revocation_hook(&self, hook: Arc<dyn RevocationHook>) {
        let _ = self.hook.set(hook);
    }

    /// The configured failure mode.
    pub(crate) fn failure_mode(&self) -> FailureMode {
        self.settings.failure_mode
    }

    /// False while `fail_closed` and Redis does not answer: `/readyz` then answers 503.
    pub(crate) fn ready(&self) -> bool {
        self.settings.failure_mode == FailureMode::FailOpen || self.healthy.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Held>> {
        self.leases.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_healthy(&self, ok: bool) {
        let was = self.healthy.swap(ok, Ordering::SeqCst);
        if was != ok {
            if ok {
                info!(redis = %self.settings.endpoint, "Redis answers again: cluster-wide limits apply");
            } else {
                warn!(
                    redis = %self.settings.endpoint,
                    failure_mode = self.settings.failure_mode.as_str(),
                    "Redis does not answer: {}",
                    match self.settings.failure_mode {
                        FailureMode::FailOpen => "this replica's own limits apply",
                        FailureMode::FailClosed => "new sessions and grants are refused",
                    }
                );
            }
        }
        let state = match (ok, self.settings.failure_mode) {
            (true, _) => "ok",
            (false, FailureMode::FailOpen) => "degraded_open",
            (false, FailureMode::FailClosed) => "degraded_closed",
        };
        for s in ["ok", "degraded_open", "degraded_closed"] {
            let v = i64::from(s == state);
            self.metrics.cluster_state.with_label_values(&[s]).set(v);
        }
    }

    /// Runs one Redis call under the timeout, timed and counted under `op`. With `skip_when_down`
    /// the call is not even tried while Redis is known to be down (so handshakes do not each
    /// wait out the timeout); the ping task finds out when it is back.
    async fn call<T, F>(&self, op: &str, skip_when_down: bool, call: F) -> Result<T, ClusterError>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        if skip_when_down && !self.healthy.load(Ordering::SeqCst) {
            self.metrics.cluster_errors.with_label_values(&[op]).inc();
            return Err(ClusterError::Down);
        }
        let started = Instant::now();
        let result = match tokio::time::timeout(self.settings.timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) if e.is_timeout() => Err(ClusterError::Timeout),
            Ok(Err(e)) => Err(ClusterError::Failed(e.to_string())),
            Err(_) => Err(ClusterError::Timeout),
        };
        self.metrics
            .cluster_call_seconds
            .with_label_values(&[op])
            .observe(started.elapsed().as_secs_f64());
        match &result {
            Ok(_) => self.set_healthy(true),
            Err(e) => {
                self.metrics.cluster_errors.with_label_values(&[op]).inc();
                tracing::debug!(op, error = %e, "Redis call failed");
                self.set_healthy(false);
            }
        }
        result
    }

    async fn ping(&self) -> Result<(), ClusterError> {
        let mut conn = self.conn.clone();
        self.call("ping", false, async move {
            redis::cmd("PING").query_async::<String>(&mut conn).await
        })
        .await
        .map(drop)
    }

    /// Takes a lease for `client`'s session `session_id` under `cap` (no lease without a cap),
    /// refusing a revoked client or token in the same round trip.
    pub(crate) async fn admit(
        self: &Arc<Self>,
        client: &str,
        jti: Option<&str>,
        cap: Option<u32>,
        session_id: &str,
    ) -> Result<Admission, ClusterError> {
        let keys = &self.settings.keys;
        let held = Held {
            key: keys.leases(client),
            member: format!("{}:{session_id}", self.replica),
        };
        let mut invocation = LEASE_SCRIPT.key(&held.key);
        invocation.key(keys.revoked_client(client));
        if let Some(jti) = jti {
            invocation.key(keys.revoked_jti(jti));
        }
        invocation
            .arg(&held.member)
            .arg(cap.map_or(-1, i64::from))
            .arg(self.ttl_ms());
        let mut conn = self.conn.clone();
        let result = self
            .call("lease", true, async {
                invocation.invoke_async::<(i64, i64)>(&mut conn).await
            })
            .await;
        let (status, count) = match result {
            Ok(answer) => answer,
            Err(e) => {
                if cap.is_some() && e != ClusterError::Down {
                    // the script may still have run: take the lease back (idempotent)
                    let _ = self.releases.send(held);
                }
                return Err(e);
            }
        };
        Ok(match status {
            1 if cap.is_some() => Admission::Admitted(Some(self.hold(held))),
            1 => Admission::Admitted(None),
            // the cap, as the refusal names it (the count may be above it after an outage)
            0 => Admission::Full(cap.unwrap_or_else(|| u32::try_from(count).unwrap_or(u32::MAX))),
            -1 => Admission::ClientRevoked,
            _ => Admission::TokenRevoked,
        })
    }

    /// Whether `client` is revoked cluster-wide (the grant endpoints ask before minting).
    pub(crate) async fn client_revoked(&self, client: &str) -> Result<bool, ClusterError> {
        let key = self.settings.keys.revoked_client(client);
        let mut conn = self.conn.clone();
        self.call("revoked", true, async move {
            redis::cmd("EXISTS")
                .arg(key)
                .query_async::<bool>(&mut conn)
                .await
        })
        .await
    }

    /// A lease for a session admitted on this replica's own limits while Redis did not answer
    /// (`fail_open`): not in Redis yet, the next heartbeat that reaches Redis adds it, so the
    /// cluster-wide count includes the sessions admitted during an outage.
    pub(crate) fn hold_unconfirmed(self: &Arc<Self>, client: &str, session_id: &str) -> Lease {
        self.hold(Held {
            key: self.settings.keys.leases(client),
            member: format!("{}:{session_id}", self.replica),
        })
    }

    fn hold(self: &Arc<Self>, held: Held) -> Lease {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, held);
        self.metrics.cluster_leases.inc();
        Lease {
            cluster: self.clone(),
            id,
        }
    }

    /// Takes one handshake (or grant) from `bucket`'s GCRA: `Ok(Err(wait))` when refused.
    pub(crate) async fn check_rate(
        &self,
        bucket: IpAddr,
        per_second: u32,
        burst: u32,
    ) -> Result<Result<(), Duration>, ClusterError> {
        let interval_ms = 1000.0 / f64::from(per_second.max(1));
        let mut invocation = RATE_SCRIPT.key(self.settings.keys.rate(bucket));
        invocation.arg(interval_ms).arg(burst.max(1));
        let mut conn = self.conn.clone();
        let (allowed, wait_ms) = self
            .call("rate", true, async {
                invocation.invoke_async::<(i64, i64)>(&mut conn).await
            })
            .await?;
        Ok(if allowed == 1 {
            Ok(())
        } else {
            Err(Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0)))
        })
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.settings.lease_ttl.as_millis()).unwrap_or(u64::MAX)
    }

    /// Removes leases from Redis, in batches.
    async fn release(&self, held: Vec<Held>) {
        for chunk in held.chunks(BATCH) {
            let mut pipe = redis::pipe();
            for h in chunk {
                pipe.cmd("ZREM").arg(&h.key).arg(&h.member).ignore();
            }
            let mut conn = self.conn.clone();
            let _ = self
                .call("release", false, async move {
                    pipe.query_async::<()>(&mut conn).await
                })
                .await;
        }
    }

    /// Refreshes every lease this replica holds, and reports live sessions whose client or
    /// token is now revoked to the hook.
    async fn heartbeat(&self) {
        let held: Vec<Held> = self.lock().values().cloned().collect();
        let (clients, jtis) = self
            .hook
            .get()
            .map(|h| h.live_credentials())
            .unwrap_or_default();
        let keys = &self.settings.keys;
        let mut checks: Vec<(bool, &str, String)> = clients
            .iter()
            .map(|c| (true, c.as_str(), keys.revoked_client(c)))
            .chain(
                jtis.iter()
                    .map(|j| (false, j.as_str(), keys.revoked_jti(j))),
            )
            .collect();
        let mut leases = held.chunks(BATCH);
        loop {
            let chunk = leases.next().unwrap_or(&[]);
            let take = checks.len().min(BATCH);
            let check: Vec<(bool, &str, String)> = checks.drain(..take).collect();
            if chunk.is_empty() && check.is_empty() {
                break;
            }
            let mut invocation = HEARTBEAT_SCRIPT.prepare_invoke();
            for h in chunk {
                invocation.key(&h.key);
            }
            for (_, _, key) in &check {
                invocation.key(key);
            }
            invocation.arg(self.ttl_ms()).arg(chunk.len());
            for h in chunk {
                invocation.arg(&h.member);
            }
            let mut conn = self.conn.clone();
            let revoked = self
                .call("heartbeat", false, async {
                    invocation.invoke_async::<Vec<usize>>(&mut conn).await
                })
                .await;
            let Ok(revoked) = revoked else {
                // the next tick tries again; leases outlive a few missed beats
                return;
            };
            if let Some(hook) = self.hook.get() {
                for i in revoked {
                    match check.get(i.wrapping_sub(1)) {
                        Some((true, id, _)) => hook.revoke_client(id, "client revoked"),
                        Some((false, jti, _)) => hook.revoke_jti(jti, "token revoked"),
                        None => {}
                    }
                }
            }
        }
    }

    /// The background task: releases as sessions end, the heartbeat every `lease_ttl / 3`, a
    /// ping every second. Serialized in one task, so a release always follows any refresh of
    /// the same lease. On `stop`, releases what is pending and returns.
    pub(crate) async fn run(self: Arc<Self>, stop: CancellationToken) {
        let Some(mut pending) = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            return;
        };
        let mut beat = tokio::time::interval(self.settings.lease_ttl / 3);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ping = tokio::time::interval(PING_INTERVAL);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = stop.cancelled() => break,
                Some(first) = pending.recv() => {
                    let mut batch = vec![first];
                    while let Ok(more) = pending.try_recv() {
                        batch.push(more);
                    }
                    self.release(batch).await;
                }
                _ = beat.tick() => self.heartbeat().await,
                _ = ping.tick() => { let _ = self.ping().await; }
            }
        }
        let mut batch = Vec::new();
        while let Ok(more) = pending.try_recv() {
            batch.push(more);
        }
        self.release(batch).await;
    }

    /// The leases this replica holds now.
    #[cfg(test)]
    pub(crate) fn leases_held(&self) -> usize {
        self.lock().len()
    }
}

/// What `voxrelay revoke` writes.
#[derive(Debug, Clone)]
pub enum Revocation {
    /// Token `jti`, revoked until `until` (Unix seconds).
    Jti {
        /// The token id.
        jti: String,
        /// When the key goes away (the token's expiry).
        until: u64,
    },
    /// Client `id`, for `ttl` (forever when `None`).
    Client {
        /// The client id.
        id: String,
        /// How long.
        ttl: Option<Duration>,
    },
    /// Lifts a client's revocation.
    LiftClient {
        /// The client id.
        id: String,
    },
}

/// Writes `revocation` to the Redis of `settings` (within its timeout, twice over for the
/// connection).
pub async fn revoke(settings: &ClusterSettings, revocation: &Revocation) -> Result<(), String> {
    let bound = settings.timeout * 2 + Duration::from_secs(1);
    let keys = &settings.keys;
    let now = crate::token::now();
    let cmd = match revocation {
        Revocation::Jti { jti, until } => {
            let mut cmd = redis::cmd("SET");
            cmd.arg(keys.revoked_jti(jti))
                .arg(now)
                .arg("EXAT")
                .arg(*until);
            cmd
        }
        Revocation::Client { id, ttl } => {
            let mut cmd = redis::cmd("SET");
            cmd.arg(keys.revoked_client(id)).arg(now);
            if let Some(ttl) = ttl {
                cmd.arg("PX").arg(ttl.as_millis().max(1) as u64);
            }
            cmd
        }
        Revocation::LiftClient { id } => {
            let mut cmd = redis::cmd("DEL");
            cmd.arg(keys.revoked_client(id));
            cmd
        }
    };
    let client = settings.client.clone();
    let work = async move {
        let mut conn = client.get_multiplexed_async_connection().await?;
        cmd.query_async::<redis::Value>(&mut conn).await
    };
    match tokio::time::timeout(bound, work).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("Redis at {}: {e}", settings.endpoint)),
        Err(_) => Err(format!(
            "Redis at {} did not answer within {bound:?}",
            settings.endpoint
        )),
    }
}

/// Settings for tests: `url`, a short TTL, a generous timeout.
#[cfg(test)]
pub(crate) fn test_settings(url: &str, prefix: &str, mode: FailureMode) -> ClusterSettings {
    ClusterSettings::new(
        url,
        Duration::from_secs(3),
        Duration::from_secs(2),
        mode,
        prefix,
    )
    .expect("a valid test URL")
}
