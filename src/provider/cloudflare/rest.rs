//! Workers AI's REST calls through the AI Gateway:
//! `POST <endpoint>/@cf/deepgram/nova-3?<params>` with the audio as the body (answered as
//! `{"result": <Deepgram's prerecorded JSON>, "success": true, …}`) and
//! `POST <endpoint>/@cf/deepgram/aura-2-en` with `{"text", "speaker", "encoding", …}` (answered
//! with the audio). The model picks the API, so it moves from the query to the path; speech
//! takes its parameters in the JSON body. Errors come as
//! `{"success": false, "errors": [{"code", "message"}]}`.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::rest::RestApi;
use crate::rewrite::decode;

/// The registry's REST entry for Cloudflare.
pub(crate) static REST: RestApi = RestApi {
    request,
    // Workers AI reads `Authorization: Bearer`; an authenticated gateway also reads
    // `cf-aig-authorization` (the upstream's credential header)
    bearer_too: true,
    // nova-3's input is the audio itself: it has no URL field
    url_bodies: false,
    result,
    error,
};

/// Speech parameters Workers AI takes as numbers.
const NUMERIC: [&str; 2] = ["sample_rate", "bit_rate"];

fn request(
    endpoint: &str,
    _path: &str,
    query: &str,
    text: Option<&str>,
) -> (String, Option<Value>) {
    let mut model = String::new();
    let mut rest: Vec<&str> = Vec::new();
    let mut params = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (decode(k).into_owned(), decode(v).into_owned());
        if key == "model" {
            model = value;
            continue;
        }
        rest.push(pair);
        let number = NUMERIC
            .contains(&key.as_str())
            .then(|| number(&value))
            .flatten();
        let json = number.unwrap_or(Value::String(value));
        params.insert(key, json);
    }
    let url = format!("{endpoint}/{model}");
    match text {
        Some(text) => {
            params.insert("text".into(), Value::String(text.to_owned()));
            (url, Some(Value::Object(params)))
        }
        None if rest.is_empty() => (url, None),
        None => (format!("{url}?{}", rest.join("&")), None),
    }
}

/// A number as JSON: an integer where it is one (`24000`, not `24000.0`).
fn number(value: &str) -> Option<Value> {
    if let Ok(n) = value.parse::<i64>() {
        return Some(n.into());
    }
    let n = value.parse::<f64>().ok()?;
    serde_json::Number::from_f64(n).map(Value::Number)
}

/// The `result` of Workers AI's envelope, as is.
fn result(body: Bytes) -> Result<Bytes, String> {
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        result: Option<&'a RawValue>,
    }
    match serde_json::from_slice::<Envelope<'_>>(&body) {
        Ok(Envelope {
            result: Some(result),
        }) => Ok(body.slice_ref(result.get().as_bytes())),
        Ok(_) => Err("the answer has no result".into()),
        Err(e) => Err(format!("the answer is not JSON: {e}")),
    }
}

/// The first of the envelope's `errors`, as (code, message).
fn error(body: &[u8]) -> Option<(String, String)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let first = v.get("errors")?.as_array()?.first()?;
    let code = match first.get("code") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "UPSTREAM_ERROR".into(),
    };
    let message = first.get("message").and_then(Value::as_str).unwrap_or("");
    Some((code, message.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_moves_to_the_path_and_speech_parameters_to_the_body() {
        let (url, body) = request(
            "https://gw/v1/a/g/workers-ai",
            "",
            "model=%40cf%2Fdeepgram%2Fnova-3&punctuate=true&language=en",
            None,
        );
        assert_eq!(
            url,
            "https://gw/v1/a/g/workers-ai/@cf/deepgram/nova-3?punctuate=true&language=en"
        );
        assert!(body.is_none());
        let (url, body) = request(
            "https://gw/v1/a/g/workers-ai",
            "",
            "model=%40cf%2Fdeepgram%2Faura-2-en&speaker=thalia&sample_rate=24000&encoding=linear16",
            Some("Hello"),
        );
        assert_eq!(url, "https://gw/v1/a/g/workers-ai/@cf/deepgram/aura-2-en");
        assert_eq!(
            body.unwrap(),
            serde_json::json!({"text": "Hello", "speaker": "thalia", "sample_rate": 24000, "encoding": "linear16"})
        );
    }

    #[test]
    fn the_envelope_is_unwrapped_byte_for_byte_and_errors_read() {
        let body = Bytes::from_static(
            br#"{"result":{"metadata":{"duration":1.5}},"success":true,"errors":[],"messages":[]}"#,
        );
        assert_eq!(
            &result(body).unwrap()[..],
            br#"{"metadata":{"duration":1.5}}"#
        );
        assert!(result(Bytes::from_static(b"{\"success\":false}")).is_err());
        let e = br#"{"result":null,"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"messages":[]}"#;
        assert_eq!(
            error(e),
            Some(("10000".into(), "Authentication error".into()))
        );
        assert_eq!(error(b"nope"), None);
    }
}
