//! Pure request rewriting: model aliases, allowlists and the upstream query string.
//!
//! The query is handled as raw `key=value` pairs so that everything forwarded keeps its order,
//! repetition (`keyterm=a&keyterm=b`) and percent-encoding byte for byte.

mod alias;

pub use alias::{AliasTable, MappedModel, check_template};
// the providers' built-in tables, for the property tests and fuzz targets
pub use crate::provider::cloudflare::ALIASES as CLOUDFLARE_ALIASES;
pub use crate::provider::deepgram::ALIASES as DEEPGRAM_ALIASES;

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

pub mod params;

pub use params::CREDENTIAL_PARAMS;

/// Characters escaped in values voxrelay writes; `@`, `/` and `:` stay readable
/// (`model=@cf/deepgram/nova-3`, as Cloudflare documents it).
pub(crate) const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@')
    .remove(b'/')
    .remove(b':');

/// Longest client-supplied value quoted back in an error message.
const MAX_QUOTED: usize = 64;

/// Why a request cannot be rewritten; each is a 400 before the upgrade.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RewriteError {
    /// The model is not on the route's allowlist.
    #[error("model '{0}' is not allowed on this route")]
    ModelNotAllowed(String),
    /// The parameter is denied on this route.
    #[error("query parameter '{0}' is not allowed on this route")]
    ParamDenied(String),
    /// `model` appeared more than once.
    #[error("the model query parameter must appear at most once")]
    DuplicateModel,
    /// A parameter the model mapping writes into the upstream model name is not plain letters
    /// and digits (Deepgram direct: `speaker` becomes part of `aura-2-<speaker>-en`).
    #[error("query parameter '{0}' must be letters and digits only")]
    MappingParam(String),
    /// The route lists the parameters it forwards (`allow_params`) and this is not one.
    #[error("query parameter '{0}' is not accepted on this route")]
    ParamNotAllowed(String),
    /// A parameter voxrelay reads (for metering) appeared more than once.
    #[error("query parameter '{0}' must appear at most once")]
    DuplicateParam(&'static str),
    /// A path segment the route captures (`{voice_id}`) is not plain unreserved characters.
    #[error("path segment '{0}' must be 1 to 128 letters, digits, '-', '_', '.' or '~'")]
    InvalidPathSegment(String),
    /// A parameter voxrelay reads has a value it cannot accept.
    #[error("query parameter '{name}' {expected}")]
    InvalidParam {
        /// The parameter.
        name: &'static str,
        /// What its value must be.
        expected: &'static str,
    },
}

/// A glob over model names: `*` matches any run of characters (including none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    parts: Vec<String>,
}

impl Pattern {
    /// Whether any of `patterns` matches `model` by its bare name (without a provider's model
    /// prefix, as allowlists and grants are written).
    pub fn any_matches_model(patterns: &[Pattern], model: &str) -> bool {
        let bare = crate::provider::bare_model(model);
        patterns.iter().any(|p| p.matches(bare))
    }

    /// Compiles a pattern; any text is valid.
    pub fn new(pattern: &str) -> Self {
        Self {
            parts: pattern.split('*').map(str::to_owned).collect(),
        }
    }

    /// Number of literal characters: more means more specific.
    pub fn specificity(&self) -> usize {
        self.parts.iter().map(String::len).sum()
    }

    fn is_exact(&self) -> bool {
        self.parts.len() == 1
    }

    /// The text matched by each `*`, or `None` when `s` does not match.
    pub fn captures<'s>(&self, s: &'s str) -> Option<Vec<&'s str>> {
        let (first, rest) = self.parts.split_first()?;
        let mut tail = s.strip_prefix(first.as_str())?;
        let Some((last, middle)) = rest.split_last() else {
            return tail.is_empty().then(Vec::new);
        };
        let mut caps = Vec::with_capacity(rest.len());
        for part in middle {
            let at = tail.find(part.as_str())?;
            caps.push(&tail[..at]);
            tail = &tail[at + part.len()..];
        }
        let end = tail.len().checked_sub(last.len())?;
        if !tail.ends_with(last.as_str()) {
            return None;
        }
        caps.push(&tail[..end]);
        Some(caps)
    }

    /// True when `s` matches.
    pub fn matches(&self, s: &str) -> bool {
        self.captures(s).is_some()
    }
}

