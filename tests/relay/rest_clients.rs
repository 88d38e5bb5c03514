//! Official Deepgram clients, and a browser, through the relay's REST endpoints (`POST /v1/listen`,
//! `POST /v1/speak`) by base URL only, with the simulator as upstream in Deepgram's shape and in
//! Cloudflare Workers AI's (through the AI Gateway) shape. Each script prints a JSON report on its
//! last stdout line; these tests run it and assert on that report.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use voxrelay::secret::KeyDigest;

use crate::helpers::*;

/// The virtualenv `scripts/setup-test-deps.sh` makes.
const PYTHON: &str = ".venv-clients/bin/python";
/// The npm packages `scripts/setup-test-deps.sh` installs (`npm ci` in tests/clients).
const NODE_SDK: &str = "tests/clients/node_modules/@deepgram/sdk";
const PLAYWRIGHT: &str = "tests/clients/node_modules/playwright-core";
/// The only host a `{"url": …}` body may name on these routes.
const URL_HOST: &str = "media.example.com";
/// Upper bound for one script (each bounds its own steps well below this).
const SCRIPT_LIMIT: Duration = Duration::from_secs(120);

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A dependency the scripts need; missing, it fails the test (never a silent skip), naming the
/// command that installs it.
fn required(path: &str, what: &str) -> PathBuf {
    let full = repo(path);
    assert!(
        full.exists(),
        "{path} is missing: run scripts/setup-test-deps.sh (scripts/test.sh does) to install {what}"
    );
    full
}

fn python() -> PathBuf {
    required(PYTHON, "the official Python SDKs for this test")
}

fn node_sdk() {
    required(NODE_SDK, "Deepgram's official JS SDK for this test");
}

/// Which provider shape the routes' upstream speaks.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Deepgram,
    Cloudflare,
}

/// Routes `listen` (/v1/listen) and `speak` (/v1/speak), REST enabled, `{"url"}` bodies allowed for
/// [`URL_HOST`] only, browsers from `http://127.0.0.1:*` only, one upstream of `kind` at the
/// simulator `base`, which requires [`UPSTREAM_SECRET`].
fn rest_config(base: &str, kind: Kind) -> String {
    let upstream = match kind {
        Kind::Deepgram => "kind = \"deepgram\"".to_owned(),
        Kind::Cloudflare => {
            "kind = \"cloudflare\"\naccount_id = \"acct\"\ngateway_id = \"gw\"".to_owned()
        }
    };
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
shutdown_grace = "5s"
drain_spread = "0s"
drain_timeout = "1s"
upstream_connect_timeout = "2s"
close_timeout = "1s"

[[client_keys]]
id = "tester"
sha256 = "{digest}"

[upstreams.up]
{upstream}
base_url = "{base}"
key_file = "{file}"

[[routes]]
name = "listen"
path = "/v1/listen"
kind = "listen"
upstreams = ["up"]
default_model = "nova-3"
models = ["nova-3", "nova-2"]
allowed_origins = ["http://127.0.0.1:*"]

[routes.rest]
allow_url = true
url_hosts = ["{URL_HOST}"]

[[routes]]
name = "speak"
path = "/v1/speak"
kind = "speak"
upstreams = ["up"]
default_model = "aura-2-thalia-en"
models = ["aura-2-*-en"]
allowed_origins = ["http://127.0.0.1:*"]
"#,
        digest = KeyDigest::of(CLIENT_KEY).to_hex(),
        file = secret_file(),
    )
}

/// The relay for `kind`, in front of a simulator that requires the upstream credential.
async fn relay(kind: Kind) -> TestApp {
    TestApp::start(&rest_config(&simulator().await, kind)).await
}

