//! A session whose credential is withdrawn mid-session: both sides get 1008 with the reason,
//! after what was already relayed.

use super::*;
use crate::revoke::Revocations;

#[tokio::test]
async fn a_revoked_session_closes_both_sides_with_1008_and_the_reason() {
    let registry = std::sync::Arc::new(Revocations::default());
    let registration = registry.register("acme", Some("jti-1"));
    let mut opts = options(CancellationToken::new());
    opts.revoked = Some(registration.watch());
    let (mut client, mut upstream, task) = start_with(opts);
    let audio = Message::Binary(Bytes::from(vec![7u8; 320]));
    client.send.unbounded_send(Ok(audio.clone())).unwrap();
    assert_eq!(next(&mut upstream).await, audio);
    assert_eq!(registry.revoke_jti("jti-1", "token revoked"), 1);
    assert_eq!(next(&mut client).await, close(1008, "token revoked"));
    assert_eq!(next(&mut upstream).await, close(1008, "token revoked"));
    drop((client.send, upstream.send));
    let outcome = task.await.unwrap();
    assert_eq!(outcome.label, "revoked");
    assert_eq!(outcome.ended_by, Side::Relay);
    assert_eq!(outcome.client_code, Some(1008));
}

#[tokio::test]
async fn revoking_another_client_leaves_the_session_relaying() {
    let registry = std::sync::Arc::new(Revocations::default());
    let registration = registry.register("acme", None);
    let mut opts = options(CancellationToken::new());
    opts.revoked = Some(registration.watch());
    let (client, mut upstream, task) = start_with(opts);
    assert_eq!(registry.revoke_client("other", "client key removed"), 0);
    let text = Message::Text("{\"type\":\"KeepAlive\"}".into());
    client.send.unbounded_send(Ok(text.clone())).unwrap();
    assert_eq!(next(&mut upstream).await, text);
    client.send.unbounded_send(Ok(close(1000, "bye"))).unwrap();
    assert_eq!(next(&mut upstream).await, close(1000, "bye"));
    drop((client.send, upstream.send));
    assert_eq!(task.await.unwrap().label, "client_closed");
}
