//! Query parameters a client cannot smuggle: metered values that would poison the counters,
//! denied, credential, model and forced names in other spellings, and `allow_params`.

use bytes::Bytes;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

fn body_json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test]
async fn bad_metered_params_are_400_before_the_upstream() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let offer = format!("token, {CLIENT_KEY}");
    let invalid = [
        "encoding=linear16&sample_rate=1e-320",
        "encoding=linear16&sample_rate=inf",
        "encoding=linear16&sample_rate=NaN",
        "encoding=linear16&sample_rate=16000.5",
        "encoding=linear16&sample_rate=0",
        "encoding=linear16&sample_rate=99999999",
        "encoding=linear16&sample_rate=16000&channels=1e3",
        "encoding=linear16&sample_rate=16000&channels=0",
        "encoding=linear16&sample_rate=16000&channels=64",
    ];
    for query in invalid {
        let (status, body) =
            refused(&app.ws(&format!("/v1/listen?{query}")), Some(&offer), &[]).await;
        assert_eq!(status, 400, "{query}: {body}");
        let json = body_json(&body);
        assert_eq!(json["err_code"], "BAD_REQUEST", "{query}");
        assert!(json["request_id"].is_string());
    }
    let duplicated = [
        "encoding=linear16&sample_rate=16000&sample_rate=8000",
        "encoding=linear16&sample_rate=16000&Sample_Rate=16000",
        "encoding=linear16&channels=1&channels%00=2",
        "encoding=opus&encoding=linear16&sample_rate=16000",
    ];
    for query in duplicated {
        let (status, body) =
            refused(&app.ws(&format!("/v1/listen?{query}")), Some(&offer), &[]).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            body_json(&body)["err_msg"]
                .as_str()
                .unwrap()
                .contains("at most once"),
            "{body}"
        );
    }
    assert!(up.seen.try_recv().is_err(), "nothing reached the upstream");
    let m = app.metrics().await;
    assert!(
        m.contains(r#"reason="param_invalid",route="listen"} 9"#),
        "{m}"
    );
    assert!(
        m.contains(r#"reason="param_duplicate",route="listen"} 4"#),
        "{m}"
    );
    for line in m.lines().filter(|l| !l.starts_with('#')) {
        assert!(!line.contains("inf") && !line.contains("NaN"), "{line}");
    }
}

#[tokio::test]
async fn a_valid_session_still_meters_its_audio() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let url = app.ws("/v1/listen?encoding=LINEAR16&sample_rate=16000&channels=2");
    let (mut ws, _) = connect_ok(&url).await;
    // 0.5 s of 16 kHz stereo linear16 (64000 bytes a second), echoed back
    for _ in 0..4 {
        ws.send(Message::Binary(Bytes::from(vec![0u8; 8000])))
            .await
            .unwrap();
        recv_data(&mut ws).await;
    }
    ws.close(None).await.unwrap();
    while recv(&mut ws).await.is_some() {}
    metric_eventually(
        &app,
        r#"voxrelay_audio_seconds_total{client="tester",route="listen"} 0.5"#,
    )
    .await;
}

#[tokio::test]
async fn smuggled_parameter_names_never_reach_the_upstream() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let offer = format!("token, {CLIENT_KEY}");
    for query in [
        "Callback=http://x",
        "callback%5B%5D=http://x",
        "callback[]=http://x",
        "callback%00=http://x",
        "CALL%62ACK%09=http://x",
    ] {
        let (status, body) =
            refused(&app.ws(&format!("/v1/listen?{query}")), Some(&offer), &[]).await;
        assert_eq!(status, 400, "{query}");
        assert!(body.contains("'callback'"), "{body}");
    }
    let (status, _) = refused(
        &app.ws("/v1/listen?model=nova-3&MODEL%00=nova-2"),
        Some(&offer),
        &[],
    )
    .await;
    assert_eq!(status, 400);
    assert!(up.seen.try_recv().is_err(), "nothing reached the upstream");

    let query = "token%00=leak-1&Access_Token[]=leak-2&API_KEY=leak-3&MIP_OPT_OUT=false&mip_opt_out%00=false&a=1";
    connect_ok(&app.ws(&format!("/v1/listen?{query}"))).await;
    let seen = up.handshake().await;
    assert_eq!(seen.uri, "/v1/listen?model=nova-3&mip_opt_out=true&a=1");
    let m = app.metrics().await;
    assert!(
        m.contains(r#"reason="param_denied",route="listen"} 5"#),
        "{m}"
    );
}

#[tokio::test]
async fn allow_params_refuses_unlisted_names_with_400() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let toml = config(&up.base()).replace(
        "deny_params = [\"callback\"]",
        "deny_params = [\"callback\"]\nallow_params = [\"encoding\", \"sample_rate\", \"keyterm\"]",
    );
    let app = TestApp::start(&toml).await;
    let offer = format!("token, {CLIENT_KEY}");
    let (status, body) = refused(
        &app.ws("/v1/listen?encoding=linear16&Diarize%00=true"),
        Some(&offer),
        &[],
    )
    .await;
    assert_eq!(status, 400);
    let json = body_json(&body);
    assert_eq!(json["err_code"], "BAD_REQUEST");
    assert!(
        json["err_msg"].as_str().unwrap().contains("'diarize'"),
        "{body}"
    );
    assert!(up.seen.try_recv().is_err(), "nothing reached the upstream");
    connect_ok(&app.ws(
        "/v1/listen?encoding=linear16&sample_rate=16000&keyterm=a&keyterm=b&token=x&mip_opt_out=false",
    ))
    .await;
    assert_eq!(
        up.handshake().await.uri,
        "/v1/listen?model=nova-3&encoding=linear16&sample_rate=16000&keyterm=a&keyterm=b&mip_opt_out=true"
    );
    let m = app.metrics().await;
    assert!(
        m.contains(r#"reason="param_not_allowed",route="listen"} 1"#),
        "{m}"
    );
}
