//! Credentials on the REST endpoints and the `fail-<status>` failure injection.

use axum::body::Body;
use serde_json::json;

use super::super::Running;
use super::{chunked_body, post, post_head_only, post_json};
use crate::simulate::SimulatorConfig;

/// A simulator that requires `KEY`.
async fn keyed() -> Running {
    Running::start(SimulatorConfig {
        api_key: Some(KEY.to_owned()),
        ..SimulatorConfig::default()
    })
    .await
}

/// The key of [`keyed`].
const KEY: &str = "sim-rest-key";

#[tokio::test]
async fn deepgram_paths_take_the_handshakes_credentials_and_refuse_others_with_401() {
    let sim = keyed().await;
    let text = json!({"text": "Hi"});
    for headers in [
        vec![],
        vec![("authorization", "Token wrong")],
        vec![("authorization", "sim-rest-key")],
    ] {
        let reply = post_json(&sim, "/v1/speak", &headers, &text).await;
        assert_eq!(reply.status, 401);
        assert_eq!(
            reply.json(),
            json!({"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials.",
                   "request_id": reply.request_id().to_string()})
        );
        let reply = post(&sim, "/v1/listen", &headers, Body::from(vec![0u8; 10])).await;
        assert_eq!(reply.status, 401);
        assert_eq!(reply.json()["err_code"], "INVALID_AUTH");
    }
    for credential in [
        "Token sim-rest-key",
        "bearer sim-rest-key",
        "TOKEN sim-rest-key",
    ] {
        let headers = [("authorization", credential)];
        assert_eq!(
            post_json(&sim, "/v1/speak", &headers, &text).await.status,
            200
        );
        let reply = post(&sim, "/v1/listen", &headers, Body::from(vec![0u8; 10])).await;
        assert_eq!(reply.status, 200);
    }
}

#[tokio::test]
async fn cloudflare_paths_take_bearer_or_the_gateway_header_and_refuse_others_in_its_shape() {
    let sim = keyed().await;
    let path = "/v1/a/g/workers-ai/@cf/deepgram/aura-1";
    let text = json!({"text": "Hi"});
    for headers in [
        vec![],
        vec![("authorization", "Token sim-rest-key")],
        vec![("cf-aig-authorization", "Bearer wrong")],
    ] {
        let reply = post_json(&sim, path, &headers, &text).await;
        assert_eq!(reply.status, 401);
        assert_eq!(
            reply.json(),
            json!({"result": null, "success": false,
                   "errors": [{"code": 10000, "message": "Authentication error"}], "messages": []})
        );
    }
    for header in [
        ("authorization", "Bearer sim-rest-key"),
        ("cf-aig-authorization", "sim-rest-key"),
        ("cf-aig-authorization", "Bearer sim-rest-key"),
    ] {
        let reply = post_json(&sim, path, &[header], &text).await;
        assert_eq!(reply.status, 200, "{header:?}");
    }
}

#[tokio::test]
async fn fail_503_is_answered_in_each_shape_without_reading_the_body() {
    let sim = Running::default().await;
    let reply = post_head_only(&sim, "/v1/listen?model=fail-503", "").await;
    assert_eq!(reply.status, 503);
    let body = reply.json();
    assert_eq!(body["err_code"], "Service Unavailable");
    assert_eq!(body["request_id"], reply.request_id().to_string());
    let reply = post_head_only(&sim, "/v1/a/g/workers-ai/@cf/deepgram/fail-503", "").await;
    assert_eq!(reply.status, 503);
    let body = reply.json();
    assert_eq!(body["success"], false);
    assert_eq!(body["errors"][0]["code"], 3000);
    let reply = post_head_only(&sim, "/v1/speak?model=fail-429", "").await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.json()["err_code"], "Too Many Requests");
}

#[tokio::test]
async fn fail_400_and_fail_models_naming_no_error_status() {
    let sim = Running::default().await;
    let reply = post_json(&sim, "/v1/speak?model=fail-400", &[], &json!({"text": "a"})).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.json()["err_msg"]
            .as_str()
            .is_some_and(|m| m.contains("fail-400"))
    );
    let reply = post_json(
        &sim,
        "/v1/a/g/workers-ai/@cf/deepgram/fail-400",
        &[],
        &json!({"text": "a"}),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["errors"][0]["code"], 5006);
    for model in ["fail-200", "fail-abc", "fail-999"] {
        let path = format!("/v1/listen?model={model}");
        let reply = post(&sim, &path, &[], Body::from(vec![0u8; 10])).await;
        assert_eq!(reply.status, 400, "{model}");
        assert!(
            reply.json()["err_msg"]
                .as_str()
                .is_some_and(|m| m.contains("fail-"))
        );
    }
}

#[tokio::test]
async fn the_credential_is_checked_before_an_injected_failure() {
    let sim = keyed().await;
    let reply = post_head_only(&sim, "/v1/listen?model=fail-503", "").await;
    assert_eq!(reply.status, 401);
    let reply = post_head_only(
        &sim,
        "/v1/listen?model=fail-503",
        "Authorization: Token sim-rest-key\r\n",
    )
    .await;
    assert_eq!(reply.status, 503);
}

#[tokio::test]
async fn fail_503_reaches_a_client_still_sending_a_large_body() {
    let sim = Running::default().await;
    for _ in 0..5 {
        // 10 MiB, chunked, then with a Content-Length.
        let pieces: Vec<Vec<u8>> = (0..160u8).map(|i| vec![i; 64 * 1024]).collect();
        let reply = post(&sim, "/v1/listen?model=fail-503", &[], chunked_body(pieces)).await;
        assert_eq!(reply.status, 503);
        let body = Body::from(vec![0u8; 10 << 20]);
        let path = "/v1/a/g/workers-ai/@cf/deepgram/fail-503";
        let reply = post(&sim, path, &[], body).await;
        assert_eq!(reply.status, 503);
        assert_eq!(reply.json()["success"], false);
    }
}
