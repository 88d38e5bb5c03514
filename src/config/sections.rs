//! Config sections beyond the core ones: listener TLS, tokens, limits, metrics, prices, demo,
//! simulator.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[server.tls]`: the listener's own certificate, reloaded when its files change.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTlsConfig {
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key of the leaf (PKCS#8, PKCS#1 RSA or SEC1 EC).
    pub key_file: PathBuf,
    /// How often both files are read to notice a rotated pair.
    #[serde(default = "default_reload_interval", with = "humantime_serde")]
    pub reload_interval: Duration,
}

fn default_reload_interval() -> Duration {
    Duration::from_secs(10)
}

/// `[demo]`: a page at `/demo/` that streams the microphone and plays TTS through voxrelay.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    /// Serve the page (off in production).
    pub enabled: bool,
    /// A deliberately public client key the page trades for short-lived grants. Only for
    /// demo keys: anything here is visible to every visitor of the page.
    pub public_key: Option<String>,
}

/// `[metrics]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Distinct client ids given their own label values; later ones are counted as `other`.
    pub max_client_labels: usize,
    /// A separate listener for `/metrics`; when set, the public port no longer serves it.
    pub listen: Option<SocketAddr>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            max_client_labels: 100,
            listen: None,
        }
    }
}

/// `[upstreams.<name>.prices]`: list prices used for the estimated-cost counter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricesConfig {
    /// Streaming speech-to-text price per audio minute, USD: `/v1/listen` (Nova), and the
    /// speech-to-text routes of other APIs (ElevenLabs Scribe, Cartesia, generic).
    #[serde(default)]
    pub listen_usd_per_minute: f64,
    /// `/v2/listen` (Flux) price per audio minute, USD.
    #[serde(default)]
    pub flux_usd_per_minute: f64,
    /// Prerecorded speech-to-text (`POST /v1/listen`) price per audio minute and channel, USD.
    #[serde(default)]
    pub prerecorded_usd_per_minute: f64,
    /// Text-to-speech price per 1,000 characters, USD: `/v1/speak` (Aura), ElevenLabs and
    /// Cartesia text-to-speech.
    #[serde(default)]
    pub speak_usd_per_1k_chars: f64,
    /// Realtime text input tokens not served from cache, USD per million.
    #[serde(default)]
    pub text_input_usd_per_1m_tokens: f64,
    /// Realtime text input tokens served from cache, USD per million.
    #[serde(default)]
    pub cached_text_input_usd_per_1m_tokens: f64,
    /// Realtime audio input tokens not served from cache, USD per million.
    #[serde(default)]
    pub audio_input_usd_per_1m_tokens: f64,
    /// Realtime audio input tokens served from cache, USD per million.
    #[serde(default)]
    pub cached_audio_input_usd_per_1m_tokens: f64,
    /// Realtime text output tokens, USD per million.
    #[serde(default)]
    pub text_output_usd_per_1m_tokens: f64,
    /// Realtime audio output tokens, USD per million.
    #[serde(default)]
    pub audio_output_usd_per_1m_tokens: f64,
    /// Input transcription billed by tokens: input tokens, USD per million.
    #[serde(default)]
    pub transcription_input_usd_per_1m_tokens: f64,
    /// Input transcription billed by tokens: output tokens, USD per million.
    #[serde(default)]
    pub transcription_output_usd_per_1m_tokens: f64,
    /// Input transcription billed by duration, USD per audio minute.
    #[serde(default)]
    pub transcription_usd_per_minute: f64,
    /// Price per minute a session is open, USD, for APIs that bill connection time
    /// (AssemblyAI Universal Streaming) or a generic upstream priced by time.
    #[serde(default)]
    pub session_usd_per_minute: f64,
}

impl PricesConfig {
    // each provider's list prices are in its module (`crate::provider`)
    /// No price: costs count as zero.
    pub const UNKNOWN: Self = Self {
        listen_usd_per_minute: 0.0,
        flux_usd_per_minute: 0.0,
        prerecorded_usd_per_minute: 0.0,
        speak_usd_per_1k_chars: 0.0,
        text_input_usd_per_1m_tokens: 0.0,
        cached_text_input_usd_per_1m_tokens: 0.0,
        audio_input_usd_per_1m_tokens: 0.0,
        cached_audio_input_usd_per_1m_tokens: 0.0,
        text_output_usd_per_1m_tokens: 0.0,
        audio_output_usd_per_1m_tokens: 0.0,
        transcription_input_usd_per_1m_tokens: 0.0,
        transcription_output_usd_per_1m_tokens: 0.0,
        transcription_usd_per_minute: 0.0,
        session_usd_per_minute: 0.0,
    };

