//! Clients written for Cloudflare AI Gateway against the shipped `config/voxrelay.toml`:
//! LiveKit's `STT/TTS.with_cloudflare(base_url=…)` (header `cf-aig-authorization: <raw key>`,
//! no `Authorization`, Workers AI model names) and the gateway's browser form (subprotocol
//! `cf-aig-authorization.<key>`), on voxrelay's Deepgram paths and on Cloudflare's own path
//! shape. The shipped file is loaded as written; only its upstreams' base URLs and credentials,
//! the listen address (and the metrics listener: `/metrics` is read on the public port) and one
//! client key are set for the test.

use std::path::Path;

use futures_util::SinkExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use voxrelay::config::{self, ClientKeyConfig, RawConfig, Settings};
use voxrelay::secret::KeyDigest;

use crate::helpers::*;

/// LiveKit STT's query for `with_cloudflare()` defaults (urlencoded, booleans lowercased).
pub const LIVEKIT_STT: &str = "model=%40cf%2Fdeepgram%2Fnova-3&punctuate=true&smart_format=false&no_delay=true&interim_results=true&encoding=linear16&vad_events=true&sample_rate=16000&channels=1&endpointing=25&filler_words=true&profanity_filter=false&numerals=false&mip_opt_out=false&language=en-US";
/// LiveKit TTS's query for `with_cloudflare()` defaults: model `aura-1` became `@cf/deepgram/aura-1`.
pub const LIVEKIT_TTS: &str =
    "encoding=linear16&model=%40cf%2Fdeepgram%2Faura-1&sample_rate=24000&mip_opt_out=false";
/// The gateway path a client configured for account `acct-9f2`, gateway `default` uses.
const WORKERS_AI: &str = "/v1/acct-9f2/default/workers-ai";

/// `config/voxrelay.toml` with its `cloudflare` and `deepgram` upstreams at the given bases
/// (`openai` and `assemblyai` keep their own).
pub fn shipped(cloudflare: &str, deepgram: &str) -> Settings {
    use figment::providers::{Format, Serialized, Toml};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/voxrelay.toml");
    let figment = figment::Figment::from(Serialized::defaults(RawConfig::default()))
        .merge(Toml::file_exact(path));
    let mut raw = config::extract(&figment).expect("the shipped config parses");
    raw.server.listen = "127.0.0.1:0".parse().unwrap();
    // /metrics on the public port, as the tests read it there (the shipped file has its own port)
    raw.metrics.listen = None;
    raw.tokens.signing_secret_env = None;
    // one file per call: tests run in parallel, and a reader could otherwise catch another
    // call's write between its truncate and its write (an empty key file fails validation)
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let key_file =
        std::env::temp_dir().join(format!("voxrelay-seed-{}-{call}.key", std::process::id()));
    std::fs::write(&key_file, UPSTREAM_SECRET).unwrap();
    for (name, base) in [("cloudflare", cloudflare), ("deepgram", deepgram)] {
        let u = raw.upstreams.get_mut(name).expect("shipped upstream");
        u.base_url = Some(base.to_owned());
        u.key_env = None;
        u.key_file = Some(key_file.clone());
    }
    // not reached by these tests: their key from the same file, their default base URL
    for name in ["openai", "assemblyai", "elevenlabs", "cartesia"] {
        let u = raw.upstreams.get_mut(name).expect("shipped upstream");
        u.key_env = None;
        u.key_file = Some(key_file.clone());
    }
    raw.client_keys.push(ClientKeyConfig {
        id: "livekit".into(),
        sha256: KeyDigest::of(CLIENT_KEY).to_hex(),
        routes: None,
        max_concurrent_sessions: None,
    });
    config::validate(raw).expect("the shipped config validates")
}

/// A `ws://` base where nothing listens (connection refused).
pub async fn dead() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    format!("ws://{}", l.local_addr().unwrap())
}

/// Connects as LiveKit does: `cf-aig-authorization: <raw key>` and nothing else.
pub async fn livekit(url: &str) -> Client {
    let (ws, resp) = connect(url, None, &[("cf-aig-authorization", CLIENT_KEY)])
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    assert!(resp.headers().get("sec-websocket-protocol").is_none());
    ws
}

/// Next text message as JSON, skipping binary frames.
pub async fn next_json(ws: &mut Client) -> Value {
    loop {
        match recv_data(ws).await.expect("a message") {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Binary(_) => continue,
            other => panic!("expected JSON, got {other:?}"),
        }
    }
}

