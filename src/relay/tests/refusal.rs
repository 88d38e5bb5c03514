//! Client messages the session's model rules refuse: answered to the client, never forwarded,
//! and the session goes on.

use super::*;
use crate::rewrite::Pattern;
use crate::route::ModelRules;

fn realtime_options() -> (RelayOptions, Metrics) {
    let m = Metrics::default();
    let meter = Meter::new(
        &m,
        crate::config::RouteKind::Realtime,
        None,
        &crate::config::PricesConfig::UNKNOWN,
        ["t", "u", "c"],
    );
    let mut opts = options(CancellationToken::new());
    opts.meter = std::sync::Arc::new(meter);
    opts.max_message_bytes = 1 << 20;
    opts.rules = ModelRules {
        allowed: vec![Pattern::new("good")].into(),
        granted: None,
        modelless: false,
    };
    (opts, m)
}

fn update(model: &str) -> Message {
    Message::text(format!(
        r#"{{"type":"session.update","session":{{"model":"{model}"}}}}"#
    ))
}

fn error_code(msg: &Message) -> String {
    let Message::Text(t) = msg else {
        panic!("a text event: {msg:?}");
    };
    let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
    assert_eq!(v["type"], "error", "{v}");
    v["error"]["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn refused_updates_are_answered_and_never_forwarded() {
    let (opts, m) = realtime_options();
    let (mut client, mut upstream, task) = start_with(opts);
    let sent = [update("good"), update("bad"), update("bad"), update("good")];
    for msg in &sent {
        client.send.unbounded_send(Ok(msg.clone())).unwrap();
    }
    // upstream output keeps flowing meanwhile; the refusals are interleaved with it
    let delta = Message::text(r#"{"type":"response.output_text.delta","delta":"hi"}"#);
    for _ in 0..100 {
        upstream.send.unbounded_send(Ok(delta.clone())).unwrap();
    }
    assert_eq!(next(&mut upstream).await, sent[0]);
    assert_eq!(next(&mut upstream).await, sent[3]);
    let mut refusals = 0;
    for _ in 0..102 {
        let msg = next(&mut client).await;
        if msg != delta {
            assert_eq!(error_code(&msg), "model_not_allowed");
            refusals += 1;
        }
    }
    assert_eq!(refusals, 2);
    // the session goes on both ways
    client.send.unbounded_send(Ok(update("good"))).unwrap();
    assert_eq!(next(&mut upstream).await, update("good"));
    upstream.send.unbounded_send(Ok(delta.clone())).unwrap();
    assert_eq!(next(&mut client).await, delta);
    client.send.unbounded_send(Ok(close(1000, "bye"))).unwrap();
    assert_eq!(next(&mut upstream).await, close(1000, "bye"));
    drop((client.send, upstream.send));
    assert_eq!(task.await.unwrap().label, "client_closed");
    // only what was forwarded counts as relayed
    let relayed = m
        .messages_total
        .with_label_values(&["t", crate::metrics::CLIENT_TO_UPSTREAM])
        .get();
    assert_eq!(relayed, 3);
}

#[tokio::test]
async fn a_refusal_waits_for_a_slow_client_without_losing_anything() {
    let (opts, _m) = realtime_options();
    let (mut client, mut upstream, task) = start_with(opts);
    // the client refuses ten times before reading anything
    for _ in 0..10 {
        client.send.unbounded_send(Ok(update("bad"))).unwrap();
    }
    client.send.unbounded_send(Ok(update("good"))).unwrap();
    assert_eq!(next(&mut upstream).await, update("good"));
    for _ in 0..10 {
        assert_eq!(error_code(&next(&mut client).await), "model_not_allowed");
    }
    drop((client.send, upstream.send));
    task.await.unwrap();
}
