//! The drain: once the session's moment in the spread comes, the client API's finalize goes
//! upstream, the upstream's finals reach the client (and are metered), the client is no longer
//! read, and the client gets 1012 once the finals are in, the upstream closed, or the drain
//! timed out.

use super::*;
use tokio::time::Instant;

const CLOSE_STREAM: Finalize = Finalize {
    message: r#"{"type":"CloseStream"}"#,
    done: FinalsDone::UpstreamCloses,
};

const FLUSH: Finalize = Finalize {
    message: r#"{"type":"Flush"}"#,
    done: FinalsDone::TextContains(&["\"Flushed\""]),
};

fn draining(shutdown: CancellationToken, finalize: &'static Finalize) -> RelayOptions {
    let mut opts = options(shutdown);
    opts.drain = DrainOptions {
        finalize: Some(finalize),
        spread: Duration::ZERO,
        timeout: Duration::from_secs(3),
    };
    opts
}

fn text(s: &str) -> Message {
    Message::Text(s.into())
}

#[tokio::test]
async fn shutdown_sends_close_stream_relays_the_finals_then_closes_the_client_1012() {
    let shutdown = CancellationToken::new();
    let opts = draining(shutdown.clone(), &CLOSE_STREAM);
    let meter = opts.meter.clone();
    let (mut client, mut upstream, task) = start_with(opts);
    let audio = Message::Binary(Bytes::from(vec![7u8; 640]));
    client.send.unbounded_send(Ok(audio.clone())).unwrap();
    assert_eq!(next(&mut upstream).await, audio);
    shutdown.cancel();
    assert_eq!(next(&mut upstream).await, text(r#"{"type":"CloseStream"}"#));
    // the client is no longer read once the finalize is sent
    client
        .send
        .unbounded_send(Ok(Message::Binary(Bytes::from_static(b"late"))))
        .unwrap();
    let finals = [
        text(r#"{"type":"Results","is_final":true,"from_finalize":false}"#),
        text(r#"{"type":"Metadata","duration":0.02}"#),
    ];
    for m in &finals {
        upstream.send.unbounded_send(Ok(m.clone())).unwrap();
    }
    upstream.send.unbounded_send(Ok(close(1000, ""))).unwrap();
    for m in &finals {
        assert_eq!(&next(&mut client).await, m);
    }
    assert_eq!(next(&mut client).await, close(1012, "voxrelay restarting"));
    // the upstream's close is answered; the late audio never went up
    assert!(matches!(next(&mut upstream).await, Message::Close(_)));
    drop((client.send, upstream.send));
    let outcome = task.await.unwrap();
    assert_eq!(
        (outcome.ended_by, outcome.label),
        (Side::Upstream, "drained")
    );
    assert_eq!(
        (outcome.client_code, outcome.upstream_code),
        (Some(1012), Some(1000))
    );
    assert_eq!(
        outcome.closes(),
        vec![("relay", Some(1012)), ("upstream", Some(1000))]
    );
    let usage = meter.finish();
    assert_eq!(usage.messages_out, 2, "the finals are metered");
    assert_eq!(
        usage.bytes_in, 640,
        "only the audio before the drain went up"
    );
}

#[tokio::test]
async fn an_upstream_closing_without_a_status_after_its_finals_still_gives_the_client_1012() {
    // Flux: CloseStream → Updates → a close with no status code
    let shutdown = CancellationToken::new();
    let (mut client, mut upstream, task) = start_with(draining(shutdown.clone(), &CLOSE_STREAM));
    shutdown.cancel();
    assert_eq!(next(&mut upstream).await, text(r#"{"type":"CloseStream"}"#));
    let update = text(r#"{"type":"TurnInfo","event":"Update"}"#);
    upstream.send.unbounded_send(Ok(update.clone())).unwrap();
    upstream
        .send
        .unbounded_send(Ok(Message::Close(None)))
        .unwrap();
    assert_eq!(next(&mut client).await, update);
    assert_eq!(next(&mut client).await, close(1012, "voxrelay restarting"));
    drop((client.send, upstream.send));
    let outcome = task.await.unwrap();
    assert_eq!(outcome.label, "drained");
    assert_eq!(outcome.upstream_code, None);
}

#[tokio::test(start_paused = true)]
async fn a_silent_upstream_cannot_hold_the_drain_past_its_timeout() {
    let shutdown = CancellationToken::new();
    let opts = draining(shutdown.clone(), &CLOSE_STREAM);
    let bound = opts.drain.timeout + opts.close_timeout;
    let (mut client, mut upstream, task) = start_with(opts);
    shutdown.cancel();
    let started = Instant::now();
    assert_eq!(next(&mut upstream).await, text(r#"{"type":"CloseStream"}"#));
    // the upstream never answers, nor answers the close
    assert_eq!(next(&mut client).await, close(1012, "voxrelay restarting"));
    let outcome = tokio::time::timeout(bound * 2, task)
        .await
        .expect("the drain is bounded")
        .unwrap();
    assert!(started.elapsed() <= bound, "{:?}", started.elapsed());
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "waited for finals"
    );
    assert_eq!(outcome.label, "drained");
    assert_eq!(
        next(&mut upstream).await,
        close(1000, "voxrelay restarting")
    );
    drop((client.send, upstream.send));
}

#[tokio::test]
async fn speak_is_flushed_its_audio_relayed_until_flushed_then_the_client_gets_1012() {
    let shutdown = CancellationToken::new();
    let opts = draining(shutdown.clone(), &FLUSH);
    let meter = opts.meter.clone();
    let (mut client, mut upstream, task) = start_with(opts);
    shutdown.cancel();
    assert_eq!(next(&mut upstream).await, text(r#"{"type":"Flush"}"#));
    let audio: Vec<Message> = (0..3u8)
        .map(|i| Message::Binary(Bytes::from(vec![i; 4800])))
        .collect();
    for m in &audio {
        upstream.send.unbounded_send(Ok(m.clone())).unwrap();
    }
    let flushed = text(r#"{"type":"Flushed","sequence_id":0}"#);
    upstream.send.unbounded_send(Ok(flushed.clone())).unwrap();
    for m in &audio {
        assert_eq!(&next(&mut client).await, m);
    }
    assert_eq!(next(&mut client).await, flushed);
    assert_eq!(next(&mut client).await, close(1012, "voxrelay restarting"));
    // the upstream did not close: voxrelay closes it normally
    assert_eq!(
        next(&mut upstream).await,
        close(1000, "voxrelay restarting")
    );
    drop((client.send, upstream.send));
    let outcome = task.await.unwrap();
    assert_eq!((outcome.ended_by, outcome.label), (Side::Relay, "drained"));
    let usage = meter.finish();
    assert_eq!(usage.messages_out, 4, "the audio and Flushed are metered");
    assert!(usage.bytes_out >= 3 * 4800, "{}", usage.bytes_out);
}

#[tokio::test(start_paused = true)]
async fn drains_start_spread_over_the_window_and_none_after_it() {
    const SESSIONS: usize = 40;
    let spread = Duration::from_secs(10);
    let shutdown = CancellationToken::new();
    let mut closes = Vec::new();
    let mut peers = Vec::new();
    for _ in 0..SESSIONS {
        let mut opts = options(shutdown.clone());
        opts.drain.spread = spread;
        let (mut client, upstream, task) = start_with(opts);
        closes.push(tokio::spawn(async move {
            let close = next(&mut client).await;
            (Instant::now(), close, client)
        }));
        peers.push((upstream, task));
    }
    // every session relays on until its moment
    tokio::task::yield_now().await;
    let stopped = Instant::now();
    shutdown.cancel();
    let mut at = Vec::new();
    for c in closes {
        let (when, close_frame, client) = c.await.unwrap();
        assert_eq!(close_frame, close(1012, "voxrelay restarting"));
        at.push(when - stopped);
        drop(client.send);
    }
    for (upstream, task) in peers {
        drop(upstream.send);
        assert_eq!(task.await.unwrap().label, "drained");
    }
    let (first, last) = (at.iter().min().unwrap(), at.iter().max().unwrap());
    assert!(*last < spread, "a drain started after the window: {last:?}");
    // 40 uniform draws all within half the window: about 1 in 10^10
    assert!(
        *last - *first > spread / 2,
        "drains not spread: {first:?}..{last:?}"
    );
}

/// A drain's moment is a whole number of milliseconds inside the window: the timer that waits
/// for it fires on a millisecond tick, so a finer draw at the window's end would fire after it.
#[test]
fn a_drain_moment_is_whole_milliseconds_inside_the_window() {
    let spread = Duration::from_secs(10);
    for _ in 0..10_000 {
        let d = super::super::pump::spread_delay(spread);
        assert!(d < spread, "{d:?}");
        assert_eq!(d.subsec_nanos() % 1_000_000, 0, "{d:?}");
    }
    assert_eq!(
        super::super::pump::spread_delay(Duration::from_micros(500)),
        Duration::ZERO
    );
    assert_eq!(
        super::super::pump::spread_delay(Duration::ZERO),
        Duration::ZERO
    );
}
