//! Providers: everything specific to one upstream API, one module each, behind one registry.
//!
//! A provider module owns its default base URL, how the upstream endpoint is built from the
//! config, the path per route kind, where the real credential goes, its built-in model aliases
//! and default prices, where its SDKs put the client's credential and what is echoed, its own
//! client-facing paths, and (for the API clients speak, [`client_api`]) the error shape, the
//! request-id and forwarded headers, keep-alive and metering. Session set-up, auth, limits,
//! relay, metrics and config loading reach a provider only through this module.
//!
//! A [`Provider`] is a `static` of data and plain function pointers rather than a trait object:
//! every entry is read while loading config or setting a session up, never per relayed message.
//! What the relay needs per message is data chosen at set-up (the route's
//! [`ClientApi::keepalive`] message) or a plain function the compiler inlines ([`client_message`], [`upstream_usage`]) that branches once on the
//! route kind, so the pump has no dynamic dispatch and no lookup per message, and Deepgram's
//! routes never parse JSON or allocate for a binary frame.

pub(crate) mod assemblyai;
pub(crate) mod cartesia;
pub(crate) mod cloudflare;
mod common;
pub(crate) mod deepgram;
pub(crate) mod elevenlabs;
pub(crate) mod generic;
pub(crate) mod openai;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use tokio_tungstenite::tungstenite::Message;

use crate::auth::{AuthError, Credential};
use crate::config::{AuthScheme, PricesConfig, RouteConfig, RouteKind, UpstreamConfig};
use crate::relay::{Finalize, FinalsDone};
use crate::rewrite::{ClientQuery, QueryPolicy, RewriteError};
use crate::route::{ModelRules, Route};
use crate::secret::Secret;
use crate::state::Shared;
use crate::usage::{Rates, Tokens};

/// Which API an upstream speaks (`kind` in `[upstreams.<name>]`): the registry's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamKind {
    /// Deepgram's own API (hosted or self-hosted): `<base>/v1/listen` etc.
    Deepgram,
    /// Cloudflare AI Gateway's Workers AI realtime endpoint.
    Cloudflare,
    /// OpenAI's Realtime API (GA), `<base>/v1/realtime`.
    OpenAi,
    /// ElevenLabs: text-to-speech (`stream-input`, `multi-stream-input`) and Scribe realtime.
    #[serde(rename = "elevenlabs")]
    ElevenLabs,
    /// Any WebSocket API relayed as is, described by config (`base_url`, `path`, where the
    /// credential goes).
    Generic,
    /// AssemblyAI Universal Streaming v3, `<base>/v3/ws`.
    AssemblyAi,
    /// Cartesia's TTS and STT WebSockets, `<base>/tts/websocket`, `<base>/stt/websocket`.
    Cartesia,
}

impl UpstreamKind {
    /// Every registered kind, in the order their credential forms are tried (AssemblyAI's
    /// raw `Authorization: <T>` first: it takes only a value with no scheme).
    pub(crate) const ALL: [Self; 7] = [
        Self::AssemblyAi,
        Self::Deepgram,
        Self::Cloudflare,
        Self::OpenAi,
        Self::ElevenLabs,
        Self::Generic,
        Self::Cartesia,
    ];

    /// The name in config files (`kind = "…"`) and token grants.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Deepgram => "deepgram",
            Self::Cloudflare => "cloudflare",
            Self::OpenAi => "openai",
            Self::ElevenLabs => "elevenlabs",
            Self::Generic => "generic",
            Self::AssemblyAi => "assemblyai",
            Self::Cartesia => "cartesia",
        }
    }

    /// The provider behind this kind: the registry.
    pub(crate) fn provider(self) -> &'static Provider {
        match self {
            Self::Deepgram => &deepgram::PROVIDER,
            Self::Cloudflare => &cloudflare::PROVIDER,
            Self::OpenAi => &openai::PROVIDER,
            Self::ElevenLabs => &elevenlabs::PROVIDER,
            Self::Generic => &generic::PROVIDER,
            Self::AssemblyAi => &assemblyai::PROVIDER,
            Self::Cartesia => &cartesia::PROVIDER,
        }
    }
}

/// Builds an upstream's endpoint (base URL without trailing `/`, plus whatever the provider
/// adds from its config), reporting config errors under `at`.
pub(crate) type EndpointFn =
    fn(base: &str, u: &UpstreamConfig, at: &str, errors: &mut Vec<String>) -> String;

