//! Configuration as data: serde types for the TOML file and `VOXRELAY_` env, layered by figment.
//!
//! Loading is two steps: [`load`] reads the layers into [`RawConfig`], section by section so that
//! every malformed section is reported at once, then [`validate`] turns it into runtime
//! [`Settings`] with nothing left optional.

mod load;
mod sections;
mod tokens;
mod upstream;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub use crate::provider::UpstreamKind;
pub(crate) use load::load_text;
pub use load::{extract, figment, from_toml, load};
pub use sections::{
    ClusterConfig, DemoConfig, LimitsConfig, MetricsConfig, PricesConfig, ReloadConfig, RestConfig,
    ServerTlsConfig, SimulatorConfig, TokenAlgorithm, TokenKeyConfig, TokensConfig,
};
pub use upstream::{AuthScheme, UpstreamConfig};
pub use validate::{ServerSettings, Settings, cluster, validate, warnings};

/// Prefix of environment variables that override the file (`__` separates nesting levels).
pub const ENV_PREFIX: &str = "VOXRELAY_";

/// Every problem found in a configuration, each with its key path.
#[derive(Debug, thiserror::Error)]
#[error("{} configuration error(s):\n  {}", .0.len(), .0.join("\n  "))]
pub struct ConfigError(pub Vec<String>);

/// The whole file, as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    /// Listener, timeouts and WebSocket limits.
    pub server: ServerConfig,
    /// Log format and level.
    pub log: LogConfig,
    /// Client keys browsers and backends present.
    pub client_keys: Vec<ClientKeyConfig>,
    /// Upstreams by name.
    pub upstreams: BTreeMap<String, UpstreamConfig>,
    /// Routes, each a Deepgram-shaped path.
    pub routes: Vec<RouteConfig>,
    /// The built-in Deepgram simulator (local mode).
    pub simulator: SimulatorConfig,
    /// Short-lived signed tokens (JWT) and the grant endpoint.
    pub tokens: TokensConfig,
    /// Caps and rate limits applied before the upgrade.
    pub limits: LimitsConfig,
    /// Metric label bounds.
    pub metrics: MetricsConfig,
    /// The demo page.
    pub demo: DemoConfig,
    /// Limits and revocations shared by every replica through Redis.
    pub cluster: ClusterConfig,
    /// Reloading the file without a restart.
    pub reload: ReloadConfig,
}

/// `[server]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// How long live sessions may continue after SIGTERM before their drain starts.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// The window over which live sessions' drains start once the grace is over, each at a
    /// random moment in it, so their clients do not all reconnect at once (0: all at once).
    #[serde(with = "humantime_serde")]
    pub drain_spread: Duration,
    /// Longest a draining session waits for the upstream's finals after the finalize
    /// (`CloseStream`, `Flush`, …) before the client gets 1012.
    #[serde(with = "humantime_serde")]
    pub drain_timeout: Duration,
    /// Deadline for connecting upstream, fallbacks included (→ 504 when it passes).
    #[serde(with = "humantime_serde")]
    pub upstream_connect_timeout: Duration,
    /// Deadline for one upstream attempt (DNS, TCP, TLS, WebSocket handshake).
    #[serde(with = "humantime_serde")]
    pub upstream_attempt_timeout: Duration,
    /// Time a client has to send its whole HTTP request head (slowloris defence).
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
    /// Time a client has to send a request body (the grant endpoint's) once its head arrived.
    #[serde(with = "humantime_serde")]
    pub request_body_timeout: Duration,
    /// Largest request head (request line and headers) accepted; larger → 431.
    pub max_request_head_bytes: usize,
    /// A session with no data in either direction for this long is closed (1001).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// How long to wait for the peer's close reply after sending a close frame.
    #[serde(with = "humantime_serde")]
    pub close_timeout: Duration,
    /// Largest message accepted from either side; bigger ones end the session with 1009.
    pub max_message_bytes: usize,
    /// Most bytes one socket read takes: the size of the buffers lent to sessions while data
    /// is in flight.
    pub read_buffer_bytes: usize,
    /// Extra PEM CA bundle trusted for `wss://` upstreams, besides the webpki roots.
    pub extra_ca_file: Option<PathBuf>,
    /// `[server.tls]`: serve `https://` and `wss://` on the listener; plain when absent.
    pub tls: Option<ServerTlsConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            shutdown_grace: Duration::from_secs(10),
            drain_spread: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(3),
            upstream_connect_timeout: Duration::from_secs(10),
            upstream_attempt_timeout: Duration::from_secs(4),
            handshake_timeout: Duration::from_secs(10),
            request_body_timeout: Duration::from_secs(5),
            max_request_head_bytes: 16 * 1024,
            idle_timeout: Duration::from_secs(300),
            close_timeout: Duration::from_secs(2),
            max_message_bytes: 1 << 20,
            read_buffer_bytes: 4 * 1024,
            extra_ca_file: None,
            tls: None,
        }
    }
}