/// Runs `program args… --relay <addr> --key CLIENT_KEY` (bounded), requires exit 0, and returns the
/// JSON report on its last stdout line.
async fn run(app: &TestApp, program: &Path, args: &[&str]) -> serde_json::Value {
    let addr = app.addr.to_string();
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .args(["--relay", &addr, "--key", CLIENT_KEY])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(SCRIPT_LIMIT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{program:?} {args:?} ran over {SCRIPT_LIMIT:?}"))
        .unwrap_or_else(|e| panic!("{program:?} does not run: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{args:?} failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("no JSON report ({e}):\n{stdout}"))
}

/// Waits until the relay has counted exactly `listen` and `speak` REST requests that ended `ok`
/// (each script's calls, once each: the SDKs' retries are off, so a duplicate would show).
async fn assert_relayed(app: &TestApp, listen: u32, speak: u32) {
    for (route, n) in [("listen", listen), ("speak", speak)] {
        let needle = format!(
            "voxrelay_rest_requests_total{{outcome=\"ok\",route=\"{route}\",upstream=\"up\"}} {n}\n"
        );
        metric_eventually(app, &needle).await;
    }
}

/// A prerecorded result: a non-empty transcript and, when given, a duration within 50 ms.
fn assert_prerecorded(r: &serde_json::Value, duration: Option<f64>, report: &serde_json::Value) {
    let transcript = r["transcript"].as_str().unwrap_or_default();
    assert!(!transcript.trim().is_empty(), "no transcript: {report}");
    let got = r["duration"].as_f64().unwrap_or(f64::NAN);
    assert!(got > 0.0, "no metadata.duration: {report}");
    if let Some(want) = duration {
        assert!(
            (got - want).abs() < 0.05,
            "duration {got}, sent {want} s: {report}"
        );
    }
}

/// The `{"url"}` arguments: Workers AI takes the audio itself, so a route whose only upstream is
/// Cloudflare refuses URLs (403 `URL_NOT_ALLOWED`) and the scripts must see that refusal.
fn url_args(kind: Kind) -> Vec<&'static str> {
    match kind {
        Kind::Deepgram => vec!["--url-host", URL_HOST],
        Kind::Cloudflare => vec!["--url-host", URL_HOST, "--url-refused"],
    }
}

/// The `{"url"}` result: a transcript from a Deepgram upstream, 403 where only Workers AI serves.
fn assert_url(kind: Kind, report: &serde_json::Value) {
    match kind {
        Kind::Deepgram => assert_prerecorded(&report["url"], None, report),
        Kind::Cloudflare => assert_eq!(report["url_status"], 403, "{report}"),
    }
}

/// REST requests a script's `{"url"}` call adds to the `ok` count.
fn url_ok(kind: Kind) -> u32 {
    match kind {
        Kind::Deepgram => 1,
        Kind::Cloudflare => 0,
    }
}

async fn python_sdk(kind: Kind) {
    let app = relay(kind).await;
    let script = repo("tests/clients/deepgram_rest_python.py");
    let mut args = vec![script.to_str().unwrap()];
    args.extend(url_args(kind));
    let report = run(&app, &python(), &args).await;
    assert_eq!(report["file"]["type"], "ListenV1Response", "{report}");
    assert_prerecorded(&report["file"], Some(1.5), &report);
    // the same audio as a chunked upload (no Content-Length)
    assert_prerecorded(&report["file_chunked"], Some(1.5), &report);
    if matches!(kind, Kind::Deepgram) {
        assert_eq!(report["url"]["type"], "ListenV1Response", "{report}");
    }
    assert_url(kind, &report);
    // with a granted token (`Authorization: bearer <jwt>`)
    assert_prerecorded(&report["bearer_file"], Some(1.5), &report);
    assert!(
        report["speak_audio_bytes"].as_u64().unwrap() > 0,
        "{report}"
    );
    let raw = &report["speak_raw"];
    assert_eq!(raw["status"], 200, "{report}");
    assert!(raw["audio_bytes"].as_u64().unwrap() > 0, "{report}");
    assert!(
        raw["dg_model_name"]
            .as_str()
            .is_some_and(|m| m.contains("aura")),
        "{report}"
    );
    assert_eq!(report["url_other_host_status"], 403, "{report}");
    assert_eq!(report["wrong_key_status"], 401, "{report}");
    // bytes, chunked bytes, (a URL,) bytes with a token; two speeches; the refusals never
    // reached an upstream
    assert_relayed(&app, 3 + url_ok(kind), 2).await;
}

#[tokio::test]
async fn rest_python_deepgram_sdk_transcribes_file_and_url_and_speaks_via_a_deepgram_upstream() {
    python_sdk(Kind::Deepgram).await;
}

#[tokio::test]
async fn rest_python_deepgram_sdk_transcribes_file_and_url_and_speaks_via_a_cloudflare_upstream() {
    python_sdk(Kind::Cloudflare).await;
}

async fn node_sdk_run(kind: Kind) {
    node_sdk();
    let app = relay(kind).await;
    let mut args = vec!["tests/clients/deepgram_rest_node.mjs"];
    args.extend(url_args(kind));
    let report = run(&app, Path::new("node"), &args).await;
    assert_eq!(report["file"]["status"], 200, "{report}");
    assert_prerecorded(&report["file"], Some(1.5), &report);
    assert_url(kind, &report);
    // with a granted token (`Authorization: Bearer <jwt>`)
    assert_prerecorded(&report["bearer_file"], Some(1.5), &report);
    let speak = &report["speak"];
    assert_eq!(speak["status"], 200, "{report}");
    assert!(speak["audio_bytes"].as_u64().unwrap() > 0, "{report}");
    assert!(
        speak["dg_model_name"]
            .as_str()
            .is_some_and(|m| m.contains("aura")),
        "{report}"
    );
    assert_eq!(report["url_other_host_status"], 403, "{report}");
    assert_eq!(report["wrong_key_status"], 401, "{report}");
    assert_relayed(&app, 2 + url_ok(kind), 1).await;
}

#[tokio::test]
async fn rest_node_deepgram_sdk_transcribes_file_and_url_and_speaks_via_a_deepgram_upstream() {
    node_sdk_run(Kind::Deepgram).await;
}

#[tokio::test]
async fn rest_node_deepgram_sdk_transcribes_file_and_url_and_speaks_via_a_cloudflare_upstream() {
    node_sdk_run(Kind::Cloudflare).await;
}

async fn livekit(kind: Kind) {
    let app = relay(kind).await;
    let script = repo("tests/clients/livekit_deepgram_rest.py");
    let report = run(&app, &python(), &[script.to_str().unwrap()]).await;
    assert!(report["tts_frames"].as_u64().unwrap() > 0, "{report}");
    assert!(report["tts_samples"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["stt_event"], "FINAL_TRANSCRIPT", "{report}");
    assert!(
        !report["stt_text"].as_str().unwrap().trim().is_empty(),
        "{report}"
    );
    assert_relayed(&app, 1, 1).await;
}

#[tokio::test]
async fn rest_livekit_tts_synthesize_and_stt_recognize_via_a_deepgram_upstream() {
    livekit(Kind::Deepgram).await;
}

#[tokio::test]
async fn rest_livekit_tts_synthesize_and_stt_recognize_via_a_cloudflare_upstream() {
    livekit(Kind::Cloudflare).await;
}

async fn browser(kind: Kind) {
    node_sdk();
    required(PLAYWRIGHT, "playwright-core for this test");
    let app = relay(kind).await;
    let report = run(
        &app,
        Path::new("node"),
        &["tests/clients/deepgram_rest_browser.mjs"],
    )
    .await;
    let allowed = &report["allowed"];
    assert_eq!(allowed["listen"]["status"], 200, "{report}");
    assert_prerecorded(&allowed["listen"], Some(1.5), &report);
    // an exposed header: the page can read dg-request-id
    assert!(
        allowed["listen"]["dg_request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{report}"
    );
    assert_eq!(allowed["speak"]["status"], 200, "{report}");
    assert!(
        allowed["speak"]["audio_bytes"].as_u64().unwrap() > 0,
        "{report}"
    );
    // each POST was preceded by a preflight the relay answered for the page's origin
    for path in ["/v1/listen", "/v1/speak"] {
        let preflight = allowed["requests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["method"] == "OPTIONS" && r["path"] == path)
            .unwrap_or_else(|| panic!("no preflight to {path}: {report}"));
        assert!(
            (200..300).contains(&preflight["status"].as_u64().unwrap_or(0)),
            "{report}"
        );
    }
    // from another origin both fetches reject (CORS), and no POST got an answer
    let refused = &report["refused"];
    assert_eq!(refused["listen"]["error_name"], "TypeError", "{report}");
    assert_eq!(refused["speak"]["error_name"], "TypeError", "{report}");
    let requests = refused["requests"].as_array().unwrap();
    assert!(
        requests
            .iter()
            .filter(|r| r["method"] == "POST")
            .all(|r| r["status"].is_null() && r["cors_error"].is_string()),
        "{report}"
    );
    // only the allowed page's two calls were relayed
    assert_relayed(&app, 1, 1).await;
}

#[tokio::test]
async fn rest_browser_fetch_from_an_allowed_origin_passes_cors_and_another_is_refused_via_a_deepgram_upstream()
 {
    browser(Kind::Deepgram).await;
}

#[tokio::test]
async fn rest_browser_fetch_from_an_allowed_origin_passes_cors_and_another_is_refused_via_a_cloudflare_upstream()
 {
    browser(Kind::Cloudflare).await;
}
