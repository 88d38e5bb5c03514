use std::time::Duration;

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
fn a_raw_authorization_is_assemblyais_form_and_schemes_stay_deepgrams() {
    // AssemblyAI's Python SDK: the key or token with no scheme
    assert_eq!(
        cred(&[("authorization", "k1")]),
        Ok(("k1".to_owned(), None))
    );
    assert_eq!(
        cred(&[("authorization", "Token k1")]),
        Ok(("k1".to_owned(), None))
    );
    assert_eq!(
        cred(&[("authorization", "Basic k1")]),
        Err(AuthError::Missing)
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

fn authenticator() -> Authenticator {
    let key = |id: &str, secret: &str, routes: Option<Vec<&str>>, cap| ClientKey {
        id: id.into(),
        digest: KeyDigest::of(secret),
        routes: routes.map(|r| r.into_iter().map(String::from).collect()),
        max_concurrent_sessions: cap,
    };
    let day = Duration::from_secs(86_400);
    Authenticator {
        clients: ClientKeys(vec![
            key("a", "ka", None, Some(5)),
            key("b", "kb", Some(vec!["speak"]), None),
        ]),
        tokens: Tokens::new(
            b"0123456789abcdef0123456789abcdef",
            vec![],
            "voxrelay".into(),
            "voxrelay".into(),
            Duration::ZERO,
            day,
            day,
        ),
    }
}

#[test]
fn keys_verify_and_route_grants() {
    let auth = authenticator();
    let ok = |t: &str, r: &str| auth.authorize(&Secret::new(t), r).map(|a| a.client_id);
    assert_eq!(ok("ka", "listen"), Ok("a".into()));
    assert_eq!(ok("kb", "speak"), Ok("b".into()));
    assert_eq!(ok("kb", "listen"), Err(AuthError::Forbidden));
    assert_eq!(ok("nope", "listen"), Err(AuthError::Invalid));
}

#[test]
fn tokens_narrow_but_never_widen_the_key() {
    let auth = authenticator();
    let jwt = auth.tokens.mint("b", None, Duration::from_secs(60));
    // the key allows only `speak`; a token without routes inherits that
    assert!(auth.authorize(&Secret::new(&jwt), "speak").is_ok());
    assert_eq!(
        auth.authorize(&Secret::new(&jwt), "listen").unwrap_err(),
        AuthError::Forbidden
    );
    let jwt = auth
        .tokens
        .mint("a", Some(vec!["listen".into()]), Duration::from_secs(60));
    let access = auth.authorize(&Secret::new(&jwt), "listen").unwrap();
    assert_eq!(
        (access.client_id.as_str(), access.max_concurrent),
        ("a", Some(5))
    );
    assert_eq!(
        auth.authorize(&Secret::new(&jwt), "speak").unwrap_err(),
        AuthError::Forbidden
    );
}

#[test]
fn tokens_for_unknown_clients_are_refused() {
    let auth = authenticator();
    let jwt = auth.tokens.mint("ghost", None, Duration::from_secs(60));
    assert_eq!(
        auth.authorize(&Secret::new(&jwt), "listen").unwrap_err(),
        AuthError::Invalid
    );
}

#[test]
fn forms_are_tried_in_registry_order_subprotocols_before_headers() {
    // both subprotocol forms offered: the first registered provider's wins
    assert_eq!(
        cred(&[(
            "sec-websocket-protocol",
            "cf-aig-authorization.cf, token, dg"
        )]),
        Ok(("dg".to_owned(), Some("token".to_owned())))
    );
    // any subprotocol form beats any header form
    assert_eq!(
        cred(&[
            ("authorization", "Token header"),
            ("sec-websocket-protocol", "cf-aig-authorization.proto")
        ]),
        Ok((
            "proto".to_owned(),
            Some("cf-aig-authorization.proto".to_owned())
        ))
    );
    // both header forms: the first registered provider's wins
    assert_eq!(
        cred(&[
            ("cf-aig-authorization", "cf"),
            ("authorization", "Bearer dg")
        ]),
        Ok(("dg".to_owned(), None))
    );
}

#[test]
fn an_unusable_authorization_header_is_not_rescued_by_a_later_form() {
    assert_eq!(
        cred(&[
            ("authorization", "Basic k1"),
            ("cf-aig-authorization", "k2")
        ]),
        Err(AuthError::Missing)
    );
}
