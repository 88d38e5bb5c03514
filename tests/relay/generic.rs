//! The generic kind: a Speechmatics-shaped session through a config-described route to the
//! simulator (which requires `Authorization: Bearer <upstream key>` and refuses a `jwt` query
//! parameter), the browser's `?jwt=` credential stripped, audio metered from the configured
//! rate and the session priced by audio and by time.

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;
use crate::openai_support::{usage_record_eventually, within_one_percent};

/// 16-bit PCM at 16 kHz.
const RATE: usize = 32_000;

async fn relay(route: &str, upstream_extra: &str) -> TestApp {
    relay_with(route, upstream_extra, |t| t).await
}

/// [`relay`] with its config edited by `edit`.
async fn relay_with(route: &str, upstream_extra: &str, edit: fn(String) -> String) -> TestApp {
    let base = simulator().await;
    let toml = format!(
        r#"{standard}
[upstreams.sm]
kind = "generic"
base_url = "{base}"
path = "/v2"
key_file = "{file}"
{upstream_extra}

[upstreams.sm.prices]
listen_usd_per_minute = 0.02
session_usd_per_minute = 0.01

[[routes]]
name = "{route}"
path = "/v2"
kind = "generic"
upstreams = ["sm"]
default_model = "enhanced"
models = ["*"]
audio_bytes_per_second = {RATE}
"#,
        standard = config(&base),
        file = secret_file(),
    );
    TestApp::start(&edit(toml)).await
}

async fn json_event(ws: &mut Client) -> Value {
    loop {
        match recv(ws).await.expect("an event") {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Close(f) => panic!("closed: {f:?}"),
            _ => {}
        }
    }
}

/// Runs a recognition of `seconds` of silence; returns the final transcript messages seen.
async fn recognise(ws: &mut Client, chunks: usize) -> usize {
    let start = json!({"message": "StartRecognition",
        "audio_format": {"type": "raw", "encoding": "pcm_s16le", "sample_rate": 16000},
        "transcription_config": {"language": "en"}});
    ws.send(Message::text(start.to_string())).await.unwrap();
    assert_eq!(json_event(ws).await["message"], "RecognitionStarted");
    for _ in 0..chunks {
        ws.send(Message::Binary(vec![0u8; RATE / 10].into()))
            .await
            .unwrap();
    }
    let end = json!({"message": "EndOfStream", "last_seq_no": chunks});
    ws.send(Message::text(end.to_string())).await.unwrap();
    let mut finals = 0;
    loop {
        let event = json_event(ws).await;
        match event["message"].as_str().unwrap_or_default() {
            "AddTranscript" => finals += 1,
            "EndOfTranscript" => return finals,
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_speechmatics_shaped_session_relays_with_the_browser_jwt_stripped_and_is_metered() {
    let route = "sm-generic";
    let app = relay(route, "").await;
    let url = format!("ws://{}/v2?jwt={CLIENT_KEY}", app.addr);
    let (mut ws, _) = connect(&url, None, &[])
        .await
        .expect("a ?jwt= credential opens");
    // 3 s of audio in 100 ms frames
    let finals = recognise(&mut ws, 30).await;
    assert!(finals > 0, "the simulator transcribed something");
    let _ = ws.close(None).await;
    while recv(&mut ws).await.is_some() {}
    let record = usage_record_eventually(route).await;
    let audio: f64 = record["audio_seconds"].parse().unwrap();
    within_one_percent(audio, 3.0, "audio seconds");
    let session: f64 = record["session_seconds"].parse().unwrap();
    let cost: f64 = record["estimated_cost_usd"].parse().unwrap();
    within_one_percent(cost, 3.0 / 60.0 * 0.02 + session / 60.0 * 0.01, "cost");
    assert!(
        !logs().contains(CLIENT_KEY),
        "the client's key is never logged"
    );
}

#[tokio::test]
async fn the_upstream_credential_can_go_in_a_query_parameter_and_a_bad_client_key_is_refused() {
    let route = "sm-generic-query";
    // the simulator reads only `Authorization: Bearer`: with the credential in a query
    // parameter it refuses the handshake, which voxrelay reports as the upstream's refusal
    let app = relay(route, "credential_query = \"key\"").await;
    let url = format!("ws://{}/v2?key=client-sent&jwt={CLIENT_KEY}", app.addr);
    let (status, body) = refused(&url, None, &[]).await;
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains(UPSTREAM_SECRET), "{body}");
    let (status, body) = refused(&format!("ws://{}/v2?jwt=wrong", app.addr), None, &[]).await;
    assert_eq!(status, 401, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "invalid_auth", "{v}");
}

#[tokio::test]
async fn a_query_credential_replaces_any_client_value_and_the_path_takes_captures() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let toml = format!(
        r#"{standard}
[upstreams.self_hosted]
kind = "generic"
base_url = "{base}"
path = "/models/{{model_id}}/stream"
key_file = "{file}"
credential_query = "key"

[[routes]]
name = "self-hosted"
path = "/stt/{{model_id}}"
kind = "generic"
upstreams = ["self_hosted"]
default_model = "any"
models = ["*"]
"#,
        standard = config(&up.base()),
        base = up.base(),
        file = secret_file(),
    );
    let app = TestApp::start(&toml).await;
    let url = format!(
        "ws://{}/stt/whisper-large?a=1&key=client-value&jwt={CLIENT_KEY}",
        app.addr
    );
    let (_ws, _) = connect(&url, None, &[]).await.expect("relayed");
    let seen = up.handshake().await;
    assert_eq!(
        seen.uri,
        format!("/models/whisper-large/stream?a=1&key={UPSTREAM_SECRET}")
    );
    assert!(seen.headers.get("authorization").is_none());
    let bad = format!("ws://{}/stt/..?jwt={CLIENT_KEY}", app.addr);
    let (status, _) = refused(&bad, None, &[]).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_header_credential_takes_its_configured_name_and_prefix() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let toml = format!(
        r#"{standard}
[upstreams.self_hosted]
kind = "generic"
base_url = "{base}"
path = "/stream"
key_file = "{file}"
credential_header = "x-api-key"
credential_prefix = "Key "

[[routes]]
name = "self-hosted"
path = "/stt"
kind = "generic"
upstreams = ["self_hosted"]
default_model = "any"
models = ["*"]
"#,
        standard = config(&up.base()),
        base = up.base(),
        file = secret_file(),
    );
    let app = TestApp::start(&toml).await;
    let (_ws, _) = connect(
        &format!("ws://{}/stt", app.addr),
        None,
        &[("authorization", &format!("Token {CLIENT_KEY}"))],
    )
    .await
    .expect("relayed");
    let seen = up.handshake().await;
    assert_eq!(seen.uri, "/stream?");
    assert_eq!(
        seen.headers["x-api-key"],
        format!("Key {UPSTREAM_SECRET}").as_str()
    );
    assert!(seen.headers.get("authorization").is_none());
}

#[test]
fn generic_settings_are_refused_elsewhere_and_need_a_path() {
    let base = "ws://127.0.0.1:9";
    let bad = format!(
        r#"{standard}
[upstreams.wrong]
kind = "deepgram"
base_url = "{base}"
path = "/x"
credential_query = "key"

[upstreams.pathless]
kind = "generic"
base_url = "{base}"
credential_header = "x-api-key"
credential_query = "key"

[[routes]]
name = "listen-rated"
path = "/rated/v1/listen"
kind = "listen"
upstreams = ["dg"]
default_model = "nova-3"
models = ["nova-3"]
model_param = "model"
audio_bytes_per_second = 0
"#,
        standard = config(base),
    );
    let errors = match voxrelay::config::from_toml(&bad) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    };
    for want in [
        "upstreams.wrong.path: only generic upstreams take it",
        "upstreams.wrong.credential_query: only generic upstreams take it",
        "upstreams.pathless.path: a generic upstream needs its path",
        "upstreams.pathless: set credential_header or credential_query, not both",
        "model_param: only generic routes take it",
        "audio_bytes_per_second: only generic routes take it",
        "audio_bytes_per_second: must be a number of at least 1",
    ] {
        assert!(errors.contains(want), "{want} not in {errors}");
    }
}

