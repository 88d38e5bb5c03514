//! The REST half (`POST /v1/listen`, `POST /v1/speak`) against a fake upstream that records
//! what reached it: credential injection, query rewriting, both upstream kinds, refusals,
//! size limits, CORS, fallback, error scrubbing and metering.

use futures_util::StreamExt;
use http_body_util::Full;
use serde_json::Value;

use crate::helpers::*;
use crate::rest_support::*;

const ORIGIN: &str = "https://app.example.com";

fn rest_config(good: &str, bad: &str) -> String {
    let file = secret_file();
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
upstream_connect_timeout = "2s"
request_body_timeout = "2s"

[[client_keys]]
id = "tester"
sha256 = "{key}"

[[client_keys]]
id = "solo"
sha256 = "{solo}"
max_concurrent_sessions = 1

[upstreams.dg]
kind = "deepgram"
base_url = "{good}"
key_file = "{file}"

[upstreams.bad]
kind = "deepgram"
base_url = "{bad}"
key_file = "{file}"

[upstreams.dead]
kind = "deepgram"
base_url = "ws://127.0.0.1:1"
key_file = "{file}"

[upstreams.cf]
kind = "cloudflare"
base_url = "{good}"
account_id = "acct"
gateway_id = "gw"
key_file = "{file}"

[[routes]]
name = "listen"
path = "/v1/listen"
kind = "listen"
upstreams = ["dg"]
default_model = "nova-3"
models = ["nova-3"]
force_params = {{ mip_opt_out = "true" }}
allowed_origins = ["{ORIGIN}"]
[routes.rest]
max_body_bytes = 1000000
allow_url = true
url_hosts = ["media.example.com"]

[[routes]]
name = "speak"
path = "/v1/speak"
kind = "speak"
upstreams = ["bad", "dg"]
default_model = "aura-2-thalia-en"
models = ["aura-2-*-en"]
allowed_origins = ["{ORIGIN}"]

[[routes]]
name = "cf-listen"
path = "/cf/v1/listen"
kind = "listen"
upstreams = ["cf"]
default_model = "nova-3"
models = ["nova-3"]
[routes.rest]
allow_url = true
url_hosts = ["media.example.com"]

[[routes]]
name = "cf-speak"
path = "/cf/v1/speak"
kind = "speak"
upstreams = ["cf"]
default_model = "aura-2-thalia-en"
models = ["aura-2-*-en"]

[[routes]]
name = "slow"
path = "/slow/v1/listen"
kind = "listen"
upstreams = ["bad"]
default_model = "nova-3"
models = ["nova-3"]
[routes.rest]
timeout = "1s"

[[routes]]
name = "fallback"
path = "/fb/v1/listen"
kind = "listen"
upstreams = ["dead", "bad", "dg"]
default_model = "nova-3"
models = ["nova-3"]
"#,
        key = voxrelay::secret::KeyDigest::of(CLIENT_KEY).to_hex(),
        solo = voxrelay::secret::KeyDigest::of(SOLO_KEY).to_hex(),
    )
}

/// A client allowed one request or session at a time.
const SOLO_KEY: &str = "solo-client-key-31d0";

struct Rig {
    app: TestApp,
    good: RestUpstream,
    bad: RestUpstream,
}

async fn rig() -> Rig {
    let good = RestUpstream::start().await;
    let bad = RestUpstream::start().await;
    bad.answer(Answer::StatusUnread(503));
    let app = TestApp::start(&rest_config(&good.base(), &bad.base())).await;
    Rig { app, good, bad }
}

const AUTH: (&str, &str) = ("authorization", "Token test-client-key-5b1f");

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(body)))
}

