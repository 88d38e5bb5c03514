//! OpenAI Realtime sessions over real sockets: client items, refusals, malformed events, the session limit.

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::openai_flow::{open, send, until};
use super::{Running, next_json};
use crate::simulate::openai::{Realtime, Target};
use crate::simulate::session::{Closing, Outgoing, Protocol};

#[tokio::test]
async fn created_text_items_join_the_context_and_transcription_sessions_do_not_respond() {
    let sim = Running::default().await;
    let mut ws = open(&sim, "/v1/realtime?model=gpt-realtime").await;
    let item = json!({"type": "message", "role": "user",
                      "content": [{"type": "input_text", "text": "hello there simulated model"}]});
    send(
        &mut ws,
        json!({"type": "conversation.item.create", "item": item}),
    )
    .await;
    let added = next_json(&mut ws).await;
    assert_eq!(added["type"], "conversation.item.added");
    assert!(
        added["item"]["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("item_"))
    );
    assert_eq!(
        added["item"]["content"][0]["text"],
        "hello there simulated model"
    );
    assert_eq!(next_json(&mut ws).await["type"], "conversation.item.done");
    send(&mut ws, json!({"type": "response.create"})).await;
    let events = until(&mut ws, "response.done").await;
    let usage = &events.last().expect("done")["response"]["usage"];
    assert_eq!(usage["input_token_details"]["text_tokens"], 4);
    assert_eq!(usage["input_token_details"]["audio_tokens"], 0);

    let mut ws = open(&sim, "/v1/realtime?intent=transcription").await;
    send(
        &mut ws,
        json!({"type": "response.create", "event_id": "evt_r"}),
    )
    .await;
    let error = next_json(&mut ws).await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["event_id"], "evt_r");
    send(
        &mut ws,
        json!({"type": "session.update", "session": {"type": "realtime"}}),
    )
    .await;
    assert_eq!(next_json(&mut ws).await["error"]["param"], "session.type");
}

#[tokio::test]
async fn malformed_events_get_error_events_and_the_session_goes_on() {
    let sim = Running::default().await;
    let mut ws = open(&sim, "/v1/realtime?model=gpt-realtime").await;
    let cases: [(Message, &str, Value); 8] = [
        (
            Message::Text("not json".into()),
            "invalid_json",
            Value::Null,
        ),
        (
            Message::Binary(vec![0; 4].into()),
            "invalid_value",
            Value::Null,
        ),
        (
            Message::Text(json!({"audio": "AAAA"}).to_string().into()),
            "missing_required_parameter",
            "type".into(),
        ),
        (
            Message::Text(
                json!({"type": "nope", "event_id": "evt_1"})
                    .to_string()
                    .into(),
            ),
            "invalid_value",
            "type".into(),
        ),
        (
            Message::Text(
                json!({"type": "input_audio_buffer.append"})
                    .to_string()
                    .into(),
            ),
            "missing_required_parameter",
            "audio".into(),
        ),
        (
            Message::Text(
                json!({"type": "input_audio_buffer.append", "audio": "%%%"})
                    .to_string()
                    .into(),
            ),
            "invalid_value",
            "audio".into(),
        ),
        (
            Message::Text(
                json!({"type": "session.update", "session": {"audio": {}}})
                    .to_string()
                    .into(),
            ),
            "missing_required_parameter",
            "session.type".into(),
        ),
        (
            Message::Text(
                json!({"type": "session.update", "session": {"type": "realtime",
                "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}}})
                .to_string()
                .into(),
            ),
            "invalid_value",
            "session.audio.input.format".into(),
        ),
    ];
    for (frame, code, param) in cases {
        ws.send(frame).await.expect("frame sent");
        let error = next_json(&mut ws).await;
        assert_eq!(error["type"], "error");
        assert_eq!(error["error"]["type"], "invalid_request_error");
        assert_eq!(error["error"]["code"], code);
        assert_eq!(error["error"]["param"], param);
    }
    send(
        &mut ws,
        json!({"type": "input_audio_buffer.commit", "event_id": "evt_commit"}),
    )
    .await;
    let error = next_json(&mut ws).await;
    assert_eq!(error["error"]["code"], "input_audio_buffer_commit_empty");
    assert_eq!(error["error"]["event_id"], "evt_commit");
    let update = json!({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}});
    send(&mut ws, update).await;
    let updated = next_json(&mut ws).await;
    assert_eq!(updated["type"], "session.updated");
    assert_eq!(updated["session"]["output_modalities"], json!(["text"]));
    assert_eq!(
        updated["session"]["audio"]["input"]["format"]["rate"],
        24_000
    );
}

#[test]
fn sessions_expire_after_sixty_minutes_with_session_expired_and_1001() {
    let mut session = Realtime::new(Target::Conversation("gpt-realtime".into()), false);
    assert_eq!(
        session.max_duration(),
        Some(std::time::Duration::from_secs(3600))
    );
    let step = session.on_expired();
    let [Outgoing::Json(error)] = step.out.as_slice() else {
        panic!("one error event expected, got {:?}", step.out);
    };
    assert_eq!(error["error"]["code"], "session_expired");
    assert_eq!(
        step.close,
        Some(Closing::Status(
            1001,
            "Your session hit the maximum duration of 60 minutes."
        ))
    );
}
