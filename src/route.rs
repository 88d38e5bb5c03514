//! A route at runtime: the path a browser connects to, its API kind, upstreams and query rules.

use std::sync::Arc;
use std::time::Duration;

use crate::config::RouteKind;
use crate::origin::{OriginPattern, Presented};
use crate::rewrite::QueryPolicy;
use crate::upstream::Upstream;

/// A validated route.
#[derive(Debug)]
pub(crate) struct Route {
    /// Name used in metrics, logs and key grants.
    pub name: String,
    /// Path served, e.g. `/v1/listen`.
    pub path: String,
    /// API spoken.
    pub kind: RouteKind,
    /// Upstreams in order of preference (never empty).
    pub upstreams: Vec<Arc<Upstream>>,
    /// Browser origins allowed.
    pub origins: Vec<OriginPattern>,
    /// Whether handshakes without `Origin` are accepted.
    pub allow_missing_origin: bool,
    /// Client silence after which the keep-alive message is sent upstream (`None`: never).
    pub keepalive: Option<Duration>,
    /// Whether clients must authenticate (only `false` on trusted networks).
    pub require_auth: bool,
    /// Longest session on this route.
    pub max_session: Option<Duration>,
    /// Model and query rules.
    pub policy: QueryPolicy,
    /// Whether this route also serves its kind's models on a provider's own path shape (the
    /// `workers_ai` setting).
    pub workers_ai: bool,
}

impl Route {
    /// The upstream sessions use now: the first in the list.
    pub(crate) fn primary(&self) -> &Arc<Upstream> {
        &self.upstreams[0]
    }

    /// Whether a handshake presenting this origin may proceed: no `Origin` as configured, an
    /// unparsable one never, otherwise when a pattern matches (see [`crate::origin`]).
    pub(crate) fn origin_allowed(&self, origin: &Presented) -> bool {
        match origin {
            Presented::Absent => self.allow_missing_origin,
            Presented::Invalid => false,
            _ => self.origins.iter().any(|p| p.matches(origin)),
        }
    }
}
