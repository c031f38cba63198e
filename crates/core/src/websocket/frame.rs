//! Building frames: headers, masking, Close payloads.

use bytes::{BufMut, Bytes, BytesMut};

/// The longest frame header: 2 bytes, an 8-byte length, a 4-byte mask key.
pub const MAX_HEADER_LEN: usize = 14;
/// The most payload a control frame may carry.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The opcodes RFC 6455 defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Opcode {
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
}

impl Opcode {
    /// The opcode of a 4-bit value, if RFC 6455 defines it.
    pub const fn from_u8(value: u8) -> Option<Opcode> {
        Some(match value {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            _ => return None,
        })
    }

    /// Close, Ping and Pong.
    pub const fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}

/// The header of a frame: its bytes (the first `len` of the array) and its
/// length. The caller writes it, then the payload — masked with the same
/// key if `mask` is given (the client role must mask, the server must not).
pub fn encode_header(
    opcode: Opcode,
    fin: bool,
    payload_len: u64,
    mask: Option<[u8; 4]>,
) -> ([u8; MAX_HEADER_LEN], usize) {
    let mut header = [0u8; MAX_HEADER_LEN];
    header[0] = (opcode as u8) | if fin { 0x80 } else { 0 };
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let mut len = if payload_len < 126 {
        header[1] = mask_bit | payload_len as u8;
        2
    } else if payload_len <= u16::MAX as u64 {
        header[1] = mask_bit | 126;
        header[2..4].copy_from_slice(&(payload_len as u16).to_be_bytes());
        4
    } else {
        debug_assert!(payload_len >> 63 == 0, "payload length beyond 2^63 - 1");
        header[1] = mask_bit | 127;
        header[2..10].copy_from_slice(&payload_len.to_be_bytes());
        10
    };
    if let Some(key) = mask {
        header[len..len + 4].copy_from_slice(&key);
        len += 4;
    }
    (header, len)
}

/// XORs `buf` with the mask `key`, `buf` starting `offset` bytes into the
/// frame's payload (so a payload can be masked or unmasked piece by piece).
/// Masking and unmasking are the same operation.
pub fn mask_in_place(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let mut key = key;
    key.rotate_left(offset % 4);
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes(chunk.try_into().expect("8 bytes")) ^ wide;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}

/// The payload of a Close frame: the code, big-endian, then the reason,
/// cut at a character boundary to fit in a control frame (123 bytes).
pub fn close_payload(code: u16, reason: &str) -> Bytes {
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = BytesMut::with_capacity(2 + end);
    payload.put_u16(code);
    payload.put_slice(&reason.as_bytes()[..end]);
    payload.freeze()
}

/// Whether a peer may send `code` in a Close frame: 1000–1003, 1007–1014
/// (RFC 6455 and the IANA registry), or 3000–4999 (registered and private
/// use). 1004–1006 and 1015 are reserved, the rest is unassigned.
pub const fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}