/// What voxrelay knows about one upstream API.
#[derive(Debug)]
pub(crate) struct Provider {
    /// Base URL when the config sets none.
    pub(crate) base_url: &'static str,
    /// Builds the endpoint sessions connect under.
    pub(crate) endpoint: EndpointFn,
    /// Path appended to the endpoint for each route kind it serves.
    pub(crate) path: fn(RouteKind) -> &'static str,
    /// The route kinds its upstreams can serve; a route of any other kind may not use them.
    pub(crate) route_kinds: &'static [RouteKind],
    /// Handshake header carrying the real credential (lowercase).
    pub(crate) credential_header: &'static str,
    /// How the credential is written into that header unless `auth_scheme` says otherwise.
    pub(crate) auth_scheme: AuthScheme,
    /// Built-in model aliases; the upstream's own `aliases` are merged over them.
    pub(crate) aliases: &'static [(&'static str, &'static str)],
    /// List prices used unless the upstream sets `prices`.
    pub(crate) prices: PricesConfig,
    /// List prices of the models it knows, used over `prices` unless the upstream sets `prices`.
    pub(crate) model_prices: Option<ModelPricesFn>,
    /// Where this provider's SDKs put the client's credential.
    pub(crate) credentials: CredentialForm,
    /// Prefix of this provider's names for models it shares with others (`@cf/deepgram/`);
    /// allowlists and grants match the bare name.
    pub(crate) model_prefix: Option<&'static str>,
    /// Client-facing paths of this provider's own shape, mounted beside the routes' paths.
    pub(crate) paths: Option<PathsFn>,
    /// Which configured routes serve those paths by a setting (Cloudflare's: the routes'
    /// `workers_ai`), with config errors about them reported (OpenAI's: a route on a path its
    /// realtime routes' endpoints take).
    pub(crate) own_path_routes: Option<OwnPathRoutesFn>,
    /// Headers every handshake to its upstreams carries unless the upstream's `extra_headers`
    /// names them (Cartesia's required `Cartesia-Version`).
    pub(crate) default_headers: &'static [(&'static str, &'static str)],
    /// Prefix this provider's SDKs require on a short-lived credential (`ek_…` for browser use);
    /// voxrelay tokens minted on its own paths carry it, and authentication removes it.
    pub(crate) token_prefix: Option<&'static str>,
    /// How its REST endpoints are called (`POST` on `listen` and `speak` routes), when
    /// voxrelay relays them.
    pub(crate) rest: Option<&'static crate::rest::RestApi>,
}

/// A provider's list prices for a model (as sent upstream), if it knows the model.
pub(crate) type ModelPricesFn = fn(model: &str) -> Option<PricesConfig>;

/// For each configured route, whether it serves the provider's own paths; errors under their
/// key paths.
pub(crate) type OwnPathRoutesFn = fn(&[RouteConfig], &mut Vec<String>) -> Vec<bool>;

/// The router for a provider's own client-facing paths over `routes`; `None` when no route
/// serves them.
pub(crate) type PathsFn = fn(Arc<Shared>, &[Arc<Route>]) -> Option<Router<Arc<Shared>>>;

/// Where a provider's SDKs put the credential in a handshake. Each function answers
/// `Ok(None)` when its form is absent, and `Err` when it is present but unusable (no other
/// form is tried then).
#[derive(Debug)]
pub(crate) struct CredentialForm {
    /// From the offered subprotocols, in order: the token and the value to echo.
    pub(crate) from_protocols: fn(&[&str]) -> Result<Option<Credential>, AuthError>,
    /// From the request headers (server-side clients).
    pub(crate) from_headers: fn(&HeaderMap) -> Result<Option<Secret>, AuthError>,
}

/// Deepgram's API, spoken on the Deepgram route kinds, on Cloudflare's Workers AI path (same
/// messages) and wherever no route is known (404s, grants).
pub(crate) const CLIENT_API: ClientApi = deepgram::CLIENT_API;

/// The API clients speak on routes of `kind`, chosen when a session is set up (never per
/// message): OpenAI's on `realtime` routes, ElevenLabs' on `elevenlabs_*` routes, Deepgram's on
/// the others.
pub(crate) fn client_api(kind: RouteKind) -> &'static ClientApi {
    match kind {
        RouteKind::Realtime => &openai::CLIENT_API,
        RouteKind::ElevenLabsTts | RouteKind::ElevenLabsTtsMulti | RouteKind::ElevenLabsStt => {
            elevenlabs::client_api(kind)
        }
        RouteKind::Generic => &generic::CLIENT_API,
        RouteKind::AssemblyAi => &assemblyai::CLIENT_API,
        RouteKind::CartesiaTts => &cartesia::TTS_API,
        RouteKind::CartesiaStt | RouteKind::CartesiaTurns => &cartesia::STT_API,
        RouteKind::Listen | RouteKind::Speak | RouteKind::Flux => &CLIENT_API,
    }
}

