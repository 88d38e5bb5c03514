//! The comparison runner: for each N and repetition, every target in turn (order rotated per
//! repetition) gets a fresh echo upstream and a fresh proxy process, N sessions, a warm-up, a
//! measured window with /proc CPU and RSS readings, a drain, and a clean stop by pid.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use tokio::time::{Instant, sleep, sleep_until};

use crate::generator::{self, Load, Plan};
use crate::procfs;
use crate::report::{self, RunRecord};
use crate::targets::{self, Kind, Programs};

/// Options of `voxbench run`.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Targets, alternated within each repetition.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "direct,voxrelay,nginx,haproxy"
    )]
    pub targets: Vec<Kind>,
    /// Session counts of the active runs.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,2000")]
    pub sessions: Vec<usize>,
    /// Repetitions per (target, N).
    #[arg(long, default_value_t = 4)]
    pub reps: usize,
    /// Frames per second per session (active runs).
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Bytes per frame (100 ms of 16 kHz 16-bit mono audio = 3,200).
    #[arg(long, default_value_t = 3200)]
    pub frame_bytes: usize,
    /// Bytes the echo returns per frame (header: id, seq, timestamp).
    #[arg(long, default_value_t = 16)]
    pub reply_bytes: usize,
    /// Warm-up seconds before the window.
    #[arg(long, default_value_t = 5.0)]
    pub warmup: f64,
    /// Measured window, seconds.
    #[arg(long, default_value_t = 20.0)]
    pub window: f64,
    /// Seconds to wait for the window's last replies.
    #[arg(long, default_value_t = 2.0)]
    pub drain: f64,
    /// Sessions being set up at once.
    #[arg(long, default_value_t = 64)]
    pub setup_concurrency: usize,
    /// Idle-capacity run: sessions (0 = skip).
    #[arg(long, default_value_t = 0)]
    pub idle_sessions: usize,
    /// Idle-capacity run: frames per second per session.
    #[arg(long, default_value_t = 1.0)]
    pub idle_rate: f64,
    /// Idle-capacity run: repetitions.
    #[arg(long, default_value_t = 1)]
    pub idle_reps: usize,
    /// Core for the proxy under test.
    #[arg(long, default_value_t = 0)]
    pub proxy_cpu: usize,
    /// Core for the generator and the echo upstream.
    #[arg(long, default_value_t = 1)]
    pub gen_cpu: usize,
    /// Do not pin anything (machines with one core).
    #[arg(long)]
    pub no_pin: bool,
    /// Niceness for the harness and every process it starts (inherited), e.g. -20 on a machine
    /// shared with other work (needs root). Unset: unchanged.
    #[arg(long, allow_hyphen_values = true)]
    pub nice: Option<i32>,
    /// Generator-core utilisation above which a run is flagged as saturated.
    #[arg(long, default_value_t = 0.9)]
    pub saturation: f64,
    /// voxrelay binary.
    #[arg(long, default_value = "target/release/voxrelay")]
    pub voxrelay_bin: PathBuf,
    /// Baseline voxrelay binary (target `baseline`): an earlier build to compare against.
    #[arg(long, default_value = "target/release/voxrelay-baseline")]
    pub baseline_bin: PathBuf,
    /// nginx binary.
    #[arg(long, default_value = "/usr/sbin/nginx")]
    pub nginx_bin: PathBuf,
    /// haproxy binary.
    #[arg(long, default_value = "/usr/sbin/haproxy")]
    pub haproxy_bin: PathBuf,
    /// Append JSON lines here as well as printing them.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the markdown summary here as well as printing it.
    #[arg(long)]
    pub summary: Option<PathBuf>,
    /// Append every session's set-up (target, N, repetition, session id, start and duration in
    /// µs, in start order) here as tab-separated lines: shows when set-up times come in bursts.
    #[arg(long)]
    pub setup_trace: Option<PathBuf>,
    /// CPU used by other processes (in cores) above which a run is flagged as noisy.
    #[arg(long, default_value_t = 0.1)]
    pub noise: f64,
    /// Before each run, wait up to this many seconds for other processes to go below `--noise`.
    #[arg(long, default_value_t = 0.0)]
    pub wait_quiet: f64,
    /// Exit non-zero if any run had set-up errors, run errors, missing replies or no replies.
    #[arg(long)]
    pub check: bool,
}

