//! What the server answers a request that opened a duplex: for a GET, the
//! protocol headers that announce the id, the version and the v2 window; for
//! a WebSocket, the id and the subprotocol.

use crate::limits::Limits;
use crate::protocol::{header, value, websocket::SUBPROTOCOL};

/// Headers a page on another origin may read (CORS): every protocol header
/// the server sends.
pub const EXPOSED_HEADERS: &str = header::EXPOSED;

/// The headers of the `200` that opens duplex `id`, besides the application's;
/// `framed` when the body is framed (the client asked for it).
pub fn open_answer_headers(id: &str, limits: &Limits, framed: bool) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        (header::ID, id.to_owned()),
        (header::VERSION, value::PROTOCOL_VERSION.to_string()),
        (header::WINDOW, limits.window.to_string()),
        (header::WINDOW_BYTES, limits.window_bytes.to_string()),
        ("access-control-expose-headers", EXPOSED_HEADERS.to_owned()),
        ("content-type", value::CONTENT_TYPE.to_owned()),
    ];
    if framed {
        headers.push((header::FRAMING, value::FRAMING_VERSION.to_owned()));
    }
    headers
}

/// The headers of the `200` that accepts a WebSocket (extended CONNECT) as
/// duplex `id`: the subprotocol only when the client offered it (`asked`,
/// its `sec-websocket-protocol`), as RFC 6455 requires.
pub fn websocket_answer_headers(id: &str, asked: Option<&str>) -> Vec<(&'static str, String)> {
    let mut headers = vec![(header::ID, id.to_owned())];
    let offered = asked.is_some_and(|list| list.split(',').any(|p| p.trim() == SUBPROTOCOL));
    if offered {
        headers.push(("sec-websocket-protocol", SUBPROTOCOL.to_owned()));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_websocket_gets_the_subprotocol_only_if_it_offered_it() {
        let with = websocket_answer_headers("n1.x", Some("chat, http2-duplex.1"));
        assert_eq!(
            with,
            vec![
                ("http2-duplex-id", "n1.x".to_owned()),
                ("sec-websocket-protocol", SUBPROTOCOL.to_owned())
            ]
        );
        for asked in [None, Some("chat"), Some("http2-duplex.10")] {
            let without = websocket_answer_headers("n1.x", asked);
            assert_eq!(without, vec![("http2-duplex-id", "n1.x".to_owned())]);
        }
    }

    #[test]
    fn announces_the_id_version_and_window() {
        let headers = open_answer_headers("n1.x", &Limits::default(), true);
        let get = |name| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("http2-duplex-id"), Some("n1.x"));
        assert_eq!(get("http2-duplex-version"), Some("2"));
        assert_eq!(get("http2-duplex-window"), Some("16"));
        assert_eq!(get("http2-duplex-window-bytes"), Some("4194304"));
        assert_eq!(get("http2-duplex-framing"), Some("1"));
        let raw = open_answer_headers("x", &Limits::default(), false);
        assert!(raw.iter().all(|(name, _)| *name != "http2-duplex-framing"));
        // Every protocol header sent is readable cross-origin.
        for (name, _) in &headers {
            if name.starts_with("http2-duplex-") {
                assert!(EXPOSED_HEADERS.contains(name), "{name}");
            }
        }
    }
}
