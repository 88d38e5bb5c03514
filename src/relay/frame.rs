//! RFC 6455 frame headers and masking: what the relay reads of every frame it forwards.
//!
//! Only the header is parsed; a payload is unmasked and re-masked in one pass where it lies
//! ([`apply_mask`] with the XOR of both keys), or left untouched when neither side masks.

use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Utf8Bytes};

/// Longest frame header: 2 bytes, a 64-bit length, a masking key.
pub(crate) const MAX_HEADER: usize = 14;

/// Continuation frame.
pub(crate) const OP_CONTINUE: u8 = 0x0;
/// Text frame.
pub(crate) const OP_TEXT: u8 = 0x1;
/// Binary frame.
pub(crate) const OP_BINARY: u8 = 0x2;
/// Close frame.
pub(crate) const OP_CLOSE: u8 = 0x8;
/// Ping frame.
pub(crate) const OP_PING: u8 = 0x9;
/// Pong frame.
pub(crate) const OP_PONG: u8 = 0xA;

/// Longest control frame payload.
pub(crate) const MAX_CONTROL: usize = 125;

/// One parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// Last frame of its message.
    pub(crate) fin: bool,
    /// Frame type.
    pub(crate) opcode: u8,
    /// Payload length.
    pub(crate) len: u64,
    /// Masking key, when the frame is masked.
    pub(crate) mask: Option<[u8; 4]>,
}

impl Header {
    /// A close, ping or pong frame.
    pub(crate) fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }
}

/// Parses the header at the start of `buf`: `Ok(None)` while it is incomplete, else the header
/// and its length. Reserved bits, unknown opcodes and oversized or fragmented control frames
/// are protocol errors.
pub(crate) fn parse(buf: &[u8]) -> Result<Option<(Header, usize)>, ProtocolError> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    if b0 & 0x70 != 0 {
        return Err(ProtocolError::NonZeroReservedBits);
    }
    let fin = b0 & 0x80 != 0;
    let opcode = b0 & 0x0F;
    match opcode {
        OP_CONTINUE | OP_TEXT | OP_BINARY => {}
        OP_CLOSE | OP_PING | OP_PONG => {
            if !fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            if usize::from(b1 & 0x7F) > MAX_CONTROL {
                return Err(ProtocolError::ControlFrameTooBig);
            }
        }
        op if op & 0x8 != 0 => return Err(ProtocolError::UnknownControlFrameType(op)),
        op => return Err(ProtocolError::UnknownDataFrameType(op)),
    }
    let masked = b1 & 0x80 != 0;
    let (len, mut at) = match b1 & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            // a length past any message limit is refused by the reader as too big
            Some(b) => (u64::from_be_bytes(b.try_into().unwrap_or_default()), 10),
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    let mask = if masked {
        let Some(k) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        at += 4;
        Some([k[0], k[1], k[2], k[3]])
    } else {
        None
    };
    Ok(Some((
        Header {
            fin,
            opcode,
            len,
            mask,
        },
        at,
    )))
}

/// Writes `header` into `out`; returns its length.
pub(crate) fn encode(header: &Header, out: &mut [u8; MAX_HEADER]) -> usize {
    out[0] = (u8::from(header.fin) << 7) | header.opcode;
    let mask_bit = if header.mask.is_some() { 0x80 } else { 0 };
    let mut at = match header.len {
        n @ 0..=125 => {
            out[1] = mask_bit | n as u8;
            2
        }
        n @ 126..=0xFFFF => {
            out[1] = mask_bit | 126;
            out[2..4].copy_from_slice(&(n as u16).to_be_bytes());
            4
        }
        n => {
            out[1] = mask_bit | 127;
            out[2..10].copy_from_slice(&n.to_be_bytes());
            10
        }
    };
    if let Some(key) = header.mask {
        out[at..at + 4].copy_from_slice(&key);
        at += 4;
    }
    at
}

/// XORs `buf` with `key`, `buf` starting `offset` bytes into its frame's payload. Masking and
/// unmasking are the same operation; unmasking with one key and masking with another is one
/// call with the XOR of both keys.
pub(crate) fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let r = offset % 4;
    let k = [key[r], key[(r + 1) % 4], key[(r + 2) % 4], key[(r + 3) % 4]];
    let wide = u64::from_ne_bytes([k[0], k[1], k[2], k[3], k[0], k[1], k[2], k[3]]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(word) ^ wide).to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= k[i % 4];
    }
}

/// Both keys in one: unmasks with `a` and masks with `b`.
pub(crate) fn rekey(a: [u8; 4], b: [u8; 4]) -> [u8; 4] {
    [a[0] ^ b[0], a[1] ^ b[1], a[2] ^ b[2], a[3] ^ b[3]]
}

/// A fresh masking key (the same generator tungstenite masks with).
pub(crate) fn new_key() -> [u8; 4] {
    rand::random()
}

/// A whole frame: header and payload, masked with a fresh key when `masked`.
pub(crate) fn whole(opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    build(true, opcode, payload, masked.then(new_key))
}

/// One frame, the last of its message or not, masked with `mask` if given.
pub(crate) fn build(fin: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let header = Header {
        fin,
        opcode,
        len: payload.len() as u64,
        mask,
    };
    let mut head = [0u8; MAX_HEADER];
    let n = encode(&header, &mut head);
    let mut out = Vec::with_capacity(n + payload.len());
    out.extend_from_slice(&head[..n]);
    out.extend_from_slice(payload);
    if let Some(key) = header.mask {
        apply_mask(&mut out[n..], key, 0);
    }
    out
}

