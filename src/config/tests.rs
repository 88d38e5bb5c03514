#![allow(clippy::result_large_err)] // figment::Jail closures return figment::Error

use std::path::Path;

use figment::Jail;

use super::*;

/// Every file under `config/` loads and validates (with the env its secrets name).
#[test]
fn every_shipped_config_file_is_valid() {
    Jail::expect_with(|jail| {
        jail.set_env("CLOUDFLARE_AIG_TOKEN", "cf-token");
        jail.set_env("DEEPGRAM_API_KEY", "dg-key");
        jail.set_env("OPENAI_API_KEY", "oa-key");
        jail.set_env("ASSEMBLYAI_API_KEY", "aai-key");
        jail.set_env("ELEVENLABS_API_KEY", "el-key");
        jail.set_env("CARTESIA_API_KEY", "ca-key");
        jail.set_env(
            "VOXRELAY_SIGNING_SECRET",
            "0123456789abcdef0123456789abcdef",
        );
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("config/ exists") {
            let path = entry.expect("readable entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                let settings = load(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                // Deepgram's three APIs and OpenAI Realtime everywhere
                for kind in [RouteKind::Listen, RouteKind::Speak, RouteKind::Flux] {
                    let of_kind = settings.routes.iter().filter(|r| r.kind == kind).count();
                    assert_eq!(of_kind, 1, "{kind:?} in {}", path.display());
                }
                seen += 1;
            }
        }
        assert!(seen >= 2, "expected the production and local configs");
        Ok(())
    });
}

#[test]
fn env_overrides_the_file_with_double_underscore_nesting() {
    Jail::expect_with(|jail| {
        jail.set_env("CLOUDFLARE_AIG_TOKEN", "cf-token");
        jail.set_env("DEEPGRAM_API_KEY", "dg-key");
        jail.set_env("OPENAI_API_KEY", "oa-key");
        jail.set_env("ASSEMBLYAI_API_KEY", "aai-key");
        jail.set_env("ELEVENLABS_API_KEY", "el-key");
        jail.set_env("CARTESIA_API_KEY", "ca-key");
        jail.set_env(
            "VOXRELAY_SIGNING_SECRET",
            "0123456789abcdef0123456789abcdef",
        );
        jail.set_env("VOXRELAY_SERVER__LISTEN", "127.0.0.1:9999");
        jail.set_env("VOXRELAY_LOG__FORMAT", "pretty");
        jail.set_env("VOXRELAY_CONFIG", "config/voxrelay.toml");
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/voxrelay.toml");
        let s = load(&path).map_err(|e| e.to_string())?;
        assert_eq!(s.server.config.listen.port(), 9999);
        assert_eq!(s.log.format, LogFormat::Pretty);
        Ok(())
    });
}

#[test]
fn missing_secret_env_is_reported_with_its_key_path() {
    Jail::expect_with(|_| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/voxrelay.toml");
        let err = load(&path).expect_err("secrets are unset");
        let text = err.to_string();
        assert!(text.contains("upstreams.cloudflare.key_env"), "{text}");
        assert!(text.contains("upstreams.deepgram.key_env"), "{text}");
        Ok(())
    });
}

#[test]
fn every_error_is_reported_at_once() {
    let text = r#"
        bogus = 1
        [server]
        listen = "not an address"
        [log]
        format = "xml"
        [[client_keys]]
        id = "a"
        sha256 = "abc"
        routes = ["nope"]
        [upstreams.u]
        kind = "deepgram"
        base_url = "http://x"
        api_key = "inline secrets are refused"
        [upstreams.v]
        kind = "cloudflare"
        [[routes]]
        name = "r"
        path = "/metrics"
        kind = "listen"
        upstreams = ["missing"]
        default_model = "nova-2"
        models = ["nova-3"]
    "#;
    let err = from_toml(text).expect_err("invalid");
    let all = err.0.join("\n");
    for needle in [
        "bogus: unknown key",
        "server.listen",
        "log.format",
        "upstreams.u.api_key",
    ] {
        assert!(all.contains(needle), "missing '{needle}' in:\n{all}");
    }
    // the structural errors stop validation; fix them and the semantic ones all show
    let text = text
        .replace("bogus = 1", "")
        .replace("listen = \"not an address\"", "")
        .replace("format = \"xml\"", "")
        .replace("api_key = \"inline secrets are refused\"", "");
    let all = from_toml(&text).expect_err("invalid").0.join("\n");
    for needle in [
        "client_keys[0].sha256",
        "client_keys[0].routes: unknown route 'nope'",
        "upstreams.u.base_url",
        "upstreams.v.account_id",
        "upstreams.v.gateway_id",
        "routes[0].path",
        "routes[0].upstreams: unknown upstream 'missing'",
        "routes[0].default_model",
    ] {
        assert!(all.contains(needle), "missing '{needle}' in:\n{all}");
    }
}

#[test]
fn secrets_from_files_are_trimmed_and_never_printed() {
    Jail::expect_with(|jail| {
        jail.create_file("dg.key", "file-secret\n")?;
        let s = from_toml(
            r#"
            [upstreams.d]
            kind = "deepgram"
            key_file = "dg.key"
            [[routes]]
            name = "r"
            path = "/v1/listen"
            kind = "listen"
            upstreams = ["d"]
            default_model = "nova-3"
            models = ["nova-3"]
        "#,
        )
        .map_err(|e| e.to_string())?;
        let (name, value) = s.upstreams["d"].credential.clone().expect("credential");
        assert_eq!(name, "authorization");
        assert_eq!(value.expose(), "Token file-secret");
        assert!(!format!("{s:?}").contains("file-secret"));
        Ok(())
    });
}

