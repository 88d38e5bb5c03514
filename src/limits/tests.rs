use axum::http::HeaderValue;

use super::*;
use client_ip::bucket;

fn ip_config(trusted: &[&str], header: &'static str) -> ClientIp {
    let trusted = trusted.iter().map(|t| t.parse().unwrap()).collect();
    ClientIp::new(trusted, axum::http::HeaderName::from_static(header), 64)
}

fn limits(trusted: &[&str], max_sessions: usize) -> Arc<Limits> {
    limits_with(ip_config(trusted, "x-forwarded-for"), max_sessions)
}

fn limits_with(ip: ClientIp, max_sessions: usize) -> Arc<Limits> {
    let n = |v| NonZeroU32::new(v).unwrap();
    Arc::new(Limits::new(n(1), n(2), max_sessions, ip))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
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
    assert_eq!(l.client_ip(from_proxy, &xff), ip("203.0.113.7"));
    assert_eq!(l.client_ip(direct, &xff), direct.ip());
    // a spoofed leftmost entry does not win over the nearest untrusted hop
    let spoof = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.7")]);
    assert_eq!(l.client_ip(from_proxy, &spoof), ip("203.0.113.7"));
    // several header lines are one list, in order
    let lines = headers(&[
        ("x-forwarded-for", "1.1.1.1"),
        ("x-forwarded-for", "203.0.113.8, 10.9.9.9"),
    ]);
    assert_eq!(l.client_ip(from_proxy, &lines), ip("203.0.113.8"));
}

#[test]
fn only_the_configured_header_is_believed() {
    let from_proxy: SocketAddr = "10.0.0.2:5000".parse().unwrap();
    let both = headers(&[
        ("forwarded", "for=198.51.100.1"),
        ("x-forwarded-for", "203.0.113.7"),
    ]);
    let xff = limits(&["10.0.0.0/8"], 10);
    assert_eq!(xff.client_ip(from_proxy, &both), ip("203.0.113.7"));
    // with only the other header present, the peer: never a fallback to another header
    let only_forwarded = headers(&[("forwarded", "for=198.51.100.1")]);
    assert_eq!(xff.client_ip(from_proxy, &only_forwarded), from_proxy.ip());

    let fwd = limits_with(ip_config(&["10.0.0.0/8"], "forwarded"), 10);
    assert_eq!(fwd.client_ip(from_proxy, &both), ip("198.51.100.1"));
    let v6 = headers(&[(
        "forwarded",
        "for=\"[2001:db8::1]:443\";proto=https, For=10.2.2.2",
    )]);
    assert_eq!(fwd.client_ip(from_proxy, &v6), ip("2001:db8::1"));
    let only_xff = headers(&[("x-forwarded-for", "203.0.113.7")]);
    assert_eq!(fwd.client_ip(from_proxy, &only_xff), from_proxy.ip());

    let real = limits_with(ip_config(&["10.0.0.0/8"], "x-real-ip"), 10);
    let h = headers(&[
        ("x-real-ip", "192.0.2.44"),
        ("x-forwarded-for", "203.0.113.7"),
    ]);
    assert_eq!(real.client_ip(from_proxy, &h), ip("192.0.2.44"));
}

#[test]
fn rotating_a_client_sent_forwarded_header_mints_no_fresh_buckets() {
    // behind a proxy that appends X-Forwarded-For, a client's own Forwarded header is noise
    let l = limits(&["127.0.0.0/8"], 10);
    let proxy: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut allowed = 0;
    for i in 0..20 {
        let mut h = HeaderMap::new();
        let forged = format!("for=198.51.100.{i}");
        h.insert("forwarded", HeaderValue::from_str(&forged).unwrap());
        h.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
        let client = l.client_ip(proxy, &h);
        assert_eq!(client, ip("203.0.113.7"));
        allowed += usize::from(l.check_rate_here(client).is_ok());
    }
    assert_eq!(allowed, 2, "one bucket (burst 2), whatever Forwarded said");
}

