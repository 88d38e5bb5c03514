//! `[upstreams.<name>]`: one upstream as written in the file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{PricesConfig, UpstreamKind};

/// How the upstream credential is written into its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthScheme {
    /// The bare token (Cloudflare `cf-aig-authorization` default).
    Raw,
    /// `Bearer <token>`.
    Bearer,
    /// `Token <key>` (Deepgram default).
    Token,
}

/// `[upstreams.<name>]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// `deepgram` or `cloudflare`.
    pub kind: UpstreamKind,
    /// Override of the base URL (`ws://` or `wss://`); defaults per kind.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Cloudflare account id.
    #[serde(default)]
    pub account_id: Option<String>,
    /// Cloudflare AI Gateway id.
    #[serde(default)]
    pub gateway_id: Option<String>,
    /// Environment variable holding the credential.
    #[serde(default)]
    pub key_env: Option<String>,
    /// File holding the credential (trailing newline trimmed).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// How the credential is written; `token` for Deepgram, `raw` for Cloudflare by default.
    #[serde(default)]
    pub auth_scheme: Option<AuthScheme>,
    /// Extra headers sent on every upstream handshake (self-hosted Deepgram, gateway metadata).
    #[serde(default)]
    pub extra_headers: BTreeMap<String, String>,
    /// Model aliases merged over the kind's built-in table; `*` matches any run of characters.
    #[serde(default)]
    pub aliases: BTreeMap<String, String>,
    /// Consecutive connect failures (network, timeout, 5xx) that open the circuit breaker.
    #[serde(default = "default_breaker_failures")]
    pub breaker_failures: u32,
    /// How long an open breaker skips this upstream before one trial connect.
    #[serde(default = "default_breaker_cooldown", with = "humantime_serde")]
    pub breaker_cooldown: Duration,
    /// Prices for cost estimates; by default the kind's published list prices.
    #[serde(default)]
    pub prices: Option<PricesConfig>,
    /// `generic` only: the upstream path under `base_url`, e.g. `/v2`; `{name}` takes the
    /// route path's segment of that name.
    #[serde(default)]
    pub path: Option<String>,
    /// `generic` only: the handshake header the credential goes in (default `authorization`;
    /// `sec-websocket-protocol` sends it as a subprotocol).
    #[serde(default)]
    pub credential_header: Option<String>,
    /// `generic` only: what the credential is prefixed with in that header instead of
    /// `auth_scheme` (e.g. `"token, "` for a subprotocol pair).
    #[serde(default)]
    pub credential_prefix: Option<String>,
    /// `generic` only: send the credential in this query parameter instead of a header.
    #[serde(default)]
    pub credential_query: Option<String>,
    /// `generic` only: the text message sent upstream when the process drains, asking it to
    /// finish (e.g. `{"message":"EndOfStream","last_seq_no":0}`); without it the client gets
    /// 1012 at once.
    #[serde(default)]
    pub drain_message: Option<String>,
    /// `generic` only: text an upstream message contains once its finals are in (e.g.
    /// `EndOfTranscript`); without it the drain lasts until the upstream closes (or
    /// `server.drain_timeout`).
    #[serde(default)]
    pub drain_done: Option<String>,
}

fn default_breaker_failures() -> u32 {
    3
}

fn default_breaker_cooldown() -> Duration {
    Duration::from_secs(30)
}
