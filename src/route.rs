//! A route at runtime: the path a browser connects to, its API kind, upstreams and query rules.

use std::sync::Arc;
use std::time::Duration;

use crate::config::RouteKind;
use crate::origin::{OriginPattern, Presented};
use crate::rewrite::{Pattern, QueryPolicy, RewriteError};
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
    /// Bytes per second of the clients' binary audio, when the config fixes it (generic
    /// routes); over what the query says.
    pub audio_bytes_per_second: Option<f64>,
    /// Its REST half (`POST` on its path), when it serves one.
    pub rest: Option<crate::rest::RestRoute>,
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

/// Longest path segment a route captures.
const MAX_SEGMENT: usize = 128;

/// A route's path captures (`{voice_id}`) and the client's segments there.
pub(crate) type Captures<'a> = Vec<(&'a str, &'a str)>;

/// The client's path segments where the route's path has `{name}`
/// (`/v1/text-to-speech/{voice_id}/stream-input`). Each must be plain unreserved characters,
/// so nothing but an id can reach an upstream path.
pub(crate) fn captures<'a>(
    route_path: &'a str,
    path: &'a str,
) -> Result<Captures<'a>, RewriteError> {
    let mut out = Vec::new();
    if !route_path.contains('{') {
        return Ok(out);
    }
    for (pattern, segment) in route_path.split('/').zip(path.split('/')) {
        let Some(name) = capture_name(pattern) else {
            continue;
        };
        let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
        if segment.is_empty()
            || segment.len() > MAX_SEGMENT
            || !segment.bytes().all(plain)
            || segment.bytes().all(|b| b == b'.')
        {
            return Err(RewriteError::InvalidPathSegment(
                segment.chars().take(MAX_SEGMENT).collect(),
            ));
        }
        out.push((name, segment));
    }
    Ok(out)
}

/// `template` (a provider's upstream path) with each `{name}` replaced by its capture.
pub(crate) fn fill(template: &str, captures: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, segment) in captures {
        out = out.replace(&format!("{{{name}}}"), segment);
    }
    out
}

/// `name` when a path segment is a capture, `{name}`.
pub(crate) fn capture_name(segment: &str) -> Option<&str> {
    segment
        .strip_prefix('{')?
        .strip_suffix('}')
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
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
    fn captured_segments_fill_the_upstream_path_and_must_be_plain() {
        let route = "/v1/text-to-speech/{voice_id}/stream-input";
        let up = "/v1/text-to-speech/{voice_id}/stream-input";
        let path = "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream-input";
        let caps = captures(route, path).unwrap();
        assert_eq!(caps, vec![("voice_id", "21m00Tcm4TlvDq8ikWAM")]);
        assert_eq!(fill(up, &caps), path);
        assert!(captures("/x/{id}", "/x/..").is_err());
        for bad in ["a%2F..", "..", "a b", "a?b", &"x".repeat(129)] {
            let path = format!("/v1/text-to-speech/{bad}/stream-input");
            assert!(captures(route, &path).is_err(), "{bad}");
        }
        // a route without captures: the path is not looked at
        assert!(captures("/v3/ws", "/anything").unwrap().is_empty());
        assert_eq!(fill("/v3/ws", &[]), "/v3/ws");
        assert_eq!(capture_name("{voice_id}"), Some("voice_id"));
        assert_eq!(capture_name("{}"), None);
        assert_eq!(capture_name("{a/b}"), None);
    }

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
