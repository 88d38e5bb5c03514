//! Deepgram's REST half: prerecorded transcription (`POST /v1/listen`) and one-shot speech
//! (`POST /v1/speak`), in Deepgram's own shape and in Cloudflare Workers AI's shape through the AI
//! Gateway (`POST /v1/<account>/<gateway>/workers-ai/@cf/deepgram/<model>`).
//!
//! Deepgram shape (any path prefix before `/v1/listen` or `/v1/speak`; every reply carries `dg-request-id`):
//! - Credential as on the WebSocket handshake when the simulator has a key (`Authorization: Token|Bearer <k>`
//!   in any case, or `cf-aig-authorization`); otherwise 401
//!   `{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials.","request_id":…}`. Other errors are
//!   `{"err_code":"<HTTP reason, e.g. Bad Request>","err_msg":…,"request_id":…}`.
//! - `/v1/listen?model=…&encoding=…&sample_rate=…&channels=…`: a `Content-Type: application/json` body
//!   `{"url":"http(s)://…"}` (at most 64 KiB) is answered as if the URL held 2.5 s of speech (its `sha256` is
//!   the URL's); any other body is audio, read as a stream and never held whole (hashed and counted as it
//!   arrives). Its duration is the data of a RIFF/WAVE header's `data` chunk over the `fmt ` byte rate, else
//!   the bytes over `encoding` (linear16 2 bytes a sample, mulaw and alaw 1, linear32 4) × `sample_rate`
//!   (16000) × `channels` (1), else over 32000 bytes a second. An empty body is 400. The answer is
//!   Deepgram's prerecorded JSON: `metadata` (request id, sha256, created, duration, channels, model info
//!   of `model`, default `nova-3`) and one `results.channels` entry per channel, with words at two a second
//!   (covering at most the first hour) taken from the simulator's fixed sentence; `punctuate=true` or
//!   `smart_format=true` adds `punctuated_word` and punctuates the transcript.
//! - `/v1/speak?model=…&encoding=…&sample_rate=…&container=…&bit_rate=…` with JSON `{"text":"…"}` (at most
//!   64 KiB; 1 to 2000 characters): silence of 60 ms a character, streamed in chunks of about 100 ms.
//!   No encoding is MP3 (silent MPEG-2 layer III frames, 22050 Hz mono, `bit_rate` default 48000,
//!   `audio/mpeg`); linear16 (24000 Hz), mulaw and alaw (8000 Hz) come in a WAV container with a 44-byte
//!   header (`audio/wav`) unless `container=none` (`application/octet-stream`). Other encodings and
//!   containers are 400. Headers `dg-model-name`, `dg-model-uuid`, `dg-char-count`.
//!
//! Cloudflare shape (`…/workers-ai/<model>`, the model percent-decoded and prefixed `@cf/deepgram/`):
//! credential `Authorization: Bearer <k>` or `cf-aig-authorization: <k>` / `Bearer <k>`, else 401
//! `{"result":null,"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"messages":[]}`.
//! `nova-*` takes the audio body as above (parameters in the query) and answers
//! `{"result":<Deepgram's prerecorded JSON>,"success":true,"errors":[],"messages":[]}`; `aura-*` takes JSON
//! `{"text":…,"speaker":…,"encoding":…,"sample_rate":…,"container":…,"bit_rate":…}` (only `text` required)
//! and streams audio as speak does. Errors in the same envelope: 400 code 5006 (bad input), 400 code 5007
//! (no such model), 413 code 3006 (body over 64 KiB).
//!
//! Failure injection, for fallback and circuit-breaker tests: a model `fail-<status>` (the `model` query
//! on Deepgram paths, `@cf/deepgram/fail-<status>` on Cloudflare's) with a 4xx or 5xx status is answered
//! with that status in the provider's error shape, after the credential check and without reading the
//! body: e.g. `fail-503`, `fail-400`, `fail-429`. Cloudflare codes of injected failures: 429 → 3040,
//! 413 → 3006, 408 → 3007, 401 → 10000, other 4xx → 5006, 5xx → 3000. A `fail-` model naming no such
//! status is 400.

mod speech;
mod upload;

use std::borrow::Cow;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tracing::info;
use uuid::Uuid;

