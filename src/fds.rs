//! Open files: voxrelay raises its soft open-file limit to the hard limit and grows the
//! kernel's descriptor table for the configured session cap up front, while the process still
//! has one thread.
//!
//! Why up front: the table doubles as descriptors are opened (64, 128, 256, … slots), and in a
//! process with more than one thread each doubling waits for an RCU grace period inside the
//! `socket()` or `accept()` that crossed the boundary. That wait measured about 16 ms here, with
//! the runtime worker stalled and every handshake in flight waiting behind it. With one thread
//! the kernel skips the wait, and the table never shrinks.

use std::fs::File;

use rustix::io::fcntl_dupfd_cloexec;
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Descriptors one session holds: the client's socket and the upstream's.
const PER_SESSION: u64 = 2;
/// Descriptors besides sessions: listener, epoll, signal pipe, config and CA files, handshakes.
const SPARE: u64 = 64;
/// Largest table grown up front (the kernel keeps 8 bytes per slot).
const MAX_PRESIZE: u64 = 1 << 17;

/// What [`prepare`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    /// The soft open-file limit now in force (`None`: unlimited).
    pub limit: Option<u64>,
    /// Descriptor slots the table was grown to (0: left as it was).
    pub presized: u64,
    /// Descriptors `max_sessions` sessions need.
    pub needed: u64,
}

impl OpenFiles {
    /// Sessions the open-file limit can hold.
    pub fn sessions_possible(&self) -> Option<u64> {
        self.limit
            .map(|limit| limit.saturating_sub(SPARE) / PER_SESSION)
    }
}

/// Raises the soft limit to the hard limit and grows the descriptor table to what
/// `max_sessions` sessions need (bounded by the limit). Call it before any thread starts.
pub fn prepare(max_sessions: usize) -> OpenFiles {
    let Rlimit { current, maximum } = getrlimit(Resource::Nofile);
    let mut limit = current;
    if let (Some(soft), Some(hard)) = (current, maximum)
        && hard > soft
    {
        let raised = Rlimit {
            current: Some(hard),
            maximum: Some(hard),
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            limit = Some(hard);
        }
    }
    let needed = (max_sessions as u64)
        .saturating_mul(PER_SESSION)
        .saturating_add(SPARE);
    let target = needed.min(limit.unwrap_or(u64::MAX)).min(MAX_PRESIZE);
    OpenFiles {
        limit,
        presized: grow_table(target),
        needed,
    }
}

/// Makes the table hold at least `slots` descriptors by briefly duplicating one to slot
/// `slots - 1`. Returns `slots` on success, 0 if nothing was done.
fn grow_table(slots: u64) -> u64 {
    let Ok(top) = i32::try_from(slots.saturating_sub(1)) else {
        return 0;
    };
    if top < SPARE as i32 {
        return 0;
    }
    let Ok(null) = File::open("/dev/null") else {
        return 0;
    };
    match fcntl_dupfd_cloexec(&null, top) {
        Ok(_high) => slots, // closed on drop; the table keeps its size
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's table size for this process (`FDSize` in `/proc/self/status`).
    fn table_size() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
        status
            .lines()
            .find_map(|l| l.strip_prefix("FDSize:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("FDSize line")
    }

    #[test]
    fn the_table_is_grown_for_the_session_cap_and_the_soft_limit_raised() {
        let files = prepare(1_500);
        assert_eq!(files.needed, 3_064);
        let hard = getrlimit(Resource::Nofile).maximum;
        assert_eq!(
            files.limit,
            hard.or(files.limit),
            "soft limit raised to the hard one"
        );
        if files.limit.is_some_and(|l| l >= 3_064) {
            assert_eq!(files.presized, 3_064);
            assert!(table_size() >= 3_064, "table holds {}", table_size());
        }
        assert_eq!(files.sessions_possible(), files.limit.map(|l| (l - 64) / 2));
    }

    #[test]
    fn a_small_cap_leaves_the_table_alone() {
        assert_eq!(grow_table(10), 0);
        assert_eq!(prepare(0).presized, 0);
    }
}