#[test]
fn unused_upstreams_need_no_credentials() {
    Jail::expect_with(|_| {
        let s = from_toml(
            r#"
            [upstreams.used]
            kind = "deepgram"
            base_url = "ws://127.0.0.1:9"
            [upstreams.spare]
            kind = "cloudflare"
            account_id = "a"
            gateway_id = "g"
            key_env = "NOT_SET_ANYWHERE"
            [[routes]]
            name = "r"
            path = "/v1/listen"
            kind = "listen"
            upstreams = ["used"]
            default_model = "nova-3"
            models = ["nova-3"]
        "#,
        )
        .map_err(|e| e.to_string())?;
        assert!(s.upstreams["spare"].credential.is_none());
        Ok(())
    });
}

/// One valid route, for tests about other sections.
const ONE_ROUTE: &str = r#"
    [upstreams.d]
    kind = "deepgram"
    base_url = "ws://127.0.0.1:9"
    [[routes]]
    name = "r"
    path = "/v1/listen"
    kind = "listen"
    upstreams = ["d"]
    default_model = "nova-3"
    models = ["nova-3"]
"#;

#[test]
fn front_door_settings_are_bounded_with_clear_errors() {
    let text = format!(
        r#"
        [server]
        max_request_head_bytes = 4096
        request_body_timeout = "0s"
        [tokens]
        leeway = "1h"
        grant_max_ttl = "30d"
        [limits]
        ipv6_prefix_len = 0
        client_ip_header = "not a header"
        {ONE_ROUTE}
    "#
    );
    let all = from_toml(&text).expect_err("invalid").0.join("\n");
    for needle in [
        "server.max_request_head_bytes: must be from 8192 to 1048576",
        "server.request_body_timeout: must be positive",
        "tokens.leeway: at most 5m",
        "tokens.grant_max_ttl: at most 1day",
        "limits.ipv6_prefix_len: must be from 1 to 128",
        "limits.client_ip_header: 'not a header' is not a header name",
    ] {
        assert!(all.contains(needle), "missing '{needle}' in:\n{all}");
    }
    let text = format!(
        "[limits]\nipv6_prefix_len = 129\n[server]\nmax_request_head_bytes = 2000000\n{ONE_ROUTE}"
    );
    let all = from_toml(&text).expect_err("invalid").0.join("\n");
    assert!(all.contains("limits.ipv6_prefix_len"), "{all}");
    assert!(all.contains("server.max_request_head_bytes"), "{all}");
}

#[test]
fn front_door_settings_at_their_bounds_are_accepted() {
    let text = format!(
        r#"
        [server]
        max_request_head_bytes = 8192
        [tokens]
        leeway = "5m"
        grant_ttl = "1h"
        grant_max_ttl = "24h"
        [limits]
        ipv6_prefix_len = 128
        client_ip_header = "Forwarded"
        max_connections_per_ip = 0
        [metrics]
        listen = "127.0.0.1:0"
        {ONE_ROUTE}
    "#
    );
    let s = from_toml(&text).expect("valid");
    assert_eq!(s.server.config.max_request_head_bytes, 8192);
    assert_eq!(s.metrics.listen, Some("127.0.0.1:0".parse().unwrap()));
}

#[test]
fn cluster_settings_are_checked_and_the_url_never_repeated() {
    let text = format!(
        r#"
        [cluster]
        redis_url = "http://admin:hunter2-secret@redis:6379"
        lease_ttl = "500ms"
        timeout = "0s"
        key_prefix = " "
        failure_mode = "fail_closed"
        {ONE_ROUTE}
    "#
    );
    let all = from_toml(&text).expect_err("invalid").0.join("\n");
    for needle in [
        "cluster.redis_url: must be a redis:// or rediss:// URL",
        "cluster.lease_ttl: must be at least 1s",
        "cluster.timeout: must be positive",
        "cluster.key_prefix: must be a non-empty word",
    ] {
        assert!(all.contains(needle), "missing '{needle}' in:\n{all}");
    }
    assert!(!all.contains("hunter2"), "{all}");
    let text = format!(
        "[cluster]\nredis_url = \"redis://:pw@10.0.0.5:6380\"\nlease_ttl = \"3s\"\ntimeout = \"2s\"\n{ONE_ROUTE}"
    );
    let all = from_toml(&text).expect_err("invalid").0.join("\n");
    assert!(
        all.contains("cluster.timeout: must be at most a third"),
        "{all}"
    );
    let text = format!("[cluster]\nfailure_mode = \"fail_sideways\"\n{ONE_ROUTE}");
    let all = from_toml(&text).expect_err("invalid").0.join("\n");
    assert!(all.contains("cluster.failure_mode"), "{all}");
    // unset or empty: per-replica limits only; set: defaults fail_open, 15s, 250ms
    assert!(from_toml(ONE_ROUTE).unwrap().cluster.is_none());
    let text = format!("[cluster]\nredis_url = \"\"\n{ONE_ROUTE}");
    assert!(from_toml(&text).unwrap().cluster.is_none());
    let text = format!("[cluster]\nredis_url = \"rediss://u:pw@cache:6390/1\"\n{ONE_ROUTE}");
    let cluster = from_toml(&text).unwrap().cluster.expect("configured");
    assert_eq!(cluster.endpoint, "cache:6390");
    assert_eq!(cluster.failure_mode, crate::cluster::FailureMode::FailOpen);
    assert_eq!(cluster.lease_ttl, Duration::from_secs(15));
    assert_eq!(cluster.timeout, Duration::from_millis(250));
    assert!(!format!("{cluster:?}").contains("pw"));
}
