//! An upgraded session: relay it, then record how it ended (metrics and the usage record).

use std::sync::Arc;
use std::time::Instant;

use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, info};

use super::{Accepted, RouteState};
use crate::metrics::close_code_label;
use crate::relay::socket::WsSocket;
use crate::relay::{DrainOptions, KeepAlive, Outcome, RelayOptions, relay};
use crate::route::Route;
use crate::usage::{self, Meter, Usage};

/// Log target of the per-session usage record.
pub(crate) const USAGE_TARGET: &str = "voxrelay::usage";

/// Relays one upgraded session and records how it ended; `first`, a client message already
/// read (the one that carried the credential), goes upstream first and is metered like any.
pub(super) async fn run(
    state: RouteState,
    client: Box<WsSocket>,
    mut accepted: Box<Accepted>,
    first: Option<Message>,
) {
    let Some(mut socket) = accepted.socket.take() else {
        return;
    };
    let shared = &state.shared;
    let m = &shared.metrics;
    let route = &state.route.name;
    let client_label = m.client_label(&accepted.client_id);
    let active = m.sessions_active.with_label_values(&[route]);
    let client_active = m.client_sessions_active.with_label_values(&[&client_label]);
    active.inc();
    client_active.inc();
    m.client_sessions_total
        .with_label_values(&[route, &client_label])
        .inc();
    let upstream = &accepted.upstream;
    let labels = [
        route.as_str(),
        upstream.name.as_str(),
        client_label.as_str(),
    ];
    let meter = Arc::new(Meter::new(
        m,
        state.route.kind,
        accepted.audio_rate,
        &upstream.prices_for(&accepted.model),
        labels,
    ));
    let started = Instant::now();
    info!("session started");
    if let Some(mut first) = first {
        match meter.client_message(&mut first, &accepted.rules) {
            Ok(()) => {
                // a failed send shows up as the upstream's end in the relay
                let _ = socket.send(first).await;
            }
            Err(_) => debug!("first message refused by the session's rules"),
        }
    }
    let opts = RelayOptions {
        meter: meter.clone(),
        rules: std::mem::take(&mut accepted.rules),
        close_timeout: shared.server.close_timeout,
        max_session: accepted.max_session,
        idle_timeout: shared.server.idle_timeout,
        keepalive: state.route.keepalive.map(|every| KeepAlive {
            every,
            message: crate::provider::client_api(state.route.kind).keepalive,
            sent: m.keepalives_total.with_label_values(&[route]),
        }),
        max_message_bytes: shared.server.max_message_bytes,
        shutdown: shared.sessions_stop.clone(),
        revoked: Some(accepted.revocation.watch()),
        farewell: crate::provider::client_api(state.route.kind).farewell,
        drain: DrainOptions {
            finalize: accepted.upstream.finalize(state.route.kind),
            spread: shared.server.drain_spread,
            timeout: shared.server.drain_timeout,
        },
    };
    let outcome = relay(client, socket, opts).await;
    active.dec();
    client_active.dec();
    let seconds = started.elapsed().as_secs_f64();
    usage::guard::observe(&m.session_seconds.with_label_values(&[route]), seconds);
    m.sessions_total
        .with_label_values(&[route, &upstream.name, outcome.label])
        .inc();
    for (side, code) in outcome.closes() {
        m.close_codes_total
            .with_label_values(&[side, close_code_label(code)])
            .inc();
    }
    let usage = meter.finish();
    record_usage(&state.route, &accepted, &outcome, seconds, &usage);
}

/// The usage record: one structured event per session, for billing and audit pipelines.
fn record_usage(
    route: &Route,
    accepted: &Accepted,
    outcome: &Outcome,
    seconds: f64,
    usage: &Usage,
) {
    info!(
        target: USAGE_TARGET,
        session_id = %accepted.session_id,
        client = %accepted.client_id,
        route = %route.name,
        upstream = %accepted.upstream.name,
        model = %accepted.model,
        duration_seconds = seconds,
        connect_seconds = accepted.connect_seconds,
        first_response_seconds = usage.first_response_seconds,
        bytes_in = usage.bytes_in,
        bytes_out = usage.bytes_out,
        messages_in = usage.messages_in,
        messages_out = usage.messages_out,
        audio_seconds = usage.audio_seconds,
        tts_characters = usage.tts_characters,
        tts_audio_seconds = usage.tts_audio_seconds,
        input_text_tokens = usage.tokens.input_text,
        input_cached_text_tokens = usage.tokens.input_text_cached,
        input_audio_tokens = usage.tokens.input_audio,
        input_cached_audio_tokens = usage.tokens.input_audio_cached,
        output_text_tokens = usage.tokens.output_text,
        output_audio_tokens = usage.tokens.output_audio,
        transcription_input_tokens = usage.tokens.transcription_input,
        transcription_output_tokens = usage.tokens.transcription_output,
        transcription_seconds = usage.transcription_seconds,
        session_seconds = usage.session_seconds,
        metered_audio_seconds = usage.metered_audio_seconds,
        estimated_cost_usd = usage.cost_usd,
        outcome = outcome.label,
        closed_by = outcome.ended_by.as_str(),
        client_close_code = outcome.client_code,
        upstream_close_code = outcome.upstream_code,
        "session usage"
    );
}
