//! Turns [`RawConfig`] into runtime [`Settings`], collecting every error with its key path.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rustls::ClientConfig;

use super::{ClientKeyConfig, ConfigError, LogConfig, RawConfig, ServerConfig, SimulatorConfig};
use crate::auth::{Authenticator, ClientKey, ClientKeys};
use crate::limits::Limits;
use crate::route::Route;
use crate::secret::KeyDigest;
use crate::upstream::{Upstream, tls_config};

mod limits;
mod query;
mod routes;
mod tls;
mod upstreams;
mod warnings;

use limits::limits;
use routes::routes;
use upstreams::{UpstreamContext, upstream};
pub use warnings::warnings;

/// Paths voxrelay serves itself; routes may not take them.
const RESERVED_PATHS: [&str; 4] = ["/metrics", "/healthz", "/readyz", "/v1/auth/grant"];

/// Smallest `server.max_request_head_bytes`: the HTTP layer's own minimum buffer.
const MIN_HEAD_BYTES: usize = 8192;
/// Largest `server.max_request_head_bytes`.
const MAX_HEAD_BYTES: usize = 1 << 20;

/// Everything the app needs, validated.
#[derive(Debug)]
pub struct Settings {
    /// Listener, timeouts, limits.
    pub server: ServerSettings,
    /// Logging.
    pub log: LogConfig,
    /// Client keys and tokens.
    pub(crate) auth: Authenticator,
    /// Rate limits and caps.
    pub(crate) limits: Limits,
    /// The session cap (for the `voxrelay_sessions_limit` gauge).
    pub max_sessions: usize,
    /// Metric label bounds.
    pub(crate) metrics: super::MetricsConfig,
    /// The demo page.
    pub(crate) demo: super::DemoConfig,
    /// Upstreams by name.
    pub(crate) upstreams: BTreeMap<String, Arc<Upstream>>,
    /// Routes in config order.
    pub(crate) routes: Vec<Arc<Route>>,
    /// The built-in simulator, when enabled.
    pub(crate) simulator: Option<SimulatorConfig>,
    /// `[limits]` as written (a reload compares it with the running one).
    pub(crate) limits_config: super::LimitsConfig,
    /// Reloading without a restart.
    pub(crate) reload: super::ReloadConfig,
    /// Things that are valid but probably not what was meant (see [`warnings()`]).
    pub warnings: Vec<String>,
}

/// The server section and its TLS client configuration.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// As configured.
    pub config: ServerConfig,
    /// Upstream TLS (webpki roots plus the extra CA).
    pub(crate) tls: Arc<ClientConfig>,
    /// The listener's own TLS, when `[server.tls]` is set.
    pub(crate) listener_tls: Option<crate::tls::ServerTls>,
}

impl Settings {
    /// What `voxrelay check` reports: how many routes, upstreams and client keys are set.
    pub fn summary(&self) -> String {
        format!(
            "{} routes, {} upstreams, {} client keys",
            self.routes.len(),
            self.upstreams.len(),
            self.auth.clients.0.len()
        )
    }
}

impl ServerSettings {
    /// For `voxrelay healthcheck`: a client configuration trusting exactly the certificate the
    /// listener serves now, when it speaks TLS.
    pub fn probe_tls(&self) -> Result<Option<Arc<ClientConfig>>, rustls::Error> {
        self.listener_tls
            .as_ref()
            .map(crate::tls::ServerTls::probe_client)
            .transpose()
    }
}

