//! Close frames as voxrelay sends them.

use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Longest close reason a frame can carry (125-byte control payload less the code).
const MAX_REASON: usize = 123;

/// A close frame with a code and a reason (cut at a character boundary to fit).
pub(crate) fn close(code: u16, reason: &str) -> Message {
    let mut end = reason.len().min(MAX_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from(&reason[..end]),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_close_reasons_are_cut_to_fit_a_frame() {
        let Message::Close(Some(f)) = close(1008, &"é".repeat(100)) else {
            panic!()
        };
        assert!(f.reason.len() <= 123 && f.reason.len() >= 122);
    }
}
