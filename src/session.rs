//! One client session, in phases: check the handshake, authenticate, rewrite, connect the
//! upstream, complete the upgrade, relay, record the outcome.

pub(crate) mod connect;
mod later;
mod run;
pub(crate) mod upgrade;

use connect::{Request, connect_upstream};
pub(crate) use run::USAGE_TARGET;
use run::run;
use upgrade::{ClientIo, ClientUpgrade, UpgradeRejection};

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::either::Either;
use tokio_util::task::task_tracker::TaskTrackerToken;
use tracing::{Instrument, info, info_span};

use crate::auth::{Access, AuthError, Credential};
use crate::error::Reject;
use crate::limits::Permit;
use crate::relay::socket::{Io, Limits, Role, WsSocket};
use crate::revoke::Registration;
use crate::rewrite::{ClientQuery, Pattern};
use crate::route::{ModelRules, Route};
use crate::secret::Secret;
use crate::state::Shared;
use crate::upstream::{Upstream, UpstreamSocket};
use crate::usage::format::AudioFormat;

/// Client id of sessions on routes without authentication.
pub(crate) const ANONYMOUS: &str = "anonymous";

/// State handed to a route's handler.
#[derive(Clone, Debug)]
pub(crate) struct RouteState {
    /// App-wide state.
    pub shared: Arc<Shared>,
    /// This route.
    pub route: Arc<Route>,
}

/// What is known once the handshake is accepted, carried into the upgraded session.
struct Accepted {
    session_id: String,
    client_id: String,
    /// The model as sent upstream.
    model: String,
    /// Audio bytes per second (raw encodings) for metering.
    audio_rate: Option<f64>,
    connect_seconds: f64,
    upstream: Arc<Upstream>,
    /// Taken by the relay.
    /// Boxed, so the session's futures carry a pointer rather than the whole socket.
    socket: Option<Box<UpstreamSocket>>,
    /// The upstream's request id, forwarded on the 101.
    request_id: Option<HeaderValue>,
    /// Session length limit (route and token, the tighter).
    max_session: Option<Duration>,
    /// The models the client may name in messages after the upgrade.
    rules: ModelRules,
    _permit: Permit,
    /// Ends the session when its credential is withdrawn.
    revocation: Registration,
    _tracked: TaskTrackerToken,
}

/// The parts of the upgrade request the checks read.
#[derive(Clone, Copy)]
struct Handshake<'a> {
    session_id: &'a str,
    peer: SocketAddr,
    uri: &'a Uri,
    headers: &'a HeaderMap,
}

/// Axum handler for every route path.
pub(crate) async fn handle(
    State(state): State<RouteState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    ws: Result<ClientUpgrade, UpgradeRejection>,
) -> Response {
    serve(state, peer, uri, headers, ws).await
}

/// One handshake on `state`'s route, whichever path chose it: checks, upgrade, relay.
pub(crate) async fn serve(
    state: RouteState,
    peer: SocketAddr,
    uri: Uri,
    headers: HeaderMap,
    ws: Result<ClientUpgrade, UpgradeRejection>,
) -> Response {
    let session_id = uuid::Uuid::new_v4().to_string();
    let span = info_span!(
        "session",
        session_id = %session_id,
        route = %state.route.name,
        %peer,
        client = tracing::field::Empty,
        upstream = tracing::field::Empty,
    );
    async move {
        let request = Handshake {
            session_id: &session_id,
            peer,
            uri: &uri,
            headers: &headers,
        };
        match accept(&state, request, ws).await {
            Ok((ws, Admitted::Ready(accepted))) => upgrade(state, ws, accepted, &session_id),
            Ok((ws, Admitted::Later(pending))) => later::upgrade(state, ws, *pending),
            Err(reject) => {
                count_refusal(&state, &reject);
                let api = crate::provider::client_api(state.route.kind);
                reject.into_response_in(api, &session_id)
            }
        }
    }
    .instrument(span)
    .await
}

/// Logs and counts a refused session (before or after the upgrade).
pub(crate) fn count_refusal(state: &RouteState, reject: &Reject) {
    let reason = reject.reason();
    info!(
        reason,
        status = reject.status().as_u16(),
        "handshake refused"
    );
    state
        .shared
        .metrics
        .rejections_total
        .with_label_values(&[&state.route.name, reason])
        .inc();
}

