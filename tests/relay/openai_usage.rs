//! Metering of OpenAI Realtime sessions through the relay, against the built-in simulator: audio
//! seconds both ways, reported tokens, cost and the usage record.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::openai_support::*;

#[tokio::test]
async fn a_conversation_is_metered_in_audio_seconds_tokens_and_cost() {
    let route = "rt-meter-conversation";
    let app = relay(route).await;
    let mut ws = open(&app, "?model=gpt-realtime-mini").await;
    assert_eq!(event(&mut ws).await["type"], "session.created");
    // manual turns, input transcribed by tokens
    send(
        &mut ws,
        json!({"type": "session.update", "session": {"type": "realtime",
        "audio": {"input": {"turn_detection": null,
                            "transcription": {"model": "gpt-4o-transcribe"}}}}}),
    )
    .await;
    until(&mut ws, "session.updated", |_| {}).await;
    // 2.5 s of PCM (48,000 B/s), the last chunk padded in base64
    let pcm = append(&mut ws, 120_001, 4_800).await;
    send(&mut ws, json!({"type": "input_audio_buffer.commit"})).await;
    let mut tokens = [0u64; 8];
    let done = until(
        &mut ws,
        "conversation.item.input_audio_transcription.completed",
        |_| {},
    )
    .await;
    add_tokens(&mut tokens, &done["usage"]);
    // then 1.5 s of G.711 (8,000 B/s): the meter follows the session's format
    send(
        &mut ws,
        json!({"type": "session.update", "session": {"type": "realtime",
        "audio": {"input": {"format": {"type": "audio/pcmu"}}}}}),
    )
    .await;
    until(&mut ws, "session.updated", |_| {}).await;
    let g711 = append(&mut ws, 12_000, 1_600).await;
    send(&mut ws, json!({"type": "input_audio_buffer.commit"})).await;
    let done = until(
        &mut ws,
        "conversation.item.input_audio_transcription.completed",
        |_| {},
    )
    .await;
    add_tokens(&mut tokens, &done["usage"]);
    // two responses, each with model audio (PCM output) and usage
    let mut received = 0usize;
    for _ in 0..2 {
        send(&mut ws, json!({"type": "response.create"})).await;
        let done = until(&mut ws, "response.done", |e| {
            if e["type"] == "response.output_audio.delta" {
                received += STANDARD.decode(e["delta"].as_str().unwrap()).unwrap().len();
            }
        })
        .await;
        add_tokens(&mut tokens, &done["response"]["usage"]);
    }
    let metrics = finish(&app, ws, route).await;

    let sent_seconds = pcm as f64 / 48_000.0 + g711 as f64 / 8_000.0;
    let received_seconds = received as f64 / 48_000.0;
    let labels = [r#"client="tester""#, &format!(r#"route="{route}""#) as &str];
    within_one_percent(
        value(&metrics, "voxrelay_audio_seconds_total", &labels),
        sent_seconds,
        "input audio in /metrics",
    );
    within_one_percent(
        value(&metrics, "voxrelay_tts_audio_seconds_total", &labels),
        received_seconds,
        "output audio in /metrics",
    );
    assert!(
        tokens[2] > 0 && tokens[5] > 0 && tokens[6] > 0,
        "{tokens:?}"
    );
    let mut want_cost = 0.0;
    for (i, kind) in TOKEN_TYPES.iter().enumerate() {
        let ty = format!(r#"type="{kind}""#);
        let got = value(
            &metrics,
            "voxrelay_tokens_total",
            &[labels[0], labels[1], &ty],
        );
        assert_eq!(got, tokens[i] as f64, "{kind} in /metrics");
        want_cost += tokens[i] as f64 * PRICES[i] / 1e6;
    }
    let cost_labels = [labels[0], labels[1], r#"upstream="oa""#];
    let cost = value(&metrics, "voxrelay_estimated_cost_usd_total", &cost_labels);
    assert!(
        (cost - want_cost).abs() < 1e-9,
        "cost {cost} vs {want_cost}"
    );

    let r = usage_record(route);
    let num = |k: &str| -> f64 { r[k].parse().unwrap_or_else(|_| panic!("{k}: {}", r[k])) };
    within_one_percent(
        num("audio_seconds"),
        sent_seconds,
        "input audio in the record",
    );
    within_one_percent(
        num("tts_audio_seconds"),
        received_seconds,
        "output audio in the record",
    );
    let record_fields = [
        "input_text_tokens",
        "input_cached_text_tokens",
        "input_audio_tokens",
        "input_cached_audio_tokens",
        "output_text_tokens",
        "output_audio_tokens",
        "transcription_input_tokens",
        "transcription_output_tokens",
    ];
    for (field, want) in record_fields.iter().zip(tokens) {
        assert_eq!(num(field), want as f64, "{field} in the record");
    }
    assert_eq!(num("transcription_seconds"), 0.0);
    assert!(
        (num("estimated_cost_usd") - want_cost).abs() < 1e-9,
        "{r:?}"
    );
    assert_eq!(r["model"], "gpt-realtime-mini");
}

#[tokio::test]
async fn transcription_by_duration_is_metered_and_priced_per_minute() {
    let route = "rt-meter-transcription";
    let app = relay(route).await;
    let mut ws = open(&app, "?intent=transcription").await;
    assert_eq!(event(&mut ws).await["type"], "session.created");
    send(
        &mut ws,
        json!({"type": "session.update", "session": {"type": "transcription",
        "audio": {"input": {"turn_detection": null, "transcription": {"model": "whisper-1"}}}}}),
    )
    .await;
    until(&mut ws, "session.updated", |_| {}).await;
    let sent = append(&mut ws, 72_000, 9_600).await;
    send(&mut ws, json!({"type": "input_audio_buffer.commit"})).await;
    let done = until(
        &mut ws,
        "conversation.item.input_audio_transcription.completed",
        |_| {},
    )
    .await;
    assert_eq!(done["usage"]["type"], "duration", "{done}");
    let seconds = done["usage"]["seconds"].as_f64().unwrap();
    let metrics = finish(&app, ws, route).await;
    let labels = [r#"client="tester""#, &format!(r#"route="{route}""#) as &str];
    within_one_percent(
        value(&metrics, "voxrelay_audio_seconds_total", &labels),
        sent as f64 / 48_000.0,
        "input audio",
    );
    let want_cost = seconds / 60.0 * TRANSCRIPTION_PER_MINUTE;
    let cost = value(&metrics, "voxrelay_estimated_cost_usd_total", &labels);
    assert!(
        (cost - want_cost).abs() < 1e-12,
        "cost {cost} vs {want_cost}"
    );
    let r = usage_record(route);
    assert_eq!(r["transcription_seconds"].parse::<f64>().unwrap(), seconds);
    assert!((r["estimated_cost_usd"].parse::<f64>().unwrap() - want_cost).abs() < 1e-12);
}
