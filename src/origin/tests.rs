use axum::http::HeaderValue;

use super::*;

fn site(text: &str) -> Presented {
    Origin::parse(text).map_or(Presented::Invalid, Presented::Site)
}

fn allows(pattern: &str, origin: &str) -> bool {
    OriginPattern::parse(pattern)
        .unwrap_or_else(|e| panic!("{pattern}: {e}"))
        .matches(&site(origin))
}

#[test]
fn host_star_is_exactly_one_leftmost_label() {
    let p = "https://*.example.com";
    assert!(allows(p, "https://a.example.com"));
    assert!(allows(p, "https://A-1.Example.COM"));
    for origin in [
        "https://a.b.example.com",
        "https://example.com",
        "https://.example.com",
        "https://evil.com?.example.com",
        "https://evil.com/.example.com",
        "https://evil.com@a.example.com",
        "https://a.example.com.evil.com",
        "https://aexample.com",
        "http://a.example.com",
        "https://a.example.com:8443",
    ] {
        assert!(!allows(p, origin), "{origin}");
    }
}

#[test]
fn port_star_is_a_numeric_port_only() {
    let p = "http://localhost:*";
    assert!(allows(p, "http://localhost:1234"));
    assert!(allows(p, "http://localhost:65535"));
    assert!(allows(p, "http://localhost"));
    for origin in [
        "http://localhost:1234.evil.com",
        "http://localhost:1234@evil.com",
        "http://localhost:1234?x",
        "http://localhost:",
        "http://localhost:65536",
        "http://localhost:-1",
        "http://localhost.evil.com:1234",
        "https://localhost:1234",
    ] {
        assert!(!allows(p, origin), "{origin}");
    }
}

#[test]
fn exact_patterns_compare_scheme_host_and_effective_port() {
    assert!(allows("https://app.example.com", "https://app.example.com"));
    assert!(allows(
        "https://app.example.com",
        "https://app.example.com:443"
    ));
    assert!(allows(
        "https://app.example.com:443",
        "https://app.example.com"
    ));
    assert!(!allows(
        "https://app.example.com",
        "https://app.example.com:444"
    ));
    assert!(allows("http://[::1]:8080", "http://[::1]:8080"));
    assert!(allows("http://127.0.0.1:*", "http://127.0.0.1:5173"));
}

#[test]
fn bare_star_is_any_origin_including_null() {
    let any = OriginPattern::parse("*").unwrap();
    assert!(any.matches(&site("https://anything.example")));
    assert!(any.matches(&site("chrome-extension://abcdef")));
    assert!(any.matches(&Presented::Null));
    assert!(!any.matches(&Presented::Invalid));
    let one = OriginPattern::parse("https://app.example.com").unwrap();
    assert!(!one.matches(&Presented::Null));
}

#[test]
fn misplaced_stars_and_malformed_patterns_are_refused() {
    for bad in [
        "https://a*.example.com",
        "https://*",
        "https://*.*.example.com",
        "https://example.*",
        "https://*example.com",
        "*.example.com",
        "https://app.example.com/",
        "https://app.example.com/*",
        "https://user@app.example.com",
        "https://app.example.com:80*",
        "https://app.example.com:99999",
        "ftp://app.example.com",
        "app.example.com",
        "https://exämple.com",
        "**",
        "",
    ] {
        assert_eq!(OriginPattern::parse(bad), Err(PATTERN_SHAPE), "{bad}");
    }
}

#[test]
fn headers_that_are_not_origins_are_invalid_not_absent() {
    let with = |values: &[&[u8]]| {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(ORIGIN, HeaderValue::from_bytes(v).unwrap());
        }
        presented(&h)
    };
    assert_eq!(with(&[]), Presented::Absent);
    assert_eq!(with(&[b"null"]), Presented::Null);
    assert_eq!(
        with(&[b"https://App.Example.com"]),
        site("https://app.example.com")
    );
    for bad in [
        &b"https://\xc3\xa4pp.example.com"[..],
        b"https://app.example.com\xff",
        b"https://app.example.com/",
        b"https://app.example.com/path",
        b"https://",
        b"app.example.com",
        b"https://a b.com",
        b"*",
    ] {
        assert_eq!(
            with(&[bad]),
            Presented::Invalid,
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(
        with(&[b"https://a.example.com", b"https://a.example.com"]),
        Presented::Invalid
    );
}