use super::Shared;
use super::gate::{bearer, bearer_credentials, is_key, json_response};
use super::handshake::{self, CF_AUTH_HEADER, CF_MODEL_PREFIX, REQUEST_ID_HEADER};
use super::listen::{self, model_info, timed_words};
use super::speak;
use super::wire::{MODEL_UUID, Params, WordCycle, millis, now_rfc3339};

pub(super) use self::speech::Format;
pub(super) use self::upload::{Heard, Upload};

/// The path segment before a Cloudflare model.
const CF_SEGMENT: &str = "/workers-ai/";
/// Largest JSON request body read, in bytes.
const MAX_JSON_BODY: usize = 64 * 1024;
/// How much speech a `{"url": …}` request is assumed to point at, in seconds.
const URL_AUDIO_SECONDS: f64 = 2.5;
/// Model prefix that asks for an injected failure.
const FAIL_PREFIX: &str = "fail-";
/// Words of a prerecorded transcript cover at most this much audio, so a long upload does not make a
/// huge answer.
const MAX_TRANSCRIBED_SECONDS: f64 = 3600.0;
/// Header naming the speech model.
const MODEL_NAME_HEADER: &str = "dg-model-name";
/// Header carrying the speech model's UUID.
const MODEL_UUID_HEADER: &str = "dg-model-uuid";
/// Header counting the characters synthesized.
const CHAR_COUNT_HEADER: &str = "dg-char-count";

/// A REST endpoint the simulator serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Endpoint {
    /// Deepgram prerecorded transcription, `POST …/v1/listen`.
    Listen,
    /// Deepgram one-shot speech, `POST …/v1/speak`.
    Speak,
    /// Cloudflare Workers AI, `POST …/workers-ai/<model>`, with the model part of the path as sent.
    WorkersAi(String),
}

/// The REST endpoint a POST to `uri` reaches, if any.
pub(super) fn endpoint(uri: &Uri) -> Option<Endpoint> {
    let path = uri.path();
    if let Some(index) = path.find(CF_SEGMENT) {
        let model = &path[index + CF_SEGMENT.len()..];
        if !model.is_empty() {
            return Some(Endpoint::WorkersAi(model.to_owned()));
        }
    }
    let path = path.trim_end_matches('/');
    if path.ends_with("/v1/listen") {
        Some(Endpoint::Listen)
    } else if path.ends_with("/v1/speak") {
        Some(Endpoint::Speak)
    } else {
        None
    }
}

/// A request refused, answered in the provider's error shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
    /// Missing or wrong credential.
    Unauthorized,
    /// Input the provider would refuse, with a message saying why.
    BadRequest(Cow<'static, str>),
    /// A Cloudflare model the simulator does not serve (the model as requested).
    NoSuchModel(String),
    /// A request body over the limit, with a message saying which.
    TooLarge(Cow<'static, str>),
    /// A failure asked for with a `fail-<status>` model.
    Injected(StatusCode),
}

impl Failure {
    /// HTTP status of the reply.
    pub(super) fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::BadRequest(_) | Self::NoSuchModel(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Injected(status) => *status,
        }
    }

    /// The message of every failure but a credential one.
    fn message(&self) -> String {
        match self {
            Self::Unauthorized => "Invalid credentials.".to_owned(),
            Self::BadRequest(message) | Self::TooLarge(message) => message.to_string(),
            Self::NoSuchModel(model) => format!("No such model {model} or task"),
            Self::Injected(status) => format!(
                "Simulated failure: model {FAIL_PREFIX}{} answers {status}.",
                status.as_u16()
            ),
        }
    }

    /// Deepgram's error body.
    pub(super) fn deepgram(&self, request_id: Uuid) -> Value {
        let code = match self {
            Self::Unauthorized => "INVALID_AUTH",
            other => other.status().canonical_reason().unwrap_or("Error"),
        };
        json!({"err_code": code, "err_msg": self.message(), "request_id": request_id.to_string()})
    }

    /// Cloudflare's error envelope.
    pub(super) fn cloudflare(&self) -> Value {
        let (code, message) = match self {
            Self::Unauthorized => (10_000, "Authentication error".to_owned()),
            Self::BadRequest(_) => (5006, self.message()),
            Self::NoSuchModel(_) => (5007, self.message()),
            Self::TooLarge(_) => (3006, "Request is too large".to_owned()),
            Self::Injected(status) => (injected_cloudflare_code(*status), self.message()),
        };
        json!({
            "result": null,
            "success": false,
            "errors": [{"code": code, "message": message}],
            "messages": [],
        })
    }
}

