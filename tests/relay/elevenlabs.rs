//! ElevenLabs through the relay, against the simulator with a required upstream key: every
//! place its SDKs put the client's credential, multi-context streams, Scribe, refusals in
//! ElevenLabs' shapes.

use serde_json::json;

use crate::elevenlabs_support::*;

/// Start of stream (with `extra` fields), one sentence flushed, end of stream.
async fn speak_one_sentence(ws: &mut Client, extra: serde_json::Value) -> Spoken {
    let mut bos = json!({"text": " ", "voice_settings": {"stability": 0.5}});
    bos.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    send(ws, bos).await;
    send(ws, json!({"text": "Hello from the relay. ", "flush": true})).await;
    send(ws, json!({"text": ""})).await;
    spoken(ws).await
}

fn assert_spoke(s: &Spoken, chars: usize) {
    // the simulator speaks 50 ms a character; pcm_16000 is 32,000 bytes a second
    assert_eq!(s.total(), chars * 1600, "{s:?}");
    assert_eq!(s.finals, [""], "{s:?}");
}

#[tokio::test]
async fn tts_with_the_key_in_the_first_message_is_stripped_before_the_upstream() {
    let app = relay("el-first").await;
    for field in ["xi-api-key", "xi_api_key", "authorization"] {
        let url = tts_url(&app, "el-first", "?output_format=pcm_16000");
        let (mut ws, _) = connect(&url, None, &[]).await.expect("relay upgrades");
        let value = match field {
            "authorization" => format!("Bearer {CLIENT_KEY}"),
            _ => CLIENT_KEY.to_owned(),
        };
        // a credential reaching the keyed simulator would end the stream with an error
        let s = speak_one_sentence(&mut ws, json!({ field: value })).await;
        assert_spoke(&s, "Hello from the relay. ".len());
    }
}

#[tokio::test]
async fn tts_with_a_single_use_token_query_or_the_xi_api_key_header_or_a_subprotocol() {
    let app = relay("el-forms").await;
    let url = tts_url(
        &app,
        "el-forms",
        &format!("?output_format=pcm_16000&single_use_token={CLIENT_KEY}"),
    );
    let (mut ws, _) = connect(&url, None, &[]).await.expect("query credential");
    assert_spoke(&speak_one_sentence(&mut ws, json!({})).await, 22);

    let url = tts_url(&app, "el-forms", "?output_format=pcm_16000");
    let (mut ws, _) = connect(&url, None, &[("xi-api-key", CLIENT_KEY)])
        .await
        .expect("header credential");
    assert_spoke(&speak_one_sentence(&mut ws, json!({})).await, 22);

    let offer = format!("token, {CLIENT_KEY}");
    let (mut ws, resp) = connect(&url, Some(&offer), &[]).await.expect("subprotocol");
    assert_eq!(
        resp.headers()["sec-websocket-protocol"].to_str().unwrap(),
        "token"
    );
    assert!(resp.headers().contains_key("request-id"));
    assert_spoke(&speak_one_sentence(&mut ws, json!({})).await, 22);
    assert!(!logs().contains(CLIENT_KEY), "the client key reached a log");
}

#[tokio::test]
async fn multi_stream_input_speaks_two_contexts_with_each_init_stripped() {
    let app = relay("el-multi").await;
    let url = app.ws(&format!(
        "/el-multi/v1/text-to-speech/{VOICE}/multi-stream-input?output_format=pcm_16000"
    ));
    let (mut ws, _) = connect(&url, None, &[]).await.expect("relay upgrades");
    // each context's initialisation carries the key, as the SDK types allow
    for (id, text) in [("a", "First context. "), ("b", "Second one. ")] {
        send(
            &mut ws,
            json!({"text": " ", "context_id": id, "xi_api_key": CLIENT_KEY}),
        )
        .await;
        send(
            &mut ws,
            json!({"text": text, "context_id": id, "flush": true}),
        )
        .await;
    }
    send(&mut ws, json!({"context_id": "a", "close_context": true})).await;
    send(&mut ws, json!({"close_socket": true})).await;
    let s = spoken(&mut ws).await;
    assert_eq!(s.audio.get("a"), Some(&(15 * 1600)), "{s:?}");
    assert_eq!(s.audio.get("b"), Some(&(12 * 1600)), "{s:?}");
    assert_eq!(s.finals, ["a", "b"], "{s:?}");
}