/// A close frame's payload read: no status, or a code and a reason. A one-byte payload is a
/// protocol error; a reason that is not UTF-8 is invalid payload.
pub(crate) fn read_close(payload: &[u8]) -> Result<Option<CloseFrame>, WsError> {
    match payload {
        [] => Ok(None),
        [_] => Err(WsError::Protocol(ProtocolError::InvalidCloseSequence)),
        [hi, lo, reason @ ..] => {
            let reason = std::str::from_utf8(reason).map_err(|_| WsError::Utf8(String::new()))?;
            Ok(Some(CloseFrame {
                code: CloseCode::from(u16::from_be_bytes([*hi, *lo])),
                reason: Utf8Bytes::from(reason),
            }))
        }
    }
}

/// A close frame's payload: the code and the reason, or nothing for no status.
pub(crate) fn close_payload(frame: Option<&CloseFrame>) -> Vec<u8> {
    frame.map_or_else(Vec::new, |f| {
        let mut out = u16::from(f.code).to_be_bytes().to_vec();
        out.extend_from_slice(f.reason.as_bytes());
        out
    })
}

/// What a peer's close is answered with: its own close, or 1002 when its code may not be sent.
pub(crate) fn close_reply(frame: Option<CloseFrame>) -> Option<CloseFrame> {
    frame.map(|f| {
        if f.code.is_allowed() {
            f
        } else {
            CloseFrame {
                code: CloseCode::Protocol,
                reason: Utf8Bytes::from_static("Protocol violation"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(fin: bool, opcode: u8, len: u64, mask: Option<[u8; 4]>) -> Header {
        Header {
            fin,
            opcode,
            len,
            mask,
        }
    }

    #[test]
    fn headers_round_trip_at_every_length_form() {
        for len in [0, 1, 125, 126, 3200, 0xFFFF, 0x1_0000, 16 << 20] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let h = header(len % 2 == 0, OP_BINARY, len, mask);
                let mut out = [0u8; MAX_HEADER];
                let n = encode(&h, &mut out);
                assert_eq!(parse(&out[..n]).unwrap(), Some((h, n)));
                // every shorter prefix is incomplete, not an error
                for cut in 0..n {
                    assert_eq!(parse(&out[..cut]).unwrap(), None, "len {len} cut {cut}");
                }
            }
        }
    }

    #[test]
    fn bad_headers_are_protocol_errors() {
        let cases: [(&[u8], ProtocolError); 5] = [
            (&[0xC2, 0], ProtocolError::NonZeroReservedBits),
            (&[0x09, 0], ProtocolError::FragmentedControlFrame),
            (&[0x89, 126, 0, 126], ProtocolError::ControlFrameTooBig),
            (&[0x83, 0], ProtocolError::UnknownDataFrameType(3)),
            (&[0x8B, 0], ProtocolError::UnknownControlFrameType(0xB)),
        ];
        for (bytes, want) in cases {
            assert_eq!(parse(bytes).unwrap_err(), want, "{bytes:?}");
        }
    }

    #[test]
    fn masking_matches_the_bytewise_definition_at_any_offset() {
        let key = [0x12, 0x34, 0x56, 0x78];
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for offset in 0..8 {
            for len in [0, 1, 7, 8, 9, 33, 1000] {
                let mut fast = data[..len].to_vec();
                apply_mask(&mut fast, key, offset);
                let slow: Vec<u8> = (0..len).map(|i| data[i] ^ key[(offset + i) % 4]).collect();
                assert_eq!(fast, slow, "offset {offset} len {len}");
            }
        }
    }

    #[test]
    fn rekeying_in_pieces_equals_unmasking_then_masking() {
        let (a, b) = ([9, 8, 7, 6], [1, 3, 5, 7]);
        let plain: Vec<u8> = (0..100u8).collect();
        let mut wire = plain.clone();
        apply_mask(&mut wire, a, 0);
        let (first, rest) = wire.split_at_mut(37);
        apply_mask(first, rekey(a, b), 0);
        apply_mask(rest, rekey(a, b), 37);
        apply_mask(&mut wire, b, 0);
        assert_eq!(wire, plain);
    }

    #[test]
    fn close_payloads_are_checked() {
        assert_eq!(read_close(&[]).unwrap(), None);
        assert!(read_close(&[3]).is_err());
        assert!(matches!(read_close(&[3, 232, 0xFF]), Err(WsError::Utf8(_))));
        let f = read_close(&[3, 232, b'o', b'k']).unwrap().unwrap();
        assert_eq!((u16::from(f.code), f.reason.as_str()), (1000, "ok"));
        assert_eq!(close_payload(Some(&f)), vec![3, 232, b'o', b'k']);
        let bad = read_close(&[3, 236]).unwrap(); // 1004: reserved
        assert_eq!(u16::from(close_reply(bad).unwrap().code), 1002);
    }

    #[test]
    fn whole_frames_are_readable() {
        let f = whole(OP_TEXT, b"hello", true);
        let (h, n) = parse(&f).unwrap().unwrap();
        assert_eq!((h.fin, h.opcode, h.len), (true, OP_TEXT, 5));
        let mut payload = f[n..].to_vec();
        apply_mask(&mut payload, h.mask.unwrap(), 0);
        assert_eq!(payload, b"hello");
    }
}
