use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::*;

fn text(v: serde_json::Value) -> Message {
    Message::text(v.to_string())
}

#[test]
fn base64_length_gives_the_decoded_bytes_without_decoding() {
    for n in 0..64usize {
        let encoded = STANDARD.encode(vec![7u8; n]);
        assert_eq!(base64_len(&encoded, false), n, "{encoded}");
        let unpadded = encoded.trim_end_matches('=');
        assert_eq!(base64_len(unpadded, false), n, "{unpadded}");
    }
    // JSON may escape `/`; the unescaped text arrives owned
    let escaped = r#"{"type":"response.output_audio.delta","delta":"\/\/\/\/"}"#;
    assert_eq!(
        upstream_usage(&Message::text(escaped)),
        UpstreamUsage::SessionAudio(3)
    );
    // garbage counts by its length, never panics
    assert_eq!(base64_len("=", false), 0);
    assert_eq!(base64_len("A", false), 0);
    assert_eq!(base64_len("\u{e9}\u{e9}\n", true), 0);
}

#[test]
fn audio_deltas_count_their_decoded_bytes() {
    let delta = STANDARD.encode(vec![0u8; 4_800]);
    let msg = text(json!({"type": "response.output_audio.delta", "delta": delta, "item_id": "i"}));
    assert_eq!(upstream_usage(&msg), UpstreamUsage::SessionAudio(4_800));
    // the same field on another event is not audio
    let msg = text(json!({"type": "response.output_text.delta", "delta": "hi"}));
    assert_eq!(upstream_usage(&msg), UpstreamUsage::Nothing);
}

#[test]
fn session_events_give_the_formats_as_byte_rates() {
    let event = |input: serde_json::Value, output: serde_json::Value| {
        text(json!({"type": "session.updated", "session": {
            "model": "gpt-realtime", "audio": {"input": {"format": input}, "output": {"format": output}}}}))
    };
    let rates =
        |input: Option<f64>, output: Option<f64>| UpstreamUsage::Formats(Rates { input, output });
    let pcm = json!({"type": "audio/pcm", "rate": 24000});
    assert_eq!(
        upstream_usage(&event(pcm.clone(), json!({"type": "audio/pcmu"}))),
        rates(Some(48_000.0), Some(8_000.0))
    );
    assert_eq!(
        upstream_usage(&event(
            json!({"type": "audio/pcma"}),
            json!({"type": "audio/pcm"})
        )),
        rates(Some(8_000.0), Some(48_000.0))
    );
    // unknown types and absurd rates change nothing
    for bad in [
        json!({"type": "audio/opus"}),
        json!({"type": "audio/pcm", "rate": 0}),
        json!({"type": "audio/pcm", "rate": 1e300}),
        json!({"type": "audio/pcm", "rate": -24000}),
        json!({}),
        json!(null),
    ] {
        assert_eq!(
            upstream_usage(&event(bad.clone(), json!(null))),
            rates(None, None),
            "{bad}"
        );
    }
    let transcription_session = text(json!({"type": "session.created", "session": {
        "type": "transcription", "audio": {"input": {"format": pcm,
        "transcription": {"model": "gpt-4o-transcribe"}}}}}));
    assert_eq!(
        upstream_usage(&transcription_session),
        rates(Some(48_000.0), None)
    );
}

