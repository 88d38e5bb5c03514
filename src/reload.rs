//! Changing the configuration without a rollout: on SIGHUP, and when the file's contents change
//! (read every `reload.watch_interval` and compared by digest, like the listener's certificate:
//! a Kubernetes ConfigMap's `..data` symlink swap, an editor's rename or an in-place write are
//! all seen, and no event can be lost).
//!
//! A reload validates the whole file first; a file with any error is refused with its errors
//! and the running configuration stays. A valid one replaces client keys, tokens, routes (with
//! their origins, models, limits and upstreams, prices included), the demo page and the
//! handshake rate and caps of `[limits]` at once: the next request sees the new set, sessions
//! already relaying keep what they started with. Listeners, TLS settings, `[server]`, how
//! client IPs are found (`[limits]`), `[metrics]`, `[log]`, `[simulator]` and `[cluster]`
//! apply at the next restart; a reload that changes them says so in the log and in
//! `voxrelay_config_restart_pending`.
//!
//! A client key removed by a reload is refused at once (with the tokens it vouched for); its
//! live sessions get `reload.removed_key_grace`, then close 1008 "client key removed" — unless
//! a later reload brought the key back in the meantime.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::{ConfigError, Settings};
use crate::serve::Routers;
use crate::state::Shared;

/// `result` label of `voxrelay_config_reloads_total` for a file now applied.
pub(crate) const APPLIED: &str = "applied";
/// `result` label of `voxrelay_config_reloads_total` for a file refused (errors logged).
pub(crate) const REJECTED: &str = "rejected";
/// Close reason for the live sessions of a client key a reload removed.
pub(crate) const KEY_REMOVED: &str = "client key removed";

