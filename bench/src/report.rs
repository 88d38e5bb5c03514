//! Result records (one JSON line per target × N × repetition) and the markdown summary: medians
//! across repetitions, added latency over direct, ratios to the best peer, and the targets.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// One measured run of one target.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    /// `active` (audio-rate load) or `idle` (idle-capacity run).
    pub label: String,
    /// direct, voxrelay, nginx or haproxy.
    pub target: String,
    /// Target version string, when known.
    pub target_version: Option<String>,
    /// Sessions requested.
    pub sessions: usize,
    /// Frames per second per session.
    pub rate_hz: f64,
    /// Bytes per frame (client → target).
    pub frame_bytes: usize,
    /// Bytes per reply (target → client).
    pub reply_bytes: usize,
    /// Repetition index (0-based).
    pub rep: usize,
    /// Warm-up before the window, s.
    pub warmup_s: f64,
    /// Measured window, s.
    pub window_s: f64,
    /// Sessions open after set-up.
    pub sessions_open: usize,
    /// Sessions that failed to open.
    pub setup_errors: usize,
    /// Set-up time (TCP connect + WebSocket handshake) p50, ms.
    pub setup_p50_ms: f64,
    /// Set-up p99, ms.
    pub setup_p99_ms: f64,
    /// Set-up max, ms.
    pub setup_max_ms: f64,
    /// Wall time to open all sessions, s.
    pub setup_wall_s: f64,
    /// Frames sent inside the window.
    pub sent: u64,
    /// Replies received for them.
    pub received: u64,
    /// sent − received after the drain.
    pub missing: u64,
    /// Sessions that failed while running, plus mismatched replies.
    pub errors: u64,
    /// First error seen (set-up or run), if any.
    pub first_error: Option<String>,
    /// Round trip p50, µs.
    pub rtt_p50_us: f64,
    /// Round trip p90, µs.
    pub rtt_p90_us: f64,
    /// Round trip p99, µs.
    pub rtt_p99_us: f64,
    /// Round trip p99.9, µs.
    pub rtt_p999_us: f64,
    /// Round trip max, µs.
    pub rtt_max_us: f64,
    /// How late sends were against schedule, p99, µs (generator health).
    pub send_lag_p99_us: f64,
    /// Messages relayed per second: client frames in the window (each answered by a reply).
    pub msgs_per_s: f64,
    /// Client → target payload, MB/s.
    pub mbytes_per_s: f64,
    /// Target CPU seconds (user + system) over the window.
    pub target_cpu_s: Option<f64>,
    /// Target CPU share of its core over the window.
    pub target_cpu_util: Option<f64>,
    /// Target CPU seconds per million relayed messages (client frames, replies included in the work).
    pub cpu_s_per_million: Option<f64>,
    /// Target RSS before any session, KiB.
    pub rss_idle_kib: Option<u64>,
    /// Target RSS at the end of the window, KiB.
    pub rss_loaded_kib: Option<u64>,
    /// (loaded − idle) / sessions open, KiB.
    pub rss_per_session_kib: Option<f64>,
    /// Generator process CPU share over the window.
    pub gen_cpu_util: f64,
    /// Echo upstream CPU share over the window.
    pub echo_cpu_util: f64,
    /// Generator + echo share of their common core.
    pub gen_core_util: f64,
    /// `gen_core_util` above the saturation threshold: figures not comparable.
    pub gen_saturated: bool,
    /// Cores used by other processes on the machine during the window (noise).
    #[serde(default)]
    pub other_cpu_util: f64,
    /// Cores spent in irq/softirq during the window (loopback networking, all processes).
    #[serde(default)]
    pub irq_cpu_util: f64,
    /// Cores stolen by the hypervisor during the window.
    #[serde(default)]
    pub steal_util: f64,
    /// `other_cpu_util` above the noise threshold: figures suspect.
    #[serde(default)]
    pub noisy: bool,
    /// Niceness the harness ran at (`--nice`), if set.
    #[serde(default)]
    pub nice: Option<i32>,
}

impl RunRecord {
    /// No set-up errors, run errors or missing replies, and replies arrived.
    pub fn clean(&self) -> bool {
        self.setup_errors == 0 && self.errors == 0 && self.missing == 0 && self.received > 0
    }
}

/// Median of the values present.
fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Medians of one target's repetitions in one group.
#[derive(Clone, Debug, Default)]
struct Med {
    reps: usize,
    p50: Option<f64>,
    p99: Option<f64>,
    p999: Option<f64>,
    setup_p99: Option<f64>,
    cpu_m: Option<f64>,
    cpu_util: Option<f64>,
    rss_sess: Option<f64>,
    rss_idle: Option<f64>,
    msgs: Option<f64>,
    gen_core: Option<f64>,
    saturated: usize,
    noisy: usize,
    missing: u64,
    errors: u64,
    setup_errors: usize,
}