/// What a client-facing API fixes for every session on it.
#[derive(Debug)]
pub(crate) struct ClientApi {
    /// The JSON body of a refusal before the upgrade, from its code, message and request id.
    pub(crate) error_body: fn(code: &str, message: &str, request_id: &str) -> serde_json::Value,
    /// The text message of a refusal after the upgrade (a credential in the first message),
    /// where the API answers in-session errors in another shape than its HTTP ones (ElevenLabs');
    /// `None`: [`ClientApi::error_body`].
    pub(crate) message_error_body: Option<fn(code: &str, message: &str) -> serde_json::Value>,
    /// Response header repeating a refusal's message, if the API has one.
    pub(crate) error_header: Option<&'static str>,
    /// Upstream response header with its request id, forwarded on the client's 101 (the
    /// session id when the upstream sends none).
    pub(crate) request_id_header: &'static str,
    /// Client request headers passed upstream; every other one (credentials, cookies) stays.
    pub(crate) forwarded_headers: &'static [&'static str],
    /// The text message sent upstream when the client is silent, on routes with keep-alive.
    pub(crate) keepalive: &'static str,
    /// Whether routes of a kind send keep-alives unless `keepalive` says otherwise.
    pub(crate) keepalive_by_default: fn(RouteKind) -> bool,
    /// Why routes of a kind cannot send keep-alives, if they cannot.
    pub(crate) keepalive_refused: fn(RouteKind) -> Option<&'static str>,
    /// Text-to-speech output encoding and sample rate when the client names none.
    pub(crate) tts_output: (&'static str, f64),
    /// A query parameter that, sent without `model`, opens a session naming no model.
    pub(crate) modelless_param: Option<&'static str>,
    /// A handshake asking for a variant of the API that cannot be relayed: the refusal's code
    /// and message (400 before the upgrade), or `None`.
    pub(crate) unsupported: fn(&HeaderMap) -> Option<Unsupported>,
    /// The query parameter naming the model; `None` when the API names no model in its URL
    /// (models travel in messages, checked there).
    pub(crate) model_param: Option<&'static str>,
    /// Query parameters carrying the client's credential on this API (browser SDKs that cannot
    /// set headers), tried after the subprotocol and header forms. Every credential parameter
    /// is removed before the query goes upstream, whatever the API.
    pub(crate) query_credentials: &'static [&'static str],
    /// Top-level fields of a JSON text message that carry a credential (ElevenLabs' first
    /// message): removed from every client message before it goes upstream; the first
    /// message's authenticates a handshake that carried none.
    pub(crate) message_credentials: &'static [&'static str],
    /// A text message sent upstream when the client leaves without asking the upstream to
    /// finish (AssemblyAI's `Terminate`, which stops its billing), before the close.
    pub(crate) farewell: Option<&'static str>,
    /// How a session of a route kind drains when the process shuts down: the finalize sent
    /// upstream and when its finals are in (`None`: the client gets 1012 at once). Chosen at
    /// set-up; a generic upstream's config may name one (`drain_message`).
    pub(crate) finalize: fn(RouteKind) -> Option<&'static Finalize>,
    /// The session's audio rate (bytes per second) from its query, where the API names its
    /// formats its own way; `None`: Deepgram's `encoding`, `sample_rate` and `channels`.
    pub(crate) audio_rate: Option<AudioRateFn>,
}

/// Reads the session's audio rate (bytes per second) from its query, or refuses a bad format.
pub(crate) type AudioRateFn =
    fn(RouteKind, &ClientQuery<'_>, &QueryPolicy) -> Result<Option<f64>, RewriteError>;

/// Why a handshake asks for something the client API cannot relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unsupported {
    /// Error code in the API's shape (upper case; each shape writes it its own way).
    pub(crate) code: &'static str,
    /// What to do instead.
    pub(crate) message: &'static str,
}

/// What a client message counts for in metering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ClientUsage {
    /// Speech-to-text audio of this many bytes.
    Audio(usize),
    /// Text-to-speech input of this many characters.
    Characters(u64),
    /// Text-to-speech input of this many characters, asking for audio in these formats.
    Speech(u64, Rates),
    /// Audio carried in an event, this many bytes in the session's current input format.
    SessionAudio(usize),
    /// The session's audio formats as the client asks for them (until the upstream says).
    Formats(Rates),
    /// The client asked the upstream to finish the session (AssemblyAI's `Terminate`): no
    /// farewell is needed when it leaves.
    Finish,
    /// Nothing metered (control messages).
    Nothing,
}

