//! Prometheus metrics owned by the app (never the global registry), with bounded labels:
//! route, upstream and client names from config and fixed reason/outcome/code strings.

mod builder;

use builder::Builder;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use prometheus::{
    CounterVec, Encoder, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Registry,
    TextEncoder,
};

/// Direction label for frames from the browser.
pub const CLIENT_TO_UPSTREAM: &str = "client_to_upstream";
/// Direction label for frames from the upstream.
pub const UPSTREAM_TO_CLIENT: &str = "upstream_to_client";
/// Client label used once the distinct-client cap is reached.
pub const OTHER_CLIENT: &str = "other";

/// Buckets for the upstream connect time (seconds).
const CONNECT_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Buckets for one Redis call (seconds).
const CLUSTER_BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];
/// Buckets for session length (seconds).
const SESSION_BUCKETS: [f64; 12] = [
    0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0,
];
/// Buckets for the time to the first upstream message after the first client message.
const FIRST_RESPONSE_BUCKETS: [f64; 12] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0,
];

/// Every voxrelay metric.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    names: Vec<String>,
    clients: Arc<Mutex<HashSet<String>>>,
    max_clients: usize,
    /// Live sessions by route.
    pub sessions_active: IntGaugeVec,
    /// Ended sessions by route, upstream and outcome.
    pub sessions_total: IntCounterVec,
    /// Handshakes refused before the upgrade, by route and reason.
    pub rejections_total: IntCounterVec,
    /// Upstream connect time by upstream.
    pub upstream_connect_seconds: HistogramVec,
    /// Session length by route.
    pub session_seconds: HistogramVec,
    /// `voxrelay_rest_requests_total{route,upstream,outcome}`.
    pub rest_requests_total: IntCounterVec,
    /// `voxrelay_rest_request_duration_seconds{route}`.
    pub rest_request_seconds: HistogramVec,
    /// `voxrelay_rest_requests_active{route}`.
    pub rest_requests_active: IntGaugeVec,
    /// Relayed messages by route and direction.
    pub messages_total: IntCounterVec,
    /// Relayed payload bytes by route and direction.
    pub bytes_total: IntCounterVec,
    /// Tokens issued by the grant endpoint.
    pub grants_total: IntCounter,
    /// Upstream connect attempts by upstream and outcome.
    pub upstream_attempts_total: IntCounterVec,
    /// Upstream handshakes by upstream and status class.
    pub upstream_handshakes_total: IntCounterVec,
    /// Sessions that connected to a later upstream than the route's first.
    pub fallbacks_total: IntCounterVec,
    /// 1 while an upstream's circuit breaker is open.
    pub circuit_open: IntGaugeVec,
    /// Keep-alive messages injected upstream by route.
    pub keepalives_total: IntCounterVec,
    /// Close frames by who sent them and code.
    pub close_codes_total: IntCounterVec,
    /// First upstream message after the first client message, by route.
    pub first_response_seconds: HistogramVec,
    /// Sessions started by route and client.
    pub client_sessions_total: IntCounterVec,
    /// Live sessions by client.
    pub client_sessions_active: IntGaugeVec,
    /// Audio streamed for transcription, by route and client.
    pub audio_seconds_total: CounterVec,
    /// Characters sent for synthesis, by route and client.
    pub tts_characters_total: IntCounterVec,
    /// Synthesized audio received, by route and client.
    pub tts_audio_seconds_total: CounterVec,
    /// Tokens upstreams reported, by route, client and type.
    pub tokens_total: IntCounterVec,
    /// Estimated upstream cost in US dollars, by route, upstream and client.
    pub cost_usd_total: CounterVec,
    /// The replica's session cap.
    pub sessions_limit: IntGauge,
    /// Listener certificate reloads by result (`ok`, `error`).
    pub tls_reloads_total: IntCounterVec,
    /// The served certificate's not-after time, Unix seconds (only with `[server.tls]`).
    pub tls_not_after_seconds: IntGaugeVec,
    /// Redis call time by operation (only with `[cluster]`).
    pub cluster_call_seconds: HistogramVec,
    /// Redis calls that failed or timed out, by operation.
    pub cluster_errors: IntCounterVec,
    /// 1 for the cluster state in effect (`ok`, `degraded_open`, `degraded_closed`).
    pub cluster_state: IntGaugeVec,
    /// Session leases this replica holds in Redis.
    pub cluster_leases: IntGauge,
    /// Configuration reloads by result (`applied`, `rejected`).
    pub config_reloads_total: IntCounterVec,
    /// 1 while the applied file changed sections that apply only at a restart.
    pub config_restart_pending: IntGauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(100)
    }
}

