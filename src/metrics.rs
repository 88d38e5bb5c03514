//! Prometheus metrics owned by the app (never the global registry), with bounded labels:
//! route and upstream names from config and fixed reason/outcome/direction strings.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Direction label for frames from the browser.
pub const CLIENT_TO_UPSTREAM: &str = "client_to_upstream";
/// Direction label for frames from the upstream.
pub const UPSTREAM_TO_CLIENT: &str = "upstream_to_client";

/// Buckets for the upstream connect time (seconds).
const CONNECT_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Buckets for session length (seconds).
const SESSION_BUCKETS: [f64; 12] = [
    0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0,
];

/// Every voxrelay metric.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
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
    /// Relayed messages by route and direction.
    pub messages_total: IntCounterVec,
    /// Relayed payload bytes by route and direction.
    pub bytes_total: IntCounterVec,
    /// Tokens issued by the grant endpoint.
    pub grants_total: IntCounter,
    /// Upstream connect attempts by upstream and outcome.
    pub upstream_attempts_total: IntCounterVec,
    /// Sessions that connected to a later upstream than the route's first.
    pub fallbacks_total: IntCounterVec,
    /// 1 while an upstream's circuit breaker is open.
    pub circuit_open: IntGaugeVec,
    /// KeepAlive messages injected upstream by route.
    pub keepalives_total: IntCounterVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> Self {
        let registry = Registry::new();
        let sessions_active = IntGaugeVec::new(
            Opts::new("voxrelay_sessions_active", "Sessions currently relaying."),
            &["route"],
        )
        .expect("valid metric");
        let sessions_total = IntCounterVec::new(
            Opts::new(
                "voxrelay_sessions_total",
                "Sessions ended, by how they ended.",
            ),
            &["route", "upstream", "outcome"],
        )
        .expect("valid metric");
        let rejections_total = IntCounterVec::new(
            Opts::new(
                "voxrelay_handshake_rejections_total",
                "Handshakes refused before the upgrade.",
            ),
            &["route", "reason"],
        )
        .expect("valid metric");
        let upstream_connect_seconds = HistogramVec::new(
            HistogramOpts::new(
                "voxrelay_upstream_connect_duration_seconds",
                "Time to open the upstream WebSocket, successful or not.",
            )
            .buckets(CONNECT_BUCKETS.to_vec()),
            &["upstream"],
        )
        .expect("valid metric");
        let session_seconds = HistogramVec::new(
            HistogramOpts::new(
                "voxrelay_session_duration_seconds",
                "Length of relayed sessions.",
            )
            .buckets(SESSION_BUCKETS.to_vec()),
            &["route"],
        )
        .expect("valid metric");
        let messages_total = IntCounterVec::new(
            Opts::new("voxrelay_messages_total", "Data messages relayed."),
            &["route", "direction"],
        )
        .expect("valid metric");
        let bytes_total = IntCounterVec::new(
            Opts::new("voxrelay_message_bytes_total", "Payload bytes relayed."),
            &["route", "direction"],
        )
        .expect("valid metric");
        let grants_total = IntCounter::new(
            "voxrelay_grants_total",
            "Short-lived tokens issued by /v1/auth/grant.",
        )
        .expect("valid metric");
        let upstream_attempts_total = IntCounterVec::new(
            Opts::new(
                "voxrelay_upstream_attempts_total",
                "Upstream connect attempts by outcome (ok, rejected, server_error, unreachable, timeout, skipped).",
            ),
            &["upstream", "outcome"],
        )
        .expect("valid metric");
        let fallbacks_total = IntCounterVec::new(
            Opts::new(
                "voxrelay_upstream_fallbacks_total",
                "Sessions served by a later upstream because earlier ones failed or were skipped.",
            ),
            &["route", "upstream"],
        )
        .expect("valid metric");
        let circuit_open = IntGaugeVec::new(
            Opts::new(
                "voxrelay_upstream_circuit_open",
                "1 while the upstream's circuit breaker skips it.",
            ),
            &["upstream"],
        )
        .expect("valid metric");
        let keepalives_total = IntCounterVec::new(
            Opts::new(
                "voxrelay_keepalives_injected_total",
                "KeepAlive messages sent upstream during client silence.",
            ),
            &["route"],
        )
        .expect("valid metric");
        for c in [
            Box::new(grants_total.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(upstream_attempts_total.clone()),
            Box::new(fallbacks_total.clone()),
            Box::new(circuit_open.clone()),
            Box::new(keepalives_total.clone()),
            Box::new(sessions_active.clone()),
            Box::new(sessions_total.clone()),
            Box::new(rejections_total.clone()),
            Box::new(upstream_connect_seconds.clone()),
            Box::new(session_seconds.clone()),
            Box::new(messages_total.clone()),
            Box::new(bytes_total.clone()),
        ] {
            registry.register(c).expect("names are unique");
        }
        Self {
            registry,
            sessions_active,
            sessions_total,
            rejections_total,
            upstream_connect_seconds,
            session_seconds,
            messages_total,
            bytes_total,
            grants_total,
            upstream_attempts_total,
            fallbacks_total,
            circuit_open,
            keepalives_total,
        }
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
        let encoder = TextEncoder::new();
        // encoding into a Vec cannot fail for well-formed families
        let _ = encoder.encode(&self.registry.gather(), &mut out);
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
        self.messages.inc();
        self.bytes.inc_by(len as u64);
    }
}
