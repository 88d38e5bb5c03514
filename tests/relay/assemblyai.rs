//! AssemblyAI Universal Streaming v3 through the relay, against the built-in simulator with a
//! required upstream key: browsers with `?token=`, the Python SDK's raw `Authorization`, turns
//! relayed, and the session's account from `Termination`, whether the client sent `Terminate`
//! or left without it (voxrelay then sends it, since AssemblyAI bills open sessions).

use std::collections::HashMap;
use std::time::Duration;

use futures_util::SinkExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use voxrelay::secret::KeyDigest;

use crate::helpers::*;
use crate::openai_support::{usage_record_eventually, within_one_percent};

/// A client key only the `?token=` sessions use, so the logs can be searched for it.
pub(crate) const BROWSER_TOKEN: &str = "aai-browser-token-3e1d70";
/// Bytes of 100 ms of 16 kHz PCM16.
const CHUNK: usize = 3_200;

/// The standard config plus an `aai` (AssemblyAI) upstream at `base` and an `assemblyai`
/// route named `route` on `/v3/ws`, with the browser token's client key.
pub(crate) fn assemblyai_config(base: &str, route: &str) -> String {
    format!(
        r#"{standard}
[[client_keys]]
id = "browser"
sha256 = "{browser}"

[upstreams.aai]
kind = "assemblyai"
base_url = "{base}"
key_file = "{file}"

[[routes]]
name = "{route}"
path = "/v3/ws"
kind = "assemblyai"
upstreams = ["aai"]
default_model = "universal-streaming-english"
models = ["universal-streaming-english", "universal-streaming-multilingual", "u3-rt-pro"]
"#,
        standard = config(base),
        browser = KeyDigest::of(BROWSER_TOKEN).to_hex(),
        file = secret_file(),
    )
}

/// A relay with route `route` in front of a simulator that only accepts [`UPSTREAM_SECRET`].
async fn relay(route: &str) -> TestApp {
    TestApp::start(&assemblyai_config(&simulator().await, route)).await
}