#[test]
fn all_trusted_or_unparsable_hops_mean_the_peer() {
    let l = limits(&["10.0.0.0/8"], 10);
    let proxy: SocketAddr = "10.0.0.2:5000".parse().unwrap();
    let all_trusted = headers(&[("x-forwarded-for", "10.3.3.3, 10.4.4.4")]);
    assert_eq!(l.client_ip(proxy, &all_trusted), proxy.ip());
    // a hop left of garbage is never believed
    let garbage = headers(&[("x-forwarded-for", "203.0.113.9, unknown, 10.4.4.4")]);
    assert_eq!(l.client_ip(proxy, &garbage), proxy.ip());
    assert_eq!(l.client_ip(proxy, &HeaderMap::new()), proxy.ip());
    // IPv4-mapped IPv6 peers and hops are IPv4
    let mapped: SocketAddr = "[::ffff:10.0.0.2]:5000".parse().unwrap();
    let h = headers(&[("x-forwarded-for", "::ffff:203.0.113.7")]);
    assert_eq!(l.client_ip(mapped, &h), ip("203.0.113.7"));
}

#[test]
fn ipv6_clients_share_a_bucket_per_prefix() {
    let l = limits(&[], 10);
    // burst 2: two addresses in one /64 use up the bucket together
    assert!(l.check_rate_here(ip("2001:db8:aa:1::1")).is_ok());
    assert!(
        l.check_rate_here(ip("2001:db8:aa:1:ffff:ffff:ffff:ffff"))
            .is_ok()
    );
    assert!(l.check_rate_here(ip("2001:db8:aa:1::2")).is_err());
    assert!(
        l.check_rate_here(ip("2001:db8:aa:2::1")).is_ok(),
        "another /64"
    );
    // an IPv4-mapped address shares its IPv4 bucket
    assert!(l.check_rate_here(ip("192.0.2.9")).is_ok());
    assert!(l.check_rate_here(ip("::ffff:192.0.2.9")).is_ok());
    assert!(l.check_rate_here(ip("192.0.2.9")).is_err());
}

#[test]
fn bucket_masks_ipv6_to_the_configured_prefix() {
    assert_eq!(bucket(ip("2001:db8:1:2:3:4:5:6"), 64), ip("2001:db8:1:2::"));
    assert_eq!(bucket(ip("2001:db8:1:2:3:4:5:6"), 48), ip("2001:db8:1::"));
    assert_eq!(
        bucket(ip("2001:db8:1:2:3:4:5:6"), 128),
        ip("2001:db8:1:2:3:4:5:6")
    );
    assert_eq!(bucket(ip("2001:db8:1:2:3:4:5:6"), 1), ip("::"));
    assert_eq!(bucket(ip("::ffff:192.0.2.1"), 64), ip("192.0.2.1"));
    assert_eq!(bucket(ip("192.0.2.1"), 64), ip("192.0.2.1"));
}

#[test]
fn rate_limit_allows_the_burst_then_says_when() {
    let l = limits(&[], 10);
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    assert!(l.check_rate_here(ip).is_ok());
    assert!(l.check_rate_here(ip).is_ok());
    let wait = l.check_rate_here(ip).unwrap_err();
    assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
    assert!(
        l.check_rate_here("192.0.2.2".parse().unwrap()).is_ok(),
        "buckets are per IP"
    );
}

