//! The certificate every new handshake gets, swapped whole on reload. Connections already
//! established keep the keys they negotiated, so a swap never touches a live session.

use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::Identity;

/// Holds the current pair.
#[derive(Debug)]
pub(crate) struct CertResolver {
    current: RwLock<Identity>,
}

impl CertResolver {
    /// Starts with `identity`.
    pub(crate) fn new(identity: Identity) -> Self {
        Self {
            current: RwLock::new(identity),
        }
    }

    /// The pair new handshakes get.
    pub(crate) fn current(&self) -> Identity {
        // a panic while holding the lock cannot leave a half-written Identity: take it anyway
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Makes `identity` the pair for every handshake from now on.
    pub(crate) fn set(&self, identity: Identity) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = identity;
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current().key)
    }
}