/// Validates everything, reporting every problem at once, each once: a route naming an upstream
/// that is defined but invalid gets no error of its own.
pub fn validate(raw: RawConfig) -> Result<Settings, ConfigError> {
    let mut errors = Vec::new();
    let tls = match tls_config(raw.server.extra_ca_file.as_deref()) {
        Ok(tls) => Some(tls),
        Err(e) => {
            errors.push(format!("server.{e}"));
            None
        }
    };
    check_server(&raw.server, &mut errors);
    let listener_tls = tls::listener_tls(raw.server.tls.as_ref(), &mut errors);
    // an upstream no route uses needs no credentials
    let used: BTreeSet<&str> = raw
        .routes
        .iter()
        .flat_map(|r| r.upstreams.iter().map(String::as_str))
        .collect();
    let upstreams: BTreeMap<String, Arc<Upstream>> = raw
        .upstreams
        .iter()
        .filter_map(|(name, u)| {
            let context = UpstreamContext {
                simulator_enabled: raw.simulator.enabled,
                used: used.contains(name.as_str()),
            };
            let built = upstream(name, u, context, &mut errors)?;
            Some((name.clone(), Arc::new(built)))
        })
        .collect();
    let defined: BTreeSet<&str> = raw.upstreams.keys().map(String::as_str).collect();
    let routes = routes(&raw.routes, &upstreams, &defined, &mut errors);
    let route_names: BTreeSet<&str> = raw.routes.iter().map(|r| r.name.as_str()).collect();
    let clients = client_keys(&raw.client_keys, &route_names, &mut errors);
    let client_ids: BTreeSet<&str> = raw.client_keys.iter().map(|k| k.id.as_str()).collect();
    let tokens = super::tokens::tokens(&raw.tokens, &client_ids, &mut errors);
    let limits = limits(&raw.limits, &mut errors);
    let warnings = warnings(&raw);
    match (errors.is_empty(), tls, tokens, limits) {
        (true, Some(tls), Some(tokens), Some(limits)) => Ok(Settings {
            server: ServerSettings {
                config: raw.server,
                tls,
                listener_tls,
            },
            log: raw.log,
            auth: Authenticator { clients, tokens },
            limits,
            max_sessions: raw.limits.max_sessions,
            metrics: raw.metrics,
            demo: raw.demo,
            upstreams,
            routes,
            simulator: raw.simulator.enabled.then_some(raw.simulator),
            limits_config: raw.limits,
            reload: raw.reload,
            warnings,
        }),
        _ => Err(ConfigError(errors)),
    }
}

fn check_server(s: &ServerConfig, errors: &mut Vec<String>) {
    if s.max_message_bytes < 1024 {
        errors.push("server.max_message_bytes: must be at least 1024".into());
    }
    if s.read_buffer_bytes == 0 {
        errors.push("server.read_buffer_bytes: must be positive".into());
    }
    if !(MIN_HEAD_BYTES..=MAX_HEAD_BYTES).contains(&s.max_request_head_bytes) {
        errors.push(format!(
            "server.max_request_head_bytes: must be from {MIN_HEAD_BYTES} to {MAX_HEAD_BYTES}"
        ));
    }
    let timeouts = [
        ("upstream_connect_timeout", s.upstream_connect_timeout),
        ("upstream_attempt_timeout", s.upstream_attempt_timeout),
        ("handshake_timeout", s.handshake_timeout),
        ("request_body_timeout", s.request_body_timeout),
        ("idle_timeout", s.idle_timeout),
    ];
    for (key, value) in timeouts {
        if value.is_zero() {
            errors.push(format!("server.{key}: must be positive"));
        }
    }
}

fn client_keys(
    keys: &[ClientKeyConfig],
    routes: &BTreeSet<&str>,
    errors: &mut Vec<String>,
) -> ClientKeys {
    let mut ids = BTreeSet::new();
    let mut out = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let at = format!("client_keys[{i}]");
        if k.id.trim().is_empty() {
            errors.push(format!("{at}.id: must not be empty"));
        } else if !ids.insert(k.id.as_str()) {
            errors.push(format!("{at}.id: duplicate id '{}'", k.id));
        }
        for r in k.routes.iter().flatten() {
            if !routes.contains(r.as_str()) {
                errors.push(format!("{at}.routes: unknown route '{r}'"));
            }
        }
        match KeyDigest::from_hex(&k.sha256) {
            Some(digest) => out.push(ClientKey {
                id: k.id.clone(),
                digest,
                routes: k.routes.clone(),
                max_concurrent_sessions: k.max_concurrent_sessions,
            }),
            None => errors.push(format!(
                "{at}.sha256: must be 64 hex characters (use `voxrelay hash-key`)"
            )),
        }
    }
    ClientKeys(out)
}

#[cfg(test)]
mod tests;
