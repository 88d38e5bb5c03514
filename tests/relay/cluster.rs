//! `[cluster]` with real processes: three `voxrelay serve` sharing one `redis-server`, each with
//! its built-in simulator upstream. One client cap across replicas, a killed replica's leases
//! expiring, a Redis outage under both failure modes, churn leaving no lease behind, the shared
//! per-IP rate, and revocations written by `voxrelay revoke`.

use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::helpers::*;
use crate::process::{BIN, Served, serve, temp_config};
use crate::redis::RedisServer;
use voxrelay::secret::KeyDigest;

const SECRET_ENV: &str = "VOXRELAY_TEST_CLUSTER_SECRET";
const SECRET: &str = "cluster-test-signing-secret-0123456789";
/// The lease set of the test client.
const LEASES: &str = "voxrelay:sessions:tester";

/// What differs between the tests' configs.
struct Opts<'a> {
    cap: u32,
    lease_ttl: &'a str,
    failure_mode: &'a str,
    rate: (u32, u32),
}

impl Default for Opts<'_> {
    fn default() -> Self {
        Self {
            cap: 3,
            lease_ttl: "2s",
            failure_mode: "fail_open",
            rate: (100_000, 100_000),
        }
    }
}

fn cluster_config(redis: &RedisServer, o: &Opts<'_>) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
shutdown_grace = "1s"
close_timeout = "1s"

[simulator]
enabled = true
listen = "127.0.0.1:0"
idle_timeout = "60s"

[tokens]
signing_secret_env = "{SECRET_ENV}"

[limits]
handshakes_per_second_per_ip = {rate}
handshake_burst_per_ip = {burst}
max_connections_per_ip = 0

[[client_keys]]
id = "tester"
sha256 = "{key}"
max_concurrent_sessions = {cap}

[upstreams.dg]
kind = "deepgram"
base_url = "simulator"

[[routes]]
name = "listen"
path = "/v1/listen"
kind = "listen"
upstreams = ["dg"]
default_model = "nova-3"
models = ["nova-3"]

[cluster]
redis_url = "{url}"
lease_ttl = "{ttl}"
failure_mode = "{mode}"
"#,
        rate = o.rate.0,
        burst = o.rate.1,
        key = KeyDigest::of(CLIENT_KEY).to_hex(),
        cap = o.cap,
        url = redis.url(),
        ttl = o.lease_ttl,
        mode = o.failure_mode,
    )
}

/// A `voxrelay serve` process, killed if the test ends (or fails) without terminating it.
struct Replica {
    addr: String,
    served: Option<Served>,
}

impl Replica {
    /// SIGTERM; the exit code.
    async fn terminate(mut self) -> Option<i32> {
        self.served.take()?.terminate().await
    }