/// Cloudflare's error code for an injected failure with `status`.
fn injected_cloudflare_code(status: StatusCode) -> u32 {
    match status.as_u16() {
        401 => 10_000,
        408 => 3007,
        413 => 3006,
        429 => 3040,
        400..=499 => 5006,
        _ => 3000,
    }
}

/// The failure a `fail-<status>` model asks for; other models pass.
pub(super) fn injected(model: &str) -> Result<(), Failure> {
    let Some(code) = model.strip_prefix(FAIL_PREFIX) else {
        return Ok(());
    };
    let status = code
        .parse::<u16>()
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok())
        .filter(|status| status.is_client_error() || status.is_server_error());
    match status {
        Some(status) => Err(Failure::Injected(status)),
        None => Err(Failure::BadRequest(Cow::Borrowed(
            "a fail- model must name a 4xx or 5xx status, e.g. fail-503",
        ))),
    }
}

/// Answers a POST on `endpoint`.
pub(super) async fn handle(
    shared: &Shared,
    endpoint: Endpoint,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let request_id = Uuid::new_v4();
    let params = Params::parse(uri.query());
    let key = shared.config.api_key.as_deref();
    match endpoint {
        Endpoint::Listen => {
            let answered = listen(key, &params, headers, body, request_id).await;
            deepgram_reply("listen", request_id, answered)
        }
        Endpoint::Speak => {
            let answered = speak(key, &params, headers, body).await;
            deepgram_reply("speak", request_id, answered)
        }
        Endpoint::WorkersAi(model) => {
            let answered = workers_ai(key, &model, &params, headers, body, request_id).await;
            cloudflare_reply(request_id, answered)
        }
    }
}

/// Logs the outcome (status and request id only) and makes the reply: the answer, or `refusal`'s body.
fn outcome(
    provider: &'static str,
    endpoint: &'static str,
    request_id: Uuid,
    answered: Result<Response, Failure>,
    refusal: impl FnOnce(&Failure) -> Value,
) -> Response {
    match answered {
        Ok(response) => {
            let status = response.status().as_u16();
            info!(provider, endpoint, status, %request_id, "rest request answered");
            response
        }
        Err(failure) => {
            let status = failure.status().as_u16();
            info!(provider, endpoint, status, %request_id, "rest request refused");
            json_response(failure.status(), &refusal(&failure))
        }
    }
}

