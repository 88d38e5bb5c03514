//! Validating one upstream: base URL, kind (its provider), credential, aliases, prices, breaker.

use std::collections::BTreeMap;

use axum::http::{HeaderName, HeaderValue};

use super::super::{AuthScheme, UpstreamConfig, UpstreamKind};
use crate::relay::{Finalize, FinalsDone};
use crate::rewrite::{AliasTable, check_template};
use crate::secret::Secret;
use crate::upstream::breaker::Breaker;
use crate::upstream::{SIMULATOR_BASE, Upstream};

/// What validating one upstream needs to know about the rest of the config.
#[derive(Clone, Copy)]
pub(super) struct UpstreamContext {
    pub(super) simulator_enabled: bool,
    /// Whether any route uses it (only then must its credential be present).
    pub(super) used: bool,
}

pub(super) fn upstream(
    name: &str,
    u: &UpstreamConfig,
    context: UpstreamContext,
    errors: &mut Vec<String>,
) -> Option<Upstream> {
    let simulator_enabled = context.simulator_enabled;
    let at = format!("upstreams.{name}");
    let before = errors.len();
    if let Some(p) = &u.prices
        && p.all().iter().any(|v| !v.is_finite() || *v < 0.0)
    {
        errors.push(format!(
            "{at}.prices: prices must be finite and not negative"
        ));
    }
    let provider = u.kind.provider();
    let base = u
        .base_url
        .as_deref()
        .unwrap_or(provider.base_url)
        .trim_end_matches('/');
    let url_ok = (base.starts_with("ws://") || base.starts_with("wss://"))
        && base.parse::<axum::http::Uri>().is_ok();
    if !url_ok && base != SIMULATOR_BASE {
        errors.push(format!(
            "{at}.base_url: must be a ws:// or wss:// URL, or \"{SIMULATOR_BASE}\""
        ));
    }
    if base == SIMULATOR_BASE && !simulator_enabled {
        errors.push(format!(
            "{at}.base_url: \"{SIMULATOR_BASE}\" needs [simulator] enabled = true"
        ));
    }
    let endpoint = (provider.endpoint)(base, u, &at, errors);
    let secret = if context.used {
        credential(u, &at, errors)
    } else {
        None
    };
    let place = placement(u, &at, errors);
    let scheme = u.auth_scheme.unwrap_or(provider.auth_scheme);
    let (credential, credential_query) = match (secret, place.query) {
        (Some(s), Some(name)) => (None, Some((name.to_owned(), s))),
        (Some(s), None) => {
            let value = match (place.prefix, scheme) {
                (Some(prefix), _) => format!("{prefix}{}", s.expose()),
                (None, AuthScheme::Raw) => s.expose().to_owned(),
                (None, AuthScheme::Bearer) => format!("Bearer {}", s.expose()),
                (None, AuthScheme::Token) => format!("Token {}", s.expose()),
            };
            if HeaderValue::from_str(&value).is_err() {
                errors.push(format!(
                    "{at}: credential contains characters not allowed in a header"
                ));
            }
            let header = place
                .header
                .unwrap_or(HeaderName::from_static(provider.credential_header));
            (Some((header, Secret::new(value))), None)
        }
        (None, _) => (None, None),
    };
    let mut extra_headers: Vec<_> = u
        .extra_headers
        .iter()
        .filter_map(|(k, v)| {
            let parsed = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            );
            match parsed {
                (Ok(k), Ok(v)) => Some((k, v)),
                _ => {
                    errors.push(format!(
                        "{at}.extra_headers.{k}: invalid header name or value"
                    ));
                    None
                }
            }
        })
        .collect();
    crate::provider::add_default_headers(provider, &mut extra_headers);
    for (pattern, template) in &u.aliases {
        if let Err(e) = check_template(template) {
            errors.push(format!("{at}.aliases.{pattern}: {e}"));
        }
    }
    let mut aliases: BTreeMap<String, String> = (provider.aliases.iter())
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    aliases.extend(u.aliases.clone());
    let finalize = drain(u, &at, errors);
    (errors.len() == before).then(|| Upstream {
        name: name.to_owned(),
        provider,
        kind: u.kind.as_str().to_owned(),
        endpoint,
        simulator: std::sync::OnceLock::new(),
        credential,
        credential_query,
        extra_headers,
        aliases: AliasTable::new(&aliases),
        breaker: Breaker::new(u.breaker_failures.max(1), u.breaker_cooldown),
        prices: u.prices.unwrap_or(provider.prices),
        // the provider's per-model list prices apply only while the config sets none
        model_prices: provider.model_prices.filter(|_| u.prices.is_none()),
        finalize,
    })
}