fn med_of(rs: &[&RunRecord]) -> Med {
    let m =
        |f: &dyn Fn(&RunRecord) -> Option<f64>| median(rs.iter().filter_map(|r| f(r)).collect());
    Med {
        reps: rs.len(),
        p50: m(&|r| Some(r.rtt_p50_us)),
        p99: m(&|r| Some(r.rtt_p99_us)),
        p999: m(&|r| Some(r.rtt_p999_us)),
        setup_p99: m(&|r| Some(r.setup_p99_ms)),
        cpu_m: m(&|r| r.cpu_s_per_million),
        cpu_util: m(&|r| r.target_cpu_util),
        rss_sess: m(&|r| r.rss_per_session_kib),
        rss_idle: m(&|r| r.rss_idle_kib.map(|v| v as f64)),
        msgs: m(&|r| Some(r.msgs_per_s)),
        gen_core: m(&|r| Some(r.gen_core_util)),
        saturated: rs.iter().filter(|r| r.gen_saturated).count(),
        noisy: rs.iter().filter(|r| r.noisy).count(),
        missing: rs.iter().map(|r| r.missing).sum(),
        errors: rs.iter().map(|r| r.errors).sum(),
        setup_errors: rs.iter().map(|r| r.setup_errors).sum(),
    }
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".to_string(), |x| format!("{x:.digits$}"))
}

fn sub(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? - b?)
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    let (a, b) = (a?, b?);
    (b.abs() > f64::EPSILON).then(|| a / b)
}

fn min_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

const ORDER: [&str; 5] = ["direct", "voxrelay", "baseline", "nginx", "haproxy"];

type GroupKey = (String, usize, String);

fn groups(records: &[RunRecord]) -> BTreeMap<GroupKey, BTreeMap<usize, Vec<&RunRecord>>> {
    // key: (label, sessions, rate) → target index → records
    let mut g: BTreeMap<GroupKey, BTreeMap<usize, Vec<&RunRecord>>> = BTreeMap::new();
    for r in records {
        let idx = ORDER
            .iter()
            .position(|t| *t == r.target)
            .unwrap_or(ORDER.len());
        g.entry((r.label.clone(), r.sessions, format!("{}", r.rate_hz)))
            .or_default()
            .entry(idx)
            .or_default()
            .push(r);
    }
    g
}

