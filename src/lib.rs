//! voxrelay: a self-hosted WebSocket relay that lets browsers stream audio to Deepgram
//! speech-to-text and receive Deepgram text-to-speech, directly or through Cloudflare AI
//! Gateway, without the page ever holding an API key.
//!
//! # Layout
//!
//! - [`config`]: TOML + `VOXRELAY_` env layers, validated into [`config::Settings`].
//! - [`app`]: [`app::App::build`] and [`app::App::run`] with the drain.
//! - [`state`]: the state every handler shares.
//! - [`serve`]: the accept loop (HTTP/1.1 with upgrades, request-head deadline and size).
//! - [`conns`]: open connections per client IP, counted from accept to close.
//! - [`tls`]: the listener's own TLS: PEM pair, reload on change, per-connection handshake.
//! - [`http`]: the router: health, readiness, metrics and one handler per route.
//! - [`workers_ai`]: Cloudflare's `/workers-ai` path shape, handed to the route of the model's kind.
//! - [`session`]: a session's phases, from handshake checks to the recorded outcome.
//! - [`auth`]: tokens from subprotocols or headers, client keys, the echoed subprotocol.
//! - [`rewrite`]: model aliases, allowlists and the forwarded query.
//! - [`upstream`]: upstream URLs, headers, TLS and the connect deadline.
//! - [`relay`]: the two-way pump with close propagation and backpressure.
//! - [`metrics`], [`telemetry`], [`shutdown`], [`secret`], [`error`]: the supporting cast.
//! - [`simulate`]: a Deepgram-protocol simulator for keyless local runs and tests.

pub mod app;
pub mod auth;
pub mod config;
pub mod conns;
pub mod demo;
pub mod error;
pub mod fds;
pub mod grant;
pub mod health;
pub mod http;
pub mod limits;
pub mod memory;
pub mod metrics;
pub mod origin;
pub mod relay;
pub mod rewrite;
pub mod route;
pub mod secret;
pub mod serve;
pub mod session;
pub mod shutdown;
pub mod simulate;
pub mod state;
pub mod telemetry;
pub mod tls;
pub mod token;
pub mod upstream;
pub mod usage;
pub mod workers_ai;

pub use app::App;