/// What an upstream message counts for in metering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum UpstreamUsage {
    /// Nothing metered.
    Nothing,
    /// Text-to-speech audio of this many bytes (raw, at the route's fixed format).
    Audio(usize),
    /// Audio carried in an event, this many bytes in the session's current output format.
    SessionAudio(usize),
    /// The session's audio formats as the upstream reports them (authoritative).
    Formats(Rates),
    /// Tokens the upstream reports a response or transcription used.
    Tokens(Tokens),
    /// Transcription the upstream reports by duration, seconds.
    TranscriptionSeconds(f64),
    /// The upstream's own account of the session at its end (AssemblyAI's `Termination`):
    /// audio and session seconds, used over voxrelay's count and cross-checked with it.
    Reported {
        /// Audio the upstream received, seconds.
        audio_seconds: f64,
        /// Time the upstream billed the session for, seconds.
        session_seconds: f64,
    },
}

/// What a relayed client message counts for under the route kind's client API, or the message
/// that refuses it under the session's model `rules` (sent to the client instead of
/// forwarding). A static call the compiler inlines: one branch on the kind, no lookup.
/// On APIs with message credentials, every client text message loses them first (one
/// substring scan when none is mentioned).
#[inline]
pub(crate) fn client_message(
    kind: RouteKind,
    msg: &mut Message,
    rules: &ModelRules,
) -> Result<ClientUsage, Message> {
    let api = client_api(kind);
    if !api.message_credentials.is_empty() {
        strip_credentials(kind, api, msg)?;
    }
    let msg: &Message = msg;
    match kind {
        RouteKind::Realtime => openai::client_message(msg, rules),
        RouteKind::ElevenLabsTts | RouteKind::ElevenLabsTtsMulti | RouteKind::ElevenLabsStt => {
            Ok(elevenlabs::client_usage(kind, msg))
        }
        RouteKind::Generic => Ok(generic::client_usage(msg)),
        RouteKind::AssemblyAi => Ok(assemblyai::client_usage(msg)),
        RouteKind::CartesiaTts => cartesia::tts_message(msg, rules),
        RouteKind::CartesiaStt | RouteKind::CartesiaTurns => Ok(cartesia::stt_usage(msg)),
        RouteKind::Listen | RouteKind::Speak | RouteKind::Flux => {
            Ok(deepgram::client_usage(kind, msg))
        }
    }
}

/// A binary client message relayed frame by frame, read by its length alone (no provider
/// reads binary content): what it counts towards.
pub(crate) fn client_binary(kind: RouteKind, len: usize) -> ClientUsage {
    match kind {
        RouteKind::Listen | RouteKind::Speak | RouteKind::Flux => deepgram::binary_usage(kind, len),
        RouteKind::Generic => generic::binary_usage(len),
        RouteKind::AssemblyAi => assemblyai::binary_usage(len),
        RouteKind::CartesiaStt | RouteKind::CartesiaTurns => cartesia::stt_binary_usage(len),
        RouteKind::Realtime
        | RouteKind::ElevenLabsTts
        | RouteKind::ElevenLabsTtsMulti
        | RouteKind::ElevenLabsStt
        | RouteKind::CartesiaTts => ClientUsage::Nothing,
    }
}

/// A binary upstream message of `len` bytes, read by its length alone.
pub(crate) fn upstream_binary(kind: RouteKind, len: usize) -> UpstreamUsage {
    match kind {
        RouteKind::Listen | RouteKind::Speak | RouteKind::Flux => {
            deepgram::tts_audio_len(kind, len).map_or(UpstreamUsage::Nothing, UpstreamUsage::Audio)
        }
        _ => UpstreamUsage::Nothing,
    }
}

/// Audio of `len` bytes (an empty message is none).
#[inline]
fn audio_usage(len: usize) -> ClientUsage {
    if len == 0 {
        ClientUsage::Nothing
    } else {
        ClientUsage::Audio(len)
    }
}

