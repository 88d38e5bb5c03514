use axum::http::HeaderValue;

use super::*;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn cred(pairs: &[(&str, &str)]) -> Result<(String, Option<String>), AuthError> {
    credential(&headers(pairs)).map(|c| (c.token.expose().to_owned(), c.echo))
}

#[test]
fn token_form_with_and_without_spaces() {
    let want = Ok(("abc".to_owned(), Some("token".to_owned())));
    assert_eq!(cred(&[("sec-websocket-protocol", "token, abc")]), want);
    assert_eq!(cred(&[("sec-websocket-protocol", "token,abc")]), want);
}

#[test]
fn scheme_is_case_insensitive_and_echoed_as_sent() {
    assert_eq!(
        cred(&[("sec-websocket-protocol", "Bearer, eyJ.a.b")]),
        Ok(("eyJ.a.b".to_owned(), Some("Bearer".to_owned())))
    );
}

#[test]
fn session_id_pair_may_follow() {
    assert_eq!(
        cred(&[(
            "sec-websocket-protocol",
            "token, KEY, x-deepgram-session-id, 0b8e5c1c-6a2f-4f0b-9a59-1b6d3f6c2a11"
        )]),
        Ok(("KEY".to_owned(), Some("token".to_owned())))
    );
}

#[test]
fn protocols_split_across_headers() {
    assert_eq!(
        cred(&[
            ("sec-websocket-protocol", "token"),
            ("sec-websocket-protocol", "k")
        ]),
        Ok(("k".to_owned(), Some("token".to_owned())))
    );
}

#[test]
fn cloudflare_form_echoes_the_only_value() {
    assert_eq!(
        cred(&[("sec-websocket-protocol", "cf-aig-authorization.s3cret")]),
        Ok((
            "s3cret".to_owned(),
            Some("cf-aig-authorization.s3cret".to_owned())
        ))
    );
}

#[test]
fn authorization_header_forms() {
    for v in ["Token k1", "token k1", "Bearer k1", "bearer k1"] {
        assert_eq!(cred(&[("authorization", v)]), Ok(("k1".to_owned(), None)));
    }
    assert_eq!(
        cred(&[("authorization", "Basic k1")]),
        Err(AuthError::Missing)
    );
    assert_eq!(
        cred(&[("cf-aig-authorization", "Bearer k2")]),
        Ok(("k2".into(), None))
    );
    assert_eq!(
        cred(&[("cf-aig-authorization", "k3")]),
        Ok(("k3".into(), None))
    );
}

#[test]
fn header_client_offering_other_protocols_gets_one_echoed() {
    assert_eq!(
        cred(&[
            ("authorization", "Token k"),
            ("sec-websocket-protocol", "v1.json")
        ]),
        Ok(("k".to_owned(), Some("v1.json".to_owned())))
    );
}

#[test]
fn missing_credentials() {
    assert_eq!(cred(&[]), Err(AuthError::Missing));
    assert_eq!(
        cred(&[("sec-websocket-protocol", "token")]),
        Err(AuthError::Missing)
    );
}

#[test]
fn keys_verify_and_route_grants() {
    let keys = ClientKeys(vec![
        ClientKey {
            id: "a".into(),
            digest: KeyDigest::of("ka"),
            routes: None,
        },
        ClientKey {
            id: "b".into(),
            digest: KeyDigest::of("kb"),
            routes: Some(vec!["speak".into()]),
        },
    ]);
    assert_eq!(
        keys.authorize(&Secret::new("ka"), "listen").unwrap().id,
        "a"
    );
    assert_eq!(keys.authorize(&Secret::new("kb"), "speak").unwrap().id, "b");
    assert_eq!(
        keys.authorize(&Secret::new("kb"), "listen").unwrap_err(),
        AuthError::Forbidden
    );
    assert_eq!(
        keys.authorize(&Secret::new("nope"), "listen").unwrap_err(),
        AuthError::Invalid
    );
}
