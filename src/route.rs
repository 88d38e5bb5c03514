//! A route at runtime: the path a browser connects to, its API kind, upstreams and query rules.

use std::sync::Arc;
use std::time::Duration;

use crate::config::RouteKind;
use crate::origin::{OriginPattern, Presented};
use crate::rewrite::{Pattern, QueryPolicy};
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

/// Longest model name quoted back in a refusal.
const MAX_QUOTED_MODEL: usize = 64;

/// The models one session may name after the handshake (in messages that pick a model): the
/// route's allowlist and, when the credential narrows it, its grants. The same rules as for
/// `?model=` before the upgrade. Grants narrow the session's own model; a helper model (input
/// transcription beside a conversation) needs only the allowlist, unless the session was
/// opened naming no model (a transcription session), where it is the session's model.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModelRules {
    /// The route's allowlist (bare names).
    pub allowed: std::sync::Arc<[Pattern]>,
    /// The credential's model grants, if it has any.
    pub granted: Option<Vec<Pattern>>,
    /// The handshake named no model (the route's modelless parameter): the grants apply to
    /// the helper model instead.
    pub modelless: bool,
}

impl ModelRules {
    /// `Ok` when `model` may be used; otherwise why not, for the client (the name quoted,
    /// shortened).
    pub(crate) fn check(&self, model: &str) -> Result<(), String> {
        self.check_with(model, true)
    }

    /// [`ModelRules::check`] for a helper model: the grants apply only to a session opened
    /// naming no model.
    pub(crate) fn check_helper(&self, model: &str) -> Result<(), String> {
        self.check_with(model, self.modelless)
    }

    fn check_with(&self, model: &str, grants_apply: bool) -> Result<(), String> {
        let quoted: String = model.chars().take(MAX_QUOTED_MODEL).collect();
        if !Pattern::any_matches_model(&self.allowed, model) {
            return Err(format!("model '{quoted}' is not allowed on this route"));
        }
        match &self.granted {
            Some(granted) if grants_apply && !Pattern::any_matches_model(granted, model) => Err(
                format!("model '{quoted}' is not granted to this credential"),
            ),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_needs_the_allowlist_and_any_grants() {
        let rules = ModelRules {
            allowed: vec![Pattern::new("gpt-realtime*"), Pattern::new("whisper-1")].into(),
            granted: None,
            modelless: false,
        };
        assert!(rules.check("gpt-realtime-mini").is_ok());
        assert!(rules.check("whisper-1").is_ok());
        let refused = rules.check("gpt-4o-realtime-preview").unwrap_err();
        assert!(refused.contains("not allowed"), "{refused}");
        let granted = ModelRules {
            granted: Some(vec![Pattern::new("gpt-realtime-mini")]),
            ..rules
        };
        assert!(granted.check("gpt-realtime-mini").is_ok());
        let refused = granted.check("gpt-realtime").unwrap_err();
        assert!(refused.contains("not granted"), "{refused}");
        let long = "x".repeat(500);
        assert!(granted.check(&long).unwrap_err().len() < 120);
        assert!(ModelRules::default().check("any").is_err());
    }
}
