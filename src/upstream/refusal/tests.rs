use super::*;

const KEY: &str = "dg-Key_0123456789abcdef/+=";

fn leaks(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    ["dg-key_0123", "0123456789abcdef", "dg%2dkey", "dg-key%5f"]
        .iter()
        .any(|k| lower.contains(k))
}

#[test]
fn every_form_of_the_credential_is_replaced() {
    let s = Scrubber::new(&format!("Token {KEY}"));
    let encoded = utf8_percent_encode(KEY, NON_ALPHANUMERIC).to_string();
    let component = utf8_percent_encode(KEY, COMPONENT).to_string();
    for text in [
        format!("Invalid credentials: Token {KEY}."),
        format!("bad key {KEY} and again {KEY}"),
        KEY.to_ascii_uppercase(),
        format!("url?key={encoded}"),
        format!("url?key={}", encoded.to_ascii_lowercase()),
        format!("url?key={component}"),
    ] {
        let out = s.scrub(&text);
        assert!(!leaks(&out), "{text} -> {out}");
        assert!(out.contains(REDACTED), "{out}");
    }
    assert_eq!(s.scrub("nothing secret here"), "nothing secret here");
    let raw = Scrubber::new(KEY);
    assert_eq!(raw.scrub(&format!("x{KEY}y")), format!("x{REDACTED}y"));
    let bearer = Scrubber::new(&format!("Bearer {KEY}"));
    assert_eq!(
        bearer.scrub(&format!("got {KEY}")),
        format!("got {REDACTED}")
    );
}

#[test]
fn a_body_cut_inside_the_key_loses_the_tail() {
    let s = Scrubber::new(&format!("Token {KEY}"));
    let cut = format!("Invalid credentials: {}", &KEY[..10]);
    assert_eq!(s.scrub(&cut), format!("Invalid credentials: {REDACTED}"));
    // three characters say nothing about the key and are kept
    assert_eq!(s.scrub("ends in dg-"), "ends in dg-");
}

#[test]
fn json_bodies_are_scrubbed_string_by_string_and_stay_json() {
    let s = Scrubber::new(&format!("Token {KEY}"));
    let body = serde_json::json!({
        "err_code": "INVALID_AUTH",
        "err_msg": format!("Invalid credentials: Token {KEY}"),
        "details": [KEY, 1, {"escaped": KEY.replace('/', "\\/")}],
    })
    .to_string();
    let out = s.scrub_body(body.as_bytes());
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert!(!leaks(&v.to_string()), "{v}");
    assert_eq!(v["err_code"], "INVALID_AUTH");
    assert_eq!(v["details"][1], 1);
    let unicode_escaped = format!(r#"{{"m":"\u0054oken {}"}}"#, KEY.replace('d', "\\u0064"));
    let out = s.scrub_body(unicode_escaped.as_bytes());
    assert!(!leaks(&String::from_utf8_lossy(&out)), "{out:?}");
}

#[test]
fn the_client_always_gets_json() {
    let v = client_body(
        &crate::provider::CLIENT_API,
        StatusCode::UNAUTHORIZED,
        b"Unauthorized",
        "id-1",
    );
    assert_eq!(v["err_code"], UPSTREAM_REJECTED);
    assert_eq!(v["err_msg"], "Unauthorized");
    assert_eq!(v["request_id"], "id-1");
    assert_eq!(v["upstream_status"], 401);
    let v = client_body(
        &crate::provider::CLIENT_API,
        StatusCode::BAD_REQUEST,
        b"",
        "id-2",
    );
    assert_eq!(v["err_msg"], "upstream answered 400 Bad Request");
    let v = client_body(
        &crate::provider::CLIENT_API,
        StatusCode::BAD_REQUEST,
        b"[1,2]",
        "id-3",
    );
    assert_eq!(v["err_msg"], "[1,2]");
    let long = "x".repeat(5000);
    let v = client_body(
        &crate::provider::CLIENT_API,
        StatusCode::BAD_REQUEST,
        long.as_bytes(),
        "id-4",
    );
    assert_eq!(v["err_msg"].as_str().unwrap().len(), MAX_QUOTED_TEXT);
    let v = client_body(
        &crate::provider::CLIENT_API,
        StatusCode::FORBIDDEN,
        br#"{"err_msg":"no"}"#,
        "id-5",
    );
    assert_eq!(v, serde_json::json!({"err_msg": "no"}));
}