    /// Every price, for checks that apply to all of them.
    pub fn all(&self) -> [f64; 14] {
        [
            self.listen_usd_per_minute,
            self.flux_usd_per_minute,
            self.prerecorded_usd_per_minute,
            self.speak_usd_per_1k_chars,
            self.text_input_usd_per_1m_tokens,
            self.cached_text_input_usd_per_1m_tokens,
            self.audio_input_usd_per_1m_tokens,
            self.cached_audio_input_usd_per_1m_tokens,
            self.text_output_usd_per_1m_tokens,
            self.audio_output_usd_per_1m_tokens,
            self.transcription_input_usd_per_1m_tokens,
            self.transcription_output_usd_per_1m_tokens,
            self.transcription_usd_per_minute,
            self.session_usd_per_minute,
        ]
    }
}

/// `[routes.rest]`: the REST half of a `listen` or `speak` route (`POST` on its path:
/// prerecorded transcription, one-shot speech).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestConfig {
    /// Whether `POST` (and its CORS preflight) is served on the route's path.
    pub enabled: bool,
    /// Largest audio upload, in bytes; larger ones get 413 (announced or not).
    pub max_body_bytes: u64,
    /// Longest a whole request may take, upload and answer included (504 after it, or the
    /// streamed answer cut).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Whether `{"url": …}` bodies (the upstream fetches the audio) are accepted.
    pub allow_url: bool,
    /// Hosts a `{"url": …}` body may name: `media.example.com`, `*.example.com` (any
    /// subdomain), or `*` (any host). Required when `allow_url` is on.
    pub url_hosts: Vec<String>,
}

impl Default for RestConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_body_bytes: 256 * 1024 * 1024,
            timeout: Duration::from_secs(600),
            allow_url: false,
            url_hosts: Vec::new(),
        }
    }
}

/// `[tokens]`: JWTs voxrelay accepts and mints.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokensConfig {
    /// Required `iss` of every token; also what minted tokens carry.
    pub issuer: String,
    /// Required `aud` of every token; also what minted tokens carry.
    pub audience: String,
    /// Allowed clock skew for `exp` and `nbf`.
    #[serde(with = "humantime_serde")]
    pub leeway: Duration,
    /// TTL of a grant when the request names none.
    #[serde(with = "humantime_serde")]
    pub grant_ttl: Duration,
    /// Longest TTL a grant may ask for (longer → 400).
    #[serde(with = "humantime_serde")]
    pub grant_max_ttl: Duration,
    /// Environment variable holding the HS256 secret that signs grants (≥ 32 bytes). Unset:
    /// a random per-process secret (grants then work only on the replica that minted them).
    pub signing_secret_env: Option<String>,
    /// File holding that secret instead.
    pub signing_secret_file: Option<PathBuf>,
    /// Keys that verify tokens minted by your own backend.
    pub keys: Vec<TokenKeyConfig>,
}

impl Default for TokensConfig {
    fn default() -> Self {
        Self {
            issuer: "voxrelay".into(),
            audience: "voxrelay".into(),
            leeway: Duration::from_secs(30),
            grant_ttl: Duration::from_secs(30),
            grant_max_ttl: Duration::from_secs(3600),
            signing_secret_env: None,
            signing_secret_file: None,
            keys: Vec::new(),
        }
    }
}

/// Signature algorithms accepted for tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenAlgorithm {
    /// HMAC-SHA256 with a shared secret.
    HS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

/// `[[tokens.keys]]`: one verification key (or JWKS) bound to one algorithm.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenKeyConfig {
    /// The only algorithm this key verifies.
    pub algorithm: TokenAlgorithm,
    /// Key id a token's `kid` must match, when set.
    #[serde(default)]
    pub kid: Option<String>,
    /// HS256: environment variable holding the secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// HS256: file holding the secret.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// ES256/EdDSA: PEM public key file.
    #[serde(default)]
    pub public_key_file: Option<PathBuf>,
    /// ES256/EdDSA: JWKS file; each key's `kid` is matched against the token's.
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// Client ids (`sub`) this key may vouch for; any configured client when absent.
    #[serde(default)]
    pub clients: Option<Vec<String>>,
}

