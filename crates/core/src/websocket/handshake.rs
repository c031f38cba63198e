//! The opening handshake of an HTTP/1.1 WebSocket (RFC 6455 §4.2): the
//! client's key and version are checked before anything opens, and the
//! `sec-websocket-accept` header answers the key.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The only version of the protocol (RFC 6455 §4.1).
pub const VERSION: &str = "13";

/// Appended to the client's key before hashing (RFC 6455 §1.3).
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A key is the base64 of 16 bytes (RFC 6455 §4.1, item 7).
pub fn is_valid_key(key: &str) -> bool {
    key.len() == 24 && STANDARD.decode(key).is_ok_and(|nonce| nonce.len() == 16)
}

/// The `sec-websocket-accept` value answering `key`: base64(SHA-1(key + GUID)).
pub fn accept_key(key: &str) -> String {
    let mut sha1 = sha1_smol::Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(GUID.as_bytes());
    STANDARD.encode(sha1.digest().bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_of_rfc_6455s_example() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn a_key_is_16_bytes_in_base64() {
        assert!(is_valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
        for bad in [
            "",
            "dGhlIHNhbXBsZSBub25jZQ",   // padding dropped
            "dGhlIHNhbXBsZSBub25jZQ=!", // not base64
            "dGhlIHNhbXBsZSBub25jZSE=", // 17 bytes
            "c2hvcnQ=",                 // 5 bytes
        ] {
            assert!(!is_valid_key(bad), "{bad:?}");
        }
    }
}