/// A generic upstream's configured drain: on shutdown its `drain_message` goes upstream and the
/// finals it answers (up to `drain_done`) reach the client before close 1012.
#[tokio::test]
async fn on_shutdown_the_configured_drain_message_brings_the_final_transcript_before_1012() {
    let route = "sm-generic-drain";
    let mut app = relay_with(
        route,
        "drain_message = '{\"message\":\"EndOfStream\",\"last_seq_no\":0}'\n\
         drain_done = \"EndOfTranscript\"",
        |t| t.replace("shutdown_grace = \"5s\"", "shutdown_grace = \"100ms\""),
    )
    .await;
    let url = format!("ws://{}/v2?jwt={CLIENT_KEY}", app.addr);
    let (mut ws, _) = connect(&url, None, &[]).await.expect("accepted");
    let start = json!({"message": "StartRecognition",
        "audio_format": {"type": "raw", "encoding": "pcm_s16le", "sample_rate": 16000},
        "transcription_config": {"language": "en"}});
    ws.send(Message::text(start.to_string())).await.unwrap();
    assert_eq!(json_event(&mut ws).await["message"], "RecognitionStarted");
    ws.send(Message::Binary(vec![0u8; RATE].into()))
        .await
        .unwrap();
    let run = app.begin_shutdown();
    let mut seen = Vec::new();
    let close = loop {
        match recv(&mut ws).await.expect("a close frame before the end") {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                seen.push(v["message"].as_str().unwrap_or_default().to_owned());
            }
            Message::Close(f) => break f.map(|f| (u16::from(f.code), f.reason.to_string())),
            _ => {}
        }
    };
    assert_eq!(
        close,
        Some((1012, "voxrelay restarting".to_owned())),
        "{seen:?}"
    );
    assert!(seen.iter().any(|m| m == "AddTranscript"), "{seen:?}");
    assert_eq!(
        seen.last().map(String::as_str),
        Some("EndOfTranscript"),
        "{seen:?}"
    );
    tokio::time::timeout(WAIT, run)
        .await
        .unwrap()
        .unwrap()
        .expect("run returns Ok");
    // the session counts as drained, and the finals it was sent are metered
    let record = usage_record_eventually(route).await;
    assert_eq!(record["outcome"], "drained", "{record:?}");
    assert_eq!(record["client_close_code"], "1012", "{record:?}");
    assert_eq!(record["upstream_close_code"], "1000", "{record:?}");
    assert_eq!(record["closed_by"], "upstream", "{record:?}");
    let out: usize = record["messages_out"].parse().unwrap();
    assert!(out >= seen.len(), "{record:?}");
}