/// What the checks before the upgrade lead to.
enum Admitted {
    /// Authenticated, upstream open.
    Ready(Box<Accepted>),
    /// The credential comes in the client's first message (the route's client API allows it):
    /// the upstream is opened once it has been checked.
    Later(Box<later::Pending>),
}

/// Every check before the upgrade; the upstream is open when this returns
/// [`Admitted::Ready`].
async fn accept(
    state: &RouteState,
    request: Handshake<'_>,
    ws: Result<ClientUpgrade, UpgradeRejection>,
) -> Result<(ClientUpgrade, Admitted), Reject> {
    let Handshake {
        session_id,
        peer,
        uri,
        headers,
    } = request;
    let ws = ws.map_err(|e| match e {
        UpgradeRejection::MethodNotGet => Reject::MethodNotAllowed,
        _ => Reject::NotWebSocket,
    })?;
    let shared = &state.shared;
    let route = &state.route;
    if shared.draining.is_cancelled() {
        return Err(Reject::Draining);
    }
    let tracked = shared.tracker.token();
    let ip = shared.limits.client_ip(peer, headers);
    shared.limits.check_rate(ip).await?;
    if !route.origin_allowed(&crate::origin::presented(headers)) {
        return Err(Reject::OriginNotAllowed);
    }
    let (echo, access) = authenticate(shared, route, headers, uri.query())?;
    if let Some(unsupported) = (crate::provider::client_api(route.kind).unsupported)(headers) {
        return Err(Reject::Unsupported(unsupported));
    }
    let query = ClientQuery::parse(uri.query(), &route.policy)?;
    let audio_rate = audio_rate(route, &query)?;
    let captures = crate::route::captures(&route.path, uri.path())?;
    let ws = ws.protocols(echo);
    let Some(access) = access else {
        let pending = later::Pending {
            session_id: session_id.to_owned(),
            uri: uri.clone(),
            headers: headers.clone(),
            audio_rate,
            tracked,
        };
        return Ok((ws, Admitted::Later(Box::new(pending))));
    };
    let setup = Setup {
        session_id,
        request: Request {
            query: &query,
            captures: &captures,
            headers,
            providers: None,
        },
        audio_rate,
    };
    let accepted = admit(state, &access, setup, tracked).await?;
    Ok((ws, Admitted::Ready(Box::new(accepted))))
}

/// What [`admit`] sets a session up from, besides the client's access.
#[derive(Clone, Copy)]
struct Setup<'a> {
    session_id: &'a str,
    request: Request<'a>,
    audio_rate: Option<f64>,
}

/// The checks that need the client's identity, then the upstream: model grants, the
/// concurrency caps, the connection.
async fn admit(
    state: &RouteState,
    access: &Access,
    setup: Setup<'_>,
    tracked: TaskTrackerToken,
) -> Result<Accepted, Reject> {
    let Setup {
        session_id,
        request,
        audio_rate,
    } = setup;
    let query = request.query;
    let request = Request {
        providers: access.providers.as_deref(),
        ..request
    };
    let (shared, route) = (&state.shared, &state.route);
    let span = tracing::Span::current();
    span.record("client", access.client_id.as_str());
    // a session naming no model upstream is held to its grants by the model it picks later
    if query.names_model() {
        check_model_granted(access, &query.model)?;
    }
    let permit = shared
        .limits
        .acquire(
            &access.client_id,
            access.max_concurrent,
            access.jti.as_deref(),
            session_id,
        )
        .await?;
    let connect_started = Instant::now();
    let connected = connect_upstream(shared, route, request).await?;
    let upstream = connected.upstream;
    span.record("upstream", upstream.name.as_str());
    let max_session = match (route.max_session, access.max_session) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(Accepted {
        session_id: session_id.to_owned(),
        client_id: access.client_id.clone(),
        model: connected.model,
        audio_rate,
        connect_seconds: connect_started.elapsed().as_secs_f64(),
        upstream,
        socket: Some(Box::new(connected.socket)),
        request_id: connected.request_id,
        max_session,
        rules: ModelRules {
            allowed: route.policy.models.clone(),
            granted: access.models.clone(),
            modelless: !query.names_model(),
        },
        _permit: permit,
        revocation: shared
            .revocations
            .register(&access.client_id, access.jti.as_deref()),
        _tracked: tracked,
    })
}

