//! Processes the harness starts (echo upstream, voxrelay, nginx, HAProxy) on loopback, pinned
//! with `taskset`, each stopped by its pid (graceful signal, then SIGKILL after a deadline).

use std::fmt;
use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use tokio::time::{Instant, sleep};

/// The request every target gets (the echo upstream accepts any path).
pub const REQUEST_PATH: &str = "/v1/listen?model=nova-3&encoding=linear16&sample_rate=16000";
/// Client key the generator presents to voxrelay.
pub const BENCH_KEY: &str = "voxbench-client-key-not-a-secret";

/// What the generator connects to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Straight to the echo upstream: the baseline.
    Direct,
    /// voxrelay (release build).
    Voxrelay,
    /// A second voxrelay binary (`--baseline-bin`, e.g. an earlier commit's release build) with
    /// the same generated config: a before/after comparison in one run.
    Baseline,
    /// nginx as a plain WebSocket reverse proxy.
    Nginx,
    /// HAProxy as a plain WebSocket reverse proxy.
    Haproxy,
}

impl Kind {
    /// Name used in results.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Direct => "direct",
            Kind::Voxrelay => "voxrelay",
            Kind::Baseline => "baseline",
            Kind::Nginx => "nginx",
            Kind::Haproxy => "haproxy",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "direct" => Ok(Kind::Direct),
            "voxrelay" => Ok(Kind::Voxrelay),
            "baseline" => Ok(Kind::Baseline),
            "nginx" => Ok(Kind::Nginx),
            "haproxy" => Ok(Kind::Haproxy),
            _ => Err(format!(
                "unknown target {s:?} (direct, voxrelay, baseline, nginx, haproxy)"
            )),
        }
    }
}

/// A child process stopped by pid: its stop signal first, SIGKILL after the deadline, then any
/// descendant still alive (e.g. an nginx worker) by its own pid.
pub struct Proc {
    name: String,
    child: Option<Child>,
    stop_signal: &'static str,
    log: PathBuf,
}