/// A generic upstream's configured drain. Kept for the process's life, so sessions carry a
/// plain reference as they do to the built-in ones; an equal one configured again (a reload)
/// is the same reference, so reloads do not accumulate them.
fn drain(u: &UpstreamConfig, at: &str, errors: &mut Vec<String>) -> Option<&'static Finalize> {
    if u.kind != UpstreamKind::Generic {
        for (key, set) in [
            ("drain_message", u.drain_message.is_some()),
            ("drain_done", u.drain_done.is_some()),
        ] {
            if set {
                errors.push(format!(
                    "{at}.{key}: only generic upstreams take one (the others' drain is built in)"
                ));
            }
        }
        return None;
    }
    let message = match (&u.drain_message, &u.drain_done) {
        (None, None) => return None,
        (None, Some(_)) => {
            errors.push(format!("{at}.drain_done: needs drain_message"));
            return None;
        }
        (Some(m), _) if m.is_empty() => {
            errors.push(format!("{at}.drain_message: must not be empty"));
            return None;
        }
        (Some(m), _) => m.as_str(),
    };
    if u.drain_done.as_deref() == Some("") {
        errors.push(format!("{at}.drain_done: must not be empty"));
        return None;
    }
    Some(intern(message, u.drain_done.as_deref()))
}

/// The configured drain for `message` and `marker`, made once per distinct pair.
fn intern(message: &str, marker: Option<&str>) -> &'static Finalize {
    static MADE: std::sync::Mutex<Vec<&'static Finalize>> = std::sync::Mutex::new(Vec::new());
    let mut made = MADE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let same = |f: &&&'static Finalize| {
        f.message == message && f.done.markers().first().copied() == marker
    };
    if let Some(found) = made.iter().find(same) {
        return found;
    }
    let done = match marker {
        Some(marker) => {
            let marker: &'static str = Box::leak(marker.into());
            FinalsDone::TextContains(Box::leak(Box::new([marker])))
        }
        None => FinalsDone::UpstreamCloses,
    };
    let finalize: &'static Finalize = Box::leak(Box::new(Finalize {
        message: Box::leak(message.into()),
        done,
    }));
    made.push(finalize);
    finalize
}

/// Where a generic upstream's config puts the credential (only `generic` may say).
struct Placement<'a> {
    header: Option<HeaderName>,
    prefix: Option<&'a str>,
    query: Option<&'a str>,
}

fn placement<'a>(u: &'a UpstreamConfig, at: &str, errors: &mut Vec<String>) -> Placement<'a> {
    let generic_only = [
        ("path", u.path.is_some()),
        ("credential_header", u.credential_header.is_some()),
        ("credential_prefix", u.credential_prefix.is_some()),
        ("credential_query", u.credential_query.is_some()),
    ];
    if u.kind != crate::provider::UpstreamKind::Generic {
        for (key, _) in generic_only.iter().filter(|(_, set)| *set) {
            errors.push(format!("{at}.{key}: only generic upstreams take it"));
        }
    }
    if u.credential_query.is_some() && u.credential_header.is_some() {
        errors.push(format!(
            "{at}: set credential_header or credential_query, not both"
        ));
    }
    let header = u.credential_header.as_deref().and_then(|h| {
        HeaderName::from_bytes(h.as_bytes())
            .map_err(|_| errors.push(format!("{at}.credential_header: not a header name")))
            .ok()
    });
    let query = u.credential_query.as_deref();
    if let Some(q) = query
        && (q.is_empty()
            || !q
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)))
    {
        errors.push(format!(
            "{at}.credential_query: letters, digits, '-', '_' and '.' only"
        ));
    }
    Placement {
        header,
        prefix: u.credential_prefix.as_deref(),
        query,
    }
}

fn credential(u: &UpstreamConfig, at: &str, errors: &mut Vec<String>) -> Option<Secret> {
    match (&u.key_env, &u.key_file) {
        (Some(_), Some(_)) => {
            errors.push(format!("{at}: set key_env or key_file, not both"));
            None
        }
        (Some(var), None) => match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Some(Secret::new(v.trim())),
            _ => {
                errors.push(format!(
                    "{at}.key_env: environment variable {var} is not set"
                ));
                None
            }
        },
        (None, Some(path)) => match std::fs::read_to_string(path) {
            Ok(v) if !v.trim().is_empty() => Some(Secret::new(v.trim())),
            Ok(_) => {
                errors.push(format!("{at}.key_file: {} is empty", path.display()));
                None
            }
            Err(e) => {
                errors.push(format!("{at}.key_file: {}: {e}", path.display()));
                None
            }
        },
        (None, None) => None,
    }
}
