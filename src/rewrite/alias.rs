//! Model alias tables: how a client's model name becomes the upstream's, per upstream.
//!
//! Each provider has a built-in table (in its `crate::provider` module) that accepts the names
//! clients use and writes its own; an upstream's configured aliases are merged over it.

use std::collections::BTreeMap;

use super::{Pattern, RewriteError};

/// A model as the upstream wants it, plus parameters the mapping adds (Cloudflare `speaker`)
/// and client parameters it used up (Deepgram direct: `speaker` went into the model name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappedModel {
    /// Upstream model name.
    pub model: String,
    /// Extra query parameters, already decoded.
    pub params: Vec<(String, String)>,
    /// Client query parameters not forwarded, because the model name now carries them.
    pub consumed: Vec<String>,
}

impl MappedModel {
    fn unchanged(model: &str) -> Self {
        Self {
            model: model.to_owned(),
            ..Self::default()
        }
    }
}

/// One upstream's alias table: exact names first, then the most specific pattern.
#[derive(Debug, Clone, Default)]
pub struct AliasTable {
    entries: Vec<(Pattern, String)>,
}

impl AliasTable {
    /// Builds a table from `pattern → template` entries. A template's `*` takes the pattern's
    /// first capture; `{name:default}` in its model takes the client's `name` parameter (see
    /// [`AliasTable::map_with`]); `?k=v&…` after the model name adds parameters.
    pub fn new(entries: &BTreeMap<String, String>) -> Self {
        let mut entries: Vec<(Pattern, String)> = entries
            .iter()
            .map(|(k, v)| (Pattern::new(k), v.clone()))
            .collect();
        entries.sort_by_key(|(p, _)| (!p.is_exact(), std::cmp::Reverse(p.specificity())));
        Self { entries }
    }

    /// Maps a client model with no client parameters at hand: placeholders take their defaults.
    pub fn map(&self, model: &str) -> MappedModel {
        self.map_with(model, |_| None)
            .unwrap_or_else(|_| MappedModel::unchanged(model))
    }

    /// Maps a client model; a model no alias matches passes through unchanged. `param` gives
    /// the value a client parameter will have upstream; a placeholder's value must be ASCII
    /// letters and digits (it lands in a model name), else [`RewriteError::MappingParam`].
    pub fn map_with(
        &self,
        model: &str,
        param: impl Fn(&str) -> Option<String>,
    ) -> Result<MappedModel, RewriteError> {
        for (pattern, template) in &self.entries {
            if let Some(caps) = pattern.captures(model) {
                return fill(template, caps.first().copied().unwrap_or(""), &param);
            }
        }
        Ok(MappedModel::unchanged(model))
    }
}

/// A `{name:default}` placeholder: its span in the template's model part, name and default.
struct Placeholder<'t> {
    start: usize,
    end: usize,
    name: &'t str,
    default: &'t str,
}

/// The next well-formed placeholder in `model` at or after `from`. Anything else in braces is
/// literal text (config validation refuses it, see [`check_template`]).
fn next_placeholder(model: &str, from: usize) -> Option<Placeholder<'_>> {
    let mut at = from;
    while let Some(open) = model[at..].find('{').map(|i| i + at) {
        let close = model[open..].find('}').map(|i| i + open)?;
        if let Some((name, default)) = model[open + 1..close].split_once(':')
            && is_param_name(name)
            && is_voice(default)
        {
            return Some(Placeholder {
                start: open,
                end: close + 1,
                name,
                default,
            });
        }
        at = open + 1;
    }
    None
}

fn is_param_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// What may be written into a model name: ASCII letters and digits.
fn is_voice(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Fills a template. The template is split into model and parameters first, and placeholders
/// are found in the template before the capture is inserted, so a capture (client input) lands
/// inside one value and can never add parameters or placeholders.
fn fill(
    template: &str,
    capture: &str,
    param: &impl Fn(&str) -> Option<String>,
) -> Result<MappedModel, RewriteError> {
    let (model, query) = template.split_once('?').unwrap_or((template, ""));
    let mut out = String::with_capacity(model.len() + capture.len());
    let mut consumed = Vec::new();
    let mut at = 0;
    while let Some(p) = next_placeholder(model, at) {
        out.push_str(&model[at..p.start].replace('*', capture));
        let value = match param(p.name).filter(|v| !v.is_empty()) {
            Some(v) if is_voice(&v) => v.to_ascii_lowercase(),
            Some(_) => return Err(RewriteError::MappingParam(p.name.to_owned())),
            None => p.default.to_owned(),
        };
        out.push_str(&value);
        if !consumed.iter().any(|c| c == p.name) {
            consumed.push(p.name.to_owned());
        }
        at = p.end;
    }
    out.push_str(&model[at..].replace('*', capture));
    Ok(MappedModel {
        model: out,
        params: form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.replace('*', capture)))
            .collect(),
        consumed,
    })
}

/// Checks a configured template: every `{`…`}` must be a `{name:default}` placeholder (name in
/// lowercase letters and `_`, default in letters and digits) in the model part.
pub fn check_template(template: &str) -> Result<(), String> {
    let (model, query) = template.split_once('?').unwrap_or((template, ""));
    if query.contains(['{', '}']) {
        return Err("placeholders only go in the model name, before '?'".into());
    }
    let mut literal = String::new();
    let mut at = 0;
    while let Some(p) = next_placeholder(model, at) {
        literal.push_str(&model[at..p.start]);
        at = p.end;
    }
    literal.push_str(&model[at..]);
    if literal.contains(['{', '}']) {
        return Err(
            "braces must form a placeholder such as {speaker:luna} (a parameter name and a default voice)"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