#[test]
fn a_client_format_counts_only_when_openai_would_take_it() {
    let rate = |raw: &str, from_upstream: bool| {
        serde_json::from_str::<Format<'_>>(raw)
            .unwrap()
            .bytes_per_second(from_upstream)
    };
    let odd = r#"{"type": "audio/pcm", "rate": 8000}"#;
    assert_eq!(rate(odd, false), None);
    assert_eq!(rate(odd, true), Some(16_000.0));
    assert_eq!(rate(r#"{"type": "audio/pcm"}"#, false), Some(48_000.0));
    assert_eq!(rate(r#"{"type": "audio/pcmu"}"#, false), Some(8_000.0));
}

#[test]
fn response_done_gives_tokens_with_cached_ones_apart() {
    // the shape and figures of a real response.done (providers.md §1.6)
    let usage = json!({"total_tokens": 821, "input_tokens": 789, "output_tokens": 32,
        "input_token_details": {"text_tokens": 313, "audio_tokens": 476, "cached_tokens": 640,
            "cached_tokens_details": {"text_tokens": 256, "audio_tokens": 384}},
        "output_token_details": {"text_tokens": 9, "audio_tokens": 23}});
    let msg = text(
        json!({"type": "response.done", "response": {"id": "r", "output": [], "usage": usage}}),
    );
    assert_eq!(
        upstream_usage(&msg),
        UpstreamUsage::Tokens(Tokens {
            input_text: 57,
            input_text_cached: 256,
            input_audio: 92,
            input_audio_cached: 384,
            output_text: 9,
            output_audio: 23,
            ..Tokens::default()
        })
    );
}

#[test]
fn partial_usage_is_read_as_far_as_it_goes() {
    let tokens = |usage: serde_json::Value| match upstream_usage(&text(
        json!({"type": "response.done", "response": {"usage": usage}}),
    )) {
        UpstreamUsage::Tokens(t) => t,
        other => panic!("{other:?}"),
    };
    // no modality split: input and output count as text
    let t = tokens(json!({"input_tokens": 10, "output_tokens": 4}));
    assert_eq!((t.input_text, t.output_text, t.input_audio), (10, 4, 0));
    // a cached total without its split is text first, then audio
    let t = tokens(json!({"input_tokens": 30, "input_token_details":
        {"text_tokens": 10, "audio_tokens": 20, "cached_tokens": 15}}));
    assert_eq!((t.input_text_cached, t.input_audio_cached), (10, 5));
    assert_eq!((t.input_text, t.input_audio), (0, 15));
    // cached beyond the input it is part of is capped
    let t = tokens(json!({"input_token_details": {"text_tokens": 1,
        "cached_tokens_details": {"text_tokens": 99, "audio_tokens": 99}}}));
    assert_eq!(
        (t.input_text, t.input_text_cached, t.input_audio_cached),
        (0, 1, 0)
    );
    // negative, fractional and huge numbers
    let t = tokens(json!({"input_tokens": -5, "output_tokens": 2.9,
        "output_token_details": {"audio_tokens": 1e300}}));
    assert_eq!(t.input_text, 0);
    assert_eq!(t.output_audio, 1_000_000_000_000);
    assert_eq!(tokens(json!({})), Tokens::default());
}

#[test]
fn transcription_usage_is_tokens_or_duration() {
    let completed = |usage: serde_json::Value| {
        upstream_usage(&text(
            json!({"type": "conversation.item.input_audio_transcription.completed",
            "item_id": "i", "transcript": "hi", "usage": usage}),
        ))
    };
    assert_eq!(
        completed(
            json!({"type": "tokens", "input_tokens": 20, "output_tokens": 3, "total_tokens": 23,
            "input_token_details": {"audio_tokens": 20, "text_tokens": 0}})
        ),
        UpstreamUsage::Tokens(Tokens {
            transcription_input: 20,
            transcription_output: 3,
            ..Tokens::default()
        })
    );
    assert_eq!(
        completed(json!({"type": "duration", "seconds": 2.5})),
        UpstreamUsage::TranscriptionSeconds(2.5)
    );
    assert_eq!(
        completed(json!({"type": "duration"})),
        UpstreamUsage::Nothing
    );
    assert_eq!(completed(json!({"type": "other"})), UpstreamUsage::Nothing);
    assert_eq!(completed(json!(null)), UpstreamUsage::Nothing);
    assert_eq!(completed(json!("tokens")), UpstreamUsage::Nothing);
}

#[test]
fn garbage_counts_as_nothing() {
    for raw in [
        "",
        "not json",
        "[]",
        "null",
        r#"{"type": 5}"#,
        r#"{"delta": "AAAA"}"#,
        r#"{"type": "response.output_audio.delta"}"#,
        r#"{"type": "response.output_audio.delta", "delta": 5}"#,
        r#"{"type": "response.done", "response": {"usage": {"input_tokens": "9"}}}"#,
        r#"{"type": "response.done", "response": null}"#,
        r#"{"type": "session.created", "session": "x"}"#,
        r#"{"type": "response.done", "response": {"usage": {"input_tokens": 1}"#,
    ] {
        assert_eq!(
            upstream_usage(&Message::text(raw)),
            UpstreamUsage::Nothing,
            "{raw}"
        );
    }
    let binary = Message::Binary(vec![0u8; 16].into());
    assert_eq!(upstream_usage(&binary), UpstreamUsage::Nothing);
}
