//! A client API's farewell: sent upstream when the client leaves, before the close, and what
//! the upstream answers is read (metered) rather than cut off.

use super::*;

const BYE: &str = r#"{"type":"Terminate"}"#;

fn with_farewell() -> RelayOptions {
    let mut opts = options(CancellationToken::new());
    opts.farewell = Some(BYE);
    opts.max_message_bytes = 1 << 20;
    opts
}

#[tokio::test]
async fn a_vanished_client_gets_the_farewell_sent_upstream_before_the_close() {
    let (client, mut upstream, task) = start_with(with_farewell());
    client
        .send
        .unbounded_send(Ok(Message::Binary(Bytes::from_static(b"audio"))))
        .unwrap();
    assert_eq!(
        next(&mut upstream).await,
        Message::Binary(Bytes::from_static(b"audio"))
    );
    // the browser vanishes without a close frame
    client
        .send
        .unbounded_send(Err(WsError::ConnectionClosed))
        .unwrap();
    assert_eq!(next(&mut upstream).await, Message::text(BYE));
    // the upstream's final account is read, then it closes; the relay then closes its side
    upstream
        .send
        .unbounded_send(Ok(Message::text(r#"{"type":"Termination"}"#)))
        .unwrap();
    upstream.send.unbounded_send(Ok(close(1000, ""))).unwrap();
    let outcome = task.await.unwrap();
    assert_eq!(outcome.label, "client_gone");
    assert!(matches!(next(&mut upstream).await, Message::Close(_)));
}

#[tokio::test]
async fn a_closing_client_also_gets_the_farewell_and_a_silent_upstream_cannot_hold_the_session() {
    let (client, mut upstream, task) = start_with(with_farewell());
    client.send.unbounded_send(Ok(close(1000, "bye"))).unwrap();
    assert_eq!(next(&mut upstream).await, Message::text(BYE));
    // the upstream never answers: the close timeout (200 ms) ends the wait
    let outcome = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the farewell wait is bounded")
        .unwrap();
    assert_eq!(outcome.label, "client_closed");
    let Message::Close(Some(frame)) = next(&mut upstream).await else {
        panic!("the client's close goes on upstream");
    };
    assert_eq!(u16::from(frame.code), 1000);
}

#[tokio::test]
async fn without_a_farewell_nothing_is_added() {
    let (client, mut upstream, task) = start(CancellationToken::new());
    client.send.unbounded_send(Ok(close(1000, "bye"))).unwrap();
    task.await.unwrap();
    assert!(matches!(next(&mut upstream).await, Message::Close(_)));
}
