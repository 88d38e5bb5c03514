//! A per-upstream circuit breaker: after `threshold` consecutive connect failures the upstream
//! is skipped for `cooldown`, then given one trial (half-open); a success closes it again.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Breaker state for one upstream.
#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    cooldown: Duration,
    failures: AtomicU32,
    open_until: Mutex<Option<Instant>>,
}

impl Breaker {
    /// A closed breaker that opens after `threshold` consecutive failures.
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold,
            cooldown,
            failures: AtomicU32::new(0),
            open_until: Mutex::new(None),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.open_until.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether an attempt may be made now (closed, or cooling down has ended).
    pub(crate) fn allows(&self, now: Instant) -> bool {
        self.slot().is_none_or(|until| now >= until)
    }

    /// True while attempts are being skipped.
    #[cfg(test)]
    pub(crate) fn is_open(&self, now: Instant) -> bool {
        !self.allows(now)
    }

    /// The upstream answered (even with a 4xx): it is alive.
    pub(crate) fn record_success(&self) {
        self.failures.store(0, Ordering::SeqCst);
        *self.slot() = None;
    }

    /// A connect failed; returns true when this failure opened the breaker.
    pub(crate) fn record_failure(&self, now: Instant) -> bool {
        let failures = self.failures.fetch_add(1, Ordering::SeqCst) + 1;
        if failures < self.threshold {
            return false;
        }
        // a failed half-open trial re-opens for a full cool-down
        *self.slot() = Some(now + self.cooldown);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_half_opens_after_cooldown() {
        let b = Breaker::new(2, Duration::from_secs(30));
        let t0 = Instant::now();
        assert!(!b.record_failure(t0));
        assert!(b.allows(t0));
        assert!(b.record_failure(t0));
        assert!(b.is_open(t0 + Duration::from_secs(29)));
        assert!(
            b.allows(t0 + Duration::from_secs(30)),
            "half-open after the cool-down"
        );
        assert!(
            b.record_failure(t0 + Duration::from_secs(30)),
            "a failed trial re-opens"
        );
        assert!(b.is_open(t0 + Duration::from_secs(59)));
        b.record_success();
        assert!(b.allows(t0 + Duration::from_secs(31)));
        assert!(!b.record_failure(t0), "the count restarted");
    }
}
