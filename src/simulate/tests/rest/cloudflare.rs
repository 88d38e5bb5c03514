//! `POST …/workers-ai/@cf/deepgram/<model>`: Workers AI's envelope around transcripts, streamed speech.

use axum::body::Body;
use serde_json::json;

use super::super::Running;
use super::{post, post_json};

#[tokio::test]
async fn nova_answers_deepgrams_prerecorded_result_in_cloudflares_envelope() {
    let sim = Running::default().await;
    for path in [
        "/v1/acct/gw/workers-ai/@cf/deepgram/nova-3?encoding=linear16&sample_rate=16000",
        "/v1/acct/gw/workers-ai/%40cf%2Fdeepgram%2Fnova-3?encoding=linear16&sample_rate=16000",
    ] {
        let reply = post(
            &sim,
            path,
            &[("content-type", "audio/raw")],
            Body::from(vec![0u8; 32_000]),
        )
        .await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("content-type"), "application/json");
        let body = reply.json();
        assert_eq!(body["success"], true);
        assert_eq!(body["errors"], json!([]));
        assert_eq!(body["messages"], json!([]));
        let result = &body["result"];
        assert_eq!(result["metadata"]["duration"], 1.0);
        let uuid = result["metadata"]["models"][0].as_str().expect("uuid");
        assert_eq!(result["metadata"]["model_info"][uuid]["arch"], "nova-3");
        assert_eq!(
            result["results"]["channels"][0]["alternatives"][0]["transcript"],
            "the quick"
        );
    }
}

#[tokio::test]
async fn aura_streams_mp3_by_default_and_raw_pcm_on_request() {
    let sim = Running::default().await;
    let path = "/v1/acct/gw/workers-ai/@cf/deepgram/aura-1";
    let reply = post_json(&sim, path, &[], &json!({"text": "Hi", "speaker": "luna"})).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), "audio/mpeg");
    assert_eq!(reply.body().len(), 5 * 156);
    assert_eq!(&reply.body()[..2], &[0xFF, 0xF3]);
    let request = json!({"text": "Hello", "speaker": "luna", "encoding": "linear16",
                         "sample_rate": 24000, "container": "none"});
    let reply = post_json(
        &sim,
        "/v1/a/g/workers-ai/@cf/deepgram/aura-2-en",
        &[],
        &request,
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), "application/octet-stream");
    assert_eq!(reply.body(), vec![0u8; 5 * 1440 * 2]);
    assert!(reply.frames.len() >= 3, "{} frames", reply.frames.len());
}

#[tokio::test]
async fn bad_input_and_unknown_models_are_400_in_cloudflares_envelope() {
    let sim = Running::default().await;
    let cases = [
        ("@cf/deepgram/aura-2-es", json!({"speaker": "luna"}), 5006),
        (
            "@cf/deepgram/aura-1",
            json!({"text": "a", "sample_rate": "x"}),
            5006,
        ),
        (
            "@cf/deepgram/aura-1",
            json!({"text": "a", "encoding": "opus"}),
            5006,
        ),
        ("@cf/deepgram/flux", json!({"text": "a"}), 5007),
        ("@cf/openai/whisper", json!({"text": "a"}), 5007),
        ("@cf/deepgram/aura-1/v1/speak", json!({"text": "a"}), 5007),
    ];
    for (model, body, code) in cases {
        let path = format!("/v1/a/g/workers-ai/{model}");
        let reply = post_json(&sim, &path, &[], &body).await;
        assert_eq!(reply.status, 400, "{model} {body}");
        let envelope = reply.json();
        assert_eq!(envelope["result"], json!(null));
        assert_eq!(envelope["success"], false);
        assert_eq!(envelope["messages"], json!([]));
        assert_eq!(envelope["errors"][0]["code"], code, "{model} {body}");
        assert!(
            envelope["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
}
