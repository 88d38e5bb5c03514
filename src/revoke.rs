//! Ending live sessions whose credential was withdrawn: a client key removed from the
//! configuration by a reload, or a client id or token id (`jti`) revoked cluster-wide.
//!
//! Every session registers its client id and token id when it is admitted; the
//! [`Registration`] unregisters on drop. A revocation marks the matching sessions with a reason
//! and wakes their relays, which close both sides with 1008 and that reason.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio_util::sync::CancellationToken;

/// The live sessions of this replica, by credential.
#[derive(Debug, Default)]
pub(crate) struct Revocations {
    live: Mutex<HashMap<u64, Arc<Entry>>>,
    next: AtomicU64,
}

#[derive(Debug)]
struct Entry {
    client_id: String,
    jti: Option<String>,
    stop: CancellationToken,
    reason: OnceLock<String>,
}

impl Entry {
    fn revoke(&self, reason: &str) -> bool {
        if self.stop.is_cancelled() {
            return false;
        }
        let _ = self.reason.set(reason.to_owned());
        self.stop.cancel();
        true
    }
}

/// One session's place in [`Revocations`]; removed on drop.
#[derive(Debug)]
pub(crate) struct Registration {
    registry: Arc<Revocations>,
    id: u64,
    entry: Arc<Entry>,
}

/// What a session's relay watches: fires when its credential is revoked.
#[derive(Debug, Clone)]
pub(crate) struct Revoked(Arc<Entry>);

impl Revoked {
    /// Completes when the session's credential is revoked.
    pub(crate) fn cancelled(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.0.stop.cancelled()
    }

    /// Why, once revoked.
    pub(crate) fn reason(&self) -> &str {
        self.0
            .reason
            .get()
            .map_or("credential revoked", String::as_str)
    }
}

impl Registration {
    /// The handle the session's relay watches.
    pub(crate) fn watch(&self) -> Revoked {
        Revoked(self.entry.clone())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

impl Revocations {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Entry>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a session of `client_id`, authenticated by token `jti` when it used one.
    pub(crate) fn register(self: &Arc<Self>, client_id: &str, jti: Option<&str>) -> Registration {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(Entry {
            client_id: client_id.to_owned(),
            jti: jti.map(str::to_owned),
            stop: CancellationToken::new(),
            reason: OnceLock::new(),
        });
        self.lock().insert(id, entry.clone());
        Registration {
            registry: self.clone(),
            id,
            entry,
        }
    }

    /// Ends every live session of `client_id` with `reason`; returns how many.
    pub(crate) fn revoke_client(&self, client_id: &str, reason: &str) -> usize {
        self.revoke_where(|e| e.client_id == client_id, reason)
    }

    /// Ends every live session authenticated by token `jti` with `reason`; returns how many.
    pub(crate) fn revoke_jti(&self, jti: &str, reason: &str) -> usize {
        self.revoke_where(|e| e.jti.as_deref() == Some(jti), reason)
    }

    fn revoke_where(&self, matches: impl Fn(&Entry) -> bool, reason: &str) -> usize {
        let hits: Vec<Arc<Entry>> = self
            .lock()
            .values()
            .filter(|e| matches(e))
            .cloned()
            .collect();
        hits.iter().filter(|e| e.revoke(reason)).count()
    }

    /// The distinct client ids and token ids of this replica's live sessions (what a
    /// cluster-wide revocation check asks about).
    pub(crate) fn live_credentials(&self) -> (Vec<String>, Vec<String>) {
        let live = self.lock();
        let mut clients: Vec<String> = live.values().map(|e| e.client_id.clone()).collect();
        let mut jtis: Vec<String> = live.values().filter_map(|e| e.jti.clone()).collect();
        drop(live);
        clients.sort_unstable();
        clients.dedup();
        jtis.sort_unstable();
        jtis.dedup();
        (clients, jtis)
    }

    /// How many sessions are registered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn revoking_a_client_ends_only_its_sessions_with_the_reason() {
        let r = Arc::new(Revocations::default());
        let a1 = r.register("a", None);
        let a2 = r.register("a", Some("t1"));
        let b = r.register("b", None);
        assert_eq!(r.revoke_client("a", "client key removed"), 2);
        a1.watch().cancelled().await;
        a2.watch().cancelled().await;
        assert_eq!(a1.watch().reason(), "client key removed");
        assert!(!b.entry.stop.is_cancelled());
        // a second revocation neither counts nor changes the reason
        assert_eq!(r.revoke_client("a", "other"), 0);
        assert_eq!(a2.watch().reason(), "client key removed");
    }

    #[tokio::test]
    async fn revoking_a_token_id_ends_the_sessions_that_used_it() {
        let r = Arc::new(Revocations::default());
        let t = r.register("a", Some("t1"));
        let other = r.register("a", Some("t2"));
        assert_eq!(r.revoke_jti("t1", "token revoked"), 1);
        t.watch().cancelled().await;
        assert_eq!(t.watch().reason(), "token revoked");
        assert!(!other.entry.stop.is_cancelled());
        assert_eq!(r.revoke_jti("nope", "token revoked"), 0);
    }

    #[test]
    fn a_dropped_registration_is_forgotten_and_credentials_are_listed_once() {
        let r = Arc::new(Revocations::default());
        let a = r.register("a", Some("t1"));
        let a2 = r.register("a", Some("t1"));
        let b = r.register("b", None);
        assert_eq!(r.len(), 3);
        assert_eq!(
            r.live_credentials(),
            (vec!["a".to_owned(), "b".to_owned()], vec!["t1".to_owned()])
        );
        drop((a, a2, b));
        assert_eq!(r.len(), 0);
        assert_eq!(r.revoke_client("a", "x"), 0);
    }
}
