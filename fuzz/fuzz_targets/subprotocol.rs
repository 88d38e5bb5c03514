//! Arbitrary bytes → handshake headers → `voxrelay::auth::credential`.
//!
//! The input is split on `\n`; each line's first byte picks the header (`Sec-WebSocket-Protocol`,
//! `Authorization` or `cf-aig-authorization`) and the rest is its value, so repeated protocol
//! headers and every credential form are reachable. Besides not panicking, `credential` must only
//! ever report `Missing`, must echo only a value the client offered, and `offered_protocols` must
//! yield trimmed, non-empty items without commas.

#![no_main]

use http::header::{AUTHORIZATION, SEC_WEBSOCKET_PROTOCOL};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use voxrelay::auth::{AuthError, credential, offered_protocols};

fuzz_target!(|data: &[u8]| {
    let names = [
        SEC_WEBSOCKET_PROTOCOL,
        AUTHORIZATION,
        HeaderName::from_static("cf-aig-authorization"),
    ];
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        let Some((&pick, value)) = line.split_first() else {
            continue;
        };
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(names[usize::from(pick) % names.len()].clone(), value);
        }
    }
    let offered = offered_protocols(&headers);
    for p in &offered {
        assert!(!p.is_empty() && p.trim() == *p && !p.contains(','), "{p:?}");
    }
    match credential(&headers) {
        Ok(c) => {
            if let Some(echo) = &c.echo {
                assert!(
                    offered.contains(&echo.as_str()),
                    "echo {echo:?} not offered"
                );
            }
        }
        Err(e) => assert_eq!(e, AuthError::Missing),
    }
});
