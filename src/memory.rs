//! Memory: the worst case one session can hold, the limit the process runs under (cgroup or
//! physical memory), the warning at start when `max_sessions` sessions could exceed it, and the
//! allocator setting that returns large buffers to the system when they are freed.

use std::path::Path;

use crate::config::ServerConfig;

/// Memory a session holds besides its WebSocket buffers (task, sockets, kernel buffers are not
/// counted): about what BENCHMARKS.md measures per session, rounded up.
const SESSION_BASE_BYTES: u64 = 8 * 1024;

/// Allocations at least this large are mapped on their own and unmapped when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD_BYTES: i32 = 128 * 1024;

/// The most memory one session can hold, in bytes, with these settings.
///
/// Each session relays in both directions. Binary frames pass through as they arrive, so per
/// direction a session holds at most one read buffer (`read_buffer_bytes`, lent while data is in
/// flight), a text message being collected for the provider hooks (up to `max_message_bytes`)
/// and that message re-encoded on its way out (the same again; each direction waits for its
/// write before reading on).
pub fn worst_case_session_bytes(server: &ServerConfig) -> u64 {
    let message = server.max_message_bytes as u64;
    message
        .saturating_mul(2)
        .saturating_add(server.read_buffer_bytes as u64)
        .saturating_mul(2)
        .saturating_add(SESSION_BASE_BYTES)
}

/// Where a memory limit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSource {
    /// The cgroup's `memory.max` (v2) or `memory.limit_in_bytes` (v1): a container limit.
    Cgroup,
    /// `MemTotal` in `/proc/meminfo`: no cgroup limit is set.
    Physical,
}

impl LimitSource {
    /// `cgroup` or `physical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cgroup => "cgroup",
            Self::Physical => "physical",
        }
    }
}

/// The memory limit this process runs under, read from `root` (normally `/`).
pub fn memory_limit(root: &Path) -> Option<(u64, LimitSource)> {
    let read = |p: &str| std::fs::read_to_string(root.join(p)).ok();
    let cgroup = read("sys/fs/cgroup/memory.max")
        .or_else(|| read("sys/fs/cgroup/memory/memory.limit_in_bytes"))
        .and_then(|v| parse_cgroup_limit(&v));
    if let Some(limit) = cgroup {
        return Some((limit, LimitSource::Cgroup));
    }
    let total = read("proc/meminfo").and_then(|v| parse_mem_total(&v))?;
    Some((total, LimitSource::Physical))
}

/// A cgroup limit in bytes; `max` (v2) or the v1 "unlimited" value (near `i64::MAX`) mean none.
fn parse_cgroup_limit(text: &str) -> Option<u64> {
    let bytes: u64 = text.trim().parse().ok()?;
    (bytes < 1 << 60).then_some(bytes)
}

/// `MemTotal:  24576000 kB` → bytes.
fn parse_mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// What `max_sessions` sessions could hold against the limit, when they could exceed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overcommit {
    /// Worst case for one session, bytes.
    pub per_session: u64,
    /// Worst case for `max_sessions` sessions, bytes.
    pub total: u64,
    /// The limit, bytes.
    pub limit: u64,
    /// Sessions that fit in the limit at their worst.
    pub sessions_that_fit: u64,
}

/// `Some` when `max_sessions` sessions at their worst would exceed `limit`.
pub fn overcommit(server: &ServerConfig, max_sessions: usize, limit: u64) -> Option<Overcommit> {
    let per_session = worst_case_session_bytes(server);
    let total = per_session.saturating_mul(max_sessions as u64);
    (total > limit).then_some(Overcommit {
        per_session,
        total,
        limit,
        sessions_that_fit: limit / per_session.max(1),
    })
}

