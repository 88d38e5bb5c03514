//! Label bounds and rendering.

use super::*;

#[test]
fn client_labels_are_capped() {
    let m = Metrics::new(2);
    assert_eq!(m.client_label("a"), "a");
    assert_eq!(m.client_label("b"), "b");
    assert_eq!(m.client_label("c"), OTHER_CLIENT);
    assert_eq!(m.client_label("a"), "a");
}

#[test]
fn close_codes_map_to_a_bounded_set() {
    assert_eq!(close_code_label(Some(1011)), "1011");
    assert_eq!(close_code_label(Some(4000)), "4xxx");
    assert_eq!(close_code_label(Some(2999)), "other");
    assert_eq!(close_code_label(None), "none");
}

#[test]
fn names_cover_every_family() {
    let m = Metrics::default();
    for name in [
        "voxrelay_sessions_total",
        "voxrelay_audio_seconds_total",
        "voxrelay_grants_total",
    ] {
        assert!(m.names().iter().any(|n| n == name), "{name}");
    }
}