/// The Deepgram reply: the answer or the error body, with `dg-request-id`.
fn deepgram_reply(
    endpoint: &'static str,
    request_id: Uuid,
    answered: Result<Response, Failure>,
) -> Response {
    let mut response = outcome("deepgram", endpoint, request_id, answered, |failure| {
        failure.deepgram(request_id)
    });
    if let Ok(value) = HeaderValue::from_str(&request_id.to_string()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    response
}

/// The Cloudflare reply: the answer or the error envelope.
fn cloudflare_reply(request_id: Uuid, answered: Result<Response, Failure>) -> Response {
    outcome(
        "cloudflare",
        "workers-ai",
        request_id,
        answered,
        Failure::cloudflare,
    )
}

/// `POST /v1/listen`.
async fn listen(
    key: Option<&str>,
    params: &Params,
    headers: &HeaderMap,
    body: Body,
    request_id: Uuid,
) -> Result<Response, Failure> {
    if !handshake::authorized(headers, key) {
        return Err(Failure::Unauthorized);
    }
    let model = params.model_or(listen::DEFAULT_MODEL);
    injected(model)?;
    let heard = if is_json(headers) {
        let request = read_json(body).await?;
        let url = source_url(&request)?;
        Heard {
            sha256: hex::encode(Sha256::digest(url.as_bytes())),
            seconds: URL_AUDIO_SECONDS,
            channels: params.channels(),
        }
    } else {
        measure(body, params).await?
    };
    let result = prerecorded(request_id, model, &heard, params);
    Ok(json_response(StatusCode::OK, &result))
}

/// `POST /v1/speak`.
async fn speak(
    key: Option<&str>,
    params: &Params,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    if !handshake::authorized(headers, key) {
        return Err(Failure::Unauthorized);
    }
    let model = params.model_or(speak::DEFAULT_MODEL).to_owned();
    injected(&model)?;
    let format = Format::new(
        params.get("encoding"),
        params.get("sample_rate").map(parse_rate).transpose()?,
        params.get("container"),
        params.get("bit_rate").map(parse_rate).transpose()?,
    )?;
    let request = read_json(body).await?;
    let text = text_of(&request)?;
    let chars = text.chars().count();
    if chars > speak::MAX_SPEAK_CHARS {
        return Err(Failure::TooLarge(Cow::Owned(format!(
            "Text is {chars} characters long; the limit is {}.",
            speak::MAX_SPEAK_CHARS
        ))));
    }
    let mut response = format.respond(chars as u64);
    let headers = response.headers_mut();
    for (name, value) in [
        (MODEL_NAME_HEADER, model),
        (MODEL_UUID_HEADER, MODEL_UUID.to_owned()),
        (CHAR_COUNT_HEADER, chars.to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    Ok(response)
}

/// `POST …/workers-ai/<model>`.
async fn workers_ai(
    key: Option<&str>,
    raw_model: &str,
    params: &Params,
    headers: &HeaderMap,
    body: Body,
    request_id: Uuid,
) -> Result<Response, Failure> {
    if !cloudflare_authorized(headers, key) {
        return Err(Failure::Unauthorized);
    }
    let requested = percent_decode_str(raw_model)
        .decode_utf8()
        .map_err(|_| Failure::NoSuchModel(raw_model.to_owned()))?;
    let model = requested
        .strip_prefix(CF_MODEL_PREFIX)
        .filter(|model| !model.contains('/'))
        .ok_or_else(|| Failure::NoSuchModel(requested.to_string()))?;
    injected(model)?;
    if model.starts_with("nova-") {
        let heard = measure(body, params).await?;
        let result = prerecorded(request_id, model, &heard, params);
        let envelope = json!({"result": result, "success": true, "errors": [], "messages": []});
        Ok(json_response(StatusCode::OK, &envelope))
    } else if model.starts_with("aura-") {
        let request = read_json(body).await?;
        let text = text_of(&request)?;
        let format = Format::new(
            json_str(&request, "encoding")?,
            json_rate(&request, "sample_rate")?,
            json_str(&request, "container")?,
            json_rate(&request, "bit_rate")?,
        )?;
        Ok(format.respond(text.chars().count() as u64))
    } else {
        Err(Failure::NoSuchModel(requested.to_string()))
    }
}

/// Whether the request carries `key` as Cloudflare takes it (always true without a key).
fn cloudflare_authorized(headers: &HeaderMap, key: Option<&str>) -> bool {
    let Some(key) = key else {
        return true;
    };
    let authorization = bearer_credentials(headers).any(|credential| is_key(credential, key));
    let gateway = headers
        .get_all(CF_AUTH_HEADER)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(|value| bearer(value).unwrap_or(value.trim()))
        .any(|credential| is_key(credential, key));
    authorization || gateway
}

/// Whether the body is declared as JSON.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// Reads a JSON body of at most [`MAX_JSON_BODY`] bytes.
async fn read_json(body: Body) -> Result<Value, Failure> {
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| unreadable())?;
        if bytes.len() + chunk.len() > MAX_JSON_BODY {
            return Err(Failure::TooLarge(Cow::Owned(format!(
                "The JSON body is over {} KiB.",
                MAX_JSON_BODY / 1024
            ))));
        }
        bytes.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&bytes)
        .map_err(|_| Failure::BadRequest(Cow::Borrowed("The request body is not valid JSON.")))
}

/// Reads an audio body as a stream: hashed, counted and its format sniffed, never held whole.
async fn measure(body: Body, params: &Params) -> Result<Heard, Failure> {
    let mut stream = body.into_data_stream();
    let mut upload = Upload::default();
    while let Some(chunk) = stream.next().await {
        upload.feed(&chunk.map_err(|_| unreadable())?);
    }
    upload.finish(params)
}

/// The failure of a body that broke off.
fn unreadable() -> Failure {
    Failure::BadRequest(Cow::Borrowed("The request body could not be read."))
}

/// The `url` of a `{"url": …}` request, which must be an absolute http(s) URL.
fn source_url(request: &Value) -> Result<&str, Failure> {
    let url = request
        .get("url")
        .and_then(Value::as_str)
        .ok_or(Failure::BadRequest(Cow::Borrowed(
            "The JSON body has no \"url\" string.",
        )))?;
    let parsed = url.parse::<Uri>().ok();
    let absolute = parsed.as_ref().is_some_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https"))
            && uri.host().is_some_and(|host| !host.is_empty())
    });
    if absolute {
        Ok(url)
    } else {
        Err(Failure::BadRequest(Cow::Borrowed(
            "\"url\" is not an absolute http or https URL.",
        )))
    }
}