/// The markdown summary of `records`.
pub fn markdown(records: &[RunRecord]) -> String {
    let mut out = String::new();
    let Some(first) = records.first() else {
        return "no results\n".to_string();
    };
    let _ = writeln!(
        out,
        "Frames {} B → replies {} B; warm-up {} s, window {} s; medians over repetitions. \
         Added = target median − direct median. Best peer = the better of nginx and HAProxy. \
         CPU per million relayed messages = per million client frames (each frame and its reply). RSS per session = (loaded − idle) / N.\n",
        first.frame_bytes, first.reply_bytes, first.warmup_s, first.window_s
    );
    let mut at_1000: Option<BTreeMap<&str, Med>> = None;
    let mut at_2000: Option<BTreeMap<&str, Med>> = None;
    for ((label, n, rate), by_target) in groups(records) {
        let meds: BTreeMap<&str, Med> = by_target
            .values()
            .map(|rs| (rs[0].target.as_str(), med_of(rs)))
            .collect();
        let direct = meds.get("direct").cloned().unwrap_or_default();
        let peer = |f: fn(&Med) -> Option<f64>| -> Option<f64> {
            let added = |t: &str| meds.get(t).and_then(|m| sub(f(m), f(&direct)));
            min_opt(added("nginx"), added("haproxy"))
        };
        let best_p99 = peer(|m| m.p99);
        let nginx_cpu = meds.get("nginx").and_then(|m| m.cpu_m);
        let _ = writeln!(out, "### {label}: N = {n}, {rate} frames/s per session\n");
        let _ = writeln!(
            out,
            "| target | reps | added p50 µs | added p99 µs | added p99.9 µs | added p99 ÷ best peer | CPU-s / M msgs | CPU ÷ nginx | RSS KiB / session | set-up p99 added ms | missing | errors | generator core |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        for (target, m) in by_target
            .values()
            .map(|rs| (rs[0].target.as_str(), &meds[rs[0].target.as_str()]))
        {
            let is_direct = target == "direct";
            let added = |f: fn(&Med) -> Option<f64>| {
                if is_direct {
                    None
                } else {
                    sub(f(m), f(&direct))
                }
            };
            let mut sat = String::new();
            if m.saturated > 0 {
                sat += &format!(" ⚠ saturated in {}/{}", m.saturated, m.reps);
            }
            if m.noisy > 0 {
                sat += &format!(" ⚠ machine busy in {}/{}", m.noisy, m.reps);
            }
            let _ = writeln!(
                out,
                "| {target} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}%{sat} |",
                m.reps,
                fmt_opt(added(|m| m.p50), 0),
                fmt_opt(added(|m| m.p99), 0),
                fmt_opt(added(|m| m.p999), 0),
                fmt_opt(
                    if is_direct {
                        None
                    } else {
                        ratio(added(|m| m.p99), best_p99)
                    },
                    2
                ),
                fmt_opt(m.cpu_m, 2),
                fmt_opt(ratio(m.cpu_m, nginx_cpu), 2),
                fmt_opt(m.rss_sess, 1),
                fmt_opt(added(|m| m.setup_p99), 2),
                m.missing,
                m.errors + m.setup_errors as u64,
                fmt_opt(m.gen_core.map(|v| v * 100.0), 0),
            );
        }
        out.push_str(&baseline_line(&meds, &direct));
        let _ = writeln!(
            out,
            "\nAbsolute medians:\n\n| target | p50 µs | p99 µs | p99.9 µs | set-up p99 ms | msgs/s | target CPU % of core | idle RSS KiB |\n|---|---|---|---|---|---|---|---|"
        );
        for (target, m) in by_target
            .values()
            .map(|rs| (rs[0].target.as_str(), &meds[rs[0].target.as_str()]))
        {
            let _ = writeln!(
                out,
                "| {target} | {} | {} | {} | {} | {} | {} | {} |",
                fmt_opt(m.p50, 0),
                fmt_opt(m.p99, 0),
                fmt_opt(m.p999, 0),
                fmt_opt(m.setup_p99, 2),
                fmt_opt(m.msgs, 0),
                fmt_opt(m.cpu_util.map(|v| v * 100.0), 1),
                fmt_opt(m.rss_idle, 0),
            );
        }
        out.push('\n');
        if label == "active" && n == 1000 {
            at_1000 = Some(meds.clone());
        }
        if label == "active" && n == 2000 {
            at_2000 = Some(meds.clone());
        }
    }
    out.push_str(&targets_check(at_1000.as_ref(), at_2000.as_ref()));
    out
}

/// voxrelay against the `baseline` build in the same group (before/after one change), as
/// ratios of the added latency, CPU per message, RSS per session and set-up added; empty when
/// either is missing.
fn baseline_line(meds: &BTreeMap<&str, Med>, direct: &Med) -> String {
    let (Some(now), Some(base)) = (meds.get("voxrelay"), meds.get("baseline")) else {
        return String::new();
    };
    let added = |m: &Med, f: fn(&Med) -> Option<f64>| sub(f(m), f(direct));
    let r = |f: fn(&Med) -> Option<f64>| fmt_opt(ratio(added(now, f), added(base, f)), 2);
    format!(
        "\nvoxrelay ÷ baseline: added p50 {}×, added p99 {}×, CPU per message {}×, RSS per session {}×, set-up p99 added {}× (below 1 = voxrelay better).\n",
        r(|m| m.p50),
        r(|m| m.p99),
        fmt_opt(ratio(now.cpu_m, base.cpu_m), 2),
        fmt_opt(ratio(now.rss_sess, base.rss_sess), 2),
        r(|m| m.setup_p99),
    )
}

/// The targets for voxrelay at N = 1,000 (and 2,000 clean), as a table.
fn targets_check(
    at_1000: Option<&BTreeMap<&str, Med>>,
    at_2000: Option<&BTreeMap<&str, Med>>,
) -> String {
    let mut out = String::from(
        "### Targets (voxrelay, N = 1,000)\n\n| target | voxrelay | bound | verdict |\n|---|---|---|---|\n",
    );
    let verdict = |ok: Option<bool>| match ok {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "n/a (missing data)",
    };
    let Some(m) = at_1000 else {
        out.push_str("| all | – | – | n/a (no N = 1,000 run) |\n");
        return out;
    };
    let get = |t: &str| m.get(t).cloned();
    let direct = get("direct").unwrap_or_default();
    let vox = get("voxrelay");
    let added = |t: &str, f: fn(&Med) -> Option<f64>| get(t).and_then(|x| sub(f(&x), f(&direct)));
    let vox_p99 = added("voxrelay", |m| m.p99);
    let best = min_opt(added("nginx", |m| m.p99), added("haproxy", |m| m.p99));
    let cmp = |a: Option<f64>, b: Option<f64>| Some(a? <= b?);
    let _ = writeln!(
        out,
        "| added p99 ≤ better of nginx/HAProxy | {} µs | {} µs | {} |",
        fmt_opt(vox_p99, 0),
        fmt_opt(best, 0),
        verdict(cmp(vox_p99, best))
    );
    let vox_cpu = vox.as_ref().and_then(|v| v.cpu_m);
    let ngx_cpu = get("nginx").and_then(|v| v.cpu_m);
    let _ = writeln!(
        out,
        "| CPU per million messages ≤ nginx's | {} CPU-s | {} CPU-s | {} |",
        fmt_opt(vox_cpu, 2),
        fmt_opt(ngx_cpu, 2),
        verdict(cmp(vox_cpu, ngx_cpu))
    );
    let vox_rss = vox.as_ref().and_then(|v| v.rss_sess);
    let _ = writeln!(
        out,
        "| RSS ≤ 16 KiB per active session | {} KiB | 16 KiB | {} |",
        fmt_opt(vox_rss, 1),
        verdict(cmp(vox_rss, Some(16.0)))
    );
    let clean2000 = at_2000
        .and_then(|g| g.get("voxrelay"))
        .map(|v| v.missing == 0 && v.errors == 0 && v.setup_errors == 0 && v.saturated == 0);
    let _ = writeln!(
        out,
        "| 2,000 sessions clean | {} | no errors, no missing replies, generator not saturated | {} |",
        match clean2000 {
            Some(true) => "clean",
            Some(false) => "not clean",
            None => "–",
        },
        verdict(clean2000)
    );
    let vox_setup = added("voxrelay", |m| m.setup_p99);
    let ngx_setup = added("nginx", |m| m.setup_p99);
    let _ = writeln!(
        out,
        "| set-up p99 added ≤ nginx's | {} ms | {} ms | {} |",
        fmt_opt(vox_setup, 2),
        fmt_opt(ngx_setup, 2),
        verdict(cmp(vox_setup, ngx_setup))
    );
    out
}

/// One run's set-up trace as tab-separated lines — target, N, repetition (from 1), session
/// id, start after the first set-up began (µs), set-up time (µs) — in start order.
pub fn setup_trace(
    target: &str,
    n: usize,
    rep: usize,
    trace: &[(u32, std::time::Duration, std::time::Duration)],
) -> String {
    let mut sorted = trace.to_vec();
    sorted.sort_by_key(|&(id, start, _)| (start, id));
    sorted
        .iter()
        .map(|(id, start, took)| {
            format!(
                "{target}\t{n}\t{}\t{id}\t{}\t{}\n",
                rep + 1,
                start.as_micros(),
                took.as_micros()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{Med, baseline_line, median, setup_trace};
    use std::collections::BTreeMap;
    use std::time::Duration;

    #[test]
    fn baseline_line_divides_voxrelay_by_baseline_above_direct() {
        let direct = Med {
            p50: Some(100.0),
            p99: Some(1000.0),
            setup_p99: Some(1.0),
            ..Med::default()
        };
        let at = |p50: f64, cpu: f64| Med {
            p50: Some(p50),
            p99: Some(1400.0),
            setup_p99: Some(3.0),
            cpu_m: Some(cpu),
            rss_sess: Some(20.0),
            ..Med::default()
        };
        let mut meds = BTreeMap::from([("voxrelay", at(150.0, 9.0))]);
        assert_eq!(baseline_line(&meds, &direct), "");
        meds.insert("baseline", at(200.0, 10.0));
        let line = baseline_line(&meds, &direct);
        assert!(line.contains("added p50 0.50×"), "{line}");
        assert!(line.contains("added p99 1.00×"), "{line}");
        assert!(line.contains("CPU per message 0.90×"), "{line}");
        assert!(line.contains("RSS per session 1.00×"), "{line}");
        assert!(line.contains("set-up p99 added 1.00×"), "{line}");
    }

    #[test]
    fn setup_trace_lines_are_in_start_order() {
        let us = Duration::from_micros;
        let trace = [
            (7, us(300), us(4_100)),
            (3, us(0), us(20_500)),
            (5, us(300), us(900)),
        ];
        assert_eq!(
            setup_trace("voxrelay", 1000, 0, &trace),
            "voxrelay\t1000\t1\t3\t0\t20500\n\
             voxrelay\t1000\t1\t5\t300\t900\n\
             voxrelay\t1000\t1\t7\t300\t4100\n"
        );
    }

    #[test]
    fn median_odd_even_empty() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
