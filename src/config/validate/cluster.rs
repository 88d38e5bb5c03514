//! `[cluster]` → [`ClusterSettings`]: the Redis URL (never repeated in an error), the lease TTL,
//! the call timeout, the failure mode.

use std::time::Duration;

use super::super::ClusterConfig;
use crate::cluster::ClusterSettings;

/// Shortest `cluster.lease_ttl`: the heartbeat runs every third of it.
const MIN_LEASE_TTL: Duration = Duration::from_secs(1);

/// Validates `[cluster]`: `None` when `redis_url` is unset (or on error, with `errors` filled).
pub fn cluster(c: &ClusterConfig, errors: &mut Vec<String>) -> Option<ClusterSettings> {
    let before = errors.len();
    if c.lease_ttl < MIN_LEASE_TTL {
        errors.push("cluster.lease_ttl: must be at least 1s".into());
    }
    if c.timeout.is_zero() {
        errors.push("cluster.timeout: must be positive".into());
    } else if c.timeout * 3 > c.lease_ttl {
        errors.push(
            "cluster.timeout: must be at most a third of cluster.lease_ttl (a heartbeat must fit between two)"
                .into(),
        );
    }
    let prefix = c.key_prefix.trim();
    if prefix.is_empty() || prefix.contains(char::is_whitespace) {
        errors.push("cluster.key_prefix: must be a non-empty word without spaces".into());
    }
    // an empty value (e.g. an unset variable in a compose file) means unset
    let url = c
        .redis_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())?;
    let mut settings = ClusterSettings::new(url, c.lease_ttl, c.timeout, c.failure_mode, prefix)
        .map_err(|e| errors.push(format!("cluster.redis_url: {e}")))
        .ok()?;
    if let Some(path) = &c.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| errors.push(format!("cluster.ca_file: {}: {e}", path.display())))
            .ok()?;
        settings = settings
            .trusting(pem)
            .map_err(|e| errors.push(format!("cluster.ca_file: {e}")))
            .ok()?;
    }
    (errors.len() == before).then_some(settings)
}