/// The non-empty `text` of a speech request.
fn text_of(request: &Value) -> Result<&str, Failure> {
    request
        .get("text")
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
        .ok_or(Failure::BadRequest(Cow::Borrowed(
            "The JSON body needs a non-empty \"text\" string.",
        )))
}

/// A positive whole number from a query (`sample_rate`, `bit_rate`).
fn parse_rate(raw: &str) -> Result<u32, Failure> {
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|rate| *rate > 0)
        .ok_or(Failure::BadRequest(Cow::Borrowed(
            "sample_rate and bit_rate must be positive whole numbers.",
        )))
}

/// An optional string field of a JSON request.
fn json_str<'a>(request: &'a Value, field: &'static str) -> Result<Option<&'a str>, Failure> {
    match request.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(Failure::BadRequest(Cow::Owned(format!(
            "\"{field}\" must be a string."
        )))),
    }
}

/// An optional positive whole-number field of a JSON request.
fn json_rate(request: &Value, field: &'static str) -> Result<Option<u32>, Failure> {
    match request.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .and_then(|rate| u32::try_from(rate).ok())
            .filter(|rate| *rate > 0)
            .map(Some)
            .ok_or(Failure::BadRequest(Cow::Owned(format!(
                "\"{field}\" must be a positive whole number."
            )))),
    }
}

/// Deepgram's prerecorded answer for `heard`, transcribed by `model`.
pub(super) fn prerecorded(request_id: Uuid, model: &str, heard: &Heard, params: &Params) -> Value {
    let punctuate = params.flag("punctuate") || params.flag("smart_format");
    let channels: Vec<Value> = (0..heard.channels)
        .map(|_| {
            let words = timed_words(
                &mut WordCycle::default(),
                0.0,
                heard.seconds.min(MAX_TRANSCRIBED_SECONDS),
            );
            let transcript: Vec<&str> = words
                .iter()
                .map(|(word, _, _)| {
                    if punctuate {
                        word.punctuated.as_str()
                    } else {
                        word.word
                    }
                })
                .collect();
            let confidence = words
                .iter()
                .map(|(word, _, _)| word.confidence)
                .reduce(f64::min)
                .unwrap_or(0.0);
            let words: Vec<Value> = words
                .iter()
                .map(|(word, start, end)| {
                    let mut entry = json!({"word": word.word, "start": start, "end": end,
                                           "confidence": word.confidence});
                    if punctuate {
                        entry["punctuated_word"] = json!(word.punctuated);
                    }
                    entry
                })
                .collect();
            json!({"alternatives": [{
                "transcript": transcript.join(" "),
                "confidence": confidence,
                "words": words,
            }]})
        })
        .collect();
    json!({
        "metadata": {
            "transaction_key": "deprecated",
            "request_id": request_id.to_string(),
            "sha256": heard.sha256,
            "created": now_rfc3339(),
            "duration": millis(heard.seconds),
            "channels": heard.channels,
            "models": [MODEL_UUID],
            "model_info": {MODEL_UUID: model_info(model)},
        },
        "results": {"channels": channels},
    })
}

/// A `status` reply with `content_type` and a streamed `body`.
fn streamed(content_type: &'static str, body: Body) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}
