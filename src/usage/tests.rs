use bytes::Bytes;

use super::format::audio_rate;
use super::*;
use crate::route::ModelRules;

const SECOND_16K_MONO: usize = 32_000;

fn meter(kind: RouteKind, rate: Option<f64>, prices: &PricesConfig) -> (Metrics, Meter) {
    let m = Metrics::default();
    let meter = Meter::new(&m, kind, rate, prices, ["r", "u", "c"]);
    (m, meter)
}

#[test]
fn raw_encodings_count_bytes_as_seconds() {
    let cases = [
        ("linear16", 16000, 1, 32_000.0),
        ("LINEAR16", 48000, 2, 192_000.0),
        ("linear32", 16000, 1, 64_000.0),
        ("mulaw", 8000, 1, 8_000.0),
        ("alaw", 8000, 2, 16_000.0),
    ];
    for (encoding, rate, channels, want) in cases {
        let got = audio_rate(
            RouteKind::Listen,
            Some(encoding),
            Some(rate),
            Some(channels),
        );
        assert_eq!(got, Some(want), "{encoding} {rate} {channels}");
    }
    assert_eq!(
        audio_rate(RouteKind::Listen, Some("linear16"), None, None),
        Some(32_000.0)
    );
    for container in [
        None,
        Some("opus"),
        Some("ogg-opus"),
        Some("flac"),
        Some("webm"),
    ] {
        assert_eq!(
            audio_rate(RouteKind::Listen, container, Some(16000), None),
            None
        );
    }
    assert_eq!(
        audio_rate(RouteKind::Speak, None, None, Some(2)),
        Some(48_000.0)
    );
    assert_eq!(
        audio_rate(RouteKind::Speak, Some("mulaw"), Some(8000), None),
        Some(8_000.0)
    );
}