/// The next text message's JSON.
async fn event(ws: &mut Client) -> Value {
    match recv_data(ws).await.expect("a message") {
        Message::Text(t) => serde_json::from_str(t.as_str()).expect("JSON message"),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// `Begin`'s session id.
async fn begin(ws: &mut Client) -> String {
    let begin = event(ws).await;
    assert_eq!(begin["type"], "Begin", "{begin}");
    begin["id"].as_str().expect("Begin id").to_owned()
}

/// Sends `chunks` frames of 100 ms of audio, `pace` apart; returns the bytes sent.
async fn stream(ws: &mut Client, chunks: usize, pace: Duration) -> usize {
    for i in 0..chunks {
        let frame: Vec<u8> = (0..CHUNK).map(|b| ((b + i) % 251) as u8).collect();
        ws.send(Message::Binary(frame.into())).await.unwrap();
        if !pace.is_zero() {
            tokio::time::sleep(pace).await;
        }
    }
    chunks * CHUNK
}

/// Sends `Terminate`, reads turns up to `Termination` (returned) and the upstream's close.
async fn terminate(ws: &mut Client) -> (Value, Vec<Value>) {
    ws.send(Message::text(r#"{"type":"Terminate"}"#))
        .await
        .unwrap();
    let mut turns = Vec::new();
    for _ in 0..200 {
        let e = event(ws).await;
        match e["type"].as_str() {
            Some("Termination") => {
                assert_eq!(recv_close(ws).await.map(|c| c.0), Some(1000));
                return (e, turns);
            }
            Some("Turn") => turns.push(e),
            _ => panic!("unexpected message: {e}"),
        }
    }
    panic!("no Termination within 200 messages");
}

fn num(r: &HashMap<String, String>, k: &str) -> f64 {
    r[k].parse()
        .unwrap_or_else(|_| panic!("{k}: {:?} in {r:?}", r.get(k)))
}

/// How the simulator logged the end of its session `id` (`terminate`, `socket_closed`…),
/// waiting (bounded) for the line.
async fn simulator_end(id: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let logs = logs();
        let ended = logs
            .lines()
            .filter(|l| l.contains(id))
            .find_map(|l| l.split("ended_by=").nth(1))
            .map(|rest| {
                rest.split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_matches('"')
                    .to_owned()
            });
        if let Some(ended) = ended {
            return ended;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the simulator never logged the end of {id}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_browser_with_a_query_token_streams_and_its_terminate_is_metered() {
    let route = "aai-token";
    let app = relay(route).await;
    let url = app.ws(&format!(
        "/v3/ws?sample_rate=16000&format_turns=true&token={BROWSER_TOKEN}"
    ));
    let (mut ws, _) = connect(&url, None, &[]).await.expect("relay accepts");
    let id = begin(&mut ws).await;
    let sent = stream(&mut ws, 30, Duration::ZERO).await;
    let (termination, turns) = terminate(&mut ws).await;
    assert!(
        turns.iter().any(|t| t["end_of_turn"] == false),
        "partial turns"
    );
    let formatted: Vec<_> = turns
        .iter()
        .filter(|t| t["end_of_turn"] == true && t["turn_is_formatted"] == true)
        .collect();
    assert!(!formatted.is_empty(), "a formatted end of turn: {turns:?}");
    assert_eq!(termination["audio_duration_seconds"], 3);

    let r = usage_record_eventually(route).await;
    let sent_seconds = sent as f64 / 32_000.0;
    within_one_percent(
        num(&r, "audio_seconds"),
        sent_seconds,
        "audio in the record",
    );
    within_one_percent(
        num(&r, "metered_audio_seconds"),
        sent_seconds,
        "bytes relayed",
    );
    assert_eq!(
        num(&r, "session_seconds"),
        termination["session_duration_seconds"].as_f64().unwrap()
    );
    assert_eq!(r["client"], "browser");
    assert_eq!(r["model"], "universal-streaming-english");
    assert_eq!(simulator_end(&id).await, "terminate");
    let logs = logs();
    assert!(!logs.contains(BROWSER_TOKEN), "the query token was logged");
}

#[tokio::test]
async fn the_python_sdks_raw_authorization_header_opens_a_session_on_a_named_model() {
    let route = "aai-header";
    let app = relay(route).await;
    let url = app.ws("/v3/ws?speech_model=u3-rt-pro&encoding=pcm_mulaw&sample_rate=8000");
    let (mut ws, _) = connect(&url, None, &[("authorization", CLIENT_KEY)])
        .await
        .expect("relay accepts");
    begin(&mut ws).await;
    // µ-law at 8 kHz: 3,200 bytes are 400 ms; 20 frames are 8 s
    let sent = stream(&mut ws, 20, Duration::ZERO).await;
    let (termination, turns) = terminate(&mut ws).await;
    assert!(!turns.is_empty());
    assert_eq!(termination["audio_duration_seconds"], 8);
    let r = usage_record_eventually(route).await;
    within_one_percent(num(&r, "audio_seconds"), sent as f64 / 8_000.0, "audio");
    assert_eq!(r["client"], "tester");
    assert_eq!(r["model"], "u3-rt-pro");
}

#[tokio::test]
async fn a_client_that_vanishes_or_closes_without_terminate_gets_it_sent_for_it() {
    for (route, vanish) in [("aai-vanish", true), ("aai-close", false)] {
        let app = relay(route).await;
        let url = app.ws("/v3/ws?sample_rate=16000");
        let (mut ws, _) = connect(&url, None, &[("authorization", CLIENT_KEY)])
            .await
            .expect("relay accepts");
        let id = begin(&mut ws).await;
        // 1.2 s of audio at about real time, so the session is billed at least a second
        let sent = stream(&mut ws, 12, Duration::from_millis(100)).await;
        if vanish {
            // the TCP connection drops with no close frame
            drop(ws);
        } else {
            ws.close(None).await.unwrap();
            while recv(&mut ws).await.is_some() {}
        }
        assert_eq!(simulator_end(&id).await, "terminate", "{route}");
        let r = usage_record_eventually(route).await;
        let session = num(&r, "session_seconds");
        assert!(
            session >= 1.0,
            "{route}: the upstream's session figure: {r:?}"
        );
        assert_eq!(
            session.fract(),
            0.0,
            "{route}: AssemblyAI's whole seconds: {r:?}"
        );
        // the upstream's audio figure is whole seconds too: 1.2 s → 1
        assert_eq!(num(&r, "audio_seconds"), 1.0, "{route}: {r:?}");
        within_one_percent(
            num(&r, "metered_audio_seconds"),
            sent as f64 / 32_000.0,
            "bytes relayed",
        );
        let cost = num(&r, "estimated_cost_usd");
        assert!(
            (cost - session * 0.15 / 3600.0).abs() < 1e-12,
            "{route}: session time at $0.15/h: {r:?}"
        );
    }
}
