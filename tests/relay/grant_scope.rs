//! Grants narrowed by their request body: to routes the key may use, to models, and to
//! providers (upstream kinds): a session outside the narrowing is refused before the upgrade,
//! and on a route with upstreams of several kinds only the granted ones are tried.

use serde_json::Value;

use crate::helpers::*;

/// A grant token for the test key, asked with `body`.
async fn grant(app: &TestApp, body: &str) -> (u16, Value) {
    let auth = format!("Token {CLIENT_KEY}");
    let (status, _, body) = http(
        app.addr,
        "POST",
        "/v1/auth/grant",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body,
    )
    .await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

async fn token(app: &TestApp, body: &str) -> String {
    let (status, v) = grant(app, body).await;
    assert_eq!(status, 200, "{v}");
    v["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_grant_limited_to_a_route_opens_only_that_route() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let jwt = token(&app, r#"{"routes": ["listen"]}"#).await;
    let bearer = format!("bearer, {jwt}");
    let (ws, _) = connect(&format!("ws://{}/v1/listen", app.addr), Some(&bearer), &[])
        .await
        .expect("the granted route opens");
    drop(ws);
    let (status, body) = refused(&format!("ws://{}/v1/speak", app.addr), Some(&bearer), &[]).await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn a_grant_limited_to_a_provider_is_served_only_by_it() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    // `listen` falls back from Deepgram (dg) to Cloudflare (cf): a Cloudflare-only grant goes
    // straight to cf
    let jwt = token(&app, r#"{"providers": ["cloudflare"]}"#).await;
    let (_ws, _) = connect(
        &format!("ws://{}/v1/listen", app.addr),
        Some(&format!("bearer, {jwt}")),
        &[],
    )
    .await
    .expect("a granted provider serves the route");
    let seen = up.handshake().await;
    assert!(seen.uri.contains("/workers-ai"), "{}", seen.uri);
    // `flux` is served by Deepgram only
    let (status, body) = refused(
        &format!("ws://{}/v2/listen", app.addr),
        Some(&format!("bearer, {jwt}")),
        &[],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("not granted any provider"), "{body}");
    assert!(
        metric_eventually(&app, "reason=\"provider_not_granted\"")
            .await
            .contains("flux")
    );
}

#[tokio::test]
async fn grant_requests_for_routes_or_providers_beyond_the_key_are_refused() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    for body in [
        r#"{"routes": ["nope"]}"#,
        r#"{"providers": ["acme"]}"#,
        r#"{"models": []}"#,
        r#"{"routes": "listen"}"#,
    ] {
        let (status, v) = grant(&app, body).await;
        assert_eq!(status, 400, "{body}: {v}");
    }
    let jwt = token(&app, r#"{"models": ["nova-2"]}"#).await;
    let (status, body) = refused(
        &format!("ws://{}/v1/listen?model=nova-3", app.addr),
        Some(&format!("bearer, {jwt}")),
        &[],
    )
    .await;
    assert_eq!(status, 403, "{body}");
}