#[test]
fn stt_audio_seconds_and_cost_follow_the_bytes() {
    let (m, meter) = meter(
        RouteKind::Listen,
        Some(32_000.0),
        &crate::provider::cloudflare::PRICES,
    );
    for _ in 0..30 {
        let _ = meter.client_message(
            &mut Message::Binary(Bytes::from(vec![0u8; SECOND_16K_MONO * 2])),
            &ModelRules::default(),
        );
    }
    let _ = meter.client_message(
        &mut Message::Text(r#"{"type":"KeepAlive"}"#.into()),
        &ModelRules::default(),
    );
    let usage = meter.finish();
    assert!((usage.audio_seconds - 60.0).abs() < 1e-9, "{usage:?}");
    assert!(
        (usage.cost_usd - 0.0092).abs() < 1e-12,
        "one audio minute of Nova-3: {usage:?}"
    );
    assert_eq!((usage.messages_in, usage.bytes_in), (31, 30 * 64_000 + 20));
    let counted = m.audio_seconds_total.with_label_values(&["r", "c"]).get();
    assert!((counted - 60.0).abs() < 1e-9);
    let cost = m.cost_usd_total.with_label_values(&["r", "u", "c"]).get();
    assert!((cost - 0.0092).abs() < 1e-12);
}

#[test]
fn containers_are_timed_by_the_clock() {
    let (_, meter) = meter(
        RouteKind::Listen,
        None,
        &crate::provider::cloudflare::PRICES,
    );
    let _ = meter.client_message(
        &mut Message::Binary(Bytes::from_static(b"OggS....")),
        &ModelRules::default(),
    );
    std::thread::sleep(std::time::Duration::from_millis(30));
    let usage = meter.finish();
    assert!(
        usage.audio_seconds >= 0.03 && usage.audio_seconds < 5.0,
        "{usage:?}"
    );
}

#[test]
fn tts_counts_characters_and_received_audio() {
    let (m, meter) = meter(
        RouteKind::Speak,
        Some(48_000.0),
        &crate::provider::cloudflare::PRICES,
    );
    let _ = meter.client_message(
        &mut Message::Text(r#"{"type":"Speak","text":"Héllo wörld"}"#.into()),
        &ModelRules::default(),
    );
    let _ = meter.client_message(
        &mut Message::Text(r#"{"type":"Flush"}"#.into()),
        &ModelRules::default(),
    );
    meter.upstream_message(&Message::Binary(Bytes::from(vec![0u8; 24_000])));
    let usage = meter.finish();
    assert_eq!(usage.tts_characters, 11);
    assert!((usage.tts_audio_seconds - 0.5).abs() < 1e-9);
    assert!((usage.cost_usd - 11.0 * 0.03 / 1000.0).abs() < 1e-12);
    assert_eq!(
        m.tts_characters_total.with_label_values(&["r", "c"]).get(),
        11
    );
    assert!(usage.first_response_seconds.is_some());
}

#[test]
fn first_response_needs_a_client_message_first() {
    let (m, meter) = meter(RouteKind::Speak, None, &PricesConfig::UNKNOWN);
    meter.upstream_message(&Message::Text(r#"{"type":"Metadata"}"#.into()));
    assert_eq!(meter.finish().first_response_seconds, None);
    assert_eq!(
        m.first_response_seconds
            .with_label_values(&["r"])
            .get_sample_count(),
        0
    );
}

#[test]
fn realtime_audio_follows_the_session_formats_and_tokens_are_priced() {
    use base64::Engine;
    let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![1u8; n]);
    let prices = PricesConfig {
        audio_input_usd_per_1m_tokens: 32.0,
        audio_output_usd_per_1m_tokens: 64.0,
        transcription_usd_per_minute: 0.006,
        ..PricesConfig::UNKNOWN
    };
    let (m, meter) = meter(RouteKind::Realtime, None, &prices);
    let rules = ModelRules::default();
    let client = |text: String| meter.client_message(&mut Message::text(text), &rules);
    // 1 s of PCM at the default 48,000 B/s, then 1 s of G.711 once the client switches
    let append = |n| {
        format!(
            r#"{{"type":"input_audio_buffer.append","audio":"{}"}}"#,
            b64(n)
        )
    };
    client(append(48_000)).unwrap();
    client(r#"{"type":"session.update","session":{"audio":{"input":{"format":{"type":"audio/pcmu"}}}}}"#.into()).unwrap();
    client(append(8_000)).unwrap();
    // the upstream says output is G.711: 0.5 s
    let upstream = |text: String| meter.upstream_message(&Message::text(text));
    upstream(r#"{"type":"session.updated","session":{"audio":{"output":{"format":{"type":"audio/pcma"}}}}}"#.into());
    upstream(format!(
        r#"{{"type":"response.output_audio.delta","delta":"{}"}}"#,
        b64(4_000)
    ));
    upstream(r#"{"type":"response.done","response":{"usage":{"input_token_details":{"audio_tokens":1000000},"output_token_details":{"audio_tokens":500000}}}}"#.into());
    let completed = "conversation.item.input_audio_transcription.completed";
    upstream(format!(
        r#"{{"type":"{completed}","usage":{{"type":"duration","seconds":30}}}}"#
    ));
    // an unbelievable duration is not counted
    upstream(format!(
        r#"{{"type":"{completed}","usage":{{"type":"duration","seconds":-5}}}}"#
    ));
    upstream(format!(
        r#"{{"type":"{completed}","usage":{{"type":"duration","seconds":1e300}}}}"#
    ));
    let usage = meter.finish();
    assert!((usage.audio_seconds - 2.0).abs() < 1e-6, "{usage:?}");
    assert!((usage.tts_audio_seconds - 0.5).abs() < 1e-6, "{usage:?}");
    assert_eq!(usage.tokens.input_audio, 1_000_000);
    assert_eq!(usage.tokens.output_audio, 500_000);
    assert_eq!(usage.transcription_seconds, 30.0);
    let want = 32.0 + 32.0 + 0.003;
    assert!((usage.cost_usd - want).abs() < 1e-9, "{usage:?}");
    let cost = m.cost_usd_total.with_label_values(&["r", "u", "c"]).get();
    assert!((cost - want).abs() < 1e-9, "{cost}");
    let audio = m.audio_seconds_total.with_label_values(&["r", "c"]).get();
    assert!((audio - 2.0).abs() < 1e-6, "{audio}");
    let tokens = m
        .tokens_total
        .with_label_values(&["r", "c", "output_audio"])
        .get();
    assert_eq!(tokens, 500_000);
}

#[test]
fn deepgram_routes_have_no_token_series() {
    let (m, meter) = meter(RouteKind::Listen, Some(32_000.0), &PricesConfig::UNKNOWN);
    let _ = meter.client_message(
        &mut Message::Text(
            r#"{"type":"response.done","response":{"usage":{"input_tokens":5}}}"#.into(),
        ),
        &ModelRules::default(),
    );
    assert_eq!(meter.finish().tokens, Tokens::default());
    assert!(!m.render().contains("voxrelay_tokens_total"));
}
