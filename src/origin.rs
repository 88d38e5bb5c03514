//! Browser origins: the `Origin` header a handshake presents and the `allowed_origins` patterns
//! it is checked against.
//!
//! An origin is `scheme://host[:port]` and nothing else. A header that is not one (non-ASCII,
//! not UTF-8, a path, user info, two `Origin` headers…) is refused, never taken as absent.
//! `null` (sandboxed frames, `file:` pages) is accepted only by the pattern `*`.
//!
//! In a pattern, `*` alone means any origin; otherwise it may stand only for the leftmost
//! label of the host (`https://*.example.com`: exactly one DNS label, so neither
//! `a.b.example.com` nor `evil.com?.example.com`) or for the port (`http://localhost:*`: any
//! numeric port, or none). A `*` anywhere else is a config error.

use std::net::Ipv6Addr;

use axum::http::HeaderMap;
use axum::http::header::ORIGIN;

/// What a handshake presented as its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// No `Origin` header (a server-side client).
    Absent,
    /// `Origin: null`, an opaque origin.
    Null,
    /// A well-formed origin.
    Site(Origin),
    /// Something that is not an origin; always refused.
    Invalid,
}

/// A parsed origin, lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

/// The origin a handshake presents.
pub fn presented(headers: &HeaderMap) -> Presented {
    let mut all = headers.get_all(ORIGIN).iter();
    let (Some(value), None) = (all.next(), all.next()) else {
        return if headers.contains_key(ORIGIN) {
            Presented::Invalid
        } else {
            Presented::Absent
        };
    };
    presented_value(value)
}

/// The origin one `Origin` value presents.
pub fn presented_value(value: &axum::http::HeaderValue) -> Presented {
    // `to_str` fails on anything but visible ASCII, so no Unicode look-alikes get through
    match value.to_str() {
        Ok(v) if v.trim().eq_ignore_ascii_case("null") => Presented::Null,
        Ok(v) => Origin::parse(v).map_or(Presented::Invalid, Presented::Site),
        Err(_) => Presented::Invalid,
    }
}

fn scheme_ok(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
}

/// A DNS name (labels of letters, digits, `-`, `_`), an IPv4 address, or `[IPv6]`.
fn host_ok(h: &str) -> bool {
    if let Some(inner) = h.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().is_ok();
    }
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        })
}

/// `host[:port]` → host and port text; the host may be a bracketed IPv6 address.
fn split_port(authority: &str) -> (&str, Option<&str>) {
    let end_of_host = if authority.starts_with('[') {
        authority.find(']').map_or(authority.len(), |i| i + 1)
    } else {
        authority.find(':').unwrap_or(authority.len())
    };
    let (host, rest) = authority.split_at(end_of_host);
    match rest.strip_prefix(':') {
        Some(port) => (host, Some(port)),
        None if rest.is_empty() => (host, None),
        // text after an IPv6 literal that is not `:port`
        None => ("", None),
    }
}

fn port(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

impl Origin {
    /// Parses `scheme://host[:port]` (any case); `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        let (scheme, authority) = text.split_once("://")?;
        if !scheme_ok(scheme) {
            return None;
        }
        let (host, port_text) = split_port(authority);
        if !host_ok(host) {
            return None;
        }
        let port = match port_text {
            Some(p) => Some(port(p)?),
            None => None,
        };
        Some(Self {
            scheme: scheme.to_owned(),
            host: host.to_owned(),
            port,
        })
    }

    fn effective_port(&self) -> Option<u16> {
        self.port.or_else(|| default_port(&self.scheme))
    }
}

/// A host in a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// This host only.
    Exact(String),
    /// `*.suffix`: exactly one label, then `.suffix`.
    OneLabelUnder(String),
}

/// A port in a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortPattern {
    /// As written, or the scheme's default when none is.
    Exact(Option<u16>),
    /// `:*`: any port, or none.
    Any,
}

/// One `allowed_origins` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPattern {
    /// `*`: every origin, `null` included.
    Any,
    /// `http[s]://host[:port]` with the wildcards described in the module docs.
    Site {
        /// `http` or `https`.
        scheme: String,
        /// The host rule.
        host: HostPattern,
        /// The port rule.
        port: PortPattern,
    },
}

/// The message for a pattern that is not one.
pub const PATTERN_SHAPE: &str = "an origin is scheme://host[:port] (http or https), e.g. \
https://app.example.com; a * may only be the whole entry, the host's leftmost label \
(https://*.example.com) or the port (http://localhost:*)";

impl OriginPattern {
    /// Parses a configured pattern; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        if text == "*" {
            return Ok(Self::Any);
        }
        let lower = text.to_ascii_lowercase();
        let (scheme, authority) = lower.split_once("://").ok_or(PATTERN_SHAPE)?;
        if !text.is_ascii() || !matches!(scheme, "http" | "https") {
            return Err(PATTERN_SHAPE);
        }
        let (host, port_text) = split_port(authority);
        let host = match host.strip_prefix("*.") {
            Some(suffix) if host_ok(suffix) && !suffix.starts_with('[') => {
                HostPattern::OneLabelUnder(suffix.to_owned())
            }
            Some(_) => return Err(PATTERN_SHAPE),
            None if host_ok(host) => HostPattern::Exact(host.to_owned()),
            None => return Err(PATTERN_SHAPE),
        };
        let port = match port_text {
            Some("*") => PortPattern::Any,
            Some(p) => PortPattern::Exact(Some(port(p).ok_or(PATTERN_SHAPE)?)),
            None => PortPattern::Exact(default_port(scheme)),
        };
        Ok(Self::Site {
            scheme: scheme.to_owned(),
            host,
            port,
        })
    }

    /// Whether a presented origin (never absent or invalid here) matches.
    pub fn matches(&self, origin: &Presented) -> bool {
        let (scheme, host, port) = match self {
            Self::Any => return matches!(origin, Presented::Site(_) | Presented::Null),
            Self::Site { scheme, host, port } => (scheme, host, port),
        };
        let Presented::Site(o) = origin else {
            return false;
        };
        let host_matches = match host {
            HostPattern::Exact(h) => o.host == *h,
            HostPattern::OneLabelUnder(suffix) => o
                .host
                .strip_suffix(suffix.as_str())
                .and_then(|rest| rest.strip_suffix('.'))
                .is_some_and(|label| !label.is_empty() && !label.contains(['.', '[', ']'])),
        };
        let port_matches = match port {
            PortPattern::Any => true,
            PortPattern::Exact(p) => o.effective_port() == *p,
        };
        o.scheme == *scheme && host_matches && port_matches
    }
}

#[cfg(test)]
mod tests;