/// `[limits]`: checked before the upgrade.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Most sessions this replica relays at once (→ 503).
    pub max_sessions: usize,
    /// Sustained WebSocket handshakes (and grant calls) per client IP per second (→ 429).
    pub handshakes_per_second_per_ip: u32,
    /// Burst of handshakes a client IP may make at once.
    pub handshake_burst_per_ip: u32,
    /// Peers (CIDRs) whose `client_ip_header` names the client IP.
    pub trusted_proxies: Vec<String>,
    /// The one header trusted proxies name the client in (`X-Forwarded-For`, `Forwarded`,
    /// `X-Real-IP` or another header holding a list of addresses).
    pub client_ip_header: String,
    /// IPv6 clients share rate-limit buckets and the connection cap per prefix of this length.
    pub ipv6_prefix_len: u8,
    /// Most open TCP connections one client IP may hold (0: no cap; trusted proxies exempt).
    pub max_connections_per_ip: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_sessions: 10_000,
            handshakes_per_second_per_ip: 20,
            handshake_burst_per_ip: 40,
            trusted_proxies: Vec::new(),
            client_ip_header: "X-Forwarded-For".into(),
            ipv6_prefix_len: 64,
            max_connections_per_ip: 64,
        }
    }
}

/// `[reload]`: applying a changed configuration file without a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReloadConfig {
    /// How often the file is read and compared with the one applied (0: only on SIGHUP).
    #[serde(with = "humantime_serde")]
    pub watch_interval: Duration,
    /// How long the live sessions of a client key removed by a reload may continue before
    /// both sides get close 1008 (new sessions with it are refused at once).
    #[serde(with = "humantime_serde")]
    pub removed_key_grace: Duration,
}

impl Default for ReloadConfig {
    fn default() -> Self {
        Self {
            watch_interval: Duration::from_secs(2),
            removed_key_grace: Duration::from_secs(30),
        }
    }
}

/// `[simulator]`: run the built-in Deepgram simulator beside the relay.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatorConfig {
    /// Start it at all.
    pub enabled: bool,
    /// Its listen address.
    pub listen: SocketAddr,
    /// Its `/v1/listen` idle timeout (Deepgram's is 10 s).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            idle_timeout: Duration::from_secs(10),
        }
    }
}

/// `[cluster]`: limits and revocations shared by every replica through one Redis. Read at
/// start only (a reload does not reconnect).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS). Unset: every limit is
    /// per replica. A secret when it holds a password: set it through
    /// `VOXRELAY_CLUSTER__REDIS_URL` rather than the file.
    pub redis_url: Option<String>,
    /// How long a session lease outlives its replica's last refresh (refreshed every third
    /// of it): how soon a dead replica's sessions stop counting.
    #[serde(with = "humantime_serde")]
    pub lease_ttl: Duration,
    /// Bound on every Redis call; past it the call counts as failed.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// When Redis does not answer: `fail_open` (this replica's own limits apply) or
    /// `fail_closed` (new sessions and grants get 503, `/readyz` answers 503).
    pub failure_mode: crate::cluster::FailureMode,
    /// Prefix of every Redis key (several deployments may share one Redis).
    pub key_prefix: String,
    /// PEM CA certificates to trust for a `rediss://` Redis with a private CA (instead of the
    /// public roots).
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            redis_url: None,
            lease_ttl: Duration::from_secs(15),
            timeout: Duration::from_millis(250),
            failure_mode: crate::cluster::FailureMode::FailOpen,
            key_prefix: "voxrelay".into(),
            ca_file: None,
        }
    }
}

impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // the URL may hold a password
        f.debug_struct("ClusterConfig")
            .field("redis_url", &self.redis_url.as_ref().map(|_| "<set>"))
            .field("lease_ttl", &self.lease_ttl)
            .field("timeout", &self.timeout)
            .field("failure_mode", &self.failure_mode)
            .field("key_prefix", &self.key_prefix)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}