#[tokio::test]
async fn an_upload_reaches_deepgram_with_the_real_key_and_its_result_comes_back_metered() {
    let rig = rig().await;
    let (status, headers, body) = post_bytes(
        rig.app.addr,
        "/v1/listen?model=nova-3&punctuate=true",
        &[AUTH, ("content-type", "audio/wav")],
        vec![0u8; 64_000],
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let result = json(&body);
    assert_eq!(
        result["results"]["channels"][0]["alternatives"][0]["transcript"],
        "hello from the fake"
    );
    assert_eq!(headers["dg-request-id"], "up-1");
    let seen = rig.good.seen();
    assert_eq!(seen.len(), 1);
    let seen = &seen[0];
    assert_eq!(seen.path, "/v1/listen");
    assert_eq!(seen.query, "model=nova-3&punctuate=true&mip_opt_out=true");
    assert_eq!(
        seen.headers["authorization"],
        format!("Token {UPSTREAM_SECRET}")
    );
    assert_eq!(seen.headers["content-type"], "audio/wav");
    assert_eq!(seen.bytes, 64_000);
    let all: String = format!("{:?}{}", seen.headers, seen.query);
    assert!(!all.contains(CLIENT_KEY), "the client's key went upstream");
    let metrics = rig.app.metrics().await;
    for line in [
        r#"voxrelay_rest_requests_total{outcome="ok",route="listen",upstream="dg"} 1"#,
        r#"voxrelay_audio_seconds_total{client="tester",route="listen"} 2"#,
        r#"voxrelay_message_bytes_total{direction="client_to_upstream",route="listen"} 64000"#,
        r#"voxrelay_rest_requests_active{route="listen"} 0"#,
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
    // 2 s at Deepgram's prerecorded price
    let cost = metric_value(
        &metrics,
        r#"voxrelay_estimated_cost_usd_total{client="tester",route="listen",upstream="dg"}"#,
    );
    assert!((cost - 2.0 / 60.0 * 0.0043).abs() < 1e-9, "{cost}");
    assert!(logs().contains("request usage"), "no usage record");
}

fn metric_value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series))
        .unwrap_or_else(|| panic!("{series} not in\n{metrics}"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn speech_streams_back_with_its_headers_after_a_5xx_upstream_is_passed_over() {
    let rig = rig().await;
    rig.bad.answer(Answer::Status(503, "overloaded".into()));
    let (status, headers, body) = post_bytes(
        rig.app.addr,
        "/v1/speak?model=aura-2-thalia-en&encoding=mp3",
        &[AUTH, ("content-type", "application/json")],
        r#"{"text":"Hello there"}"#,
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(body.len(), 5000);
    assert_eq!(headers["content-type"], "audio/mpeg");
    assert_eq!(headers["dg-model-name"], "aura-2-thalia-en");
    assert_eq!(headers["dg-char-count"], "11");
    assert!(!headers.contains_key("dg-project-id"));
    // the JSON body went to both: the first answered 503, the second served it
    assert_eq!(rig.bad.seen().len(), 1);
    let seen = rig.good.seen();
    assert_eq!(seen[0].json.as_ref().unwrap()["text"], "Hello there");
    assert_eq!(seen[0].query, "model=aura-2-thalia-en&encoding=mp3");
    let metrics = rig.app.metrics().await;
    for line in [
        r#"voxrelay_rest_requests_total{outcome="ok",route="speak",upstream="dg"} 1"#,
        r#"voxrelay_tts_characters_total{client="tester",route="speak"} 11"#,
        r#"voxrelay_upstream_fallbacks_total{route="speak",upstream="dg"} 1"#,
        r#"voxrelay_upstream_attempts_total{outcome="server_error",upstream="bad"} 1"#,
        r#"voxrelay_message_bytes_total{direction="upstream_to_client",route="speak"} 5000"#,
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
}

#[tokio::test]
async fn workers_ai_gets_the_model_in_its_path_and_its_envelope_is_removed() {
    let rig = rig().await;
    let (status, _, body) = post_bytes(
        rig.app.addr,
        "/cf/v1/listen?model=nova-3&language=en",
        &[AUTH, ("content-type", "audio/webm")],
        vec![1u8; 32_000],
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let result = json(&body);
    assert_eq!(result["metadata"]["duration"], 1.0);
    assert!(result.get("success").is_none(), "{result}");
    let seen = &rig.good.seen()[0];
    assert_eq!(seen.path, "/v1/acct/gw/workers-ai/@cf/deepgram/nova-3");
    assert_eq!(seen.query, "language=en");
    assert_eq!(seen.headers["cf-aig-authorization"], UPSTREAM_SECRET);
    assert_eq!(
        seen.headers["authorization"],
        format!("Bearer {UPSTREAM_SECRET}")
    );
    assert_eq!(seen.headers["content-type"], "audio/webm");

    let (status, headers, body) = post_bytes(
        rig.app.addr,
        "/cf/v1/speak?model=aura-2-thalia-en&sample_rate=24000&encoding=linear16",
        &[AUTH, ("content-type", "application/json")],
        r#"{"text":"Hi"}"#,
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(body.len(), 5000);
    assert_eq!(headers["dg-char-count"], "2");
    assert_eq!(headers["dg-model-name"], "aura-2-thalia-en");
    let seen = &rig.good.seen()[1];
    assert_eq!(seen.path, "/v1/acct/gw/workers-ai/@cf/deepgram/aura-2-en");
    assert_eq!(seen.query, "");
    assert_eq!(
        seen.json.clone().unwrap(),
        serde_json::json!({"text": "Hi", "speaker": "thalia", "sample_rate": 24000, "encoding": "linear16"})
    );
    let metrics = rig.app.metrics().await;
    let cost = metric_value(
        &metrics,
        r#"voxrelay_estimated_cost_usd_total{client="tester",route="cf-listen",upstream="cf"}"#,
    );
    assert!((cost - 1.0 / 60.0 * 0.0052).abs() < 1e-9, "{cost}");
}

/// Path, headers, body, expected status and `err_code`.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str, u16, &'a str);

#[tokio::test]
async fn requests_the_route_does_not_take_are_refused_before_any_upstream() {
    let rig = rig().await;
    let addr = rig.app.addr;
    let wav = ("content-type", "audio/wav");
    let json_type = ("content-type", "application/json");
    let cases: Vec<Case> = vec![
        ("/v1/listen", vec![wav], "x", 401, "INVALID_AUTH"),
        (
            "/v1/listen",
            vec![("authorization", "Token nope"), wav],
            "x",
            401,
            "INVALID_AUTH",
        ),
        (
            "/v1/listen",
            vec![AUTH, wav, ("origin", "https://evil.example")],
            "x",
            403,
            "ORIGIN_NOT_ALLOWED",
        ),
        (
            "/v1/listen?model=nova-2",
            vec![AUTH, wav],
            "x",
            400,
            "BAD_REQUEST",
        ),
        (
            "/v1/listen?callback=https://evil.example/hook",
            vec![AUTH, wav],
            "x",
            400,
            "BAD_REQUEST",
        ),
        (
            "/v1/listen",
            vec![AUTH, json_type],
            r#"{"url":"https://evil.example/a.wav"}"#,
            403,
            "URL_NOT_ALLOWED",
        ),
        (
            "/v1/listen",
            vec![AUTH, json_type],
            r#"{"url":"file:///etc/passwd"}"#,
            403,
            "URL_NOT_ALLOWED",
        ),
        (
            "/v1/listen",
            vec![AUTH, json_type],
            r#"{"nope":1}"#,
            400,
            "BAD_REQUEST",
        ),
        (
            "/cf/v1/listen",
            vec![AUTH, json_type],
            r#"{"url":"https://media.example.com/a.wav"}"#,
            403,
            "URL_NOT_ALLOWED",
        ),
        (
            "/v1/speak",
            vec![AUTH, json_type],
            r#"{"text":""}"#,
            400,
            "BAD_REQUEST",
        ),
        (
            "/v1/speak",
            vec![AUTH, json_type],
            "not json",
            400,
            "BAD_REQUEST",
        ),
    ];
    for (path, headers, body, status, code) in cases {
        let (got, _, answer) = post_bytes(addr, path, &headers, body.to_owned()).await;
        let answer = json(&answer);
        assert_eq!(got.as_u16(), status, "{path} {body}: {answer}");
        assert_eq!(answer["err_code"], code, "{path} {body}: {answer}");
        assert!(answer["request_id"].is_string(), "{answer}");
    }
    assert!(rig.good.seen().is_empty(), "{:?}", rig.good.seen());
    assert!(rig.bad.seen().is_empty());
    // a route allowing URLs whose upstream (Workers AI) cannot fetch them says so
    let body = r#"{"url":"https://media.example.com/a.wav"}"#;
    let (_, _, answer) = post_bytes(addr, "/cf/v1/listen", &[AUTH, json_type], body).await;
    let answer = json(&answer);
    assert!(
        answer["err_msg"]
            .as_str()
            .unwrap()
            .contains("do not transcribe from URLs"),
        "{answer}"
    );
    // a URL on an allowed host goes through as sent
    let body = r#"{"url":"https://media.example.com/a.wav"}"#;
    let (status, _, _) = post_bytes(addr, "/v1/listen", &[AUTH, json_type], body).await;
    assert_eq!(status, 200);
    assert_eq!(
        rig.good.seen()[0].json.clone().unwrap(),
        serde_json::json!({"url": "https://media.example.com/a.wav"})
    );
    let metrics = rig.app.metrics().await;
    assert!(
        metrics.contains(
            r#"voxrelay_handshake_rejections_total{reason="url_not_allowed",route="listen"} 2"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn uploads_over_the_limit_get_413_announced_or_not() {
    let rig = rig().await;
    let addr = rig.app.addr;
    // announced: refused before any upstream
    let (status, _, body) = request(
        addr,
        "POST",
        "/v1/listen",
        &[
            AUTH,
            ("content-type", "audio/wav"),
            ("content-length", "2000000"),
        ],
        Full::new(bytes::Bytes::from(vec![0u8; 2_000_000])),
    )
    .await;
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    assert!(rig.good.seen().is_empty());
    // streamed without a length: cut at the limit, the upstream request abandoned
    let (status, _, body) = request(
        addr,
        "POST",
        "/v1/listen",
        &[AUTH, ("content-type", "audio/wav")],
        chunked(40, 50_000),
    )
    .await;
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json(&body)["err_code"], "PAYLOAD_TOO_LARGE");
    let metrics = metric_eventually(
        &rig.app,
        r#"voxrelay_rest_requests_total{outcome="too_large",route="listen",upstream="dg"} 1"#,
    )
    .await;
    assert!(metrics.contains(r#"voxrelay_rest_requests_active{route="listen"} 0"#));
    // the client's fault counts nothing against the upstream (its breaker stays closed)
    assert!(
        !metrics
            .contains(r#"voxrelay_upstream_attempts_total{outcome="unreachable",upstream="dg"}"#),
        "{metrics}"
    );
    // one just under the limit, streamed, goes through whole
    let (status, _, body) = request(
        addr,
        "POST",
        "/v1/listen",
        &[AUTH, ("content-type", "audio/wav")],
        chunked(20, 50_000),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(rig.good.seen().last().unwrap().bytes, 1_000_000);
}

#[tokio::test]
async fn cors_answers_allowed_origins_only() {
    let rig = rig().await;
    let addr = rig.app.addr;
    let preflight = |origin: &'static str| async move {
        let headers = [
            ("origin", origin),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization,content-type",
            ),
        ];
        let empty = Full::new(bytes::Bytes::new());
        request(addr, "OPTIONS", "/v1/listen?model=nova-3", &headers, empty).await
    };
    let (status, headers, _) = preflight(ORIGIN).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    assert!(
        headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    let (_, headers, _) = preflight("https://evil.example").await;
    assert!(
        !headers.contains_key("access-control-allow-origin"),
        "{headers:?}"
    );
    // the call itself carries the CORS answer headers
    let (status, headers, _) = post_bytes(
        addr,
        "/v1/listen",
        &[AUTH, ("content-type", "audio/wav"), ("origin", ORIGIN)],
        vec![0u8; 3200],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);
    let exposed = headers["access-control-expose-headers"].to_str().unwrap();
    assert_eq!(
        exposed,
        "dg-request-id,dg-model-name,dg-model-uuid,dg-char-count,dg-error,retry-after"
    );
    // the WebSocket path is unchanged: other methods still get the JSON 405
    let (status, _, body) = request(
        addr,
        "PUT",
        "/v1/listen",
        &[],
        Full::new(bytes::Bytes::new()),
    )
    .await;
    assert_eq!(status, 405);
    assert_eq!(json(&body)["err_code"], "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn an_upload_falls_back_only_before_it_starts_and_upstream_errors_are_scrubbed() {
    let rig = rig().await;
    let addr = rig.app.addr;
    // `dead` refuses the connection: the upload goes to the next; `bad` answers 503 once it
    // has the request, and an upload under way is not sent again
    let (status, _, body) = post_bytes(
        addr,
        "/fb/v1/listen",
        &[AUTH, ("content-type", "audio/wav")],
        vec![0u8; 3200],
    )
    .await;
    assert_eq!(status, 502, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json(&body)["err_code"], "UPSTREAM_UNAVAILABLE");
    assert_eq!(rig.bad.seen().len(), 1);
    assert!(rig.good.seen().is_empty());
    let metrics = rig.app.metrics().await;
    assert!(
        metrics.contains(
            r#"voxrelay_upstream_attempts_total{outcome="unreachable",upstream="dead"} 1"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains(r#"voxrelay_rest_requests_total{outcome="upstream_error",route="fallback",upstream="bad"} 1"#), "{metrics}");
    // a 4xx echoing the credential comes back with its status, scrubbed
    rig.good.answer(Answer::Status(
        401,
        format!(r#"{{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials: Token {UPSTREAM_SECRET}"}}"#),
    ));
    let (status, _, body) = post_bytes(
        addr,
        "/v1/listen",
        &[AUTH, ("content-type", "audio/wav")],
        vec![0u8; 100],
    )
    .await;
    assert_eq!(status, 401);
    let text = String::from_utf8_lossy(&body);
    assert!(
        !text.contains(UPSTREAM_SECRET) && text.contains("[redacted]"),
        "{text}"
    );
    // Workers AI's error envelope in Deepgram's shape
    rig.good.answer(Answer::Status(
        400,
        r#"{"result":null,"success":false,"errors":[{"code":5006,"message":"bad input"}],"messages":[]}"#.into(),
    ));
    let (status, _, body) = post_bytes(
        addr,
        "/cf/v1/listen",
        &[AUTH, ("content-type", "audio/wav")],
        vec![0u8; 100],
    )
    .await;
    assert_eq!(status, 400);
    let body = json(&body);
    assert_eq!(body["err_code"], "5006");
    assert_eq!(body["err_msg"], "bad input");
}

#[tokio::test]
async fn an_upload_under_way_when_shutdown_starts_is_answered_and_new_ones_are_refused() {
    let mut rig = rig().await;
    let addr = rig.app.addr;
    let (feed, upload) = held_upload(&rig, AUTH, 16_000).await;
    let stopped = rig.app.begin_shutdown();
    let draining = async {
        let mut every = tokio::time::interval(std::time::Duration::from_millis(10));
        while http_get(addr, "/readyz", &[]).await.0 != 503 {
            every.tick().await;
        }
    };
    tokio::time::timeout(WAIT, draining)
        .await
        .expect("draining starts");
    let (status, _, body) = post_bytes(
        addr,
        "/v1/listen",
        &[AUTH, ("content-type", "audio/wav")],
        vec![0u8; 10],
    )
    .await;
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    feed.send(bytes::Bytes::from(vec![0u8; 16_000]))
        .await
        .unwrap();
    drop(feed);
    let (status, _, body) = upload.await.unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json(&body)["metadata"]["duration"], 1.0);
    stopped.await.unwrap().unwrap();
}

/// The chunks sent on `rx`, as a stream.
fn tokio_stream_of(
    mut rx: tokio::sync::mpsc::Receiver<bytes::Bytes>,
) -> impl futures_util::Stream<Item = bytes::Bytes> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// What an upload's request comes back with.
type Answered = tokio::task::JoinHandle<(hyper::StatusCode, hyper::HeaderMap, bytes::Bytes)>;

/// An upload to `/v1/listen` with `auth`, fed chunk by chunk, its first chunk of `first` bytes
/// sent and the request counted in flight: the sender of its further chunks (dropping it ends
/// the body) and the request's answer.
async fn held_upload(
    rig: &Rig,
    auth: (&'static str, &'static str),
    first: usize,
) -> (tokio::sync::mpsc::Sender<bytes::Bytes>, Answered) {
    let addr = rig.app.addr;
    let (feed, chunks) = tokio::sync::mpsc::channel::<bytes::Bytes>(4);
    let body = http_body_util::StreamBody::new(
        tokio_stream_of(chunks)
            .map(|b| Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(b))),
    );
    let headers = [auth, ("content-type", "audio/wav")];
    let upload =
        tokio::spawn(async move { request(addr, "POST", "/v1/listen", &headers, body).await });
    feed.send(bytes::Bytes::from(vec![0u8; first]))
        .await
        .unwrap();
    metric_eventually(
        &rig.app,
        r#"voxrelay_rest_requests_active{route="listen"} 1"#,
    )
    .await;
    (feed, upload)
}

#[tokio::test]
async fn an_upload_that_stalls_is_answered_408_and_frees_its_slot() {
    let rig = rig().await;
    // the client sends one chunk, then nothing (the channel stays open)
    let (feed, upload) = held_upload(&rig, AUTH, 16_000).await;
    let (status, _, body) = upload.await.unwrap();
    assert_eq!(status, 408, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json(&body)["err_code"], "REQUEST_TIMEOUT");
    drop(feed);
    let metrics = rig.app.metrics().await;
    for line in [
        r#"voxrelay_rest_requests_total{outcome="client_aborted",route="listen",upstream="dg"} 1"#,
        r#"voxrelay_rest_requests_active{route="listen"} 0"#,
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
}

#[tokio::test]
async fn an_upstream_that_never_answers_gets_504_at_the_route_s_timeout() {
    let rig = rig().await;
    rig.bad.answer(Answer::Hang);
    let (status, _, body) = post_bytes(
        rig.app.addr,
        "/slow/v1/listen",
        &[AUTH, ("content-type", "audio/wav")],
        vec![0u8; 3200],
    )
    .await;
    assert_eq!(status, 504, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json(&body)["err_code"], "UPSTREAM_TIMEOUT");
    assert_eq!(rig.bad.seen()[0].bytes, 3200);
    let metrics = rig.app.metrics().await;
    let line = r#"voxrelay_rest_requests_total{outcome="timeout",route="slow",upstream="bad"} 1"#;
    assert!(metrics.contains(line), "{line} not in\n{metrics}");
}

#[tokio::test]
async fn a_request_in_flight_holds_one_of_its_client_s_session_slots() {
    let rig = rig().await;
    let addr = rig.app.addr;
    let solo = ("authorization", "Token solo-client-key-31d0");
    let (feed, upload) = held_upload(&rig, solo, 3200).await;
    // a second request, and a WebSocket session, of the same client are over its cap
    let (status, _, body) = post_bytes(
        addr,
        "/v1/speak",
        &[solo, ("content-type", "application/json")],
        r#"{"text":"hi"}"#,
    )
    .await;
    assert_eq!(status, 429, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json(&body)["err_code"], "TOO_MANY_REQUESTS");
    let refused = refusal(
        &rig.app.ws("/v1/listen"),
        Some("token, solo-client-key-31d0"),
        &[],
    )
    .await;
    assert_eq!(refused.status(), 429);
    drop(feed);
    let (status, _, _) = upload.await.unwrap();
    assert_eq!(status, 200);
    // the slot is free again
    let (status, _, _) = post_bytes(
        addr,
        "/v1/speak",
        &[solo, ("content-type", "application/json")],
        r#"{"text":"hi"}"#,
    )
    .await;
    assert_eq!(status, 200);
}
