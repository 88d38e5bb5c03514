//! Fake upstreams for keyless runs and tests: Deepgram (`/v1/listen`, `/v1/speak`, `/v2/listen`,
//! Cloudflare `/workers-ai`), OpenAI Realtime (`/v1/realtime`), ElevenLabs (text-to-speech
//! `stream-input` and `multi-stream-input`, Scribe `/v1/speech-to-text/realtime`), AssemblyAI
//! (`/v3/ws`), Cartesia (`/tts/websocket`, `/stt/websocket`, `/stt/turns/websocket`) and a
//! Speechmatics-shaped endpoint (`/v2`, for the generic kind).
//!
//! It also serves the REST half of Deepgram's API (module `rest`): `POST /v1/listen` (prerecorded
//! transcription of a streamed audio body or a `{"url"}`), `POST /v1/speak` (one-shot speech, streamed
//! silence as MP3, WAV or raw linear16/mulaw/alaw), and the same through Cloudflare Workers AI's REST
//! shape, `POST /v1/<account>/<gateway>/workers-ai/@cf/deepgram/<model>` (`nova-*` transcribes, `aura-*`
//! speaks, answers in Cloudflare's `{"result","success","errors","messages"}` envelope). A `model` of
//! `fail-<status>` (e.g. `fail-503`, `fail-400`) makes a REST request fail with that status in the
//! provider's error shape without its body being read. Other methods and paths behave as before.
//!
//! The simulator speaks the wire protocols described in `shared/protocol.md` closely enough for the
//! official SDKs: same handshake headers, message shapes, close codes and idle behaviour. Transcripts
//! are made up from a fixed sentence and synthesized audio is silence. It records nothing secret:
//! credentials and header values are never logged.

mod assemblyai;
mod cartesia;
mod elevenlabs;
mod flux;
mod gate;
mod handshake;
mod listen;
mod openai;
mod rest;
mod session;
mod speak;
mod speechmatics;
mod wire;

#[cfg(test)]
mod tests;

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info, info_span, warn};
use uuid::Uuid;

use self::handshake::{Kind, Rejection};
use self::session::Protocol;

/// Deepgram's idle limit on `/v1/listen`.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `run` waits for live sessions to close after shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Logs where the simulator listens, with a warning when that is not a loopback address: the
/// simulator takes any credential (or none), so only this machine should reach it.
pub fn announce(addr: SocketAddr) {
    info!(%addr, "simulator listening");
    if !addr.ip().is_loopback() {
        warn!(
            %addr,
            "the simulator listens on a non-loopback address: anyone who can reach it can use it; \
             bind it to 127.0.0.1 unless other machines must reach it"
        );
    }
}

/// Behaviour knobs of the simulator.
#[derive(Clone)]
pub struct SimulatorConfig {
    /// Close a `/v1/listen` session with 1011 NET-0001 after this long without any client frame (Deepgram: 10 s).
    pub idle_timeout: Duration,
    /// When set, the handshake must carry this credential (`Authorization: Token|Bearer <k>` any case, or `cf-aig-authorization: <k>` raw or `Bearer <k>`;
    /// on `/v1/realtime` `Authorization: Bearer <k>` or subprotocol `openai-insecure-api-key.<k>`); otherwise 401.
    /// On `/v3/ws` (AssemblyAI) the raw `Authorization: <k>` and no `token` query; otherwise upgrade then close 1008.
    /// on `/v1/realtime` `Authorization: Bearer <k>` or subprotocol `openai-insecure-api-key.<k>`; on Cartesia paths
    /// `Authorization: Bearer <k>` plus `Cartesia-Version`, and no query credential); otherwise 401 (400 for no version).
    /// The REST endpoints take it as the Deepgram handshake does, except Cloudflare's `workers-ai/<model>` path
    /// (`Authorization: Bearer <k>` or `cf-aig-authorization: <k>` / `Bearer <k>`); otherwise 401.
    pub api_key: Option<String>,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            api_key: None,
        }
    }
}

impl std::fmt::Debug for SimulatorConfig {
    // Hand-written so the key never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatorConfig")
            .field("idle_timeout", &self.idle_timeout)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A bound, not yet serving, fake Deepgram and OpenAI Realtime server.
#[derive(Debug)]
pub struct Simulator {
    /// The bound listener.
    listener: TcpListener,
    /// The address actually bound (port 0 resolved).
    local_addr: SocketAddr,
    /// Behaviour knobs.
    config: SimulatorConfig,
}

/// What every request handler needs.
struct Shared {
    /// Behaviour knobs.
    config: SimulatorConfig,
    /// Fires when the simulator shuts down; every session watches it.
    cancel: CancellationToken,
    /// Tracks live sessions so shutdown can wait for them.
    sessions: TaskTracker,
}

impl Simulator {
    /// Binds `addr` (port 0 picks a free port).
    pub async fn bind(addr: SocketAddr, config: SimulatorConfig) -> std::io::Result<Simulator> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        Ok(Simulator {
            listener,
            local_addr,
            config,
        })
    }

