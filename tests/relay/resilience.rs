//! Resilience: fallback and circuit breakers, KeepAlive, timeouts, backpressure both ways.

use std::time::Duration;

use bytes::Bytes;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

/// A config whose `listen` route tries `cf` (at `first`) and then `dg` (at `second`).
fn fallback_config(first: &str, second: &str, extra: &str) -> String {
    config(second)
        .replace(
            "[upstreams.cf]\nkind = \"cloudflare\"\nbase_url = \"",
            &format!("[upstreams.cf]\nkind = \"cloudflare\"\nbreaker_failures = 2\nbreaker_cooldown = \"1h\"\nbase_url = \"{first}\"\n# was: "),
        )
        .replace("upstreams = [\"dg\", \"cf\"]", "upstreams = [\"cf\", \"dg\"]")
        + extra
}

fn dead_base() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("ws://127.0.0.1:{port}")
}

#[tokio::test]
async fn unreachable_first_upstream_falls_back_with_its_own_mapping() {
    let mut good = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::start(&fallback_config(&dead_base(), &good.base(), "")).await;
    let (mut ws, _) = connect_ok(&app.ws("/v1/listen?model=nova-3")).await;
    assert_eq!(
        good.handshake().await.uri,
        "/v1/listen?model=nova-3&mip_opt_out=true"
    );
    ws.send(Message::Text("via fallback".into())).await.unwrap();
    assert_eq!(
        recv_data(&mut ws).await,
        Some(Message::Text("via fallback".into()))
    );
    let m = app.metrics().await;
    assert!(
        m.contains(r#"voxrelay_upstream_attempts_total{outcome="unreachable",upstream="cf"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"voxrelay_upstream_attempts_total{outcome="ok",upstream="dg"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"voxrelay_upstream_fallbacks_total{route="listen",upstream="dg"} 1"#),
        "{m}"
    );
}

#[tokio::test]
async fn upstream_5xx_falls_back_but_4xx_is_final() {
    let mut good = FakeUpstream::start(Behaviour::Echo).await;
    let busy = FakeUpstream::start(Behaviour::Refuse(503, r#"{"err_msg":"busy"}"#)).await;
    let app = TestApp::start(&fallback_config(&busy.base(), &good.base(), "")).await;
    connect_ok(&app.ws("/v1/listen")).await;
    good.handshake().await;
    assert!(
        app.metrics()
            .await
            .contains(r#"{outcome="server_error",upstream="cf"} 1"#)
    );

    let mut good = FakeUpstream::start(Behaviour::Echo).await;
    let body = r#"{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials."}"#;
    let denied = FakeUpstream::start(Behaviour::Refuse(401, body)).await;
    let app = TestApp::start(&fallback_config(&denied.base(), &good.base(), "")).await;
    let offer = format!("token, {CLIENT_KEY}");
    assert_eq!(
        refused(&app.ws("/v1/listen"), Some(&offer), &[]).await,
        (401, body.to_owned())
    );
    assert!(good.seen.try_recv().is_err(), "a 4xx is not retried");
}

#[tokio::test]
async fn a_hanging_upstream_costs_one_attempt_timeout_then_falls_back() {
    let mut good = FakeUpstream::start(Behaviour::Echo).await;
    let hang = FakeUpstream::start(Behaviour::Hang).await;
    let toml = fallback_config(&hang.base(), &good.base(), "").replace(
        "[server]\n",
        "[server]\nupstream_attempt_timeout = \"300ms\"\n",
    );
    let app = TestApp::start(&toml).await;
    connect_ok(&app.ws("/v1/listen")).await;
    good.handshake().await;
    assert!(
        app.metrics()
            .await
            .contains(r#"{outcome="timeout",upstream="cf"} 1"#)
    );
}

#[tokio::test]
async fn an_open_breaker_skips_the_dead_upstream() {
    let mut good = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::start(&fallback_config(&dead_base(), &good.base(), "")).await;
    for _ in 0..3 {
        connect_ok(&app.ws("/v1/listen")).await;
        good.handshake().await;
    }
    let m = app.metrics().await;
    assert!(
        m.contains(r#"{outcome="unreachable",upstream="cf"} 2"#),
        "{m}"
    );
    assert!(m.contains(r#"{outcome="skipped",upstream="cf"} 1"#), "{m}");
    assert!(
        m.contains(r#"voxrelay_upstream_circuit_open{upstream="cf"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"voxrelay_upstream_fallbacks_total{route="listen",upstream="dg"} 3"#),
        "{m}"
    );
}

#[tokio::test]
async fn silent_listen_sessions_get_keepalives_and_flux_never_does() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let toml = config(&up.base())
        .replace(
            "force_params = { mip_opt_out = \"true\" }",
            "force_params = { mip_opt_out = \"true\" }\nkeepalive_interval = \"100ms\"",
        )
        .replace(
            "default_model = \"flux-general-en\"",
            "default_model = \"flux-general-en\"\nkeepalive_interval = \"100ms\"",
        );
    let app = TestApp::start(&toml).await;
    let (_ws, _) = connect_ok(&app.ws("/v1/listen")).await;
    assert_eq!(
        up.next().await,
        Message::Text(r#"{"type":"KeepAlive"}"#.into())
    );
    metric_eventually(
        &app,
        r#"voxrelay_keepalives_injected_total{route="listen"}"#,
    )
    .await;
    let (mut flux, _) = connect_ok(&app.ws("/v2/listen")).await;
    // several intervals of silence, then data: the data is the first thing upstream sees
    tokio::time::sleep(Duration::from_millis(350)).await;
    let before = app.metrics().await;
    flux.send(Message::Binary(Bytes::from_static(&[3])))
        .await
        .unwrap();
    loop {
        match up.next().await {
            Message::Text(t) if t.as_str() == r#"{"type":"KeepAlive"}"# => continue, // listen's
            m => {
                assert_eq!(m, Message::Binary(Bytes::from_static(&[3])));
                break;
            }
        }
    }
    assert!(!before.contains(r#"voxrelay_keepalives_injected_total{route="flux"}"#));
}

#[tokio::test]
async fn keepalive_on_flux_is_a_config_error() {
    let toml = config("ws://127.0.0.1:9").replace(
        "default_model = \"flux-general-en\"",
        "default_model = \"flux-general-en\"\nkeepalive = true",
    );
    let err = voxrelay::config::from_toml(&toml).expect_err("refused");
    assert!(err.to_string().contains("routes[2].keepalive"), "{err}");
}

#[tokio::test]
async fn a_slow_request_head_is_disconnected_and_counted() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let toml =
        config(&up.base()).replace("[server]\n", "[server]\nhandshake_timeout = \"300ms\"\n");
    let app = TestApp::start(&toml).await;
    let mut tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(b"GET /v1/listen HTTP/1.1\r\nHost: x\r\nUpgrade: websock")
        .await
        .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut out))
        .await
        .expect("disconnected")
        .unwrap();
    metric_eventually(&app, r#"{reason="handshake_timeout",route="none"} 1"#).await;
}

#[tokio::test]
async fn idle_sessions_close_both_sides_with_the_idle_reason() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let toml = config(&up.base()).replace("[server]\n", "[server]\nidle_timeout = \"300ms\"\n");
    let app = TestApp::start(&toml).await;
    let (mut ws, _) = connect_ok(&app.ws("/v1/speak")).await;
    let reason = "idle timeout: no data for 300ms".to_owned();
    assert_eq!(recv_close(&mut ws).await, Some((1001, reason)));
    assert_eq!(up.close_code().await, Some(1001));
    metric_eventually(&app, r#"outcome="idle_timeout""#).await;
}

#[tokio::test]
async fn an_upstream_that_stops_reading_pushes_back_on_the_browser() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let (mut ws, _) = connect_ok(&app.ws("/v1/listen")).await;
    ws.send(Message::Text("stall".into())).await.unwrap();
    assert_eq!(up.next().await, Message::Text("stall".into()));
    let frame = Bytes::from(vec![1u8; 60 * 1024]);
    let mut accepted = 0usize;
    let blocked = loop {
        if accepted >= 2048 {
            break false;
        }
        let send = ws.send(Message::Binary(frame.clone()));
        match tokio::time::timeout(Duration::from_secs(1), send).await {
            Ok(result) => result.unwrap(),
            Err(_) => break true,
        }
        accepted += 1;
    };
    assert!(blocked, "the browser was never slowed down");
    // nothing queues in voxrelay: what was accepted fits in socket buffers
    assert!(
        accepted * frame.len() < 64 << 20,
        "{accepted} frames accepted"
    );
}

#[tokio::test]
async fn a_browser_that_stops_reading_pushes_back_on_the_upstream() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let toml =
        config(&up.base()).replace("max_message_bytes = 65536", "max_message_bytes = 131072");
    let app = TestApp::start(&toml).await;
    let (mut ws, _) = connect_ok(&app.ws("/v1/listen")).await;
    ws.send(Message::Text("flood".into())).await.unwrap();
    assert_eq!(up.next().await, Message::Text("flood".into()));
    let report = up.next().await;
    let text = report.to_text().unwrap().to_owned();
    let sent: usize = text
        .strip_prefix("blocked after ")
        .unwrap_or_else(|| panic!("upstream was never slowed down: {text}"))
        .parse()
        .unwrap();
    assert!(
        sent * FLOOD_FRAME < 64 << 20,
        "{sent} frames went out before backpressure"
    );
}