/// The route-level rules a query is rewritten under.
#[derive(Debug, Clone)]
pub struct QueryPolicy {
    /// Model used when the client sends none.
    pub default_model: String,
    /// Allowed bare model names.
    pub models: std::sync::Arc<[Pattern]>,
    /// Parameters refused with 400 (compared as [`params::name`] normalises them).
    pub deny_params: Vec<String>,
    /// Parameters forced to a value.
    pub force_params: Vec<(String, String)>,
    /// When set, the only parameters a client may send besides `model`, credentials (dropped)
    /// and forced ones; any other is refused with 400.
    pub allow_params: Option<Vec<String>>,
    /// A parameter that, sent without a `model`, opens a session naming no model upstream
    /// (OpenAI Realtime's `intent`); the route's default model is still the one checked,
    /// granted and logged.
    pub modelless_param: Option<&'static str>,
    /// The parameter naming the model (`model` on Deepgram and OpenAI, `model_id` on
    /// ElevenLabs…); `None` when the API names no model in its URL: the route's default model
    /// is then the session's, and a `model` parameter is an ordinary one.
    pub model_param: Option<std::sync::Arc<str>>,
}

impl Default for QueryPolicy {
    fn default() -> Self {
        Self {
            default_model: String::new(),
            models: std::sync::Arc::new([]),
            deny_params: Vec::new(),
            force_params: Vec::new(),
            allow_params: None,
            modelless_param: None,
            model_param: Some("model".into()),
        }
    }
}

/// A client query split into raw pairs, with the model pulled out.
#[derive(Debug, Clone)]
pub struct ClientQuery<'q> {
    /// `(normalised name, raw pair)` in order, credentials and `model` removed.
    pairs: Vec<(String, &'q str)>,
    /// Index in `pairs` where the model goes.
    model_at: usize,
    /// The model the client asked for (decoded) or the route default.
    pub model: String,
    /// Whether `model` is sent upstream (not when the client sent only the
    /// [`QueryPolicy::modelless_param`]).
    send_model: bool,
}

/// A query key or value decoded (`+` as space, then percent-decoding, lossy UTF-8).
pub(crate) fn decode(raw: &str) -> Cow<'_, str> {
    if !raw.contains(['+', '%']) {
        return Cow::Borrowed(raw);
    }
    let spaced = raw.replace('+', " ");
    Cow::Owned(percent_decode_str(&spaced).decode_utf8_lossy().into_owned())
}

fn quoted(s: &str) -> String {
    s.chars().take(MAX_QUOTED).collect()
}