    /// SIGKILL, as a crash.
    fn kill(&mut self) {
        if let Some(mut served) = self.served.take() {
            let _ = served.child.kill();
            let _ = served.child.wait();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `n` replicas of `config`.
fn replicas(name: &str, config: &str, n: usize) -> Vec<Replica> {
    let path = temp_config(name, config);
    (0..n)
        .map(|_| {
            let served = serve(&path, &[(SECRET_ENV, SECRET)]);
            Replica {
                addr: served.addr.clone(),
                served: Some(served),
            }
        })
        .collect()
}

/// A session on `addr` with `protocols`, or the refusal's status and body.
async fn open_with(addr: &str, protocols: &str) -> Result<Client, (u16, String)> {
    let url = format!("ws://{addr}/v1/listen");
    match connect(&url, Some(protocols), &[]).await {
        Ok((ws, _)) => Ok(ws),
        Err(WsError::Http(resp)) => {
            let body = resp.body().clone().unwrap_or_default();
            Err((
                resp.status().as_u16(),
                String::from_utf8_lossy(&body).into_owned(),
            ))
        }
        Err(e) => panic!("{addr}: neither a session nor a refusal: {e}"),
    }
}

async fn open(addr: &str) -> Result<Client, (u16, String)> {
    open_with(addr, &format!("token, {CLIENT_KEY}")).await
}

async fn open_ok(addr: &str) -> Client {
    open(addr).await.unwrap_or_else(|e| panic!("{addr}: {e:?}"))
}

/// The session still relays: `Finalize` is answered by the simulator's `Results`.
async fn assert_relays(ws: &mut Client) {
    ws.send(Message::Text(r#"{"type":"Finalize"}"#.into()))
        .await
        .expect("the session is still open");
    match recv_data(ws).await {
        Some(Message::Text(t)) => assert!(t.contains("Results"), "{t}"),
        other => panic!("expected Results, got {other:?}"),
    }
}

/// Closes with 1000 and waits for the close handshake to finish.
async fn close(mut ws: Client) {
    let _ = ws.close(None).await;
    let _ = tokio::time::timeout(WAIT, async { while ws.next().await.is_some() {} }).await;
}

/// Polls `attempt` until it yields, for at most `within`.
async fn eventually<T, F, Fut>(what: &str, within: Duration, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = attempt().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn get(addr: &str, path: &str) -> (u16, String) {
    http_get(addr.parse().unwrap(), path, &[]).await
}

async fn grant(addr: &str) -> (u16, String) {
    let auth = format!("Token {CLIENT_KEY}");
    let (status, _, body) = http(
        addr.parse().unwrap(),
        "POST",
        "/v1/auth/grant",
        &[("Authorization", &auth)],
        "",
    )
    .await;
    (status, body)
}

async fn stop_all(replicas: Vec<Replica>) {
    for r in replicas {
        assert_eq!(r.terminate().await, Some(0));
    }
}

fn assert_capped(refusal: Result<Client, (u16, String)>, cap: u32) {
    match refusal {
        Err((429, body)) => assert!(
            body.contains(&format!("client session limit of {cap}")),
            "{body}"
        ),
        Err(other) => panic!("expected 429, got {other:?}"),
        Ok(_) => panic!("expected 429, the session was admitted"),
    }
}

#[tokio::test]
async fn three_replicas_enforce_one_client_cap_and_a_closed_session_frees_a_slot_everywhere() {
    let redis = RedisServer::start();
    let r = replicas("cap", &cluster_config(&redis, &Opts::default()), 3);
    let mut live = Vec::new();
    for replica in &r {
        live.push(open_ok(&replica.addr).await);
    }
    // per replica, one session of a cap of 3: only the shared count refuses the fourth
    for replica in &r {
        assert_capped(open(&replica.addr).await, 3);
    }
    assert_eq!(redis.integer(&["ZCARD", LEASES]), 3);
    close(live.remove(0)).await;
    // the release is asynchronous: the slot is free on every replica shortly after
    for replica in &r {
        let ws = eventually("a freed slot", WAIT, || async {
            open(&replica.addr).await.ok()
        })
        .await;
        for other in &r {
            assert_capped(open(&other.addr).await, 3);
        }
        close(ws).await;
    }
    for ws in &mut live {
        assert_relays(ws).await;
    }
    drop(live);
    stop_all(r).await;
    assert_eq!(redis.integer(&["EXISTS", LEASES]), 0, "no lease left");
}

#[tokio::test]
async fn a_killed_replica_s_leases_expire_within_the_ttl() {
    let redis = RedisServer::start();
    let mut r = replicas("kill", &cluster_config(&redis, &Opts::default()), 2);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(open_ok(&r[0].addr).await);
    }
    assert_capped(open(&r[1].addr).await, 3);
    let mut victim = r.remove(0);
    victim.kill();
    let killed = Instant::now();
    drop(held);
    let ws = eventually("the dead replica's leases expire", WAIT, || async {
        open(&r[0].addr).await.ok()
    })
    .await;
    let took = killed.elapsed();
    // lease_ttl = 2s, plus the 50 ms polling and a handshake
    assert!(took < Duration::from_millis(3500), "took {took:?}");
    // the other two expire within moments (taken a few ms apart, unless a heartbeat aligned them)
    let mut more = vec![ws];
    for _ in 0..2 {
        let ws = eventually(
            "the other leases expire",
            Duration::from_secs(2),
            || async { open(&r[0].addr).await.ok() },
        )
        .await;
        more.push(ws);
    }
    assert_capped(open(&r[0].addr).await, 3);
    drop(more);
    stop_all(r).await;
}

#[tokio::test]
async fn a_redis_outage_fails_open_or_closed_and_recovers_without_dropping_sessions() {
    let mut redis = RedisServer::start();
    let base = Opts {
        cap: 2,
        ..Opts::default()
    };
    let open_cfg = cluster_config(&redis, &base);
    let closed_cfg = cluster_config(
        &redis,
        &Opts {
            failure_mode: "fail_closed",
            ..base
        },
    );
    let o = replicas("outage-open", &open_cfg, 1).remove(0);
    let c = replicas("outage-closed", &closed_cfg, 1).remove(0);
    let mut s1 = open_ok(&o.addr).await;
    let mut s2 = open_ok(&c.addr).await;
    assert_capped(open(&o.addr).await, 2);
    assert_eq!(get(&c.addr, "/readyz").await.0, 200);

    redis.stop();
    let body = eventually("fail_closed turns unready", WAIT, || async {
        let (status, body) = get(&c.addr, "/readyz").await;
        (status == 503).then_some(body)
    })
    .await;
    assert!(body.contains("cluster_unavailable"), "{body}");
    assert_eq!(
        get(&o.addr, "/readyz").await.0,
        200,
        "fail_open stays ready"
    );
    // fail_closed: new sessions and grants refused, 503 with the reason
    match open(&c.addr).await {
        Err((503, body)) => assert!(body.contains("CLUSTER_UNAVAILABLE"), "{body}"),
        other => panic!("expected 503, got {:?}", other.map(|_| "a session")),
    }
    let (status, body) = grant(&c.addr).await;
    assert_eq!(status, 503, "{body}");
    // fail_open: the replica's own cap (2) applies, so one more here, then 429
    let mut s3 = eventually("fail_open admits on local limits", WAIT, || async {
        open(&o.addr).await.ok()
    })
    .await;
    assert_capped(open(&o.addr).await, 2);
    let metrics = get(&o.addr, "/metrics").await.1;
    assert!(
        metrics.contains("voxrelay_cluster_state{state=\"degraded_open\"} 1"),
        "{metrics}"
    );
    // nothing open was dropped
    for ws in [&mut s1, &mut s2, &mut s3] {
        assert_relays(ws).await;
    }

    redis.restart();
    eventually("fail_closed is ready again", WAIT, || async {
        (get(&c.addr, "/readyz").await.0 == 200).then_some(())
    })
    .await;
    // the restarted Redis is empty: the heartbeats bring the three live leases back
    eventually("leases restored by the heartbeat", WAIT, || async {
        (redis.integer(&["ZCARD", LEASES]) == 3).then_some(())
    })
    .await;
    assert_capped(open(&c.addr).await, 2);
    let metrics = get(&o.addr, "/metrics").await.1;
    assert!(
        metrics.contains("voxrelay_cluster_state{state=\"ok\"} 1"),
        "{metrics}"
    );
    close(s3).await;
    close(s1).await;
    let s4 = eventually("a slot frees once under the cap again", WAIT, || async {
        open(&c.addr).await.ok()
    })
    .await;
    for ws in [&mut s2] {
        assert_relays(ws).await;
    }
    drop((s2, s4));
    stop_all(vec![o, c]).await;
}

#[tokio::test]
async fn thousands_of_sessions_churned_across_three_replicas_leave_no_lease_behind() {
    const ATTEMPTS: usize = 3000;
    const CONCURRENCY: usize = 30;
    let redis = RedisServer::start();
    // a long TTL: only the releases, not expiry, can empty the set in time
    let opts = Opts {
        cap: 12,
        lease_ttl: "60s",
        ..Opts::default()
    };
    let r = replicas("churn", &cluster_config(&redis, &opts), 3);
    let addrs: Vec<String> = r.iter().map(|s| s.addr.clone()).collect();
    let started = Instant::now();
    let (mut clean, mut aborted, mut refused) = (0, 0, 0);
    for batch in 0..ATTEMPTS / CONCURRENCY {
        let tasks: Vec<_> = (0..CONCURRENCY)
            .map(|i| {
                let addr = addrs[(batch + i) % addrs.len()].clone();
                tokio::spawn(async move {
                    match open(&addr).await {
                        Ok(ws) if i % 2 == 0 => {
                            close(ws).await;
                            0
                        }
                        Ok(ws) => {
                            drop(ws); // the TCP connection just goes away
                            1
                        }
                        Err((429, _)) => 2,
                        Err(other) => panic!("{other:?}"),
                    }
                })
            })
            .collect();
        for t in tasks {
            match t.await.unwrap() {
                0 => clean += 1,
                1 => aborted += 1,
                _ => refused += 1,
            }
        }
    }
    let churned = started.elapsed();
    assert_eq!(clean + aborted + refused, ATTEMPTS);
    assert!(
        clean > 100 && aborted > 100 && refused > 100,
        "{clean} {aborted} {refused}"
    );
    eventually("every lease released", Duration::from_secs(10), || async {
        let left: i64 = redis
            .keys("voxrelay:sessions:*")
            .iter()
            .map(|k| redis.integer(&["ZCARD", k]))
            .sum();
        (left == 0).then_some(())
    })
    .await;
    for addr in &addrs {
        let metrics = get(addr, "/metrics").await.1;
        assert!(
            metrics.contains("\nvoxrelay_cluster_leases 0\n"),
            "{metrics}"
        );
    }
    eprintln!(
        "churn: {ATTEMPTS} attempts ({clean} closed, {aborted} aborted, {refused} refused) in {churned:?}"
    );
    stop_all(r).await;
}

#[tokio::test]
async fn the_per_ip_handshake_and_grant_rate_is_shared_across_replicas() {
    let redis = RedisServer::start();
    let opts = Opts {
        rate: (1, 3),
        ..Opts::default()
    };
    let r = replicas("rate", &cluster_config(&redis, &opts), 3);
    // each replica alone would allow a burst of 3: together they allow 3 in all
    for replica in &r {
        let (status, body) = grant(&replica.addr).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = grant(&r[0].addr).await;
    assert_eq!(status, 429, "{body}");
    match open(&r[1].addr).await {
        Err((429, body)) => assert!(body.contains("too many requests"), "{body}"),
        other => panic!("expected 429, got {:?}", other.map(|_| "a session")),
    }
    assert_eq!(redis.keys("voxrelay:rate:*"), ["voxrelay:rate:127.0.0.1"]);
    stop_all(r).await;
}

/// `voxrelay revoke` with the test config; its exit code and output.
fn revoke_cli(config: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .arg("revoke")
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

/// The `jti` claim of a JWT.
fn jti(token: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}

async fn token(addr: &str) -> String {
    let (status, body) = grant(addr).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_revoked_token_or_client_is_refused_on_every_replica() {
    let redis = RedisServer::start();
    // a cap that never bites: releases are asynchronous and this test is about revocations
    let opts = Opts {
        cap: 50,
        ..Opts::default()
    };
    let text = cluster_config(&redis, &opts);
    let config = temp_config("revoke-cli", &text);
    let r = replicas("revoke", &text, 3);
    let revoked = token(&r[0].addr).await;
    let kept = token(&r[1].addr).await;
    // a live session on another replica with the token about to be revoked
    let mut live = open_with(&r[2].addr, &format!("bearer, {revoked}"))
        .await
        .expect("a fresh grant works on another replica");
    assert_relays(&mut live).await;

    let id = jti(&revoked);
    let (code, out) = revoke_cli(&config, &["--jti", &id]);
    assert_eq!(code, Some(0), "{out}");
    // that replica's heartbeat (every lease_ttl / 3) ends it: 1008 with the reason
    let (code, reason) = recv_close(&mut live).await.expect("closed by the relay");
    assert_eq!((code, reason.as_str()), (1008, "token revoked"));
    assert!(out.contains(&format!("token {id} revoked until")), "{out}");
    let ttl = redis.integer(&["TTL", &format!("voxrelay:revoked:jti:{id}")]);
    // by default until the longest grant lifetime: grant_max_ttl 1h + leeway 30s
    assert!((3000..=3630).contains(&ttl), "{ttl}");
    for replica in &r {
        match open_with(&replica.addr, &format!("bearer, {revoked}")).await {
            Err((401, body)) => assert!(body.contains("token has been revoked"), "{body}"),
            other => panic!("expected 401, got {:?}", other.map(|_| "a session")),
        }
        let ws = open_with(&replica.addr, &format!("bearer, {kept}")).await;
        close(ws.expect("another token of the client still works")).await;
    }

    let mut by_key = open_ok(&r[0].addr).await;
    let (code, out) = revoke_cli(&config, &["--client", "tester", "--for", "10m"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, reason) = recv_close(&mut by_key).await.expect("closed by the relay");
    assert_eq!((code, reason.as_str()), (1008, "client revoked"));
    for replica in &r {
        match open(&replica.addr).await {
            Err((403, body)) => assert!(body.contains("client has been revoked"), "{body}"),
            other => panic!("expected 403, got {:?}", other.map(|_| "a session")),
        }
        // nor does it mint new tokens on any replica
        let (status, body) = grant(&replica.addr).await;
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("client has been revoked"), "{body}");
    }
    let (code, out) = revoke_cli(&config, &["--client", "tester", "--lift"]);
    assert_eq!(code, Some(0), "{out}");
    for replica in &r {
        close(open_ok(&replica.addr).await).await;
        assert_eq!(grant(&replica.addr).await.0, 200);
    }
    // bad input is a clear error, never a write
    let (code, out) = revoke_cli(&config, &["--jti", "x", "--until", "1"]);
    assert_eq!(code, Some(64), "{out}");
    assert!(out.contains("already past"), "{out}");
    let (code, out) = revoke_cli(&config, &[]);
    assert_eq!(code, Some(2), "{out}");
    stop_all(r).await;
}
