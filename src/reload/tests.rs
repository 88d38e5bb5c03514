use super::*;

/// The shipped local configuration with `from` replaced by `to`.
fn settings(from: &str, to: &str) -> Settings {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/local.toml");
    let local = std::fs::read_to_string(path).expect("config/local.toml");
    assert!(local.contains(from), "{from}");
    crate::config::from_toml(&local.replacen(from, to, 1)).expect("valid")
}

#[test]
fn only_restart_only_sections_count_as_pending() {
    let running = Fixed::of(&settings("", ""));
    assert!(
        Fixed::of(&settings("", ""))
            .changed_from(&running)
            .is_empty()
    );
    let server = settings("[server]\n", "[server]\nclose_timeout = \"7s\"\n");
    assert_eq!(Fixed::of(&server).changed_from(&running), vec!["server"]);
    let proxies = settings(
        "max_sessions = 100",
        "max_sessions = 100\nipv6_prefix_len = 56",
    );
    assert_eq!(Fixed::of(&proxies).changed_from(&running), vec!["limits"]);
    // the rate and the caps of [limits] apply in place
    let caps = settings(
        "max_sessions = 100",
        "max_sessions = 3\nmax_connections_per_ip = 9",
    );
    assert!(Fixed::of(&caps).changed_from(&running).is_empty());
    // keys, routes, prices and the reload section itself apply in place
    let reload = settings(
        "[server]\n",
        "[reload]\nremoved_key_grace = \"1s\"\n\n[server]\n",
    );
    assert!(Fixed::of(&reload).changed_from(&running).is_empty());
    let routes = settings("[[routes]]\n", "[[routes]]\nmax_session = \"5m\"\n");
    assert!(Fixed::of(&routes).changed_from(&running).is_empty());
}