impl ServerConfig {
    /// The message and buffer limits of a WebSocket on either side of a session.
    pub(crate) fn websocket(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .max_message_size(Some(self.max_message_bytes))
            .max_frame_size(Some(self.max_message_bytes))
            .read_buffer_size(self.read_buffer_bytes)
    }
}

/// `[log]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `pretty` for people, `json` for collectors.
    pub format: LogFormat,
    /// An `EnvFilter` directive such as `info` or `voxrelay=debug`; `RUST_LOG` wins when set.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            level: "info".into(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, multi-field lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `[[client_keys]]`: a key stored as its SHA-256 digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientKeyConfig {
    /// Client id used in logs and metrics.
    pub id: String,
    /// Hex SHA-256 of the key (`voxrelay hash-key` prints it).
    pub sha256: String,
    /// Route names this key may use; all routes when absent.
    #[serde(default)]
    pub routes: Option<Vec<String>>,
    /// Most concurrent sessions for this client (its tokens included); unlimited when absent.
    #[serde(default)]
    pub max_concurrent_sessions: Option<u32>,
}

/// Which API a route serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteKind {
    /// Live speech-to-text, `/v1/listen` (Nova).
    Listen,
    /// Text-to-speech, `/v1/speak` (Aura).
    Speak,
    /// Flux conversational speech-to-text, `/v2/listen`.
    Flux,
    /// OpenAI Realtime (GA), `/v1/realtime`: conversations and transcription sessions.
    Realtime,
    /// ElevenLabs text-to-speech, `/v1/text-to-speech/{voice_id}/stream-input`.
    #[serde(rename = "elevenlabs_tts")]
    ElevenLabsTts,
    /// ElevenLabs multi-context text-to-speech, `/v1/text-to-speech/{voice_id}/multi-stream-input`.
    #[serde(rename = "elevenlabs_tts_multi")]
    ElevenLabsTtsMulti,
    /// ElevenLabs Scribe realtime speech-to-text, `/v1/speech-to-text/realtime`.
    #[serde(rename = "elevenlabs_stt")]
    ElevenLabsStt,
    /// Any WebSocket API relayed as is, described by its upstream's config (`generic` kind).
    Generic,
    /// AssemblyAI Universal Streaming v3, `/v3/ws`: billed by session time.
    AssemblyAi,
    /// Cartesia text-to-speech, `/tts/websocket`.
    #[serde(rename = "cartesia_tts")]
    CartesiaTts,
    /// Cartesia speech-to-text, `/stt/websocket` (manual finalize).
    #[serde(rename = "cartesia_stt")]
    CartesiaStt,
    /// Cartesia speech-to-text with turn detection, `/stt/turns/websocket`.
    #[serde(rename = "cartesia_turns")]
    CartesiaTurns,
}

impl RouteKind {
    /// Price per audio minute of this kind's speech-to-text audio (0 where audio is not what
    /// is billed).
    pub(crate) fn audio_usd_per_minute(self, prices: &PricesConfig) -> f64 {
        match self {
            Self::Listen
            | Self::ElevenLabsStt
            | Self::Generic
            | Self::AssemblyAi
            | Self::CartesiaStt
            | Self::CartesiaTurns => prices.listen_usd_per_minute,
            Self::Flux => prices.flux_usd_per_minute,
            Self::Speak
            | Self::Realtime
            | Self::ElevenLabsTts
            | Self::ElevenLabsTtsMulti
            | Self::CartesiaTts => 0.0,
        }
    }

    /// Whether the route synthesizes speech: characters in, audio out.
    pub(crate) fn synthesizes(self) -> bool {
        match self {
            Self::Speak | Self::ElevenLabsTts | Self::ElevenLabsTtsMulti | Self::CartesiaTts => {
                true
            }
            Self::Listen
            | Self::Flux
            | Self::Realtime
            | Self::ElevenLabsStt
            | Self::Generic
            | Self::AssemblyAi
            | Self::CartesiaStt
            | Self::CartesiaTurns => false,
        }
    }