#[tokio::test]
async fn scribe_with_a_token_query_transcribes_through_the_relay() {
    let app = relay("el-stt").await;
    let url = app.ws(&format!(
        "/el-stt/v1/speech-to-text/realtime?audio_format=pcm_16000&audio_format=pcm_16000&token={CLIENT_KEY}"
    ));
    let (mut ws, _) = connect(&url, None, &[]).await.expect("relay accepts");
    let started = next_json(&mut ws).await.expect("session_started");
    assert_eq!(started["message_type"], "session_started", "{started}");
    // 3 s of audio is "The quick brown fox jumps over the"
    let chunk = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [0u8; 9600]);
    for _ in 0..10 {
        let m = json!({"message_type": "input_audio_chunk", "audio_base_64": chunk,
                       "commit": false, "sample_rate": 16000});
        send(&mut ws, m).await;
    }
    let commit = json!({"message_type": "input_audio_chunk", "audio_base_64": "", "commit": true,
                        "sample_rate": 16000});
    send(&mut ws, commit).await;
    for _ in 0..100 {
        let m = next_json(&mut ws)
            .await
            .expect("a transcript before the close");
        assert!(
            !m["message_type"].as_str().unwrap().ends_with("error"),
            "{m}"
        );
        if m["message_type"] == "committed_transcript" {
            assert_eq!(m["text"], "The quick brown fox jumps over the");
            return;
        }
    }
    panic!("no committed transcript");
}

#[tokio::test]
async fn refusals_before_the_upgrade_take_elevenlabs_detail_shape() {
    let app = relay("el-refuse").await;
    let url = tts_url(&app, "el-refuse", "");
    let (status, body) = refused(&url, None, &[("xi-api-key", "wrong-key")]).await;
    assert_eq!(status, 401);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["detail"]["status"], "invalid_api_key", "{body}");
    assert!(body["detail"]["message"].is_string(), "{body}");
    let stt = app.ws("/el-refuse/v1/speech-to-text/realtime?token=wrong-key");
    let (status, body) = refused(&stt, None, &[]).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("\"detail\""), "{body}");
    // Scribe takes no credential in messages: none at all is refused before the upgrade
    let stt = app.ws("/el-refuse/v1/speech-to-text/realtime");
    assert_eq!(refused(&stt, None, &[]).await.0, 401);

    let key = [("xi-api-key", CLIENT_KEY)];
    let bad_voice = app.ws("/el-refuse/v1/text-to-speech/bad%20voice/stream-input");
    let (status, body) = refused(&bad_voice, None, &key).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("\"detail\""), "{body}");
    let (status, body) = refused(
        &tts_url(&app, "el-refuse", "?model_id=eleven_v3"),
        None,
        &key,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("eleven_v3"), "{body}");
    let bad_format = tts_url(&app, "el-refuse", "?output_format=wav_44100");
    assert_eq!(refused(&bad_format, None, &key).await.0, 400);
    assert!(
        !logs().contains("wrong-key"),
        "a presented credential reached a log"
    );
}

#[tokio::test]
async fn a_wrong_key_in_the_first_message_gets_an_error_message_and_close_1008() {
    let app = relay("el-first-bad").await;
    let (mut ws, _) = connect(&tts_url(&app, "el-first-bad", ""), None, &[])
        .await
        .expect("relay upgrades");
    send(&mut ws, json!({"text": " ", "xi-api-key": "not-a-key"})).await;
    let error = next_json(&mut ws).await.expect("an error message");
    assert_eq!(error["error"], "invalid_api_key", "{error}");
    assert_eq!(error["code"], 1008, "{error}");
    assert!(error["message"].is_string(), "{error}");
    assert_eq!(recv_close(&mut ws).await.map(|(c, _)| c), Some(1008));
    // a first message with no credential at all is refused the same way
    let (mut ws, _) = connect(&tts_url(&app, "el-first-bad", ""), None, &[])
        .await
        .unwrap();
    send(&mut ws, json!({"text": " "})).await;
    assert_eq!(next_json(&mut ws).await.unwrap()["code"], 1008);
    assert_eq!(recv_close(&mut ws).await.map(|(c, _)| c), Some(1008));
}

#[tokio::test]
async fn local_mode_offers_elevenlabs_on_its_simulator_with_the_demo_key() {
    let local =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/local.toml")).unwrap();
    let local = local
        .replace("127.0.0.1:8080", "127.0.0.1:0")
        .replace("127.0.0.1:8081", "127.0.0.1:0");
    let app = TestApp::start(&local).await;
    let url = app.ws(&format!(
        "/v1/text-to-speech/{VOICE}/stream-input?output_format=pcm_16000"
    ));
    let (mut ws, _) = connect(&url, None, &[("xi-api-key", "voxrelay-demo-key")])
        .await
        .expect("local mode serves ElevenLabs TTS");
    assert_spoke(&speak_one_sentence(&mut ws, json!({})).await, 22);
    let stt = app.ws("/v1/speech-to-text/realtime?token=voxrelay-demo-key");
    let (mut ws, _) = connect(&stt, None, &[]).await.expect("and Scribe");
    let started = next_json(&mut ws).await.expect("session_started");
    assert_eq!(started["message_type"], "session_started", "{started}");
}
