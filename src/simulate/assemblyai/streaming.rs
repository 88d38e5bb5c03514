//! One simulated Universal Streaming session: `Begin`, audio metering, control messages,
//! `Termination`, and the log line that says how the session ended.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tracing::{debug, info};
use uuid::Uuid;

use super::settings::{INVALID_CODE, INVALID_REASON, Refusal, Settings, error};
use super::turns::Turns;
use crate::simulate::session::{Closing, Protocol, Step};

/// Longest audio frame AssemblyAI accepts.
const MAX_FRAME_MS: u64 = 1000;
/// AssemblyAI's maximum session length.
const MAX_SESSION: Duration = Duration::from_secs(3 * 60 * 60);
/// Audio chunk duration violation.
const DURATION_CODE: u16 = 3007;
/// Close reason for 3007 (the `Error` frame has the duration).
const DURATION_REASON: &str = "Input duration violation: Expected between 50 and 1000 ms";
/// Session expired (maximum duration).
const EXPIRED_CODE: u16 = 3008;
/// `error` and close reason for 3008.
const EXPIRED_REASON: &str = "Session Expired: Maximum session duration exceeded";
/// Idle close (legacy code; what v3 sends after `inactivity_timeout` is not documented).
const IDLE_CODE: u16 = 4031;
/// `error` and close reason for an idle close.
const IDLE_REASON: &str = "Session idle for too long";

/// How a running session ended, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Still running.
    Open,
    /// The client sent `Terminate` and got `Termination`.
    Terminated,
    /// The simulator closed it with an error (idle, expiry, bad frame or message).
    ServerClosed,
}

/// State of one `/v3/ws` session.
pub(in crate::simulate) struct Streaming {
    /// Session id, sent in `Begin`.
    id: Uuid,
    /// A refusal to report instead of `Begin`.
    refusal: Option<Refusal>,
    /// Query settings (`None` when refused).
    settings: Option<Settings>,
    /// Wall clock of `Begin`.
    opened: Option<Instant>,
    /// Audio bytes received.
    received: u64,
    /// Turn state.
    turns: Turns,
    /// How it ended.
    end: End,
}

impl Streaming {
    /// A session that runs with `settings`.
    pub(in crate::simulate) fn new(id: Uuid, settings: Settings) -> Self {
        Self {
            id,
            refusal: None,
            turns: Turns::new(settings.bytes_per_second, settings.format_turns),
            settings: Some(settings),
            opened: None,
            received: 0,
            end: End::Open,
        }
    }

    /// A session that only reports `refusal` and closes.
    pub(in crate::simulate) fn refused(refusal: Refusal) -> Self {
        Self {
            id: Uuid::new_v4(),
            refusal: Some(refusal),
            settings: None,
            opened: None,
            received: 0,
            turns: Turns::new(1, false),
            end: End::Open,
        }
    }

    /// Audio bytes per second (1 for a refused session, which never meters).
    fn bytes_per_second(&self) -> u64 {
        self.settings.as_ref().map_or(1, |s| s.bytes_per_second)
    }

    /// Seconds of audio received, rounded to the nearest whole second.
    pub(in crate::simulate) fn audio_seconds(&self) -> u64 {
        let rate = self.bytes_per_second();
        (2 * self.received + rate) / (2 * rate)
    }

    /// Wall-clock seconds since `Begin`, rounded.
    fn session_seconds(&self) -> u64 {
        self.opened
            .map_or(0, |at| at.elapsed().as_secs_f64().round() as u64)
    }

    /// Final turn, `Termination`, close 1000.
    fn terminate(&mut self) -> Step {
        let mut step = Step::default();
        for turn in self.turns.finish() {
            step.push(turn);
        }
        let (audio, session) = (self.audio_seconds(), self.session_seconds());
        step.push(json!({
            "type": "Termination",
            "audio_duration_seconds": audio,
            "session_duration_seconds": session,
        }));
        self.end = End::Terminated;
        info!(
            ended_by = "terminate",
            audio_duration_seconds = audio,
            session_duration_seconds = session,
            audio_bytes = self.received,
            "assemblyai session terminated by the client"
        );
        step.then_close(Closing::Status(1000, ""))
    }

    /// An `Error` frame, then close with the same code.
    fn fail(&mut self, code: u16, message: &str, reason: &'static str) -> Step {
        self.end = End::ServerClosed;
        info!(
            ended_by = "server_error",
            code,
            audio_duration_seconds = self.audio_seconds(),
            session_duration_seconds = self.session_seconds(),
            "assemblyai session closed by the simulator"
        );
        Step::json(error(code, message)).then_close(Closing::Status(code, reason))
    }
}

impl Protocol for Streaming {
    fn on_open(&mut self) -> Step {
        if let Some(refusal) = &self.refusal {
            return refusal.step();
        }
        self.opened = Some(Instant::now());
        let expires_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_add(MAX_SESSION)
            .as_secs();
        if let Some(settings) = &self.settings {
            info!(speech_model = %settings.speech_model, "assemblyai session began");
        }
        Step::json(json!({"type": "Begin", "id": self.id.to_string(), "expires_at": expires_at}))
    }

    fn on_text(&mut self, text: &str) -> Step {
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            return self.fail(INVALID_CODE, "Invalid JSON", INVALID_REASON);
        };
        match message.get("type").and_then(Value::as_str) {
            Some("Terminate") => self.terminate(),
            Some("ForceEndpoint") => {
                let mut step = Step::default();
                for turn in self.turns.finish() {
                    step.push(turn);
                }
                step
            }
            Some("KeepAlive") => Step::default(),
            Some("UpdateConfiguration") => {
                debug!("UpdateConfiguration accepted");
                Step::default()
            }
            Some(other) => {
                let shown: String = other.chars().take(40).collect();
                let text = format!("Invalid Message Type: {shown}");
                self.fail(INVALID_CODE, &text, INVALID_REASON)
            }
            None => self.fail(
                INVALID_CODE,
                "Invalid Message: a text message needs a type",
                INVALID_REASON,
            ),
        }
    }

    fn on_binary(&mut self, data: &[u8]) -> Step {
        let len = data.len() as u64;
        let millis = len * 1000 / self.bytes_per_second();
        if millis > MAX_FRAME_MS {
            let text =
                format!("Input duration violation: {millis} ms. Expected between 50 and 1000 ms");
            return self.fail(DURATION_CODE, &text, DURATION_REASON);
        }
        self.received += len;
        let mut step = Step::default();
        for turn in self.turns.feed(len) {
            step.push(turn);
        }
        step
    }

    fn idle_timeout(&self) -> Option<Duration> {
        self.settings.as_ref().and_then(|s| s.inactivity)
    }

    fn on_idle(&mut self) -> Step {
        self.fail(IDLE_CODE, IDLE_REASON, IDLE_REASON)
    }

    fn max_duration(&self) -> Option<Duration> {
        self.settings.as_ref().map(|_| MAX_SESSION)
    }

    fn on_expired(&mut self) -> Step {
        self.fail(EXPIRED_CODE, EXPIRED_REASON, EXPIRED_REASON)
    }
}

impl Drop for Streaming {
    // The session driver drops the protocol when the socket is gone: a session that got `Begin` but never
    // `Terminate` is logged here, so a relay test can tell whether the relay sent `Terminate`.
    fn drop(&mut self) {
        if self.end == End::Open && self.opened.is_some() {
            info!(
                ended_by = "socket_closed",
                audio_duration_seconds = self.audio_seconds(),
                session_duration_seconds = self.session_seconds(),
                audio_bytes = self.received,
                "assemblyai session ended without Terminate"
            );
        }
    }
}
