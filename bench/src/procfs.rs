//! CPU time and resident memory of a process tree, read from `/proc`.

use std::fs;
use std::process::Command;

/// One reading of a process tree: CPU seconds so far (user + system) and resident set size.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    /// utime + stime of every process in the tree, in seconds.
    pub cpu_s: f64,
    /// Sum of `VmRSS` over the tree, in KiB.
    pub rss_kib: u64,
}

/// Clock ticks per second for `/proc/<pid>/stat` times (`getconf CLK_TCK`, 100 if unknown).
pub fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|v| *v > 0.0)
        .unwrap_or(100.0)
}

/// `pid` and all its descendants (nginx's master and worker, for example).
pub fn tree(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        if let Ok(tasks) = fs::read_dir(format!("/proc/{p}/task")) {
            for task in tasks.flatten() {
                let path = task.path().join("children");
                if let Ok(children) = fs::read_to_string(path) {
                    for c in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                        if !out.contains(&c) {
                            out.push(c);
                        }
                    }
                }
            }
        }
        i += 1;
    }
    out
}

/// CPU seconds (utime + stime) of one process; `None` if it is gone.
pub fn cpu_s(pid: u32, tck: f64) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / tck)
}

/// Resident set size of one process in KiB; `None` if it is gone.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Sum of CPU and RSS over `pid`'s process tree.
pub fn sample_tree(pid: u32, tck: f64) -> Usage {
    let mut u = Usage::default();
    for p in tree(pid) {
        u.cpu_s += cpu_s(p, tck).unwrap_or(0.0);
        u.rss_kib += rss_kib(p).unwrap_or(0);
    }
    u
}

/// Machine-wide CPU seconds from `/proc/stat` (all cores together).
#[derive(Clone, Copy, Debug, Default)]
pub struct HostCpu {
    /// user + nice + system: what processes are charged with.
    pub task_s: f64,
    /// irq + softirq (loopback networking shows up here).
    pub irq_s: f64,
    /// Time the hypervisor ran something else.
    pub steal_s: f64,
}

/// Reads the aggregate `cpu` line of `/proc/stat`.
pub fn host_cpu(tck: f64) -> HostCpu {
    let text = fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = text.lines().find(|l| l.starts_with("cpu ")) else {
        return HostCpu::default();
    };
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let f = |i: usize| v.get(i).copied().unwrap_or(0.0) / tck;
    // user nice system idle iowait irq softirq steal
    HostCpu {
        task_s: f(0) + f(1) + f(2),
        irq_s: f(5) + f(6),
        steal_s: f(7),
    }
}
