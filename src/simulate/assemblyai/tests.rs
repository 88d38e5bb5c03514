//! The session state machine without sockets: query validation, audio figures, and the log line that tells
//! whether a session ended by `Terminate` or by the socket closing.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;
use uuid::Uuid;

use super::{Settings, Streaming};
use crate::simulate::session::{Closing, Outgoing, Protocol};
use crate::simulate::wire::Params;

/// Log output captured in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Runs `body` with info logs captured; returns what it logged.
fn logs(body: impl FnOnce()) -> String {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, body);
    let bytes = captured.0.lock().expect("log buffer").clone();
    String::from_utf8(bytes).expect("utf-8 logs")
}

/// Settings of `query`.
fn settings(query: &str) -> Result<Settings, u16> {
    Settings::from_params(&Params::parse(Some(query))).map_err(|refusal| refusal.code)
}

#[test]
fn query_validation() {
    let ok = settings(
        "speech_model=u3-rt-pro&format_turns=True&keyterms_prompt=%5B%22a%22%5D&sample_rate=8000",
    )
    .expect("valid");
    assert!(ok.format_turns, "Python sends format_turns=True");
    assert_eq!(ok.bytes_per_second, 16_000);
    assert_eq!(
        settings("speech_model=x&encoding=pcm_mulaw&sample_rate=8000").map(|s| s.bytes_per_second),
        Ok(8_000)
    );
    assert_eq!(
        settings("speech_model=x").map(|s| s.bytes_per_second),
        Ok(32_000)
    );
    assert_eq!(settings("sample_rate=16000"), Err(3006));
    assert_eq!(settings("speech_model="), Err(3006));
    assert_eq!(settings("speech_model=x&sample_rate=0"), Err(3006));
    assert_eq!(settings("speech_model=x&sample_rate=fast"), Err(3006));
    assert_eq!(settings("speech_model=x&encoding=opus"), Err(3006));
    assert_eq!(settings("speech_model=x&inactivity_timeout=4"), Err(3006));
    assert_eq!(
        settings("speech_model=x&inactivity_timeout=3600")
            .map(|s| s.inactivity.map(|d| d.as_secs())),
        Ok(Some(3600))
    );
}

#[test]
fn terminate_reports_and_logs_the_figures() {
    let output = logs(|| {
        let mut session =
            Streaming::new(Uuid::new_v4(), settings("speech_model=x").expect("valid"));
        let _ = session.on_open();
        for _ in 0..5 {
            let _ = session.on_binary(&[0; 16_000]);
        }
        let step = session.on_text(r#"{"type":"Terminate"}"#);
        assert_eq!(step.close, Some(Closing::Status(1000, "")));
        let Some(Outgoing::Json(last)) = step.out.last() else {
            panic!("Termination expected: {:?}", step.out);
        };
        assert_eq!(last["type"], "Termination");
        assert_eq!(last["audio_duration_seconds"], 3, "2.5 s rounds to 3");
        assert_eq!(last["session_duration_seconds"], 0);
    });
    assert!(output.contains(r#"ended_by="terminate""#), "{output}");
    assert!(output.contains("audio_duration_seconds=3"), "{output}");
    assert!(!output.contains("socket_closed"), "{output}");
}

#[test]
fn a_session_dropped_without_terminate_is_logged_as_such() {
    let output = logs(|| {
        let mut session =
            Streaming::new(Uuid::new_v4(), settings("speech_model=x").expect("valid"));
        let _ = session.on_open();
        let _ = session.on_binary(&[0; 32_000]);
        drop(session);
    });
    assert!(output.contains(r#"ended_by="socket_closed""#), "{output}");
    assert!(output.contains("audio_duration_seconds=1"), "{output}");
}

#[test]
fn a_refused_session_logs_no_ending() {
    let output = logs(|| {
        let refusal = Settings::from_params(&Params::parse(None)).expect_err("no speech_model");
        let mut session = Streaming::refused(refusal);
        let step = session.on_open();
        assert_eq!(
            step.close,
            Some(Closing::Status(3006, "Input validation error"))
        );
        drop(session);
    });
    assert!(!output.contains("ended_by"), "{output}");
}
