//! `{"url": …}` bodies: the upstream fetches the audio, so a route that allows them names the
//! hosts it may fetch from (`rest.url_hosts`). Only `http` and `https` URLs with a host and no
//! user info are passed on; the host is compared case-insensitively, without a trailing dot.

use axum::http::Uri;

use crate::error::Reject;

/// Longest URL accepted, in bytes.
const MAX_URL: usize = 4096;

/// One entry of `rest.url_hosts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostPattern {
    /// `*`: any host.
    Any,
    /// `media.example.com`: that host alone.
    Exact(String),
    /// `*.example.com`: any subdomain of `example.com` (not `example.com` itself); stored as
    /// `.example.com`.
    Subdomains(String),
}

impl HostPattern {
    /// Parses a configured entry.
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim().trim_end_matches('.').to_ascii_lowercase();
        if s == "*" {
            return Ok(Self::Any);
        }
        let (wild, name) = match s.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, s.as_str()),
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        let ipv6 = name.starts_with('[') && name.ends_with(']') && !wild;
        if !ipv6 && (name.is_empty() || !name.split('.').all(label_ok)) {
            return Err(format!(
                "'{s}' is not a host name, '*.' followed by one, or '*'"
            ));
        }
        Ok(if wild {
            Self::Subdomains(format!(".{name}"))
        } else {
            Self::Exact(name.to_owned())
        })
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(h) => h == host,
            Self::Subdomains(suffix) => {
                host.len() > suffix.len() && host.ends_with(suffix.as_str())
            }
        }
    }
}

/// Whether `url` may be fetched under `hosts`; a refusal says why.
pub(crate) fn check(url: &str, hosts: &[HostPattern]) -> Result<(), Reject> {
    let refuse = |why: &str| Err(Reject::UrlNotAllowed(why.to_owned()));
    if url.len() > MAX_URL {
        return refuse("the url is too long");
    }
    let Ok(uri) = url.parse::<Uri>() else {
        return refuse("the url is not a valid absolute http(s) URL");
    };
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return refuse("only http and https URLs can be transcribed");
    }
    let Some(authority) = uri.authority() else {
        return refuse("the url has no host");
    };
    if authority.as_str().contains('@') {
        return refuse("the url may not carry user info");
    }
    let host = authority.host().trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return refuse("the url has no host");
    }
    if hosts.iter().any(|p| p.matches(&host)) {
        Ok(())
    } else {
        refuse("the url's host is not one this route may fetch from (rest.url_hosts)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(list: &[&str]) -> Vec<HostPattern> {
        list.iter()
            .map(|h| HostPattern::parse(h).unwrap())
            .collect()
    }

    #[test]
    fn only_listed_hosts_over_http_or_https_pass() {
        let h = hosts(&["media.example.com", "*.cdn.example.org"]);
        assert!(check("https://media.example.com/a.wav", &h).is_ok());
        assert!(check("http://MEDIA.example.com./a.wav?x=1", &h).is_ok());
        assert!(check("https://eu.cdn.example.org/a.wav", &h).is_ok());
        for bad in [
            "https://cdn.example.org/a.wav",
            "https://evil.com/a.wav",
            "https://media.example.com.evil.com/a.wav",
            "https://user:pw@media.example.com/a.wav",
            "ftp://media.example.com/a.wav",
            "file:///etc/passwd",
            "/relative.wav",
            "not a url",
        ] {
            let refused = check(bad, &h).unwrap_err();
            assert!(matches!(refused, Reject::UrlNotAllowed(_)), "{bad}");
        }
        assert!(check("https://anything.example/x", &hosts(&["*"])).is_ok());
    }

    #[test]
    fn host_patterns_are_checked() {
        assert_eq!(HostPattern::parse("*"), Ok(HostPattern::Any));
        assert!(HostPattern::parse("*.*").is_err());
        assert!(HostPattern::parse("a b").is_err());
        assert!(HostPattern::parse("https://x.com").is_err());
        assert_eq!(
            HostPattern::parse("*.Example.com"),
            Ok(HostPattern::Subdomains(".example.com".into()))
        );
    }
}
