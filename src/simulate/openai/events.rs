//! Identifiers and the `error` event of the simulated Realtime API.

use serde_json::{Value, json};
use uuid::Uuid;

/// A fresh OpenAI-style identifier such as `event_…`, `item_…`, `resp_…`.
pub(super) fn id(prefix: &str) -> String {
    let random = Uuid::new_v4().simple().to_string();
    format!("{prefix}_{}", &random[..22])
}

/// Adds a fresh `event_id` to a server event.
pub(super) fn event(mut value: Value) -> Value {
    if let Some(object) = value.as_object_mut() {
        object.insert("event_id".into(), Value::String(id("event")));
    }
    value
}

/// A client event the server refuses; the session stays open.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Fault {
    /// `error.code`.
    pub(super) code: &'static str,
    /// `error.message`.
    pub(super) message: String,
    /// `error.param`, if one parameter is at fault.
    pub(super) param: Option<&'static str>,
}

impl Fault {
    /// A fault with a code, message and optional parameter.
    pub(super) fn new(
        code: &'static str,
        message: impl Into<String>,
        param: Option<&'static str>,
    ) -> Self {
        Self {
            code,
            message: message.into(),
            param,
        }
    }

    /// A required field that is absent or of the wrong type.
    pub(super) fn missing(param: &'static str) -> Self {
        Self::new(
            "missing_required_parameter",
            format!("Missing required parameter: '{param}'."),
            Some(param),
        )
    }

    /// A field whose value is not one of the accepted ones.
    pub(super) fn invalid(param: &'static str, detail: &str) -> Self {
        Self::new(
            "invalid_value",
            format!("Invalid value for '{param}': {detail}"),
            Some(param),
        )
    }

    /// The `error` server event, naming the client's `event_id` if it sent one.
    pub(super) fn to_event(&self, client_event_id: Option<&str>) -> Value {
        event(json!({
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "code": self.code,
                "message": self.message,
                "param": self.param,
                "event_id": client_event_id,
            },
        }))
    }
}
