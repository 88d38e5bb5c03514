//! State every handler shares: settings, authentication, limits, metrics, the upstream
//! connector and the drain signals. Built by [`crate::app::App::build`].

use std::sync::Arc;

use arc_swap::ArcSwap;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Authenticator;
use crate::config::ServerConfig;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::revoke::Revocations;
use crate::upstream::UpstreamConnector;

/// State every handler shares.
#[derive(Debug)]
pub(crate) struct Shared {
    /// `[server]` settings.
    pub server: ServerConfig,
    /// Client keys and tokens; replaced whole by a reload.
    pub auth: ArcSwap<Authenticator>,
    /// Rate limits and session caps.
    pub limits: Arc<Limits>,
    /// The app's own metrics registry.
    pub metrics: Metrics,
    /// Upstream connector (TLS, limits, deadline).
    pub connector: UpstreamConnector,
    /// Cancelled when shutdown begins: `/readyz` and new upgrades answer 503.
    pub draining: CancellationToken,
    /// Cancelled when the grace period ends: live sessions drain (finals relayed, then 1012).
    pub sessions_stop: CancellationToken,
    /// Tracks every session from handshake to end.
    pub tracker: TaskTracker,
    /// Live sessions by credential, for ending those whose credential is withdrawn.
    pub revocations: Arc<Revocations>,
    /// The configured routes' names (what grants may narrow a token to); replaced by a reload.
    pub route_names: ArcSwap<Vec<String>>,
}