impl<'q> ClientQuery<'q> {
    /// Parses `raw` (the part after `?`) and checks it against `policy`.
    pub fn parse(raw: Option<&'q str>, policy: &QueryPolicy) -> Result<Self, RewriteError> {
        let mut pairs = Vec::new();
        let mut model: Option<(usize, String)> = None;
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let key = params::name(k);
            if policy.model_param.as_deref() == Some(key.as_str()) {
                if model.is_some() {
                    return Err(RewriteError::DuplicateModel);
                }
                model = Some((pairs.len(), decode(v).into_owned()));
            } else if params::is_credential(&key) {
                continue;
            } else if params::listed(&policy.deny_params, &key) {
                return Err(RewriteError::ParamDenied(quoted(&key)));
            } else if !policy.allows(&key) {
                return Err(RewriteError::ParamNotAllowed(quoted(&key)));
            } else {
                pairs.push((key, pair));
            }
        }
        let send_model = policy.model_param.is_some()
            && (model.is_some()
                || !policy
                    .modelless_param
                    .is_some_and(|p| pairs.iter().any(|(k, _)| k == p)));
        let (model_at, model) = model.unwrap_or((0, policy.default_model.clone()));
        if !Pattern::any_matches_model(&policy.models, &model) {
            return Err(RewriteError::ModelNotAllowed(quoted(&model)));
        }
        Ok(Self {
            pairs,
            model_at,
            model,
            send_model,
        })
    }

    /// Whether a model is sent upstream: not when the client sent only the route's modelless
    /// parameter (the route default is still the one checked and logged).
    pub fn names_model(&self) -> bool {
        self.send_model
    }

    /// The value `key` will have upstream (a forced value, else the client's first), decoded.
    pub fn param(&self, key: &str, policy: &QueryPolicy) -> Option<String> {
        self.values(key, policy).into_iter().next()
    }

    /// Every value `key` will have upstream, decoded: the forced value alone, else each the
    /// client sent under any spelling of the name, in order.
    pub fn values(&self, key: &str, policy: &QueryPolicy) -> Vec<String> {
        let key = params::normalise(key);
        if let Some((_, v)) = policy
            .force_params
            .iter()
            .find(|(k, _)| params::normalise(k) == key)
        {
            return vec![v.clone()];
        }
        self.pairs
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, raw)| decode(raw.split_once('=').map_or("", |(_, v)| v)).into_owned())
            .collect()
    }

    /// The model mapped by `aliases`, reading placeholders' parameters as they will be upstream.
    pub fn mapped(
        &self,
        aliases: &AliasTable,
        policy: &QueryPolicy,
    ) -> Result<MappedModel, RewriteError> {
        aliases.map_with(&self.model, |k| self.param(k, policy))
    }

    /// The upstream query: the mapped model in the client's position, the mapping's and the
    /// route's forced parameters set in place or appended (the route wins), the parameters the
    /// mapping consumed left out, everything else exactly as sent.
    pub fn render(&self, mapped: &MappedModel, policy: &QueryPolicy) -> String {
        // (written name, normalised name, value, written yet)
        let mut forced: Vec<(&str, String, &str, bool)> = Vec::new();
        for (k, v) in mapped.params.iter().chain(policy.force_params.iter()) {
            let name = params::normalise(k);
            match forced.iter_mut().find(|(_, fname, _, _)| *fname == name) {
                Some(slot) => slot.2 = v,
                None => forced.push((k, name, v, false)),
            }
        }
        let model = pair(
            policy.model_param.as_deref().unwrap_or("model"),
            &mapped.model,
        );
        let mut out: Vec<Cow<'_, str>> = Vec::with_capacity(self.pairs.len() + forced.len() + 1);
        for (i, (key, raw)) in self.pairs.iter().enumerate() {
            if i == self.model_at && self.send_model {
                out.push(Cow::Borrowed(&model));
            }
            if mapped.consumed.iter().any(|c| params::normalise(c) == *key) {
                continue;
            }
            match forced.iter_mut().find(|(_, fname, _, _)| fname == key) {
                Some((_, _, _, true)) => {}
                Some((fk, _, fv, done)) => {
                    *done = true;
                    out.push(Cow::Owned(pair(fk, fv)));
                }
                None => out.push(Cow::Borrowed(raw)),
            }
        }
        if self.model_at >= self.pairs.len() && self.send_model {
            out.push(Cow::Borrowed(&model));
        }
        let rest = forced.iter().filter(|(_, _, _, done)| !done);
        out.extend(rest.map(|(k, _, v, _)| Cow::Owned(pair(k, v))));
        out.join("&")
    }
}

fn pair(key: &str, value: &str) -> String {
    format!(
        "{}={}",
        utf8_percent_encode(key, VALUE),
        utf8_percent_encode(value, VALUE)
    )
}
#[cfg(test)]
mod tests;