struct Ctx {
    args: RunArgs,
    progs: Programs,
    tck: f64,
    proxy_cpu: Option<usize>,
    gen_cpu: Option<usize>,
    versions: Vec<(Kind, Option<String>)>,
}

/// Runs the whole matrix, prints JSON lines then the markdown summary.
pub async fn run(args: RunArgs) -> Result<bool> {
    if args.rate <= 0.0 || args.idle_rate <= 0.0 {
        bail!("rates must be positive");
    }
    if args.targets.is_empty() || args.reps == 0 {
        bail!("nothing to run");
    }
    let (_soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    let progs = Programs {
        voxrelay: args.voxrelay_bin.clone(),
        baseline: args.baseline_bin.clone(),
        nginx: args.nginx_bin.clone(),
        haproxy: args.haproxy_bin.clone(),
        nofile: hard,
    };
    let mut versions = Vec::new();
    for &k in &args.targets {
        let v = match k {
            Kind::Direct => Some("voxbench echo".to_string()),
            Kind::Voxrelay => targets::version(&progs.voxrelay, "--version"),
            Kind::Baseline => targets::version(&progs.baseline, "--version"),
            Kind::Nginx => targets::version(&progs.nginx, "-v"),
            Kind::Haproxy => targets::version(&progs.haproxy, "-v"),
        };
        if v.is_none() && k != Kind::Direct {
            bail!("{k}: cannot run its binary (see --{k}-bin)");
        }
        versions.push((k, v));
    }
    let pin = !args.no_pin;
    let ctx = Ctx {
        tck: procfs::clk_tck(),
        proxy_cpu: pin.then_some(args.proxy_cpu),
        gen_cpu: pin.then_some(args.gen_cpu),
        progs,
        versions,
        args,
    };
    let a = &ctx.args;
    let max_n = a
        .sessions
        .iter()
        .copied()
        .chain(std::iter::once(a.idle_sessions))
        .max()
        .unwrap_or(0);
    if (2 * max_n + 100) as u64 > hard {
        eprintln!(
            "voxbench: warning: {max_n} proxied sessions need ~{} descriptors, hard limit is {hard}",
            2 * max_n + 100
        );
    }
    let mut plan: Vec<(&str, usize, f64, usize)> = a
        .sessions
        .iter()
        .map(|&n| ("active", n, a.rate, a.reps))
        .collect();
    if a.idle_sessions > 0 {
        plan.push(("idle", a.idle_sessions, a.idle_rate, a.idle_reps));
    }
    let mut out = match &a.out {
        Some(p) => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("opening {}", p.display()))?,
        ),
        None => None,
    };
    let started = Instant::now();
    let mut records = Vec::new();
    for (label, n, rate, reps) in plan {
        for rep in 0..reps {
            let k = a.targets.len();
            for i in 0..k {
                let kind = a.targets[(i + rep) % k];
                let t0 = Instant::now();
                let rec = run_one(&ctx, kind, label, n, rate, rep)
                    .await
                    .with_context(|| {
                        format!("{label} run: {kind}, N = {n}, repetition {}", rep + 1)
                    })?;
                let line = serde_json::to_string(&rec)?;
                println!("{line}");
                if let Some(f) = out.as_mut() {
                    writeln!(f, "{line}")?;
                }
                eprintln!(
                    "voxbench: {label} {kind:<8} N={n:<5} rep {}: p50 {:.0} µs p99 {:.0} µs, sent {} recv {} missing {} errors {}, target cpu {} rss/session {} KiB, gen core {:.0}%{}, others {:.2} cores{} ({:.1} s)",
                    rep + 1,
                    rec.rtt_p50_us,
                    rec.rtt_p99_us,
                    rec.sent,
                    rec.received,
                    rec.missing,
                    rec.errors + rec.setup_errors as u64,
                    rec.target_cpu_util
                        .map_or("–".into(), |u| format!("{:.0}%", u * 100.0)),
                    rec.rss_per_session_kib
                        .map_or("–".into(), |v| format!("{v:.1}")),
                    rec.gen_core_util * 100.0,
                    if rec.gen_saturated { " SATURATED" } else { "" },
                    rec.other_cpu_util,
                    if rec.noisy { " NOISY" } else { "" },
                    t0.elapsed().as_secs_f64()
                );
                if let Some(e) = &rec.first_error {
                    eprintln!("voxbench:   first error: {e}");
                }
                records.push(rec);
                // Let sockets and the scheduler settle between runs.
                sleep(Duration::from_millis(500)).await;
            }
        }
    }
    let md = report::markdown(&records);
    println!("\n{md}");
    if let Some(p) = &a.summary {
        std::fs::write(p, &md).with_context(|| format!("writing {}", p.display()))?;
    }
    eprintln!(
        "voxbench: {} runs in {:.0} s",
        records.len(),
        started.elapsed().as_secs_f64()
    );
    let ok = records.iter().all(RunRecord::clean);
    if a.check && !ok {
        for r in records.iter().filter(|r| !r.clean()) {
            eprintln!(
                "voxbench: check failed: {} N={} rep {}: setup errors {}, errors {}, missing {}, received {}; first error: {}",
                r.target,
                r.sessions,
                r.rep + 1,
                r.setup_errors,
                r.errors,
                r.missing,
                r.received,
                r.first_error.as_deref().unwrap_or("–")
            );
        }
        return Ok(false);
    }
    Ok(true)
}

