//! Open TCP connections per client IP (`limits.max_connections_per_ip`): counted from accept
//! until the socket closes, upgraded WebSockets included, so one address cannot hold every file
//! descriptor.
//!
//! The count is taken at accept time, from the socket peer, before any request is read. Trusted
//! proxies are exempt: one proxy connection carries many clients, its own connection count is
//! bounded by the proxy's configuration, and the forwarded client IP is only known once a request
//! head arrives, when the descriptor is already spent.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::limits::ClientIp;

/// Counts open connections per client IP (IPv6 per prefix) under one cap.
#[derive(Debug)]
pub(crate) struct ConnectionLimit {
    /// Most connections per address; 0 means no cap (a reload may change it).
    max: AtomicU32,
    /// Which peers are proxies, and how addresses are grouped.
    ip: ClientIp,
    /// Open connections per grouped address.
    open: Mutex<HashMap<IpAddr, u32>>,
}

/// One counted connection; dropping it gives the place back.
#[derive(Debug)]
pub(crate) struct ConnectionGuard {
    limit: Arc<ConnectionLimit>,
    key: IpAddr,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut open = self.limit.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Why a connection was refused: the cap it hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OverLimit(pub u32);

impl ConnectionLimit {
    /// A cap of `max` connections per address (0: none), grouping and exempting per `ip`.
    pub(crate) fn new(max: u32, ip: ClientIp) -> Arc<Self> {
        Arc::new(Self {
            max: AtomicU32::new(max),
            ip,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Counts a connection from `peer`: `Ok(None)` when uncounted (no cap, trusted proxy),
    /// `Ok(Some(guard))` while under the cap, `Err` when `peer` already holds `max`.
    pub(crate) fn admit(
        self: &Arc<Self>,
        peer: IpAddr,
    ) -> Result<Option<ConnectionGuard>, OverLimit> {
        let max = self.max.load(Ordering::Relaxed);
        if max == 0 || self.ip.is_trusted(peer) {
            return Ok(None);
        }
        let key = self.ip.bucket(peer);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(key).or_insert(0);
        if *n >= max {
            return Err(OverLimit(max));
        }
        *n += 1;
        Ok(Some(ConnectionGuard {
            limit: self.clone(),
            key,
        }))
    }

    /// The cap (0: none).
    pub(crate) fn max(&self) -> u32 {
        self.max.load(Ordering::Relaxed)
    }

    /// Changes the cap (0: none); connections already open stay open.
    pub(crate) fn set_max(&self, max: u32) {
        self.max.store(max, Ordering::Relaxed);
    }

    /// Connections open from `peer`'s group.
    #[cfg(test)]
    pub(crate) fn open_from(&self, peer: IpAddr) -> u32 {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(&self.ip.bucket(peer)).copied().unwrap_or(0)
    }
}

/// A stream that holds its connection's place until it is dropped, wherever it ends up (hyper
/// hands it to the WebSocket session on upgrade).
#[derive(Debug)]
pub(crate) struct Counted<S> {
    inner: S,
    _guard: Option<ConnectionGuard>,
}

impl<S> Counted<S> {
    /// Wraps `inner`, holding `guard` for its lifetime.
    pub(crate) fn new(inner: S, guard: Option<ConnectionGuard>) -> Self {
        Self {
            inner,
            _guard: guard,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(max: u32, trusted: &[&str]) -> Arc<ConnectionLimit> {
        let trusted = trusted.iter().map(|t| t.parse().unwrap()).collect();
        let ip = ClientIp::new(trusted, "x-forwarded-for".parse().unwrap(), 64);
        ConnectionLimit::new(max, ip)
    }

    #[test]
    fn the_cap_holds_per_address_and_frees_on_drop() {
        let l = limit(2, &[]);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let first = l.admit(a).unwrap();
        let _second = l.admit(a).unwrap();
        assert_eq!(l.admit(a).unwrap_err(), OverLimit(2));
        assert!(l.admit("192.0.2.2".parse().unwrap()).is_ok(), "per address");
        drop(first);
        assert_eq!(l.open_from(a), 1);
        assert!(l.admit(a).unwrap().is_some());
    }

    #[test]
    fn ipv6_counts_per_prefix_and_mapped_ipv4_as_ipv4() {
        let l = limit(1, &[]);
        let _held = l.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(l.admit("2001:db8:1:2:ffff::9".parse().unwrap()).is_err());
        assert!(l.admit("2001:db8:1:3::1".parse().unwrap()).is_ok());
        let _v4 = l.admit("198.51.100.4".parse().unwrap()).unwrap();
        assert!(l.admit("::ffff:198.51.100.4".parse().unwrap()).is_err());
    }

    #[test]
    fn trusted_proxies_and_a_zero_cap_are_not_counted() {
        let l = limit(1, &["10.0.0.0/8"]);
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        for _ in 0..5 {
            assert!(l.admit(proxy).unwrap().is_none());
        }
        let off = limit(0, &[]);
        assert!(off.admit("192.0.2.1".parse().unwrap()).unwrap().is_none());
    }
}