    /// The address the simulator listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then closes live sessions with 1001 and returns.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let cancel = CancellationToken::new();
        let sessions = TaskTracker::new();
        let shared = Arc::new(Shared {
            config: self.config,
            cancel: cancel.clone(),
            sessions: sessions.clone(),
        });
        let app = Router::new().fallback(handle).with_state(shared);
        debug!(addr = %self.local_addr, "simulator serving");
        let server = axum::serve(self.listener, app)
            .with_graceful_shutdown(cancel.clone().cancelled_owned())
            .into_future();
        tokio::pin!(server);
        let early = tokio::select! {
            () = shutdown => None,
            result = &mut server => Some(result),
        };
        cancel.cancel();
        sessions.close();
        if let Some(result) = early {
            return result;
        }
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            let result = server.await;
            sessions.wait().await;
            result
        })
        .await;
        drained.unwrap_or_else(|_| {
            warn!(
                open = sessions.len(),
                "sessions still open after shutdown grace period"
            );
            Ok(())
        })
    }
}

/// Every request: a POST to a Deepgram REST path goes to [`rest`]; anything else is a handshake to decide,
/// authenticate and upgrade, always answered with `dg-request-id` (OpenAI paths: `x-request-id`).
async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    body: Body,
) -> Response {
    if method == Method::POST
        && let Some(endpoint) = rest::endpoint(&uri)
    {
        return rest::handle(&shared, endpoint, &uri, &headers, body).await;
    }
    if openai::serves(&uri) {
        return openai::handle(&shared, &uri, &headers, upgrade);
    }
    if speechmatics::serves(&uri) {
        return speechmatics::handle(&shared, &uri, &headers, upgrade);
    }
    if elevenlabs::serves(&uri) {
        return elevenlabs::handle(&shared, &uri, &headers, upgrade);
    }
    if assemblyai::serves(&uri) {
        return assemblyai::handle(&shared, &uri, &headers, upgrade);
    }
    if cartesia::serves(&uri) {
        return cartesia::handle(&shared, &uri, &headers, upgrade);
    }
    let request_id = Uuid::new_v4();
    let accepted = accept(&shared, &uri, &headers, upgrade, request_id);
    let request_id_header = (handshake::REQUEST_ID_HEADER, request_id.to_string());
    gate::answer("deepgram", request_id, accepted, Some(request_id_header))
}

/// Checks the handshake and, if it is acceptable, upgrades into the matching protocol.
fn accept(
    shared: &Shared,
    uri: &Uri,
    headers: &HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    request_id: Uuid,
) -> Result<Response, Rejection> {
    let (kind, params) = handshake::resolve(uri)?;
    if !handshake::authorized(headers, shared.config.api_key.as_deref()) {
        return Err(Rejection::UNAUTHORIZED);
    }
    let mut upgrade = upgrade.map_err(|_| Rejection::NOT_UPGRADE)?;
    if let Some(protocol) = handshake::chosen_protocol(headers) {
        upgrade.set_selected_protocol(protocol);
    }
    let response = match kind {
        Kind::Listen => {
            let listen = listen::Listen::new(&params, request_id, shared.config.idle_timeout);
            start(shared, upgrade, kind.name(), request_id, listen)
        }
        Kind::Speak => start(
            shared,
            upgrade,
            kind.name(),
            request_id,
            speak::Speak::new(&params, request_id),
        ),
        Kind::Flux => start(
            shared,
            upgrade,
            kind.name(),
            request_id,
            flux::Flux::new(&params, request_id),
        ),
    };
    Ok(response)
}

/// Completes the upgrade and runs `protocol` as a tracked, cancellable session.
fn start(
    shared: &Shared,
    upgrade: WebSocketUpgrade,
    kind: &'static str,
    request_id: Uuid,
    protocol: impl Protocol + Send + 'static,
) -> Response {
    let cancel = shared.cancel.child_token();
    let sessions = shared.sessions.clone();
    let span = info_span!("simulated_session", kind, %request_id);
    upgrade.on_upgrade(move |socket| {
        let session = async move {
            info!("session opened");
            session::drive(socket, protocol, cancel).await;
            info!("session ended");
        };
        sessions.track_future(session.instrument(span))
    })
}