/// One second of 16 kHz linear16, then `CloseStream`: the final transcript and its model.
pub async fn transcribe(ws: &mut Client) -> (String, String) {
    for _ in 0..10 {
        let frame = Message::Binary(vec![0u8; 3200].into());
        ws.send(frame).await.unwrap();
    }
    ws.send(Message::Text(r#"{"type":"CloseStream"}"#.into()))
        .await
        .unwrap();
    let mut finals = Vec::new();
    let mut model = String::new();
    while let Some(Message::Text(t)) = recv_data(ws).await {
        let v: Value = serde_json::from_str(t.as_str()).unwrap();
        if v["type"] == "Results" && v["is_final"] == true {
            let text = v["channel"]["alternatives"][0]["transcript"].as_str();
            finals.push(text.unwrap().to_owned());
            model = v["metadata"]["model_info"]["arch"]
                .as_str()
                .unwrap()
                .to_owned();
        }
    }
    (finals.join(" ").trim().to_owned(), model)
}

/// The model the upstream reported in its opening `Metadata`, then the audio bytes for `text`.
pub async fn speak(ws: &mut Client, text: &str) -> (String, usize) {
    let metadata = next_json(ws).await;
    assert_eq!(metadata["type"], "Metadata", "{metadata}");
    let speak = serde_json::json!({"type": "Speak", "text": text}).to_string();
    ws.send(Message::Text(speak.into())).await.unwrap();
    ws.send(Message::Text(r#"{"type":"Flush"}"#.into()))
        .await
        .unwrap();
    let mut audio = 0;
    loop {
        match recv_data(ws).await.expect("audio, then Flushed") {
            Message::Binary(b) => audio += b.len(),
            Message::Text(t) if t.as_str().contains("\"Flushed\"") => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    ws.send(Message::Text(r#"{"type":"Close"}"#.into()))
        .await
        .unwrap();
    let model = metadata["model_name"].as_str().unwrap().to_owned();
    (model, audio)
}

/// The value of the first `/metrics` sample whose line starts with `name{` and contains every
/// label in `labels`, once there is one and its value satisfies `until`.
pub async fn sample(
    app: &TestApp,
    name: &str,
    labels: &[&str],
    until: impl Fn(f64) -> bool,
) -> f64 {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let metrics = app.metrics().await;
        let value = metrics
            .lines()
            .find(|l| {
                l.starts_with(&format!("{name}{{")) && labels.iter().all(|want| l.contains(want))
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
        if let Some(v) = value.filter(|v| until(*v)) {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {name} sample with {labels:?} as expected (last {value:?}):\n{metrics}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn livekit_stt_transcribes_through_cloudflare_on_both_path_shapes() {
    let sim = simulator().await;
    let app = TestApp::with_settings(shipped(&sim, &sim)).await;
    for path in ["/v1/listen", WORKERS_AI] {
        let mut ws = livekit(&app.ws(&format!("{path}?{LIVEKIT_STT}"))).await;
        let (text, model) = transcribe(&mut ws).await;
        assert!(!text.is_empty(), "{path}: no transcript");
        assert_eq!(model, "nova-3", "{path}");
    }
    let ended = [r#"route="listen",upstream="cloudflare""#];
    sample(&app, "voxrelay_sessions_total", &ended, |n| n == 2.0).await;
}

#[tokio::test]
async fn livekit_tts_default_aura_1_speaks_through_cloudflare_on_both_path_shapes() {
    let sim = simulator().await;
    let app = TestApp::with_settings(shipped(&sim, &sim)).await;
    for path in ["/v1/speak", WORKERS_AI] {
        let mut ws = livekit(&app.ws(&format!("{path}?{LIVEKIT_TTS}"))).await;
        let (model, audio) = speak(&mut ws, "Hello from the seed client.").await;
        // the simulator reports the Workers AI model it was asked for, without `@cf/deepgram/`
        assert_eq!(model, "aura-1", "{path}");
        assert!(audio > 0, "{path}: no audio");
    }
}

/// What each upstream receives: the Cloudflare form with the client's `speaker`, or the Deepgram
/// voice it names; the gateway's credential header only, never the client's key.
#[tokio::test]
async fn bare_aura_1_with_speaker_reaches_each_upstream_in_its_own_form() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::with_settings(shipped(&up.base(), &up.base())).await;
    let query = "model=aura-1&speaker=asteria&encoding=linear16&sample_rate=24000";
    for path in ["/v1/speak", WORKERS_AI] {
        livekit(&app.ws(&format!("{path}?{query}"))).await;
        let seen = up.handshake().await;
        assert_eq!(
            seen.uri,
            "/v1/your-account-id/default/workers-ai?model=@cf/deepgram/aura-1&speaker=asteria&encoding=linear16&sample_rate=24000",
            "{path}"
        );
        assert_eq!(seen.headers["cf-aig-authorization"], UPSTREAM_SECRET);
        assert!(seen.headers.get("authorization").is_none());
        assert!(!format!("{:?}", seen.headers).contains(CLIENT_KEY));
    }
    let app = TestApp::with_settings(shipped(&dead().await, &up.base())).await;
    for path in ["/v1/speak", WORKERS_AI] {
        livekit(&app.ws(&format!("{path}?{query}"))).await;
        let seen = up.handshake().await;
        assert_eq!(
            seen.uri, "/v1/speak?model=aura-asteria-en&encoding=linear16&sample_rate=24000",
            "{path}"
        );
        assert_eq!(
            seen.headers["authorization"],
            format!("Token {UPSTREAM_SECRET}").as_str()
        );
    }
}

/// With the gateway down, the shipped fallback to Deepgram direct serves the same client: the
/// Workers AI names become Deepgram's (the voice Cloudflare would have used when none is given)
/// and the session is metered at Deepgram's list prices without any `prices` configured.
#[tokio::test]
async fn deepgram_direct_takes_the_same_client_and_meters_a_cost() {
    let sim = simulator().await;
    let app = TestApp::with_settings(shipped(&dead().await, &sim)).await;
    let mut ws = livekit(&app.ws(&format!("{WORKERS_AI}?{LIVEKIT_STT}"))).await;
    let (text, model) = transcribe(&mut ws).await;
    assert!(!text.is_empty());
    assert_eq!(model, "nova-3");
    for (path, query, voice) in [
        ("/v1/speak", LIVEKIT_TTS, "aura-angus-en"),
        (
            WORKERS_AI,
            "model=aura-1&speaker=asteria",
            "aura-asteria-en",
        ),
        (
            "/v1/speak",
            "model=%40cf%2Fdeepgram%2Faura-2-es&speaker=sirio",
            "aura-2-sirio-es",
        ),
    ] {
        let mut ws = livekit(&app.ws(&format!("{path}?{query}"))).await;
        let (model, audio) = speak(&mut ws, "Hola.").await;
        assert_eq!(model, voice, "{path}?{query}");
        assert!(audio > 0);
    }
    for route in [r#"route="listen""#, r#"route="speak""#] {
        let labels = [route, r#"upstream="deepgram""#];
        sample(&app, "voxrelay_estimated_cost_usd_total", &labels, |c| {
            c > 0.0
        })
        .await;
    }
}

/// Cloudflare's browser example, `new WebSocket(url, ['cf-aig-authorization.' + token])`, with
/// only the host changed: the offered value is echoed, and the route's origin check applies.
#[tokio::test]
async fn browser_subprotocol_on_the_workers_ai_path() {
    let sim = simulator().await;
    let app = TestApp::with_settings(shipped(&sim, &sim)).await;
    let offer = format!("cf-aig-authorization.{CLIENT_KEY}");
    let url = app.ws(&format!(
        "{WORKERS_AI}?model=@cf/deepgram/aura-2-en&speaker=luna"
    ));
    let origin = [("origin", "https://app.example.com")];
    let (mut ws, resp) = connect(&url, Some(&offer), &origin).await.unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], offer.as_str());
    let (model, audio) = speak(&mut ws, "Hi.").await;
    assert_eq!(model, "aura-2-en");
    assert!(audio > 0);
    let evil = [("origin", "https://evil.example.net")];
    let (status, body) = refused(&url, Some(&offer), &evil).await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn workers_ai_path_refuses_missing_and_unknown_models_with_json() {
    let sim = simulator().await;
    let app = TestApp::with_settings(shipped(&sim, &sim)).await;
    let auth = [("cf-aig-authorization", CLIENT_KEY)];
    for (query, status, needle) in [
        ("encoding=linear16", 400, "'model' is required"),
        ("model=@cf/openai/whisper", 400, "not a Deepgram model"),
        (
            "model=@cf/deepgram/nova-2",
            400,
            "not allowed on this route",
        ),
    ] {
        let url = app.ws(&format!("{WORKERS_AI}?{query}"));
        let (got, body) = refused(&url, None, &auth).await;
        assert_eq!(got, status, "{query}: {body}");
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["err_code"], "BAD_REQUEST", "{body}");
        assert!(json["err_msg"].as_str().unwrap().contains(needle), "{body}");
    }
    let (got, _) = refused(&app.ws("/v1/acct/gw/workers-ai/extra"), None, &auth).await;
    assert_eq!(got, 404);
    let labels = [r#"reason="unknown_model""#, r#"route="none""#];
    sample(&app, "voxrelay_handshake_rejections_total", &labels, |n| {
        n == 2.0
    })
    .await;
}