impl Metrics {
    /// Registers every metric in a fresh registry; at most `max_clients` distinct client labels.
    pub fn new(max_clients: usize) -> Self {
        let mut b = Builder {
            registry: Registry::new(),
            names: Vec::new(),
        };
        let grants_total = b.add(
            IntCounter::new(
                "voxrelay_grants_total",
                "Short-lived tokens issued by /v1/auth/grant.",
            )
            .expect("valid metric"),
        );
        let sessions_limit = b.add(
            IntGauge::new(
                "voxrelay_sessions_limit",
                "The replica's session cap (limits.max_sessions).",
            )
            .expect("valid metric"),
        );
        let cluster_leases = b.add(
            IntGauge::new(
                "voxrelay_cluster_leases",
                "Session leases this replica holds in Redis (sessions of clients with a cap).",
            )
            .expect("valid metric"),
        );
        let config_restart_pending = b.add(
            IntGauge::new(
                "voxrelay_config_restart_pending",
                "1 while the reloaded configuration changed sections that apply only at a restart.",
            )
            .expect("valid metric"),
        );
        Self {
            cluster_call_seconds: b.histograms(
                "voxrelay_cluster_call_duration_seconds",
                "Redis call time by operation (lease, rate, release, heartbeat, ping).",
                &CLUSTER_BUCKETS,
                &["op"],
            ),
            cluster_errors: b.counters(
                "voxrelay_cluster_errors_total",
                "Redis calls that failed, timed out or were not tried because Redis was down, by operation.",
                &["op"],
            ),
            cluster_state: b.gauges(
                "voxrelay_cluster_state",
                "1 for the cluster state in effect: ok, degraded_open (this replica's own limits apply) or degraded_closed (new sessions refused).",
                &["state"],
            ),
            cluster_leases,
            sessions_active: b.gauges("voxrelay_sessions_active", "Sessions currently relaying.", &["route"]),
            sessions_total: b.counters(
                "voxrelay_sessions_total",
                "Sessions ended, by how they ended.",
                &["route", "upstream", "outcome"],
            ),
            rejections_total: b.counters(
                "voxrelay_handshake_rejections_total",
                "Handshakes refused before the upgrade.",
                &["route", "reason"],
            ),
            upstream_connect_seconds: b.histograms(
                "voxrelay_upstream_connect_duration_seconds",
                "Time to open the upstream WebSocket (or a REST call's connection), successful or not.",
                &CONNECT_BUCKETS,
                &["upstream"],
            ),
            session_seconds: b.histograms(
                "voxrelay_session_duration_seconds",
                "Length of relayed sessions.",
                &SESSION_BUCKETS,
                &["route"],
            ),
            rest_requests_total: b.counters(
                "voxrelay_rest_requests_total",
                "REST requests (POST on listen and speak routes) that reached an upstream, by outcome (ok, upstream_error, too_large, client_aborted, timeout, failed).",
                &["route", "upstream", "outcome"],
            ),
            rest_request_seconds: b.histograms(
                "voxrelay_rest_request_duration_seconds",
                "Length of REST requests that reached an upstream, upload and answer included.",
                &SESSION_BUCKETS,
                &["route"],
            ),
            rest_requests_active: b.gauges(
                "voxrelay_rest_requests_active",
                "REST requests in flight (admitted, answer not yet fully sent).",
                &["route"],
            ),
            messages_total: b.counters("voxrelay_messages_total", "Data messages relayed.", &["route", "direction"]),
            bytes_total: b.counters("voxrelay_message_bytes_total", "Payload bytes relayed.", &["route", "direction"]),
            upstream_attempts_total: b.counters(
                "voxrelay_upstream_attempts_total",
                "Upstream connect attempts by outcome (ok, rejected, server_error, unreachable, timeout, skipped).",
                &["upstream", "outcome"],
            ),
            upstream_handshakes_total: b.counters(
                "voxrelay_upstream_handshakes_total",
                "Upstream WebSocket handshakes by HTTP status class (101, 3xx, 4xx, 5xx, network_error, timeout).",
                &["upstream", "status_class"],
            ),
            fallbacks_total: b.counters(
                "voxrelay_upstream_fallbacks_total",
                "Sessions served by a later upstream because earlier ones failed or were skipped.",
                &["route", "upstream"],
            ),
            circuit_open: b.gauges(
                "voxrelay_upstream_circuit_open",
                "1 while the upstream's circuit breaker skips it.",
                &["upstream"],
            ),
            keepalives_total: b.counters(
                "voxrelay_keepalives_injected_total",
                "KeepAlive messages sent upstream during client silence.",
                &["route"],
            ),
            close_codes_total: b.counters(
                "voxrelay_close_codes_total",
                "Close frames by sender (client, upstream, relay) and code.",
                &["side", "code"],
            ),
            first_response_seconds: b.histograms(
                "voxrelay_first_response_seconds",
                "Time from the first client message to the first upstream message after it (time to first transcript for STT).",
                &FIRST_RESPONSE_BUCKETS,
                &["route"],
            ),
            client_sessions_total: b.counters(
                "voxrelay_client_sessions_total",
                "Sessions started, by route and client.",
                &["route", "client"],
            ),
            client_sessions_active: b.gauges(
                "voxrelay_client_sessions_active",
                "Sessions currently relaying, by client.",
                &["client"],
            ),
            audio_seconds_total: b.float_counters(
                "voxrelay_audio_seconds_total",
                "Audio streamed in for transcription or to a realtime model (raw encodings from bytes, containers from stream time).",
                &["route", "client"],
            ),
            tts_characters_total: b.counters(
                "voxrelay_tts_characters_total",
                "Characters sent for speech synthesis.",
                &["route", "client"],
            ),
            tts_audio_seconds_total: b.float_counters(
                "voxrelay_tts_audio_seconds_total",
                "Synthesized audio received (raw encodings), or a realtime model's audio.",
                &["route", "client"],
            ),
            tokens_total: b.counters(
                "voxrelay_tokens_total",
                "Tokens the upstream reported, by type (input_text, input_text_cached, input_audio, input_audio_cached, output_text, output_audio, transcription_input, transcription_output).",
                &["route", "client", "type"],
            ),
            cost_usd_total: b.float_counters(
                "voxrelay_estimated_cost_usd_total",
                "Estimated upstream cost from configured prices, in US dollars.",
                &["route", "upstream", "client"],
            ),
            tls_reloads_total: b.counters(
                "voxrelay_tls_reloads_total",
                "Listener certificate reloads after its files changed, by result.",
                &["result"],
            ),
            // no labels: absent from /metrics until TLS sets it, so alerts on it never see 0
            tls_not_after_seconds: b.gauges(
                "voxrelay_tls_certificate_not_after_seconds",
                "Not-after time of the listener's current certificate, Unix seconds.",
                &[],
            ),
            config_reloads_total: b.counters(
                "voxrelay_config_reloads_total",
                "Configuration reloads (SIGHUP or a changed file), by result.",
                &["result"],
            ),
            config_restart_pending,
            grants_total,
            sessions_limit,
            registry: b.registry,
            names: b.names,
            clients: Arc::new(Mutex::new(HashSet::new())),
            max_clients,
        }
    }