    /// Whether the route's audio travels inside JSON events (base64), metered at the
    /// session's formats (`usage::events`) rather than as binary frames.
    pub(crate) fn audio_in_events(self) -> bool {
        match self {
            Self::Realtime
            | Self::ElevenLabsTts
            | Self::ElevenLabsTtsMulti
            | Self::ElevenLabsStt
            | Self::CartesiaTts => true,
            Self::Listen
            | Self::Speak
            | Self::Flux
            | Self::Generic
            | Self::AssemblyAi
            | Self::CartesiaStt
            | Self::CartesiaTurns => false,
        }
    }

    /// The name used in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Listen => "listen",
            Self::Speak => "speak",
            Self::Flux => "flux",
            Self::Realtime => "realtime",
            Self::ElevenLabsTts => "elevenlabs_tts",
            Self::ElevenLabsTtsMulti => "elevenlabs_tts_multi",
            Self::ElevenLabsStt => "elevenlabs_stt",
            Self::Generic => "generic",
            Self::AssemblyAi => "assemblyai",
            Self::CartesiaTts => "cartesia_tts",
            Self::CartesiaStt => "cartesia_stt",
            Self::CartesiaTurns => "cartesia_turns",
        }
    }
}

/// `[[routes]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Name used in metrics, logs and client key grants.
    pub name: String,
    /// Path the browser connects to, e.g. `/v1/listen`.
    pub path: String,
    /// API spoken on this route.
    pub kind: RouteKind,
    /// Upstream names in order of preference.
    pub upstreams: Vec<String>,
    /// Model used when the client sends none (bare name).
    pub default_model: String,
    /// Bare model names (or `*` patterns) clients may ask for.
    pub models: Vec<String>,
    /// Query parameters refused with 400.
    #[serde(default)]
    pub deny_params: Vec<String>,
    /// Query parameters forced to a value whatever the client sent.
    #[serde(default)]
    pub force_params: BTreeMap<String, String>,
    /// When set, the only query parameters clients may send (besides `model`, credentials and
    /// forced ones); any other is refused with 400.
    #[serde(default)]
    pub allow_params: Option<Vec<String>>,
    /// Browser origins allowed (`https://app.example.com`, `https://*.example.com`,
    /// `http://localhost:*`, `*`; see [`crate::origin`]); a handshake with any other or an
    /// unparsable `Origin` gets 403. Empty: no browser origin is allowed.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Whether handshakes without `Origin` (server-side clients) are accepted.
    #[serde(default = "yes")]
    pub allow_missing_origin: bool,
    /// Longest a session may last; both sides then get close 1008.
    #[serde(default, with = "humantime_serde")]
    pub max_session: Option<Duration>,
    /// Send `{"type":"KeepAlive"}` upstream when the client is silent (default: on for
    /// `listen`, off otherwise; never allowed on `flux`, which has no KeepAlive).
    #[serde(default)]
    pub keepalive: Option<bool>,
    /// Silence after which a KeepAlive is injected.
    #[serde(default = "default_keepalive_interval", with = "humantime_serde")]
    pub keepalive_interval: Duration,
    /// Whether clients must present a key or token. `false` admits anyone (as client
    /// `anonymous`): only for routes reachable from trusted networks, e.g. conformance runs.
    #[serde(default = "yes")]
    pub require_auth: bool,
    /// Also serve this route's models on Cloudflare's path shape,
    /// `/v1/<account>/<gateway>/workers-ai?model=@cf/deepgram/…`. Default: the first route of
    /// each kind that does not set it to `false`; at most one route per kind.
    #[serde(default)]
    pub workers_ai: Option<bool>,
    /// `generic` routes: the query parameter naming the model, if the API has one (then
    /// checked against `models` like any route's); without it the model is not in the URL.
    #[serde(default)]
    pub model_param: Option<String>,
    /// `generic` routes: bytes per second of the binary audio clients send, for metering audio
    /// seconds (e.g. 32000 for 16-bit PCM at 16 kHz); without it audio is timed by the clock.
    #[serde(default)]
    pub audio_bytes_per_second: Option<f64>,
    /// `listen` and `speak` routes: their REST half (`POST` on the same path); on by default.
    #[serde(default)]
    pub rest: Option<RestConfig>,
}

fn default_keepalive_interval() -> Duration {
    Duration::from_secs(5)
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests;
