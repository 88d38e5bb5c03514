use super::*;

fn ask(body: &str) -> Result<Ask, String> {
    parse(body.as_bytes(), "gpt-realtime").map_err(|e| e.to_string())
}

#[test]
fn an_empty_request_is_a_realtime_session_on_the_default_model_for_600_seconds() {
    for body in ["", "  ", "{}", r#"{"expires_after":null,"session":null}"#] {
        let a = ask(body).unwrap();
        assert_eq!(a.seconds, 600, "{body}");
        assert_eq!(a.model.as_deref(), Some("gpt-realtime"));
        assert_eq!(
            Value::Object(a.session),
            json!({"type": "realtime", "model": "gpt-realtime"})
        );
    }
}

#[test]
fn the_sdks_request_is_read_and_its_session_echoed_whole() {
    let a = ask(r#"{"expires_after":{"anchor":"created_at","seconds":120},
            "session":{"type":"realtime","model":"gpt-realtime-mini",
                       "audio":{"input":{"format":{"type":"audio/pcm","rate":24000}}}}}"#)
    .unwrap();
    assert_eq!(a.seconds, 120);
    assert_eq!(a.model.as_deref(), Some("gpt-realtime-mini"));
    assert_eq!(a.session["type"], "realtime");
    assert_eq!(a.session["audio"]["input"]["format"]["rate"], 24000);
    // a transcription session grants its transcription model and echoes no conversation model
    let t = ask(r#"{"session":{"type":"transcription",
                       "audio":{"input":{"transcription":{"model":"gpt-4o-transcribe"}}}}}"#)
    .unwrap();
    assert_eq!(t.model.as_deref(), Some("gpt-4o-transcribe"));
    assert_eq!(t.session["type"], "transcription");
    assert!(t.session.get("model").is_none());
    let t = ask(r#"{"session":{"type":"transcription"}}"#).unwrap();
    assert_eq!(t.model, None);
    let err = ask(r#"{"session":{"type":"transcription","audio":{"input":{"transcription":{"model":"gpt-*"}}}}}"#)
        .unwrap_err();
    assert!(err.contains("transcription.model"), "{err}");
    let a = ask(
        r#"{"session":{"type":"transcription","model":"gpt-realtime-mini",
                       "audio":{"input":{"format":{"type":"audio/pcm","rate":24000}}}}}"#,
    )
    .unwrap();
    assert_eq!(a.session["type"], "transcription");
    assert_eq!(a.model, None);
    assert_eq!(a.session["audio"]["input"]["format"]["rate"], 24000);
    assert_eq!(
        ask(r#"{"expires_after":{"seconds":10}}"#).unwrap().seconds,
        10
    );
    assert_eq!(
        ask(r#"{"expires_after":{"seconds":7200.0}}"#)
            .unwrap()
            .seconds,
        7200
    );
}

#[test]
fn lifetimes_outside_10_to_7200_seconds_are_refused_not_clamped() {
    for seconds in ["9", "0", "7201", "-1", "60.5", "\"600\"", "1e30", "true"] {
        let body = format!(r#"{{"expires_after":{{"seconds":{seconds}}}}}"#);
        let err = ask(&body).expect_err(&body);
        assert!(err.contains("from 10 to 7200"), "{err}");
    }
    let err = ask(r#"{"expires_after":{"anchor":"now","seconds":60}}"#).unwrap_err();
    assert!(err.contains("anchor"), "{err}");
}

#[test]
fn malformed_bodies_and_sessions_are_refused() {
    for body in [
        "not json",
        "[]",
        "5",
        r#"{"expires_after":5}"#,
        r#"{"session":"realtime"}"#,
        r#"{"session":{"type":"translation"}}"#,
        r#"{"session":{"model":""}}"#,
        r#"{"session":{"model":7}}"#,
        r#"{"session":{"model":"gpt-realtime-*"}}"#,
    ] {
        let err = parse(body.as_bytes(), "m").expect_err(body);
        assert_eq!(err.status(), 400, "{body}");
    }
}

#[test]
fn each_route_serves_the_endpoint_under_its_own_path() {
    assert_eq!(path_for("/v1/realtime"), "/v1/realtime/client_secrets");
    assert_eq!(
        path_for("/oa/v1/realtime/"),
        "/oa/v1/realtime/client_secrets"
    );
    assert!(TOKEN_PREFIX.starts_with("ek_"));
}

#[test]
fn auth_sees_the_token_behind_the_prefix_and_anything_else_unchanged() {
    assert_eq!(crate::provider::bare_token("ek_a.b.c"), "a.b.c");
    assert_eq!(crate::provider::bare_token("ek_68af2c"), "68af2c");
    assert_eq!(crate::provider::bare_token("voxrelay-key"), "voxrelay-key");
}