/// Takes the API's credential fields out of a client text message; one that mentions them
/// but cannot be read is refused (it could carry a credential upstream).
fn strip_credentials(kind: RouteKind, api: &ClientApi, msg: &mut Message) -> Result<(), Message> {
    let Message::Text(text) = msg else {
        return Ok(());
    };
    match crate::auth::message::take(text.as_str(), api.message_credentials) {
        crate::auth::message::InMessage::Absent => Ok(()),
        crate::auth::message::InMessage::Taken { text, .. } => {
            *msg = Message::Text(text.into());
            Ok(())
        }
        crate::auth::message::InMessage::Unreadable => {
            let body = message_error_body(
                kind,
                "INVALID_MESSAGE",
                "a message carrying a credential field must be a JSON object",
                "",
            );
            Err(Message::Text(body.to_string().into()))
        }
    }
}

/// A refusal after the upgrade, sent as a text message before the close, in the API's shape.
pub(crate) fn message_error_body(
    kind: RouteKind,
    code: &str,
    message: &str,
    request_id: &str,
) -> serde_json::Value {
    let api = client_api(kind);
    match api.message_error_body {
        Some(body) => body(code, message),
        None => (api.error_body)(code, message, request_id),
    }
}

/// What a relayed upstream message counts for under the route kind's client API.
#[inline]
pub(crate) fn upstream_usage(kind: RouteKind, msg: &Message) -> UpstreamUsage {
    match kind {
        RouteKind::Realtime => openai::upstream_usage(msg),
        RouteKind::ElevenLabsTts | RouteKind::ElevenLabsTtsMulti | RouteKind::ElevenLabsStt => {
            elevenlabs::upstream_usage(kind, msg)
        }
        RouteKind::Generic => UpstreamUsage::Nothing,
        RouteKind::AssemblyAi => assemblyai::upstream_usage(msg),
        RouteKind::CartesiaTts => cartesia::tts_usage(msg),
        RouteKind::CartesiaStt | RouteKind::CartesiaTurns => UpstreamUsage::Nothing,
        RouteKind::Listen | RouteKind::Speak | RouteKind::Flux => {
            deepgram::tts_audio(kind, msg).map_or(UpstreamUsage::Nothing, UpstreamUsage::Audio)
        }
    }
}

/// Every upstream kind's name as written in config (what token grants name).
pub(crate) fn kind_names() -> Vec<&'static str> {
    UpstreamKind::ALL.iter().map(|k| k.as_str()).collect()
}

/// Adds `provider`'s default headers an upstream's config does not name (a client's own value
/// still wins: forwarded headers come first).
pub(crate) fn add_default_headers(
    provider: &Provider,
    headers: &mut Vec<(HeaderName, HeaderValue)>,
) {
    for (name, value) in provider.default_headers {
        if !headers.iter().any(|(n, _)| n == name) {
            headers.push((
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            ));
        }
    }
}

/// Every provider's credential form, in registry order.
pub(crate) fn credential_forms() -> impl Iterator<Item = &'static CredentialForm> {
    UpstreamKind::ALL
        .into_iter()
        .map(|kind| &kind.provider().credentials)
}

/// `token` without any registered provider's token prefix, when a voxrelay token may follow.
pub(crate) fn bare_token(token: &str) -> &str {
    UpstreamKind::ALL
        .iter()
        .filter_map(|kind| kind.provider().token_prefix)
        .find_map(|prefix| token.strip_prefix(prefix))
        .unwrap_or(token)
}

/// `model` without any registered provider's model prefix.
pub(crate) fn bare_model(model: &str) -> &str {
    UpstreamKind::ALL
        .iter()
        .filter_map(|kind| kind.provider().model_prefix)
        .find_map(|prefix| model.strip_prefix(prefix))
        .unwrap_or(model)
}

/// For each configured route, whether a setting makes it serve a provider's own paths (a route's
/// flag is set when any provider's rule picks it; only Cloudflare's picks routes today).
pub(crate) fn own_path_routes(routes: &[RouteConfig], errors: &mut Vec<String>) -> Vec<bool> {
    let mut out = vec![false; routes.len()];
    for pick in UpstreamKind::ALL
        .iter()
        .filter_map(|k| k.provider().own_path_routes)
    {
        for (flag, picked) in out.iter_mut().zip(pick(routes, errors)) {
            *flag |= picked;
        }
    }
    out
}

/// Every provider's own client-facing paths over `routes`, merged.
pub(crate) fn paths(shared: &Arc<Shared>, routes: &[Arc<Route>]) -> Router<Arc<Shared>> {
    UpstreamKind::ALL
        .iter()
        .filter_map(|kind| kind.provider().paths)
        .filter_map(|mount| mount(shared.clone(), routes))
        .fold(Router::new(), Router::merge)
}

#[cfg(test)]
mod tests;
