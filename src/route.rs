//! A route at runtime: the path a browser connects to, its API kind, upstreams and query rules.

use std::sync::Arc;
use std::time::Duration;

use crate::config::RouteKind;
use crate::rewrite::{Pattern, QueryPolicy};
use crate::upstream::Upstream;

/// A validated route.
#[derive(Debug)]
pub struct Route {
    /// Name used in metrics, logs and key grants.
    pub name: String,
    /// Path served, e.g. `/v1/listen`.
    pub path: String,
    /// API spoken.
    pub kind: RouteKind,
    /// Upstreams in order of preference (never empty).
    pub upstreams: Vec<Arc<Upstream>>,
    /// Browser origins allowed (lowercase patterns).
    pub origins: Vec<Pattern>,
    /// Whether handshakes without `Origin` are accepted.
    pub allow_missing_origin: bool,
    /// Client silence after which a KeepAlive is sent upstream (`None`: never).
    pub keepalive: Option<Duration>,
    /// Whether clients must authenticate (only `false` on trusted networks).
    pub require_auth: bool,
    /// Longest session on this route.
    pub max_session: Option<Duration>,
    /// Model and query rules.
    pub policy: QueryPolicy,
    /// Whether this route also serves its kind's models on the Workers AI path.
    pub workers_ai: bool,
}

impl Route {
    /// The upstream sessions use now: the first in the list.
    pub fn primary(&self) -> &Arc<Upstream> {
        &self.upstreams[0]
    }

    /// Whether a handshake with this `Origin` header (or none) may proceed. A pattern's `*`
    /// never spans `/` or `@`, so `https://*.example.com` cannot match another site.
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        let Some(origin) = origin else {
            return self.allow_missing_origin;
        };
        let origin = origin.trim().to_ascii_lowercase();
        self.origins.iter().any(|p| {
            p.captures(&origin)
                .is_some_and(|caps| caps.iter().all(|c| !c.contains(['/', '@'])))
        })
    }
}