/// Logs a warning when `max_sessions` sessions could, at their worst, hold more memory than the
/// process may use (the cgroup limit in a container, else physical memory).
pub fn warn_if_overcommitted(server: &ServerConfig, max_sessions: usize) {
    let Some((limit, source)) = memory_limit(Path::new("/")) else {
        return;
    };
    let mib = |b: u64| b / (1024 * 1024);
    match overcommit(server, max_sessions, limit) {
        Some(o) => tracing::warn!(
            max_sessions,
            worst_case_per_session_mib = mib(o.per_session),
            worst_case_total_mib = mib(o.total),
            memory_limit_mib = mib(o.limit),
            memory_limit_source = source.as_str(),
            sessions_that_fit = o.sessions_that_fit,
            "limits.max_sessions sessions could hold more memory than the limit at their worst \
             (every session receiving and sending server.max_message_bytes at once); lower \
             limits.max_sessions or server.max_message_bytes, or raise the memory limit"
        ),
        None => tracing::debug!(
            worst_case_per_session_bytes = worst_case_session_bytes(server),
            memory_limit_mib = mib(limit),
            memory_limit_source = source.as_str(),
            "memory limit holds max_sessions at their worst"
        ),
    }
}

/// Makes the allocator return large buffers to the system as soon as they are freed.
///
/// glibc maps allocations above its mmap threshold on their own, but raises the threshold each
/// time such a block is freed (up to 32 MiB): after the first sessions that relayed 1 MiB
/// messages end, later 1 MiB buffers come from the heap and stay with the process once freed
/// (measured: 150 MiB kept after 100 such sessions ended). A fixed threshold turns the raising
/// off. Call once, before any thread starts.
pub fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator tuning parameters; it is called before the
        // runtime starts any thread, and M_MMAP_THRESHOLD with a value below the 32 MiB maximum
        // is a documented, valid setting.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_worst_case_is_two_directions_of_a_text_message_twice_and_a_read_buffer() {
        let server = ServerConfig::default();
        let mib = 1024 * 1024;
        // (collected 1 MiB + re-encoded 1 MiB + 4 KiB read buffer), twice, plus 8 KiB
        assert_eq!(
            worst_case_session_bytes(&server),
            2 * (2 * mib + 4 * 1024) + 8 * 1024
        );
        let small = ServerConfig {
            max_message_bytes: 64 * 1024,
            ..ServerConfig::default()
        };
        assert_eq!(
            worst_case_session_bytes(&small),
            2 * (128 * 1024 + 4 * 1024) + 8 * 1024
        );
    }

    #[test]
    fn overcommit_is_reported_only_past_the_limit() {
        let server = ServerConfig::default();
        let per = worst_case_session_bytes(&server);
        assert_eq!(overcommit(&server, 10, per * 10), None);
        let o = overcommit(&server, 10_000, 512 << 20).unwrap();
        assert_eq!(o.per_session, per);
        assert_eq!(o.sessions_that_fit, (512 << 20) / per);
        assert!(overcommit(&server, usize::MAX, u64::MAX - 1).is_some());
    }

    #[test]
    fn limits_come_from_the_cgroup_then_physical_memory() {
        let root = std::env::temp_dir().join(format!("voxrelay-mem-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(root.join("proc")).unwrap();
        std::fs::create_dir_all(root.join("sys/fs/cgroup/memory")).unwrap();
        std::fs::write(
            root.join("proc/meminfo"),
            "MemTotal:  2048 kB\nMemFree: 1 kB\n",
        )
        .unwrap();
        assert_eq!(
            memory_limit(&root),
            Some((2048 * 1024, LimitSource::Physical))
        );
        // cgroup v1 "unlimited"
        std::fs::write(
            root.join("sys/fs/cgroup/memory/memory.limit_in_bytes"),
            "9223372036854771712\n",
        )
        .unwrap();
        assert_eq!(memory_limit(&root).unwrap().1, LimitSource::Physical);
        std::fs::write(root.join("sys/fs/cgroup/memory.max"), "max\n").unwrap();
        assert_eq!(memory_limit(&root).unwrap().1, LimitSource::Physical);
        std::fs::write(root.join("sys/fs/cgroup/memory.max"), "536870912\n").unwrap();
        assert_eq!(memory_limit(&root), Some((512 << 20, LimitSource::Cgroup)));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