/// What a reload needs besides the new file.
pub(crate) struct Reloader {
    path: PathBuf,
    shared: Arc<Shared>,
    routers: Routers,
    metrics_on_public: bool,
    /// The built-in simulator's `ws://addr`, for upstreams that point at it.
    simulator: Option<String>,
    /// The sections that apply only at a restart, as running.
    fixed: Fixed,
    /// The applied file's digest and the grace for removed keys.
    applied: Mutex<Applied>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
struct Applied {
    digest: Option<[u8; 32]>,
    removed_key_grace: Duration,
    watch_interval: Duration,
}

/// Restart-only sections, compared as JSON values.
#[derive(Debug, Clone, PartialEq)]
struct Fixed(Vec<(&'static str, serde_json::Value)>);

impl Fixed {
    fn of(settings: &Settings) -> Self {
        let json = |v: serde_json::Result<serde_json::Value>| v.unwrap_or_default();
        Fixed(vec![
            (
                "server",
                json(serde_json::to_value(&settings.server.config)),
            ),
            // how client IPs are found and grouped: open connections are counted by them
            (
                "limits",
                serde_json::json!([
                    settings.limits_config.trusted_proxies,
                    settings.limits_config.client_ip_header,
                    settings.limits_config.ipv6_prefix_len,
                ]),
            ),
            ("metrics", json(serde_json::to_value(&settings.metrics))),
            ("log", json(serde_json::to_value(&settings.log))),
            ("simulator", json(serde_json::to_value(&settings.simulator))),
            // never logged: only the section's name is reported
            (
                "cluster",
                json(serde_json::to_value(&settings.cluster_config)),
            ),
        ])
    }

    /// The sections that differ from `running`.
    fn changed_from(&self, running: &Fixed) -> Vec<&'static str> {
        self.0
            .iter()
            .zip(&running.0)
            .filter(|(now, was)| now.1 != was.1)
            .map(|(now, _)| now.0)
            .collect()
    }
}

/// What a reloader keeps of the settings the app started with.
#[derive(Debug)]
pub(crate) struct Start {
    fixed: Fixed,
    reload: crate::config::ReloadConfig,
}

impl Start {
    /// The restart-only sections and reload settings of `settings`.
    pub(crate) fn of(settings: &Settings) -> Self {
        Self {
            fixed: Fixed::of(settings),
            reload: settings.reload.clone(),
        }
    }
}

/// How a reload went.
#[derive(Debug)]
pub(crate) enum Reloaded {
    /// Applied; these restart-only sections changed and wait for a restart.
    #[allow(dead_code)] // the log and `voxrelay_config_restart_pending` report them
    Applied { restart_pending: Vec<&'static str> },
    /// The file's contents are those already applied (a watched file that did not change).
    Unchanged,
    /// Refused; the running configuration stays.
    #[allow(dead_code)] // logged where refused
    Rejected(ConfigError),
}

impl Reloader {
    /// A reloader of `path` for the app that started with `start`.
    pub(crate) fn new(
        path: PathBuf,
        start: Start,
        shared: Arc<Shared>,
        routers: Routers,
        metrics_on_public: bool,
        simulator: Option<String>,
    ) -> Self {
        let digest = std::fs::read(&path).ok().map(|b| digest(&b));
        Self {
            path,
            shared,
            routers,
            metrics_on_public,
            simulator,
            fixed: start.fixed,
            applied: Mutex::new(Applied {
                digest,
                removed_key_grace: start.reload.removed_key_grace,
                watch_interval: start.reload.watch_interval,
            }),
        }
    }

    fn applied(&self) -> Applied {
        self.applied
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reads, validates and applies the file; with `only_if_changed`, a file whose contents are
    /// those already applied is left alone.
    pub(crate) fn reload(&self, trigger: &'static str, only_if_changed: bool) -> Reloaded {
        let bytes = std::fs::read(&self.path);
        let now = bytes.as_ref().ok().map(|b| digest(b));
        if only_if_changed && now == self.applied().digest {
            return Reloaded::Unchanged;
        }
        let settings = match bytes.map(String::from_utf8) {
            Err(e) => Err(ConfigError(vec![format!("cannot read the file: {e}")])),
            Ok(Err(_)) => Err(ConfigError(vec!["the file is not UTF-8 text".into()])),
            Ok(Ok(text)) => crate::config::load_text(&text),
        };
        let metrics = &self.shared.metrics;
        let settings = match settings {
            Ok(s) => s,
            Err(errors) => {
                // remember the refused contents: a watched file is not re-reported every tick
                self.remember(now, None);
                warn!(trigger, path = %self.path.display(), %errors,
                    "configuration reload refused; the running configuration stays");
                metrics
                    .config_reloads_total
                    .with_label_values(&[REJECTED])
                    .inc();
                return Reloaded::Rejected(errors);
            }
        };
        let restart_pending = Fixed::of(&settings).changed_from(&self.fixed);
        self.apply(settings, now);
        metrics
            .config_reloads_total
            .with_label_values(&[APPLIED])
            .inc();
        metrics
            .config_restart_pending
            .set(i64::from(!restart_pending.is_empty()));
        if restart_pending.is_empty() {
            info!(trigger, path = %self.path.display(), "configuration reloaded");
        } else {
            warn!(trigger, path = %self.path.display(), sections = ?restart_pending,
                "configuration reloaded; changes to these sections apply at the next restart");
        }
        Reloaded::Applied { restart_pending }
    }

    fn remember(&self, digest: Option<[u8; 32]>, settings: Option<&Settings>) {
        let mut applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
        applied.digest = digest;
        if let Some(s) = settings {
            applied.removed_key_grace = s.reload.removed_key_grace;
            applied.watch_interval = s.reload.watch_interval;
        }
    }

    /// Swaps in keys, tokens, routes and the demo page; schedules the end of removed keys'
    /// sessions.
    fn apply(&self, settings: Settings, digest: Option<[u8; 32]>) {
        if let Some(base) = &self.simulator {
            for upstream in settings.upstreams.values() {
                let _ = upstream.simulator.set(base.clone());
            }
        }
        self.remember(digest, Some(&settings));
        let shared = &self.shared;
        let before = client_ids(&shared.auth.load());
        let after = client_ids(&settings.auth);
        let removed: Vec<String> = before.difference(&after).cloned().collect();
        let names = settings.routes.iter().map(|r| r.name.clone()).collect();
        let router = crate::http::router(
            shared.clone(),
            &settings.routes,
            &settings.demo,
            self.metrics_on_public,
        );
        shared.limits.reconfigure(&settings.limits);
        shared
            .metrics
            .sessions_limit
            .set(settings.max_sessions as i64);
        shared.auth.store(Arc::new(settings.auth));
        shared.route_names.store(Arc::new(names));
        self.routers.store(Arc::new(router));
        if !removed.is_empty() {
            let grace = settings.reload.removed_key_grace;
            info!(clients = ?removed, ?grace, "client keys removed: new sessions refused, live ones end after the grace");
            tokio::spawn(end_removed(shared.clone(), removed, grace));
        }
    }
}

fn client_ids(auth: &crate::auth::Authenticator) -> BTreeSet<String> {
    auth.clients.0.iter().map(|k| k.id.clone()).collect()
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// After `grace`, ends the live sessions of the clients in `removed` still absent from the
/// configuration.
async fn end_removed(shared: Arc<Shared>, removed: Vec<String>, grace: Duration) {
    tokio::time::sleep(grace).await;
    let auth = shared.auth.load();
    for id in removed {
        if auth.clients.by_id(&id).is_some() {
            continue; // back in the configuration
        }
        let ended = shared.revocations.revoke_client(&id, KEY_REMOVED);
        if ended > 0 {
            info!(client = %id, sessions = ended, "sessions of a removed client key closed");
        }
    }
}

/// Reloads on SIGHUP and whenever the watched file's contents change, until `stop`.
pub(crate) async fn run(reloader: Arc<Reloader>, stop: CancellationToken) {
    let mut hangup = hangup();
    let mut every = watch_timer(reloader.applied().watch_interval);
    loop {
        let (trigger, only_if_changed) = tokio::select! {
            () = stop.cancelled() => return,
            Some(()) = next_hangup(&mut hangup) => ("SIGHUP", false),
            _ = tick(&mut every) => ("file changed", true),
        };
        let worker = reloader.clone();
        let result =
            tokio::task::spawn_blocking(move || worker.reload(trigger, only_if_changed)).await;
        if let Ok(Reloaded::Applied { .. }) = result {
            let interval = reloader.applied().watch_interval;
            if every.as_ref().map(tokio::time::Interval::period) != Some(interval) {
                every = watch_timer(interval);
            }
        }
    }
}

fn watch_timer(interval: Duration) -> Option<tokio::time::Interval> {
    if interval.is_zero() {
        return None;
    }
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    Some(every)
}

async fn tick(every: &mut Option<tokio::time::Interval>) {
    match every {
        Some(every) => {
            every.tick().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = Option<()>;

fn hangup() -> Hangup {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        signal(SignalKind::hangup()).ok()
    }
    #[cfg(not(unix))]
    None
}

async fn next_hangup(hangup: &mut Hangup) -> Option<()> {
    #[cfg(unix)]
    if let Some(signal) = hangup {
        return signal.recv().await;
    }
    let _ = hangup;
    std::future::pending().await
}

#[cfg(test)]
mod tests;
