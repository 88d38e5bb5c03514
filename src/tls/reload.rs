//! Noticing a rotated pair: both files are read every `reload_interval` and compared by digest.
//!
//! Polling the contents, rather than watching for file events, sees every way certificates are
//! rotated: cert-manager's secret volumes swap a `..data` symlink, certbot swaps `live/` links,
//! others rename a new file over the old or rewrite it in place; none of that is missed, and no
//! event can be lost. Two small files every few seconds cost nothing. A pair that is unreadable,
//! mismatched or half-written is logged and skipped: the current one stays until the files hold
//! a good pair.

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{Identity, PairError, PairFiles, ServerTls};
use crate::metrics::Metrics;

/// `result` label of `voxrelay_tls_reloads_total` for a pair now served.
pub(crate) const RELOAD_OK: &str = "ok";
/// `result` label of `voxrelay_tls_reloads_total` for changed files that were refused.
pub(crate) const RELOAD_ERROR: &str = "error";

/// Polls the pair's files until `stop` is cancelled, installing each new good pair.
pub(crate) async fn watch(tls: ServerTls, metrics: Metrics, stop: CancellationToken) {
    let current = tls.resolver.current();
    warn_if_expired(&current);
    not_after(&metrics, current.not_after);
    let mut seen = Some(tls.resolver.current().fingerprint);
    let mut every = tokio::time::interval(tls.config.reload_interval);
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = stop.cancelled() => return,
        }
        let config = tls.config.clone();
        let Ok(files) = tokio::task::spawn_blocking(move || PairFiles::read(&config)).await else {
            continue;
        };
        let fingerprint = files.as_ref().ok().map(PairFiles::fingerprint);
        if fingerprint == seen {
            continue; // unchanged, or still unreadable and already reported
        }
        seen = fingerprint;
        match files.and_then(|f| f.parse()) {
            Ok(identity) => installed(&tls, &metrics, identity),
            Err(error) => refused(&metrics, &error),
        }
    }
}

fn installed(tls: &ServerTls, metrics: &Metrics, identity: Identity) {
    info!(not_after = identity.not_after, "tls certificate reloaded");
    warn_if_expired(&identity);
    not_after(metrics, identity.not_after);
    metrics
        .tls_reloads_total
        .with_label_values(&[RELOAD_OK])
        .inc();
    tls.resolver.set(identity);
}

fn refused(metrics: &Metrics, error: &PairError) {
    warn!(%error, "tls certificate files changed but are not a usable pair; keeping the current one");
    metrics
        .tls_reloads_total
        .with_label_values(&[RELOAD_ERROR])
        .inc();
}

fn not_after(metrics: &Metrics, unix_seconds: i64) {
    let gauge = metrics.tls_not_after_seconds.with_label_values::<&str>(&[]);
    gauge.set(unix_seconds);
}

/// Clients refuse an expired certificate; say so where an operator looks first.
fn warn_if_expired(identity: &Identity) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if identity.not_after <= i64::try_from(now).unwrap_or(i64::MAX) {
        warn!(
            not_after = identity.not_after,
            "the tls certificate has expired; clients will refuse it"
        );
    }
}