/// Waits (bounded) until processes other than this one use less than `noise` cores.
async fn wait_quiet(noise: f64, max_s: f64, tck: f64) {
    let until = Instant::now() + Duration::from_secs_f64(max_s);
    loop {
        let (h0, s0) = (procfs::host_cpu(tck), self_cpu(tck));
        sleep(Duration::from_secs(1)).await;
        let (h1, s1) = (procfs::host_cpu(tck), self_cpu(tck));
        let other = h1.task_s - h0.task_s - (s1 - s0);
        if other < noise {
            return;
        }
        if Instant::now() >= until {
            eprintln!(
                "voxbench: machine still busy ({other:.2} cores used by others) after {max_s} s; running anyway"
            );
            return;
        }
    }
}

fn self_cpu(tck: f64) -> f64 {
    procfs::cpu_s(std::process::id(), tck).unwrap_or(0.0)
}

async fn run_one(
    ctx: &Ctx,
    kind: Kind,
    label: &str,
    n: usize,
    rate: f64,
    rep: usize,
) -> Result<RunRecord> {
    let a = &ctx.args;
    let tck = ctx.tck;
    if a.wait_quiet > 0.0 {
        wait_quiet(a.noise, a.wait_quiet, tck).await;
    }
    let (echo, echo_port, _echo_dir) = targets::start_echo(ctx.gen_cpu, a.reply_bytes).await?;
    let mut running = targets::start(kind, echo_port, ctx.proxy_cpu, &ctx.progs).await?;
    let target_pid = running.proc.as_ref().map(targets::Proc::pid);
    sleep(Duration::from_millis(300)).await;
    let idle = target_pid.map(|p| procfs::sample_tree(p, tck));

    let load = Load {
        addr: running.addr,
        url: running.url.clone(),
        authorization: running.authorization.clone(),
        sessions: n,
        rate_hz: rate,
        frame_bytes: a.frame_bytes,
        setup_concurrency: a.setup_concurrency,
        setup_timeout: Duration::from_secs(10),
    };
    let setup_deadline = Duration::from_secs(30 + (n as u64) / 50);
    let (gen_, setup) = generator::open(load, setup_deadline).await?;
    if let Some(path) = &a.setup_trace {
        let lines = report::setup_trace(kind.name(), n, rep, &setup.trace);
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, lines.as_bytes()))
            .with_context(|| format!("writing {}", path.display()))?;
    }

    let go = Instant::now() + Duration::from_millis(100);
    let window_start = go + Duration::from_secs_f64(a.warmup);
    let window_end = window_start + Duration::from_secs_f64(a.window);
    gen_.start(Plan {
        go,
        window_start,
        window_end,
    });
    sleep_until(window_start).await;
    let t_start = Instant::now();
    let tgt0 = target_pid.map(|p| procfs::sample_tree(p, tck));
    let gen0 = self_cpu(tck);
    let echo0 = procfs::sample_tree(echo.pid(), tck);
    let host0 = procfs::host_cpu(tck);
    sleep_until(window_end).await;
    let tgt1 = target_pid.map(|p| procfs::sample_tree(p, tck));
    let gen1 = self_cpu(tck);
    let echo1 = procfs::sample_tree(echo.pid(), tck);
    let host1 = procfs::host_cpu(tck);
    let wall = t_start.elapsed().as_secs_f64();
    sleep(Duration::from_secs_f64(a.drain)).await;
    let outcome = gen_.stop(Duration::from_secs(10)).await;

    if let Some(p) = running.proc.take() {
        p.stop().await?;
    }
    echo.stop().await?;

    let us = |h: &hdrhistogram::Histogram<u64>, q: f64| {
        if h.is_empty() {
            f64::NAN
        } else {
            h.value_at_quantile(q) as f64 / 1_000.0
        }
    };
    let ms = |h: &hdrhistogram::Histogram<u64>, q: f64| us(h, q) / 1_000.0;
    // A relayed message = one client frame (each answered by a small reply).
    let msgs = outcome.sent as f64;
    let target_cpu = match (tgt0, tgt1) {
        (Some(x), Some(y)) => Some(y.cpu_s - x.cpu_s),
        _ => None,
    };
    let gen_util = (gen1 - gen0) / wall;
    let echo_util = (echo1.cpu_s - echo0.cpu_s) / wall;
    let ours = target_cpu.unwrap_or(0.0) + (gen1 - gen0) + (echo1.cpu_s - echo0.cpu_s);
    let other_util = ((host1.task_s - host0.task_s - ours) / wall).max(0.0);
    let rss_loaded = tgt1.map(|u| u.rss_kib);
    let rss_idle = idle.map(|u| u.rss_kib);
    let first_error = setup.first_error.clone().or(outcome.first_error.clone());
    Ok(RunRecord {
        label: label.to_string(),
        target: kind.name().to_string(),
        target_version: ctx
            .versions
            .iter()
            .find(|(k, _)| *k == kind)
            .and_then(|(_, v)| v.clone()),
        sessions: n,
        rate_hz: rate,
        frame_bytes: a.frame_bytes,
        reply_bytes: a.reply_bytes.min(a.frame_bytes),
        rep,
        warmup_s: a.warmup,
        window_s: a.window,
        sessions_open: setup.open,
        setup_errors: setup.errors,
        setup_p50_ms: ms(&setup.hist, 0.5),
        setup_p99_ms: ms(&setup.hist, 0.99),
        setup_max_ms: ms(&setup.hist, 1.0),
        setup_wall_s: setup.wall.as_secs_f64(),
        sent: outcome.sent,
        received: outcome.received,
        missing: outcome.sent.saturating_sub(outcome.received),
        errors: outcome.errors + outcome.foreign,
        first_error,
        rtt_p50_us: us(&outcome.rtt, 0.5),
        rtt_p90_us: us(&outcome.rtt, 0.9),
        rtt_p99_us: us(&outcome.rtt, 0.99),
        rtt_p999_us: us(&outcome.rtt, 0.999),
        rtt_max_us: us(&outcome.rtt, 1.0),
        send_lag_p99_us: us(&outcome.send_lag, 0.99),
        msgs_per_s: msgs / a.window,
        mbytes_per_s: outcome.sent as f64 * a.frame_bytes as f64 / a.window / 1e6,
        target_cpu_s: target_cpu,
        target_cpu_util: target_cpu.map(|c| c / wall),
        cpu_s_per_million: target_cpu.filter(|_| msgs > 0.0).map(|c| c / msgs * 1e6),
        rss_idle_kib: rss_idle,
        rss_loaded_kib: rss_loaded,
        rss_per_session_kib: match (rss_idle, rss_loaded) {
            (Some(i), Some(l)) if setup.open > 0 => Some((l as f64 - i as f64) / setup.open as f64),
            _ => None,
        },
        gen_cpu_util: gen_util,
        echo_cpu_util: echo_util,
        gen_core_util: gen_util + echo_util,
        gen_saturated: gen_util + echo_util > a.saturation,
        other_cpu_util: other_util,
        irq_cpu_util: (host1.irq_s - host0.irq_s) / wall,
        steal_util: (host1.steal_s - host0.steal_s) / wall,
        noisy: other_util > a.noise,
        nice: a.nice,
    })
}
