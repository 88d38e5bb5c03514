//! voxrelay: a self-hosted WebSocket relay that lets browsers stream audio to Deepgram
//! speech-to-text and receive Deepgram text-to-speech, directly or through Cloudflare AI
//! Gateway, without the page ever holding an API key.
//!
//! # Layout
//!
//! Public, for the binary, the integration tests and the fuzz targets:
//!
//! - [`config`]: TOML + `VOXRELAY_` env layers, validated into [`config::Settings`].
//! - [`App`]: [`App::build`] and [`App::run`] with the drain.
//! - [`auth`]: tokens from subprotocols or headers, client keys, the echoed subprotocol.
//! - [`token`]: JWT verification and minting.
//! - [`rewrite`]: model aliases, allowlists and the forwarded query.
//! - [`origin`]: `Origin` patterns.
//! - [`client`]: the upstream WebSocket client (TLS, limits, deadline) on its own.
//! - [`cluster`]: `[cluster]`, limits and revocations shared by every replica through Redis, and
//!   what `voxrelay revoke` writes.
//! - [`simulate`]: fake upstreams of every supported provider API for keyless local runs and tests.
//! - [`metrics`], [`telemetry`], [`shutdown`], [`secret`], [`health`], [`fds`], [`memory`]: the
//!   supporting cast.
//!
//! Crate-internal:
//!
//! - `app` builds and runs; `state` holds what every handler shares.
//! - `serve`: the accept loop (HTTP/1.1 with upgrades, request-head deadline and size);
//!   `conns`: open connections per client IP; `tls`: the listener's own TLS.
//! - `http`: the router: health, readiness, metrics and one handler per route; `grant`: the
//!   grant endpoint; `demo`: the demo page.
//! - `session`: a session's phases, from handshake checks to the recorded outcome; `route`: a
//!   route at runtime; `limits`: rate limits and caps; `error`: refusals before the upgrade.
//! - `provider`: one module per upstream API (Deepgram, Cloudflare Workers AI) and the registry.
//! - `upstream`: a configured upstream's URL and headers; TLS and the connect deadline.
//! - `relay`: the two-way pump with close propagation and backpressure; `usage`: metering.

mod app;
pub mod auth;
pub mod cluster;
pub mod config;
mod conns;
mod demo;
mod error;
pub mod fds;
mod grant;
pub mod health;
mod http;
mod limits;
pub mod memory;
pub mod metrics;
pub mod origin;
mod provider;
mod relay;
mod reload;
mod rest;
mod revoke;
pub mod rewrite;
mod route;
pub mod secret;
mod serve;
mod session;
pub mod shutdown;
pub mod simulate;
mod state;
pub mod telemetry;
mod tls;
pub mod token;
mod upstream;
mod usage;

pub use app::App;

/// The upstream WebSocket client on its own: TLS roots, limits and the connect deadline (the
/// Autobahn client-leg run drives it directly).
pub mod client {
    pub use crate::upstream::{
        TlsError, UpstreamConnector, UpstreamError, UpstreamSocket, tls_config,
    };
}
