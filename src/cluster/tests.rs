//! The scripts against a real `redis-server` (started on a free port, stopped by pid).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicUsize;

use super::*;

/// A throwaway `redis-server` on a free loopback port; killed on drop.
pub(crate) struct RedisServer {
    child: Child,
    pub(crate) port: u16,
}

impl RedisServer {
    pub(crate) fn start() -> Self {
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server is installed (scripts/setup-test-deps.sh)");
            let mut server = Self { child, port };
            if server.wait_for_pong() {
                return server;
            }
            let _ = server.child.kill();
        }
        panic!("redis-server did not answer PING on any of 5 ports");
    }

    fn wait_for_pong(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return false;
            }
            if let Ok(mut tcp) = TcpStream::connect(("127.0.0.1", self.port)) {
                let mut buf = [0u8; 7];
                if tcp.write_all(b"PING\r\n").is_ok()
                    && tcp.read_exact(&mut buf).is_ok()
                    && &buf == b"+PONG\r\n"
                {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A plain connection for inspecting what the scripts wrote.
    pub(crate) async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn cluster(redis: &RedisServer, prefix: &str, mode: FailureMode) -> Arc<Cluster> {
    Cluster::connect(
        test_settings(&redis.url(), prefix, mode),
        Metrics::default(),
    )
    .await
    .unwrap()
}

async fn zcard(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> u64 {
    redis::cmd("ZCARD")
        .arg(key)
        .query_async(conn)
        .await
        .unwrap()
}

/// Runs the background task until every queued release reached Redis.
async fn flush(cluster: &Arc<Cluster>) {
    let stop = CancellationToken::new();
    stop.cancel();
    cluster.clone().run(stop).await;
}

#[tokio::test]
async fn expired_leases_are_dropped_before_counting() {
    let redis = RedisServer::start();
    let mut conn = redis.conn().await;
    let c = cluster(&redis, "t1", FailureMode::FailOpen).await;
    let key = c.settings.keys.leases("acme");
    // a lease of a dead replica, long expired, and a live one of another replica (an hour on)
    let (secs, _): (u64, u64) = redis::cmd("TIME").query_async(&mut conn).await.unwrap();
    let later = (secs + 3600) * 1000;
    let _: () = redis::pipe()
        .cmd("ZADD")
        .arg(&key)
        .arg(1)
        .arg("dead:s1")
        .ignore()
        .cmd("ZADD")
        .arg(&key)
        .arg(later)
        .arg("other:s2")
        .ignore()
        .query_async(&mut conn)
        .await
        .unwrap();
    let Admission::Admitted(Some(lease)) = c.admit("acme", None, Some(2), "s3").await.unwrap()
    else {
        panic!("the expired lease should not count");
    };
    assert_eq!(zcard(&mut conn, &key).await, 2, "the expired lease is gone");
    assert!(matches!(
        c.admit("acme", None, Some(2), "s4").await.unwrap(),
        Admission::Full(2)
    ));
    // the lease's score is Redis time + TTL, and the set expires after its last lease
    let score: f64 = redis::cmd("ZSCORE")
        .arg(&key)
        .arg(format!("{}:s3", c.replica))
        .query_async(&mut conn)
        .await
        .unwrap();
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(&mut conn).await.unwrap();
    let now_ms = secs * 1000 + micros / 1000;
    let ttl_ms = c.ttl_ms() as f64;
    assert!(
        score > now_ms as f64 && score <= now_ms as f64 + ttl_ms,
        "{score} vs {now_ms}"
    );
    let pttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(pttl > 0, "the set carries an expiry ({pttl})");
    drop(lease);
    flush(&c).await;
    assert_eq!(
        zcard(&mut conn, &key).await,
        1,
        "only the other replica's lease is left"
    );
}

#[tokio::test]
async fn the_cap_is_exact_under_concurrency_across_replicas() {
    let redis = RedisServer::start();
    let mut conn = redis.conn().await;
    let mut replicas = Vec::new();
    for _ in 0..5 {
        replicas.push(cluster(&redis, "t2", FailureMode::FailOpen).await);
    }
    let admitted = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..100 {
        let c = replicas[i % replicas.len()].clone();
        let admitted = admitted.clone();
        tasks.push(tokio::spawn(async move {
            match c
                .admit("acme", None, Some(7), &format!("s{i}"))
                .await
                .unwrap()
            {
                Admission::Admitted(lease) => {
                    admitted.fetch_add(1, Ordering::SeqCst);
                    lease
                }
                Admission::Full(n) => {
                    assert_eq!(n, 7);
                    None
                }
                other => panic!("{other:?}"),
            }
        }));
    }
    let mut leases = Vec::new();
    for t in tasks {
        leases.extend(t.await.unwrap());
    }
    assert_eq!(admitted.load(Ordering::SeqCst), 7);
    assert_eq!(leases.len(), 7);
    let key = replicas[0].settings.keys.leases("acme");
    assert_eq!(zcard(&mut conn, &key).await, 7);
    let held: usize = replicas.iter().map(|c| c.leases_held()).sum();
    assert_eq!(held, 7);
    drop(leases);
    for c in &replicas {
        flush(c).await;
    }
    assert_eq!(zcard(&mut conn, &key).await, 0);
}

#[tokio::test]
async fn gcra_allows_the_burst_then_refuses_until_an_interval_has_passed() {
    let redis = RedisServer::start();
    let c = cluster(&redis, "t3", FailureMode::FailOpen).await;
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    let other: IpAddr = "192.0.2.8".parse().unwrap();
    // 2 per second (one every 500 ms), bursts of 3
    for _ in 0..3 {
        assert_eq!(c.check_rate(ip, 2, 3).await.unwrap(), Ok(()));
    }
    let wait = c.check_rate(ip, 2, 3).await.unwrap().unwrap_err();
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_millis(501),
        "{wait:?}"
    );
    assert_eq!(
        c.check_rate(other, 2, 3).await.unwrap(),
        Ok(()),
        "another bucket"
    );
    // refused calls do not use the bucket up: one more is allowed once the wait has passed
    tokio::time::sleep(wait).await;
    assert_eq!(c.check_rate(ip, 2, 3).await.unwrap(), Ok(()));
    let again = c.check_rate(ip, 2, 3).await.unwrap().unwrap_err();
    assert!(again > Duration::ZERO, "only one came back");
    // the state expires once the bucket is full again
    let mut conn = redis.conn().await;
    let pttl: i64 = redis::cmd("PTTL")
        .arg(c.settings.keys.rate(ip))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(pttl > 0 && pttl <= 1502, "{pttl}");
}

#[tokio::test]
async fn revoked_tokens_and_clients_are_refused_in_the_lease_round_trip() {
    let redis = RedisServer::start();
    let c = cluster(&redis, "t4", FailureMode::FailOpen).await;
    let settings = test_settings(&redis.url(), "t4", FailureMode::FailOpen);
    let until = crate::token::now() + 60;
    let jti = Revocation::Jti {
        jti: "tok-1".into(),
        until,
    };
    revoke(&settings, &jti).await.unwrap();
    for cap in [None, Some(5)] {
        assert!(matches!(
            c.admit("acme", Some("tok-1"), cap, "s1").await.unwrap(),
            Admission::TokenRevoked
        ));
        assert!(matches!(
            c.admit("acme", Some("tok-2"), cap, "s2").await.unwrap(),
            Admission::Admitted(_)
        ));
    }
    let mut conn = redis.conn().await;
    let expire_at: i64 = redis::cmd("EXPIRETIME")
        .arg(settings.keys.revoked_jti("tok-1"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(expire_at, until as i64);
    let client = Revocation::Client {
        id: "acme".into(),
        ttl: Some(Duration::from_secs(60)),
    };
    revoke(&settings, &client).await.unwrap();
    assert!(matches!(
        c.admit("acme", None, None, "s3").await.unwrap(),
        Admission::ClientRevoked
    ));
    assert!(matches!(
        c.admit("other", None, Some(1), "s4").await.unwrap(),
        Admission::Admitted(Some(_))
    ));
    revoke(&settings, &Revocation::LiftClient { id: "acme".into() })
        .await
        .unwrap();
    assert!(matches!(
        c.admit("acme", None, None, "s5").await.unwrap(),
        Admission::Admitted(None)
    ));
}

/// Records what the heartbeat reported.
#[derive(Default)]
struct Recorder {
    live: (Vec<String>, Vec<String>),
    seen: Mutex<Vec<String>>,
}

impl RevocationHook for Recorder {
    fn live_credentials(&self) -> (Vec<String>, Vec<String>) {
        self.live.clone()
    }
    fn revoke_client(&self, client_id: &str, reason: &str) {
        self.seen
            .lock()
            .unwrap()
            .push(format!("client {client_id}: {reason}"));
    }
    fn revoke_jti(&self, jti: &str, reason: &str) {
        self.seen
            .lock()
            .unwrap()
            .push(format!("jti {jti}: {reason}"));
    }
}

#[tokio::test]
async fn the_heartbeat_brings_back_lost_leases_and_reports_revoked_live_sessions() {
    let redis = RedisServer::start();
    let mut conn = redis.conn().await;
    let c = cluster(&redis, "t5", FailureMode::FailOpen).await;
    let recorder = Arc::new(Recorder {
        live: (
            vec!["acme".into(), "beta".into()],
            vec!["tok-1".into(), "tok-2".into()],
        ),
        seen: Mutex::default(),
    });
    c.set_revocation_hook(recorder.clone());
    let Admission::Admitted(Some(_lease)) = c.admit("acme", None, Some(3), "s1").await.unwrap()
    else {
        panic!("admitted with a lease");
    };
    let key = c.settings.keys.leases("acme");
    // Redis lost it (an outage, a failover to an empty replica)
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    c.heartbeat().await;
    assert_eq!(zcard(&mut conn, &key).await, 1, "the lease is back");
    assert!(
        recorder.seen.lock().unwrap().is_empty(),
        "nothing revoked yet"
    );
    let settings = test_settings(&redis.url(), "t5", FailureMode::FailOpen);
    let until = crate::token::now() + 60;
    revoke(
        &settings,
        &Revocation::Jti {
            jti: "tok-2".into(),
            until,
        },
    )
    .await
    .unwrap();
    revoke(
        &settings,
        &Revocation::Client {
            id: "beta".into(),
            ttl: None,
        },
    )
    .await
    .unwrap();
    c.heartbeat().await;
    let mut seen = recorder.seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen,
        ["client beta: client revoked", "jti tok-2: token revoked"]
    );
}

#[tokio::test]
async fn an_unreachable_redis_fails_fast_and_sets_the_state() {
    // a port nothing listens on
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    for (mode, ready, state) in [
        (FailureMode::FailOpen, true, "degraded_open"),
        (FailureMode::FailClosed, false, "degraded_closed"),
    ] {
        let metrics = Metrics::default();
        let c = Cluster::connect(test_settings(&url, "t6", mode), metrics.clone())
            .await
            .unwrap();
        assert_eq!(c.ready(), ready);
        assert_eq!(
            c.admit("acme", None, Some(1), "s1").await.unwrap_err(),
            ClusterError::Down
        );
        let rendered = metrics.render();
        assert!(
            rendered.contains(&format!("voxrelay_cluster_state{{state=\"{state}\"}} 1")),
            "{rendered}"
        );
        assert!(rendered.contains("voxrelay_cluster_errors_total{op=\"lease\"} 1"));
    }
}

#[test]
fn the_url_is_never_in_errors_or_debug_output() {
    let secret = "redis://user:s3cr3t-pass@redis.internal:6380/2";
    let settings = ClusterSettings::new(
        secret,
        Duration::from_secs(15),
        Duration::from_millis(250),
        FailureMode::FailOpen,
        "v",
    )
    .unwrap();
    assert_eq!(settings.endpoint, "redis.internal:6380");
    assert!(!format!("{settings:?}").contains("s3cr3t"));
    for bad in [
        "http://user:s3cr3t@host:1",
        "redis://user:s3cr3t@host:notaport",
        "s3cr3t",
    ] {
        let e = ClusterSettings::new(
            bad,
            Duration::from_secs(15),
            Duration::from_millis(250),
            FailureMode::FailOpen,
            "v",
        )
        .unwrap_err();
        assert!(!e.contains("s3cr3t"), "{e}");
    }
    let tls = ClusterSettings::new(
        "rediss://:pw@cache.example.com:6390",
        Duration::from_secs(15),
        Duration::from_millis(250),
        FailureMode::FailOpen,
        "v",
    )
    .unwrap();
    assert_eq!(tls.endpoint, "cache.example.com:6390");
}

/// A `redis-server` that speaks only TLS (a private CA's certificate for `localhost`) and
/// requires a password; killed on drop.
struct TlsRedis {
    child: Child,
    port: u16,
    ca: Vec<u8>,
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static TLS_DIRS: AtomicUsize = AtomicUsize::new(0);

impl TlsRedis {
    async fn start(password: &str) -> Self {
        let crate::tls::TestCa { ca, leaf, leaf_key } = crate::tls::TestCa::new(&["localhost"]);
        let n = TLS_DIRS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("voxrelay-redis-tls-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path.display().to_string()
        };
        let ca_file = file("ca.pem", ca.pem());
        let cert_file = file("cert.pem", leaf.pem());
        let key_file = file("key.pem", leaf_key.serialize_pem());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .args(["--tls-cert-file", &cert_file, "--tls-key-file", &key_file])
            .args(["--tls-ca-cert-file", &ca_file, "--tls-auth-clients", "no"])
            .args([
                "--requirepass",
                password,
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/setup-test-deps.sh)");
        let server = Self {
            child,
            port,
            ca: ca.pem().into_bytes(),
        };
        // ready once a TLS PING with the password is answered
        let client = ClusterSettings::new(
            &server.url(password),
            Duration::from_secs(15),
            Duration::from_millis(250),
            FailureMode::FailOpen,
            "v",
        )
        .unwrap()
        .trusting(server.ca.clone())
        .unwrap()
        .client;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server with TLS did not answer"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn url(&self, password: &str) -> String {
        format!("rediss://:{password}@localhost:{}", self.port)
    }
}

#[tokio::test]
async fn rediss_with_a_private_ca_and_a_password_carries_the_limits() {
    let redis = TlsRedis::start("tls-s3cret").await;
    let settings = |password: &str, ca: Option<Vec<u8>>| {
        let s = ClusterSettings::new(
            &redis.url(password),
            Duration::from_secs(15),
            Duration::from_millis(500),
            FailureMode::FailClosed,
            "tls",
        )
        .unwrap();
        match ca {
            Some(pem) => s.trusting(pem).unwrap(),
            None => s,
        }
    };
    let c = Cluster::connect(
        settings("tls-s3cret", Some(redis.ca.clone())),
        Metrics::default(),
    )
    .await
    .unwrap();
    assert!(
        c.ready(),
        "TLS with the private CA and the password reaches Redis"
    );
    let Admission::Admitted(Some(_lease)) = c.admit("acme", None, Some(1), "s1").await.unwrap()
    else {
        panic!("the first session is admitted");
    };
    assert!(matches!(
        c.admit("acme", None, Some(1), "s2").await.unwrap(),
        Admission::Full(1)
    ));
    assert_eq!(
        c.check_rate("192.0.2.1".parse().unwrap(), 1, 1)
            .await
            .unwrap(),
        Ok(())
    );
    // a wrong password, or the public roots instead of the private CA: Redis is not reached
    for wrong in [
        settings("wrong-password", Some(redis.ca.clone())),
        settings("tls-s3cret", None),
    ] {
        let c = Cluster::connect(wrong, Metrics::default()).await.unwrap();
        assert!(!c.ready());
        assert_eq!(
            c.admit("acme", None, Some(1), "s3").await.unwrap_err(),
            ClusterError::Down
        );
    }
    // a CA file is for rediss:// only
    let plain = ClusterSettings::new(
        "redis://127.0.0.1:1",
        Duration::from_secs(15),
        Duration::from_millis(250),
        FailureMode::FailOpen,
        "v",
    )
    .unwrap();
    assert_eq!(
        plain.trusting(redis.ca.clone()).unwrap_err(),
        "needs a rediss:// URL"
    );
}