    /// Every metric family name this registry exports.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The label for client `id`: itself while fewer than the cap have been seen, else `other`.
    pub fn client_label(&self, id: &str) -> String {
        let mut seen = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if seen.contains(id) || seen.len() < self.max_clients {
            seen.insert(id.to_owned());
            return id.to_owned();
        }
        OTHER_CLIENT.to_owned()
    }

    /// Counters for one direction of one route, resolved once per session.
    pub fn flow(&self, route: &str, direction: &str) -> Flow {
        Flow {
            messages: self.messages_total.with_label_values(&[route, direction]),
            bytes: self.bytes_total.with_label_values(&[route, direction]),
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // encoding into a Vec cannot fail for well-formed families
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Message and byte counters for one direction.
#[derive(Debug, Clone)]
pub struct Flow {
    messages: IntCounter,
    bytes: IntCounter,
}

impl Flow {
    /// Counts one relayed message of `len` bytes.
    pub fn record(&self, len: usize) {
        self.record_part(len, true);
    }

    /// Counts `len` bytes of a relayed message, and the message at its first part.
    pub fn record_part(&self, len: usize, starts: bool) {
        if starts {
            self.messages.inc();
        }
        self.bytes.inc_by(len as u64);
    }
}

/// Bounded label for a close code: the registered codes by number, ranges otherwise.
pub fn close_code_label(code: Option<u16>) -> &'static str {
    const KNOWN: [&str; 16] = [
        "1000", "1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008", "1009", "1010",
        "1011", "1012", "1013", "1014", "1015",
    ];
    match code {
        None => "none",
        Some(c @ 1000..=1015) => KNOWN[usize::from(c - 1000)],
        Some(3000..=3999) => "3xxx",
        Some(4000..=4999) => "4xxx",
        Some(_) => "other",
    }
}

#[cfg(test)]
mod tests;