#[test]
fn caps_hold_and_release_on_drop() {
    let l = limits(&[], 3);
    let a1 = l.acquire_local("a", Some(2)).unwrap();
    let _a2 = l.acquire_local("a", Some(2)).unwrap();
    assert_eq!(
        l.acquire_local("a", Some(2)).unwrap_err(),
        LimitError::Client(2)
    );
    let _b = l.acquire_local("b", None).unwrap();
    assert_eq!(l.acquire_local("c", None).unwrap_err(), LimitError::Global);
    drop(a1);
    assert!(l.acquire_local("a", Some(2)).is_ok());
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// One X-Forwarded-For entry: a trusted proxy, a client address, or something else.
    #[derive(Debug, Clone)]
    enum Hop {
        Trusted(u8),
        Client(u8),
        Junk(&'static str),
    }

    impl Hop {
        fn text(&self) -> String {
            match self {
                Hop::Trusted(n) => format!("10.0.0.{n}"),
                Hop::Client(n) => format!("203.0.113.{n}"),
                Hop::Junk(s) => (*s).to_owned(),
            }
        }
    }

    fn hop() -> impl Strategy<Value = Hop> {
        prop_oneof![
            any::<u8>().prop_map(Hop::Trusted),
            any::<u8>().prop_map(Hop::Client),
            prop::sample::select(vec![
                "unknown",
                "_hidden",
                "",
                "999.1.1.1",
                "[::1",
                "[::1]x",
                "1.2.3.4:"
            ])
            .prop_map(Hop::Junk),
        ]
    }

    /// Reference: right to left, skip trusted, first client wins, junk or the end → the peer.
    fn expected(hops: &[Hop], peer: IpAddr) -> IpAddr {
        for hop in hops.iter().rev() {
            match hop {
                Hop::Trusted(_) => continue,
                Hop::Client(_) => return hop.text().parse().unwrap(),
                Hop::Junk(_) => break,
            }
        }
        peer
    }

    proptest! {
        #[test]
        fn the_client_is_the_right_most_untrusted_hop_or_the_peer(
            hops in prop::collection::vec(hop(), 0..8),
            lines in 1usize..3,
        ) {
            let l = limits(&["10.0.0.0/8"], 1);
            let peer: SocketAddr = "10.9.9.9:443".parse().unwrap();
            let texts: Vec<String> = hops.iter().map(Hop::text).collect();
            // the same list, split over one or more header lines
            let mut h = HeaderMap::new();
            let per_line = texts.len().div_ceil(lines).max(1);
            for chunk in texts.chunks(per_line) {
                if let Ok(v) = HeaderValue::from_str(&chunk.join(", ")) {
                    h.append("x-forwarded-for", v);
                }
            }
            prop_assert_eq!(l.client_ip(peer, &h), expected(&hops, peer.ip()));
            // the client is never a trusted proxy unless it is the peer itself
            let ip = l.client_ip(peer, &h);
            prop_assert!(ip == peer.ip() || !l.ip().is_trusted(ip));
        }

        #[test]
        fn ipv6_buckets_keep_exactly_the_prefix(bits in any::<u128>(), prefix in 1u8..=128) {
            let IpAddr::V6(masked) = bucket(IpAddr::V6(bits.into()), prefix) else {
                // an IPv4-mapped address is IPv4
                prop_assert_eq!(bits >> 32, 0xffff);
                return Ok(());
            };
            let masked = u128::from(masked);
            let keep = u32::from(prefix);
            prop_assert_eq!(masked >> (128 - keep), bits >> (128 - keep));
            prop_assert_eq!(masked.checked_shl(keep).unwrap_or(0), 0);
        }
    }
}

#[tokio::test]
async fn a_reload_changes_the_rate_and_the_caps_and_keeps_what_is_open() {
    let l = limits(&[], 2);
    let a = l.acquire("a", None, None, "s1").await.unwrap();
    let _b = l.acquire("b", None, None, "s2").await.unwrap();
    assert_eq!(
        l.acquire("c", None, None, "s3").await.unwrap_err(),
        LimitError::Global
    );
    // rate 1/s burst 2: two handshakes, then refused
    let peer = ip("198.51.100.9");
    assert!(l.check_rate_here(peer).is_ok() && l.check_rate_here(peer).is_ok());
    assert!(l.check_rate_here(peer).is_err());
    let n = |v| NonZeroU32::new(v).unwrap();
    let wider =
        Limits::new(n(5), n(10), 3, ip_config(&[], "x-forwarded-for")).with_connection_cap(7);
    l.reconfigure(&wider);
    assert_eq!(l.max_sessions(), 3);
    assert_eq!(l.connections().max(), 7);
    // a new quota starts with full buckets
    for _ in 0..10 {
        l.check_rate_here(peer).expect("within the new burst");
    }
    let _c = l
        .acquire("c", None, None, "s3")
        .await
        .expect("the raised cap");
    // a lowered cap keeps the open sessions and refuses new ones until below it
    let narrower = Limits::new(n(5), n(10), 1, ip_config(&[], "x-forwarded-for"));
    l.reconfigure(&narrower);
    assert_eq!(l.connections().max(), 0);
    assert_eq!(
        l.acquire("d", None, None, "s4").await.unwrap_err(),
        LimitError::Global
    );
    drop(a);
    assert_eq!(
        l.acquire("d", None, None, "s4").await.unwrap_err(),
        LimitError::Global
    );
    // the same quota keeps the buckets' state: the peer's burst stays spent
    assert!(l.check_rate_here(peer).is_err());
}
