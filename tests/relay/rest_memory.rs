//! A 100 MB upload through the real binary keeps its memory flat: the relay's resident set is
//! sampled while the audio streams through (client → voxrelay → a fake upstream that counts
//! and drops it), and must stay within a fixed margin of what it was after a warm-up request.

use std::net::SocketAddr;
use std::time::Duration;

use crate::helpers::*;
use crate::process::{serve, temp_config};
use crate::rest_support::*;

/// 100 MiB of audio, sent in 64 KiB chunks with no announced length.
const CHUNK: usize = 64 * 1024;
const CHUNKS: usize = 1600;
/// Growth of the resident set allowed over the warm-up's, in KiB: far below the upload, so a
/// relay holding it (or a good part of it) fails.
const MARGIN_KIB: u64 = 32 * 1024;
/// How often the resident set is read while the upload runs.
const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// The process's resident set, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_upload_streams_through_with_flat_memory() {
    let upstream = RestUpstream::start().await;
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:0"

[[client_keys]]
id = "tester"
sha256 = "{key}"

[upstreams.dg]
kind = "deepgram"
base_url = "{base}"
key_file = "{file}"

[[routes]]
name = "listen"
path = "/v1/listen"
kind = "listen"
upstreams = ["dg"]
default_model = "nova-3"
models = ["nova-3"]
[routes.rest]
max_body_bytes = 200000000
"#,
        key = voxrelay::secret::KeyDigest::of(CLIENT_KEY).to_hex(),
        base = upstream.base(),
        file = secret_file(),
    );
    let served = serve(&temp_config("rest-memory", &config), &[]);
    let addr: SocketAddr = served.addr.parse().unwrap();
    let pid = served.child.id();
    let auth = [
        ("authorization", "Token test-client-key-5b1f"),
        ("content-type", "audio/l16"),
    ];
    // warm-up: buffers and connections as a first request leaves them
    let (status, _, _) = request(addr, "POST", "/v1/listen", &auth, chunked(64, CHUNK)).await;
    assert_eq!(status, 200);
    let baseline = rss_kib(pid);
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let sampler = tokio::spawn(async move {
        let mut peak = 0;
        let mut every = tokio::time::interval(SAMPLE_EVERY);
        loop {
            peak = peak.max(rss_kib(pid));
            tokio::select! {
                _ = every.tick() => {}
                _ = &mut stopped => return peak,
            }
        }
    });
    let (status, _, body) =
        request(addr, "POST", "/v1/listen", &auth, chunked(CHUNKS, CHUNK)).await;
    let _ = stop.send(());
    let peak = sampler.await.unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let total = (CHUNK * CHUNKS) as u64;
    assert_eq!(upstream.seen().last().unwrap().bytes, total);
    let result: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(result["metadata"]["duration"], total as f64 / 32000.0);
    println!(
        "100 MiB upload: relay RSS {baseline} KiB after warm-up, peak {peak} KiB during (+{} KiB)",
        peak.saturating_sub(baseline)
    );
    assert!(
        peak <= baseline + MARGIN_KIB,
        "the relay's memory grew with the upload: {baseline} KiB → {peak} KiB"
    );
    assert_eq!(served.terminate().await, Some(0));
}
