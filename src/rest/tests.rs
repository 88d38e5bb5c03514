use super::*;
use figment::providers::Format;

#[test]
fn audio_seconds_are_the_duration_times_the_channels() {
    let metered = |body: &[u8]| audio_seconds(body, None).0;
    assert_eq!(
        metered(br#"{"metadata":{"duration":1.5,"channels":2}}"#),
        3.0
    );
    assert_eq!(metered(br#"{"metadata":{"duration":2.25}}"#), 2.25);
    assert_eq!(metered(br#"{"results":{}}"#), 0.0);
    assert_eq!(metered(b"not json"), 0.0);
    // the duration wins over the upload's own measure
    let both = br#"{"metadata":{"duration":2.0}}"#;
    assert_eq!(audio_seconds(both, Some((32_000, 32_000.0))), (2.0, true));
}

#[test]
fn a_result_without_a_duration_is_metered_from_the_upload_or_its_words() {
    // no metadata (Workers AI documents only `results`): the upload at its raw format
    let words = br#"{"results":{"channels":[
        {"alternatives":[{"words":[{"end":0.5},{"end":1.25}]}]},
        {"alternatives":[{"words":[{"end":0.75}]}]}]}}"#;
    assert_eq!(audio_seconds(words, Some((64_000, 32_000.0))), (2.0, false));
    // no raw format: the last word of each channel
    assert_eq!(audio_seconds(words, None), (2.0, false));
    assert_eq!(
        audio_seconds(br#"{"metadata":{"duration":-1}}"#, None),
        (0.0, true)
    );
}

fn route(kind: &str, rest: &str) -> (Option<RestRoute>, Vec<String>) {
    let toml = format!(
        r#"name = "r"
path = "/p"
kind = "{kind}"
upstreams = ["u"]
default_model = "m"
models = ["m"]
{rest}"#
    );
    let r: RouteConfig = figment::Figment::from(figment::providers::Toml::string(&toml))
        .extract()
        .unwrap();
    let mut errors = Vec::new();
    (RestRoute::of(&r, "routes[0]", &mut errors), errors)
}

#[test]
fn listen_and_speak_routes_have_a_rest_half_unless_turned_off() {
    let (rest, errors) = route("listen", "");
    let rest = rest.unwrap();
    assert!(errors.is_empty());
    assert_eq!(rest.max_body_bytes, 256 * 1024 * 1024);
    assert!(rest.url_hosts.is_none());
    assert!(route("speak", "").0.is_some());
    assert!(route("flux", "").0.is_none());
    assert!(route("listen", "[rest]\nenabled = false").0.is_none());
    let (rest, errors) = route(
        "listen",
        "[rest]\nallow_url = true\nurl_hosts = [\"media.example.com\"]\nmax_body_bytes = 10",
    );
    assert!(errors.is_empty(), "{errors:?}");
    let rest = rest.unwrap();
    assert_eq!(rest.max_body_bytes, 10);
    assert_eq!(rest.url_hosts.unwrap().len(), 1);
}

#[test]
fn bad_rest_settings_are_reported() {
    let cases = [
        (
            "flux",
            "[rest]\nenabled = true",
            "only listen and speak routes",
        ),
        (
            "listen",
            "[rest]\nallow_url = true",
            "rest.url_hosts: name the hosts",
        ),
        (
            "speak",
            "[rest]\nallow_url = true\nurl_hosts = [\"*\"]",
            "only listen routes",
        ),
        (
            "listen",
            "[rest]\nmax_body_bytes = 0",
            "rest.max_body_bytes",
        ),
        ("listen", "[rest]\ntimeout = \"0s\"", "rest.timeout"),
        (
            "listen",
            "[rest]\nurl_hosts = [\"a b\"]",
            "rest.url_hosts[0]",
        ),
    ];
    for (kind, rest, expected) in cases {
        let (_, errors) = route(kind, rest);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{kind} {rest}: {errors:?}"
        );
    }
}

#[test]
fn a_result_without_metadata_gets_one_and_others_pass_as_is() {
    let bare = Bytes::from_static(
        br#"{"results":{"channels":[{"alternatives":[]},{"alternatives":[]}]}}"#,
    );
    let out: Value = serde_json::from_slice(&with_metadata(bare, "req-1", 3.0)).unwrap();
    assert_eq!(out["metadata"]["request_id"], "req-1");
    assert_eq!(out["metadata"]["duration"], 1.5);
    assert_eq!(out["metadata"]["channels"], 2);
    assert!(out["results"]["channels"].is_array());
    let full = Bytes::from_static(br#"{"metadata":{"duration":2.0},  "results":{}}"#);
    assert_eq!(with_metadata(full.clone(), "x", 9.0), full);
    let odd = Bytes::from_static(b"[1,2]");
    assert_eq!(with_metadata(odd.clone(), "x", 9.0), odd);
}
