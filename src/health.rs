//! The client side of `voxrelay healthcheck`: one HTTP GET to the relay's own health endpoint,
//! so a container can probe itself without curl; over TLS when the listener speaks it.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;

/// GETs `path` on `addr` (an unspecified address means loopback) and returns the HTTP status;
/// with `tls`, over a TLS connection made with that client configuration.
pub fn probe(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> std::io::Result<u16> {
    let addr = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    };
    let tcp = TcpStream::connect_timeout(&addr, timeout)?;
    tcp.set_read_timeout(Some(timeout))?;
    tcp.set_write_timeout(Some(timeout))?;
    match tls {
        None => exchange(tcp, addr, path),
        Some(config) => {
            let name = ServerName::IpAddress(addr.ip().into());
            let conn =
                rustls::ClientConnection::new(config, name).map_err(std::io::Error::other)?;
            exchange(rustls::StreamOwned::new(conn, tcp), addr, path)
        }
    }
}

fn exchange(mut stream: impl Read + Write, addr: SocketAddr, path: &str) -> std::io::Result<u16> {
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    stream.flush()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response"))
}