impl Proc {
    /// Starts `program args…`, pinned to `cpu` with taskset when given, output to `log`.
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        cpu: Option<usize>,
        stop_signal: &'static str,
        log: PathBuf,
    ) -> Result<Proc> {
        let mut cmd = match cpu {
            Some(c) => {
                let mut cmd = Command::new("taskset");
                cmd.arg("-c").arg(c.to_string()).arg(program);
                cmd
            }
            None => Command::new(program),
        };
        let out = fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {name} ({})", program.display()))?;
        Ok(Proc {
            name: name.to_string(),
            child: Some(child),
            stop_signal,
            log,
        })
    }

    /// The process id (taskset execs the program, so this is the program itself).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Last lines of the process's output, for error messages.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Waits until `addr` accepts TCP connections (bounded), failing early if the process exits.
    pub async fn wait_port(&mut self, addr: SocketAddr, deadline: Duration) -> Result<()> {
        let until = Instant::now() + deadline;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "{} exited ({status}) before listening on {addr}:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(());
            }
            if Instant::now() >= until {
                bail!(
                    "{} not listening on {addr} after {deadline:?}:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the process and its descendants, each by pid, within a few seconds.
    pub async fn stop(mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = child.id();
        let family = crate::procfs::tree(pid);
        if child.try_wait()?.is_none() {
            signal(self.stop_signal, pid);
            let until = Instant::now() + Duration::from_secs(5);
            while child.try_wait()?.is_none() && Instant::now() < until {
                sleep(Duration::from_millis(20)).await;
            }
            if child.try_wait()?.is_none() {
                eprintln!(
                    "voxbench: {} (pid {pid}) ignored SIG{}; SIGKILL",
                    self.name, self.stop_signal
                );
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        // Descendants (nginx worker) normally exit with their master; make sure, by pid.
        for p in family.into_iter().skip(1) {
            if Path::new(&format!("/proc/{p}")).exists() {
                sleep(Duration::from_millis(200)).await;
                if Path::new(&format!("/proc/{p}")).exists() {
                    signal("KILL", p);
                }
            }
        }
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let family = crate::procfs::tree(child.id());
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
                let _ = child.wait();
            }
            for p in family.into_iter().skip(1) {
                signal("KILL", p);
            }
        }
    }
}

fn signal(sig: &str, pid: u32) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A scratch directory removed on drop.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// Creates `$TMPDIR/voxbench-<pid>-<tag>`.
    pub fn new(tag: &str) -> Result<ScratchDir> {
        let dir = std::env::temp_dir().join(format!("voxbench-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("logs"))?;
        Ok(ScratchDir(dir))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if std::env::var_os("VOXBENCH_KEEP_SCRATCH").is_none() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// Programs and limits used to start targets.
#[derive(Clone, Debug)]
pub struct Programs {
    /// voxrelay binary.
    pub voxrelay: PathBuf,
    /// The baseline voxrelay binary.
    pub baseline: PathBuf,
    /// nginx binary.
    pub nginx: PathBuf,
    /// haproxy binary.
    pub haproxy: PathBuf,
    /// Hard RLIMIT_NOFILE (nginx's worker_rlimit_nofile, HAProxy's maxconn derive from it).
    pub nofile: u64,
}

/// A started target: where to connect and the process to measure (none for direct).
pub struct Running {
    /// The generator's TCP address.
    pub addr: SocketAddr,
    /// The generator's URL.
    pub url: String,
    /// `Authorization` value, voxrelay only.
    pub authorization: Option<String>,
    /// The proxy process (tree) under test.
    pub proc: Option<Proc>,
    _dir: ScratchDir,
}

/// Starts `kind` in front of the echo upstream on `echo_port`, pinned to `cpu`, and waits until
/// it listens.
pub async fn start(
    kind: Kind,
    echo_port: u16,
    cpu: Option<usize>,
    progs: &Programs,
) -> Result<Running> {
    let dir = ScratchDir::new(kind.name())?;
    let port = if kind == Kind::Direct {
        echo_port
    } else {
        free_port()?
    };
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let log = dir.path().join("logs/output.log");
    let (proc, authorization) = match kind {
        Kind::Direct => (None, None),
        Kind::Voxrelay | Kind::Baseline => {
            let cfg = dir.path().join("voxrelay.toml");
            fs::write(&cfg, voxrelay_config(port, echo_port))?;
            let args = vec![
                "serve".to_string(),
                "--config".to_string(),
                cfg.display().to_string(),
            ];
            let program = if kind == Kind::Baseline {
                &progs.baseline
            } else {
                &progs.voxrelay
            };
            let p = Proc::spawn(kind.name(), program, &args, cpu, "TERM", log)?;
            (Some(p), Some(format!("Token {BENCH_KEY}")))
        }
        Kind::Nginx => {
            let cfg = dir.path().join("nginx.conf");
            fs::write(&cfg, nginx_config(port, echo_port, progs.nofile))?;
            let args = vec![
                "-p".to_string(),
                dir.path().display().to_string(),
                "-e".to_string(),
                dir.path().join("logs/error.log").display().to_string(),
                "-c".to_string(),
                cfg.display().to_string(),
            ];
            let p = Proc::spawn("nginx", &progs.nginx, &args, cpu, "QUIT", log)?;
            (Some(p), None)
        }
        Kind::Haproxy => {
            let cfg = dir.path().join("haproxy.cfg");
            fs::write(&cfg, haproxy_config(port, echo_port, progs.nofile))?;
            let args = vec![
                "-db".to_string(),
                "-f".to_string(),
                cfg.display().to_string(),
            ];
            let p = Proc::spawn("haproxy", &progs.haproxy, &args, cpu, "TERM", log)?;
            (Some(p), None)
        }
    };
    let mut running = Running {
        addr,
        url: format!("ws://{addr}{REQUEST_PATH}"),
        authorization,
        proc,
        _dir: dir,
    };
    if let Some(p) = running.proc.as_mut() {
        p.wait_port(addr, Duration::from_secs(15)).await?;
    }
    Ok(running)
}

/// Starts the echo upstream (this binary's `echo` mode) pinned to `cpu`.
pub async fn start_echo(cpu: Option<usize>, reply_bytes: usize) -> Result<(Proc, u16, ScratchDir)> {
    let dir = ScratchDir::new("echo")?;
    let port = free_port()?;
    let exe = std::env::current_exe()?;
    let args = vec![
        "echo".to_string(),
        "--listen".to_string(),
        format!("127.0.0.1:{port}"),
        "--reply-bytes".to_string(),
        reply_bytes.to_string(),
    ];
    let mut p = Proc::spawn(
        "echo",
        &exe,
        &args,
        cpu,
        "TERM",
        dir.path().join("logs/echo.log"),
    )?;
    p.wait_port(([127, 0, 0, 1], port).into(), Duration::from_secs(10))
        .await?;
    Ok((p, port, dir))
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// voxrelay: one listen route to the echo upstream, limits out of the way, logs at warn.
pub fn voxrelay_config(port: u16, echo_port: u16) -> String {
    format!(
        r#"# generated by voxbench
[server]
listen = "127.0.0.1:{port}"
shutdown_grace = "1s"
# stopped within the harness's few seconds: no reconnect storm to spread
drain_spread = "0s"

[log]
level = "warn"

[limits]
max_sessions = 50000
handshakes_per_second_per_ip = 100000
handshake_burst_per_ip = 100000
# every generated session comes from 127.0.0.1
max_connections_per_ip = 0

[[client_keys]]
id = "bench"
sha256 = "{digest}"

[upstreams.echo]
kind = "deepgram"
base_url = "ws://127.0.0.1:{echo_port}"

[[routes]]
name = "listen"
path = "/v1/listen"
kind = "listen"
upstreams = ["echo"]
default_model = "nova-3"
models = ["*"]
keepalive = false
"#,
        digest = sha256_hex(BENCH_KEY)
    )
}

/// nginx 1.22 as a plain WebSocket reverse proxy: one worker, foreground master.
pub fn nginx_config(port: u16, echo_port: u16, nofile: u64) -> String {
    let nofile = nofile.min(1 << 20);
    let conns = nofile.saturating_sub(100).max(1024);
    format!(
        r#"# generated by voxbench
daemon off;
worker_processes 1;
worker_rlimit_nofile {nofile};
pid nginx.pid;
error_log logs/error.log warn;
events {{ worker_connections {conns}; }}
http {{
  access_log off;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://127.0.0.1:{echo_port};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_read_timeout 3600s;
      proxy_send_timeout 3600s;
      proxy_buffering off;
    }}
  }}
}}
"#
    )
}

/// HAProxy 2.6 as a plain WebSocket reverse proxy: one thread, no Nagle delay, tunnel timeout.
pub fn haproxy_config(port: u16, echo_port: u16, nofile: u64) -> String {
    // Two descriptors per proxied session, plus listeners and spare.
    let maxconn = (nofile.min(1 << 20).saturating_sub(200) / 2).max(512);
    format!(
        r#"# generated by voxbench
global
  nbthread 1
  maxconn {maxconn}

defaults
  mode http
  maxconn {maxconn}
  option http-no-delay
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout tunnel 3600s

frontend fe
  bind 127.0.0.1:{port}
  default_backend be

backend be
  server echo 127.0.0.1:{echo_port}
"#
    )
}

/// First line of `program -v`/`-V` style version output, if any.
pub fn version(program: &Path, arg: &str) -> Option<String> {
    let out = Command::new(program).arg(arg).output().ok()?;
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    String::from_utf8(text)
        .ok()?
        .lines()
        .next()
        .map(str::to_string)
}