/// The session's audio rate for metering, read the way its client API names formats.
fn audio_rate(route: &Route, query: &ClientQuery<'_>) -> Result<Option<f64>, Reject> {
    if let Some(rate) = route.audio_bytes_per_second {
        return Ok(Some(rate));
    }
    Ok(match crate::provider::client_api(route.kind).audio_rate {
        Some(read) => read(route.kind, query, &route.policy)?,
        None => AudioFormat::read(query, &route.policy)?.rate(route.kind),
    })
}

/// The subprotocol to echo and what the client may do: `None` when the credential is to come
/// in the first message. Routes with `require_auth = false` admit everyone as [`ANONYMOUS`].
fn authenticate(
    shared: &Shared,
    route: &Route,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(Option<String>, Option<Access>), Reject> {
    let first_offered = || {
        crate::auth::offered_protocols(headers)
            .first()
            .map(|p| (*p).to_owned())
    };
    if !route.require_auth {
        return Ok((first_offered(), Some(anonymous())));
    }
    let api = crate::provider::client_api(route.kind);
    let credential = match crate::auth::credential(headers) {
        Err(AuthError::Missing) => {
            match crate::rewrite::params::credential(query, api.query_credentials) {
                Some(token) => Credential {
                    token: Secret::new(token),
                    echo: first_offered(),
                },
                None if !api.message_credentials.is_empty() => return Ok((first_offered(), None)),
                None => return Err(AuthError::Missing.into()),
            }
        }
        other => other?,
    };
    let access = shared
        .auth
        .load()
        .authorize(&credential.token, &route.name)?;
    Ok((credential.echo, Some(access)))
}

/// What a client may do on a route without authentication ([`ANONYMOUS`]).
pub(crate) fn anonymous() -> Access {
    Access {
        client_id: ANONYMOUS.to_owned(),
        models: None,
        max_session: None,
        max_concurrent: None,
        providers: None,
        jti: None,
    }
}

/// A token that lists models allows only those (the route's allowlist still applies).
pub(crate) fn check_model_granted(access: &Access, model: &str) -> Result<(), Reject> {
    match &access.models {
        Some(granted) if !Pattern::any_matches_model(granted, model) => {
            Err(Reject::ModelNotGranted(model.chars().take(64).collect()))
        }
        _ => Ok(()),
    }
}

/// Completes the browser's upgrade and spawns the relay.
fn upgrade(
    state: RouteState,
    ws: ClientUpgrade,
    accepted: Box<Accepted>,
    session_id: &str,
) -> Response {
    let request_id =
        (accepted.request_id.clone()).or_else(|| HeaderValue::from_str(session_id).ok());
    let request_id_header = crate::provider::client_api(state.route.kind).request_id_header;
    let config = state.shared.server.websocket();
    let mut resp = complete(ws, config, move |client| run(state, client, accepted, None));
    if let Some(id) = request_id {
        resp.headers_mut().insert(request_id_header, id);
    }
    resp
}

/// Answers the upgrade; `session` runs on the client's socket, with `config`'s message and
/// buffer limits, once the connection is handed over.
fn complete<F, Fut>(ws: ClientUpgrade, config: WebSocketConfig, session: F) -> Response
where
    F: FnOnce(Box<WsSocket>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    // the session's state is passed boxed from here on: an async fn keeps its arguments twice
    ws.on_upgrade(move |io| session(Box::new(client_socket(io, Limits::of(&config)))))
}

/// The client's WebSocket on its connection: the listener's own stream when the upgraded
/// connection is one (no extra layer per read and write), with what hyper read past the
/// request.
fn client_socket(io: ClientIo, limits: Limits) -> WsSocket {
    type Listened = TokioIo<crate::tls::Stream<crate::conns::Counted<tokio::net::TcpStream>>>;
    match io.into_inner().downcast::<Listened>() {
        Ok(parts) => {
            let io: Box<dyn Io> = match parts.io.into_inner() {
                Either::Left(tls) => Box::new(tls),
                Either::Right(tcp) => Box::new(tcp),
            };
            WsSocket::boxed(io, Role::Server, parts.read_buf.to_vec(), limits)
        }
        Err(upgraded) => WsSocket::new(TokioIo::new(upgraded), Role::Server, Vec::new(), limits),
    }
}
