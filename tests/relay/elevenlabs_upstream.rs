//! What an ElevenLabs upstream is sent (against a recording fake upstream): the raw key in
//! `xi-api-key`, the voice id in the path, no client credential anywhere; keep-alive; config
//! rules; grants narrowing `model_id`.

use futures_util::SinkExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use tokio_tungstenite::tungstenite::Message;
use voxrelay::token::{Claims, GRANT_KID, now};

use crate::elevenlabs_support::*;

const SIGNING_SECRET: &str = "elevenlabs-signing-secret-0123456789abcdef";

/// [`elevenlabs_config`] at `base` with `tts_extra` lines on the TTS route and a signing secret.
fn config_with(base: &str, prefix: &str, tts_extra: &str) -> String {
    static FILE: std::sync::LazyLock<std::path::PathBuf> = std::sync::LazyLock::new(|| {
        let file = std::env::temp_dir().join(format!("voxrelay-el-signing-{}", std::process::id()));
        std::fs::write(&file, SIGNING_SECRET).unwrap();
        file
    });
    let config = elevenlabs_config(base, prefix).replace(
        "kind = \"elevenlabs_tts\"\n",
        &format!("kind = \"elevenlabs_tts\"\n{tts_extra}\n"),
    );
    format!(
        "{config}\n[tokens]\nsigning_secret_file = \"{}\"\n",
        FILE.display()
    )
}

#[tokio::test]
async fn the_upstream_gets_the_raw_key_the_voice_and_no_client_credential() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::start(&config_with(&up.base(), "elx", "")).await;
    let url = tts_url(
        &app,
        "elx",
        &format!(
            "?model_id=eleven_turbo_v2_5&single_use_token={CLIENT_KEY}&output_format=pcm_16000"
        ),
    );
    let (mut ws, _) = connect(&url, None, &[("xi-api-key", CLIENT_KEY)])
        .await
        .expect("relay accepts");
    let seen = up.handshake().await;
    assert_eq!(seen.headers["xi-api-key"], UPSTREAM_SECRET);
    assert_eq!(seen.headers.get_all("xi-api-key").iter().count(), 1);
    assert!(
        seen.uri
            .starts_with(&format!("/v1/text-to-speech/{VOICE}/stream-input?")),
        "{}",
        seen.uri
    );
    assert!(
        seen.uri.contains("model_id=eleven_turbo_v2_5"),
        "{}",
        seen.uri
    );
    assert!(seen.uri.contains("output_format=pcm_16000"), "{}", seen.uri);
    let everything = format!("{} {:?}", seen.uri, seen.headers);
    assert!(!everything.contains(CLIENT_KEY), "{everything}");
    assert!(!everything.contains("single_use_token"), "{everything}");
    // every message loses its credential fields, not only the first
    ws.send(Message::text(format!(
        r#"{{"text":"Hi ","xi-api-key":"{CLIENT_KEY}"}}"#
    )))
    .await
    .unwrap();
    match up.next().await {
        Message::Text(t) => assert_eq!(t.as_str(), r#"{"text":"Hi "}"#),
        other => panic!("expected text upstream, got {other:?}"),
    }
    // a message naming a credential field that is not a JSON object cannot be stripped: refused
    ws.send(Message::text(r#"["xi-api-key", "x"]"#))
        .await
        .unwrap();
    // (beside the echo of the message before it, in either order)
    let mut texts = Vec::new();
    for _ in 0..2 {
        match recv_data(&mut ws).await {
            Some(Message::Text(t)) => texts.push(t.to_string()),
            other => panic!("expected text, got {other:?}"),
        }
    }
    let refusal = texts.join("\n");
    assert!(refusal.contains("\"code\":1008"), "{refusal}");
}

#[tokio::test]
async fn a_tts_route_with_keepalive_sends_a_single_space_while_the_client_is_silent() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let extra = "keepalive = true\nkeepalive_interval = \"100ms\"";
    let app = TestApp::start(&config_with(&up.base(), "elk", extra)).await;
    let (_ws, _) = connect(
        &tts_url(&app, "elk", ""),
        None,
        &[("xi-api-key", CLIENT_KEY)],
    )
    .await
    .expect("relay accepts");
    up.handshake().await;
    match up.next().await {
        Message::Text(t) => assert_eq!(t.as_str(), r#"{"text":" "}"#),
        other => panic!("expected the keep-alive upstream, got {other:?}"),
    }
}

#[test]
fn keepalive_is_refused_where_elevenlabs_has_none_and_routes_need_their_own_upstream_kind() {
    let base = "ws://127.0.0.1:9";
    for kind in ["elevenlabs_tts_multi", "elevenlabs_stt"] {
        let toml = elevenlabs_config(base, "elc").replace(
            &format!("kind = \"{kind}\"\n"),
            &format!("kind = \"{kind}\"\nkeepalive = true\n"),
        );
        let err = voxrelay::config::from_toml(&toml)
            .expect_err("no keep-alive")
            .to_string();
        assert!(err.contains("keep"), "{kind}: {err}");
    }
    let wrong =
        elevenlabs_config(base, "elc").replacen("upstreams = [\"el\"]", "upstreams = [\"dg\"]", 1);
    let err = voxrelay::config::from_toml(&wrong)
        .expect_err("a deepgram upstream cannot serve elevenlabs_tts")
        .to_string();
    assert!(err.contains("elevenlabs_tts"), "{err}");
}

#[tokio::test]
async fn a_grant_narrows_model_id_in_the_browser_query_form() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::start(&config_with(&up.base(), "elg", "")).await;
    let mut claims = Claims {
        sub: "tester".into(),
        exp: now() + 60,
        iss: "voxrelay".into(),
        aud: "voxrelay".into(),
        ..Claims::default()
    };
    claims.models = Some(vec!["eleven_turbo_v2_5".into()]);
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(GRANT_KID.into());
    let jwt = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(SIGNING_SECRET.as_bytes()),
    )
    .unwrap();
    let url = |model: &str| {
        tts_url(
            &app,
            "elg",
            &format!("?model_id={model}&single_use_token={jwt}"),
        )
    };
    let (status, body) = refused(&url("eleven_flash_v2_5"), None, &[]).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("\"detail\""), "{body}");
    connect(&url("eleven_turbo_v2_5"), None, &[])
        .await
        .expect("the granted model is admitted");
}
