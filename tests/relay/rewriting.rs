//! What the upstream receives: URL, model, query, credential and headers.

use crate::helpers::*;

#[tokio::test]
async fn deepgram_upstream_gets_exact_query_and_injected_key() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let query = "encoding=linear16&keyterm=foo%20bar&model=nova-3&keyterm=baz+qux&token=leak&sample_rate=16000&mip_opt_out=false";
    let offer = format!("token, {CLIENT_KEY}");
    let headers = [
        ("cookie", "session=abc"),
        (
            "x-deepgram-session-id",
            "4d9f4c1e-0e43-4f7b-9a0e-6b1b2f3c4d5e",
        ),
    ];
    let (_ws, resp) = connect(
        &app.ws(&format!("/v1/listen?{query}")),
        Some(&offer),
        &headers,
    )
    .await
    .unwrap();
    let seen = up.handshake().await;
    assert_eq!(
        seen.uri,
        "/v1/listen?encoding=linear16&keyterm=foo%20bar&model=nova-3&keyterm=baz+qux&sample_rate=16000&mip_opt_out=true"
    );
    let h = &seen.headers;
    assert_eq!(
        h["authorization"],
        format!("Token {UPSTREAM_SECRET}").as_str()
    );
    assert_eq!(h["x-team"], "voice");
    assert_eq!(
        h["x-deepgram-session-id"],
        "4d9f4c1e-0e43-4f7b-9a0e-6b1b2f3c4d5e"
    );
    assert!(h.get("cookie").is_none());
    assert!(h.get("sec-websocket-protocol").is_none());
    assert!(
        !format!("{h:?}").contains(CLIENT_KEY),
        "client key went upstream"
    );
    assert_eq!(
        resp.headers()["dg-request-id"],
        "5e7b6c0a-1a5e-4d39-9f1e-2f6a8f0e9c11"
    );
}

#[tokio::test]
async fn client_authorization_header_is_replaced_not_forwarded() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let auth = format!("Token {CLIENT_KEY}");
    connect(&app.ws("/v1/listen"), None, &[("authorization", &auth)])
        .await
        .unwrap();
    let seen = up.handshake().await;
    assert_eq!(seen.headers.get_all("authorization").iter().count(), 1);
    assert_eq!(
        seen.headers["authorization"],
        format!("Token {UPSTREAM_SECRET}").as_str()
    );
    assert_eq!(seen.uri, "/v1/listen?model=nova-3&mip_opt_out=true");
}

#[tokio::test]
async fn cloudflare_upstream_gets_workers_ai_url_and_cf_header() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    connect_ok(&app.ws("/cf/v1/listen?model=nova-3&interim_results=true")).await;
    let seen = up.handshake().await;
    assert_eq!(
        seen.uri,
        "/v1/acct/gw/workers-ai?model=@cf/deepgram/nova-3&interim_results=true"
    );
    assert_eq!(seen.headers["cf-aig-authorization"], UPSTREAM_SECRET);
    assert!(seen.headers.get("authorization").is_none());
}

#[tokio::test]
async fn cloudflare_bearer_scheme_is_selectable() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let toml = config(&up.base()).replace(
        "gateway_id = \"gw\"",
        "gateway_id = \"gw\"\nauth_scheme = \"bearer\"",
    );
    let app = TestApp::start(&toml).await;
    connect_ok(&app.ws("/cf/v1/listen")).await;
    let seen = up.handshake().await;
    assert_eq!(
        seen.headers["cf-aig-authorization"],
        format!("Bearer {UPSTREAM_SECRET}").as_str()
    );
}

#[tokio::test]
async fn aura_voice_becomes_cloudflare_speaker() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    connect_ok(&app.ws("/v1/speak?model=aura-2-thalia-en&encoding=linear16&sample_rate=24000"))
        .await;
    assert_eq!(
        up.handshake().await.uri,
        "/v1/acct/gw/workers-ai?model=@cf/deepgram/aura-2-en&encoding=linear16&sample_rate=24000&speaker=thalia"
    );
    connect_ok(&app.ws("/v1/speak?model=aura-asteria-en")).await;
    assert_eq!(
        up.handshake().await.uri,
        "/v1/acct/gw/workers-ai?model=@cf/deepgram/aura-1&speaker=asteria"
    );
}

#[tokio::test]
async fn cloudflare_model_names_are_stripped_for_deepgram() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    connect_ok(&app.ws("/v1/listen?model=%40cf%2Fdeepgram%2Fnova-3")).await;
    assert_eq!(
        up.handshake().await.uri,
        "/v1/listen?model=nova-3&mip_opt_out=true"
    );
    connect_ok(&app.ws("/v2/listen?model=flux&encoding=linear16&sample_rate=16000")).await;
    assert_eq!(
        up.handshake().await.uri,
        "/v2/listen?model=flux-general-en&encoding=linear16&sample_rate=16000"
    );
}
