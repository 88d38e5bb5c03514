use axum::http::HeaderValue;

use super::*;

fn limits(trusted: &[&str], max_sessions: usize) -> Arc<Limits> {
    let n = |v| NonZeroU32::new(v).unwrap();
    let trusted = trusted.iter().map(|t| t.parse().unwrap()).collect();
    Arc::new(Limits::new(n(1), n(2), max_sessions, trusted))
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_static(v));
    }
    h
}

#[test]
fn forwarded_headers_count_only_from_trusted_proxies() {
    let l = limits(&["10.0.0.0/8"], 10);
    let xff = headers(&[("x-forwarded-for", "203.0.113.7, 10.1.1.1")]);
    let from_proxy: SocketAddr = "10.0.0.2:5000".parse().unwrap();
    let direct: SocketAddr = "198.51.100.9:5000".parse().unwrap();
    assert_eq!(
        l.client_ip(from_proxy, &xff),
        "203.0.113.7".parse::<IpAddr>().unwrap()
    );
    assert_eq!(l.client_ip(direct, &xff), direct.ip());
    let fwd = headers(&[(
        "forwarded",
        "for=\"[2001:db8::1]:443\";proto=https, for=10.2.2.2",
    )]);
    assert_eq!(
        l.client_ip(from_proxy, &fwd),
        "2001:db8::1".parse::<IpAddr>().unwrap()
    );
    // a spoofed leftmost entry does not win over the nearest untrusted hop
    let spoof = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.7")]);
    assert_eq!(
        l.client_ip(from_proxy, &spoof),
        "203.0.113.7".parse::<IpAddr>().unwrap()
    );
}

#[test]
fn rate_limit_allows_the_burst_then_says_when() {
    let l = limits(&[], 10);
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    assert!(l.check_rate(ip).is_ok());
    assert!(l.check_rate(ip).is_ok());
    let wait = l.check_rate(ip).unwrap_err();
    assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
    assert!(
        l.check_rate("192.0.2.2".parse().unwrap()).is_ok(),
        "buckets are per IP"
    );
}

#[test]
fn caps_hold_and_release_on_drop() {
    let l = limits(&[], 3);
    let a1 = l.acquire("a", Some(2)).unwrap();
    let _a2 = l.acquire("a", Some(2)).unwrap();
    assert_eq!(l.acquire("a", Some(2)).unwrap_err(), LimitError::Client(2));
    let _b = l.acquire("b", None).unwrap();
    assert_eq!(l.acquire("c", None).unwrap_err(), LimitError::Global);
    drop(a1);
    assert!(l.acquire("a", Some(2)).is_ok());
}
