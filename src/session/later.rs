//! Sessions whose credential comes in the first message (the route's client API lists
//! message credentials, as ElevenLabs' text-to-speech does): the upgrade completes without one,
//! the first message is read within `server.request_body_timeout`, its credential fields are
//! taken out and checked, and only then is the upstream opened and the (stripped) message
//! sent on. A refusal at that point is the API's error body as a text message, then a close:
//! 1008 for the client's fault, 1011 when the upstream cannot be had.

use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::task::task_tracker::TaskTrackerToken;

use super::upgrade::ClientUpgrade;
use super::{Request, RouteState, Setup, admit, complete, count_refusal, run};
use crate::auth::AuthError;
use crate::auth::message::{InMessage, take};
use crate::error::Reject;
use crate::relay::message::close;
use crate::relay::socket::WsSocket;
use crate::relay::{CLOSE_INTERNAL, CLOSE_POLICY};
use crate::rewrite::ClientQuery;

/// What is kept of the handshake until the first message arrives.
pub(super) struct Pending {
    pub(super) session_id: String,
    pub(super) uri: Uri,
    pub(super) headers: HeaderMap,
    pub(super) audio_rate: Option<f64>,
    pub(super) tracked: TaskTrackerToken,
}

/// Completes the upgrade; the session is set up from its first message.
pub(super) fn upgrade(state: RouteState, ws: ClientUpgrade, pending: Pending) -> Response {
    let config = state.shared.server.websocket();
    complete(ws, config, move |client| set_up(state, client, pending))
}

/// Reads and checks the first message, opens the upstream, relays.
async fn set_up(state: RouteState, mut client: Box<WsSocket>, pending: Pending) {
    let first = match first_message(&state, &mut client).await {
        Ok(first) => first,
        Err(reject) => return refuse(&state, client, &pending.session_id, reject).await,
    };
    let admitted = async {
        let (token, text) = first;
        let access = state
            .shared
            .auth
            .load()
            .authorize(&token, &state.route.name)?;
        let query = ClientQuery::parse(pending.uri.query(), &state.route.policy)?;
        let captures = crate::route::captures(&state.route.path, pending.uri.path())?;
        let setup = Setup {
            session_id: &pending.session_id,
            request: Request {
                query: &query,
                captures: &captures,
                headers: &pending.headers,
                providers: None,
            },
            audio_rate: pending.audio_rate,
        };
        // boxed: the upstream connect lives only until the session starts
        let accepted = Box::pin(admit(&state, &access, setup, pending.tracked)).await?;
        Ok::<_, Reject>((accepted, text))
    }
    .await;
    match admitted {
        Ok((accepted, text)) => {
            run(
                state,
                client,
                Box::new(accepted),
                Some(Message::Text(text.into())),
            )
            .await
        }
        Err(reject) => refuse(&state, client, &pending.session_id, reject).await,
    }
}

/// The first message's credential and the message without it.
async fn first_message(
    state: &RouteState,
    client: &mut WsSocket,
) -> Result<(crate::secret::Secret, String), Reject> {
    let wait = state.shared.server.request_body_timeout;
    let fields = crate::provider::client_api(state.route.kind).message_credentials;
    let first = tokio::time::timeout(wait, client.next()).await;
    let Ok(Some(Ok(Message::Text(text)))) = first else {
        return Err(AuthError::Missing.into());
    };
    match take(text.as_str(), fields) {
        InMessage::Taken {
            token: Some(token),
            text,
        } => Ok((token, text)),
        InMessage::Taken { token: None, .. } | InMessage::Absent | InMessage::Unreadable => {
            Err(AuthError::Missing.into())
        }
    }
}

/// Tells the client why in the API's error shape, then closes.
async fn refuse(state: &RouteState, mut client: Box<WsSocket>, session_id: &str, reject: Reject) {
    count_refusal(state, &reject);
    let message = reject.message();
    let body = crate::provider::message_error_body(
        state.route.kind,
        reject.err_code(),
        &message,
        session_id,
    );
    let code = if reject.status().is_server_error() {
        CLOSE_INTERNAL
    } else {
        CLOSE_POLICY
    };
    let _ = client.send(Message::Text(body.to_string().into())).await;
    let _ = client.send(close(code, &message)).await;
    let wait = state.shared.server.close_timeout;
    let _ = tokio::time::timeout(wait, async {
        while let Some(Ok(_)) = client.next().await {}
    })
    .await;
}
