//! Query settings of a Universal Streaming session and the refusals sent right after the upgrade.

use std::time::Duration;

use serde_json::{Value, json};

use crate::simulate::session::{Closing, Step};
use crate::simulate::wire::Params;

/// `sample_rate` when the query names none.
const DEFAULT_SAMPLE_RATE: u32 = 16_000;
/// Highest `sample_rate` taken.
const MAX_SAMPLE_RATE: u32 = 192_000;
/// Accepted `inactivity_timeout` range, seconds.
const INACTIVITY_RANGE: std::ops::RangeInclusive<u64> = 5..=3600;
/// Input validation error (bad query, bad message).
pub(super) const INVALID_CODE: u16 = 3006;
/// Close reason for 3006 (the `Error` frame has the details).
pub(super) const INVALID_REASON: &str = "Input validation error";

/// Why a session is refused right after the upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::simulate) struct Refusal {
    /// Close code (also `error_code` of the `Error` frame, when one is sent).
    pub(in crate::simulate) code: u16,
    /// `error` text of the `Error` frame (for a refused credential, the close reason).
    pub(in crate::simulate) message: String,
    /// Whether an `Error` frame precedes the close.
    error_frame: bool,
    /// Close reason.
    reason: &'static str,
}

impl Refusal {
    /// A refused credential: close 1008 with `reason`, no `Error` frame.
    pub(in crate::simulate) fn unauthorized(reason: &'static str) -> Self {
        Self {
            code: super::UNAUTHORIZED_CODE,
            message: reason.to_owned(),
            error_frame: false,
            reason,
        }
    }

    /// A query or message that fails validation: `Error` 3006 with `message`, then close 3006.
    fn invalid(message: String) -> Self {
        Self {
            code: INVALID_CODE,
            message,
            error_frame: true,
            reason: INVALID_REASON,
        }
    }

    /// The step that reports this refusal and closes.
    pub(super) fn step(&self) -> Step {
        let closing = Closing::Status(self.code, self.reason);
        if self.error_frame {
            Step::json(error(self.code, &self.message)).then_close(closing)
        } else {
            Step::close(closing)
        }
    }
}

/// `{"type":"Error","error_code":…,"error":…}`.
pub(super) fn error(code: u16, message: &str) -> Value {
    json!({"type": "Error", "error_code": code, "error": message})
}

/// What the query asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::simulate) struct Settings {
    /// `speech_model` (required).
    pub(in crate::simulate) speech_model: String,
    /// Audio bytes per second (rate × bytes per sample).
    pub(in crate::simulate) bytes_per_second: u64,
    /// `format_turns=true`: each end of turn is followed by a formatted copy.
    pub(in crate::simulate) format_turns: bool,
    /// `inactivity_timeout`, if set.
    pub(in crate::simulate) inactivity: Option<Duration>,
}

impl Settings {
    /// Reads and validates the query; an error is the 3006 refusal.
    pub(in crate::simulate) fn from_params(params: &Params) -> Result<Self, Refusal> {
        let speech_model = match params.get("speech_model") {
            Some(model) if !model.is_empty() => model.to_owned(),
            _ => {
                return Err(Refusal::invalid(
                    "Invalid Message: speech_model is required (there is no default)".into(),
                ));
            }
        };
        let rate = match params.get("sample_rate") {
            None => DEFAULT_SAMPLE_RATE,
            Some(raw) => raw
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|rate| (1..=MAX_SAMPLE_RATE).contains(rate))
                .ok_or_else(|| {
                    Refusal::invalid(
                        "Invalid Message: sample_rate must be a positive integer".into(),
                    )
                })?,
        };
        let width = match params.get("encoding").unwrap_or("pcm_s16le") {
            "pcm_s16le" => 2,
            "pcm_mulaw" => 1,
            _ => {
                return Err(Refusal::invalid(
                    "Invalid Message: encoding must be pcm_s16le or pcm_mulaw in the simulator"
                        .into(),
                ));
            }
        };
        let inactivity = match params.get("inactivity_timeout") {
            None => None,
            Some(raw) => Some(
                raw.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|secs| INACTIVITY_RANGE.contains(secs))
                    .map(Duration::from_secs)
                    .ok_or_else(|| {
                        Refusal::invalid(
                            "Invalid Message: inactivity_timeout must be between 5 and 3600".into(),
                        )
                    })?,
            ),
        };
        Ok(Self {
            speech_model,
            bytes_per_second: width * u64::from(rate),
            format_turns: params.flag("format_turns"),
            inactivity,
        })
    }
}
