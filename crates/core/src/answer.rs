//! What the server answers a request that opened a duplex: for a GET, the
//! protocol headers that announce the id, the version and the v2 window; for
//! a WebSocket, the id and the subprotocol.

use crate::limits::Limits;
use crate::protocol::{
    header, value,
    websocket::{RESUME_SUBPROTOCOL, SUBPROTOCOL},
};

/// Headers a page on another origin may read (CORS): every protocol header
/// the server sends.
pub const EXPOSED_HEADERS: &str = header::EXPOSED;

/// The headers of the `200` that opens duplex `id`, besides the application's;
/// `framed` when the body is framed (the client asked for it); `tunnel`: the
/// subprotocol it carries when it is a tunnel's carrier.
pub fn open_answer_headers(
    id: &str,
    limits: &Limits,
    framed: bool,
    tunnel: Option<&str>,
) -> Vec<(&'static str, String)> {
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
    if let Some(carried) = tunnel {
        headers.push((header::TUNNEL, carried.to_owned()));
    }
    headers
}

/// The headers of the `200` that accepts a WebSocket (extended CONNECT) as
/// duplex `id`: a subprotocol only when the client offered it (`asked`,
/// its `sec-websocket-protocol`), as RFC 6455 requires; the one with
/// resume when the server `resumes` and the client offered it.
pub fn websocket_answer_headers(
    id: &str,
    asked: Option<&str>,
    resumes: bool,
) -> Vec<(&'static str, String)> {
    let mut headers = vec![(header::ID, id.to_owned())];
    if let Some(tunnelled) = resume_subprotocol(asked, resumes) {
        headers.push(("sec-websocket-protocol", tunnelled.to_owned()));
    } else if offered(asked, SUBPROTOCOL) {
        headers.push(("sec-websocket-protocol", SUBPROTOCOL.to_owned()));
    }
    headers
}

/// The subprotocol with resume, when the client offered it (`asked`: its
/// `sec-websocket-protocol`, or a tunnel's `http2-duplex-tunnel`) and the
/// server `resumes`: what a WebSocket selects first, and the only one a
/// tunnel carries (docs/protocol.md "Resume on the fetch paths"); `None`: a
/// tunnel's GET opens a plain duplex.
pub fn resume_subprotocol(asked: Option<&str>, resumes: bool) -> Option<&'static str> {
    (resumes && offered(asked, RESUME_SUBPROTOCOL)).then_some(RESUME_SUBPROTOCOL)
}

fn offered(asked: Option<&str>, name: &str) -> bool {
    asked.is_some_and(|list| list.split(',').any(|p| p.trim() == name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_websocket_gets_the_subprotocol_only_if_it_offered_it() {
        let with = websocket_answer_headers("n1.x", Some("chat, http2-duplex.1"), true);
        assert_eq!(
            with,
            vec![
                ("http2-duplex-id", "n1.x".to_owned()),
                ("sec-websocket-protocol", SUBPROTOCOL.to_owned())
            ]
        );
        for asked in [None, Some("chat"), Some("http2-duplex.10")] {
            let without = websocket_answer_headers("n1.x", asked, true);
            assert_eq!(without, vec![("http2-duplex-id", "n1.x".to_owned())]);
        }
    }

    #[test]
    fn resume_is_selected_when_both_sides_want_it() {
        let asked = Some("http2-duplex.2, http2-duplex.1");
        let protocol = |resumes| {
            websocket_answer_headers("n1.x", asked, resumes)[1]
                .1
                .clone()
        };
        assert_eq!(protocol(true), RESUME_SUBPROTOCOL);
        assert_eq!(protocol(false), SUBPROTOCOL);
        let old_client = websocket_answer_headers("n1.x", Some("http2-duplex.1"), true);
        assert_eq!(old_client[1].1, SUBPROTOCOL);
    }

    #[test]
    fn announces_the_id_version_and_window() {
        let headers = open_answer_headers("n1.x", &Limits::default(), true, None);
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
        let raw = open_answer_headers("x", &Limits::default(), false, None);
        assert!(raw.iter().all(|(name, _)| *name != "http2-duplex-framing"));
        // Every protocol header sent is readable cross-origin.
        for (name, _) in &headers {
            if name.starts_with("http2-duplex-") {
                assert!(EXPOSED_HEADERS.contains(name), "{name}");
            }
        }
    }

    #[test]
    fn a_tunnel_carries_only_the_subprotocol_with_resume() {
        let both = Some("http2-duplex.2, http2-duplex.1");
        assert_eq!(resume_subprotocol(both, true), Some(RESUME_SUBPROTOCOL));
        assert_eq!(resume_subprotocol(both, false), None);
        for asked in [None, Some("http2-duplex.1"), Some("http2-duplex.20")] {
            assert_eq!(resume_subprotocol(asked, true), None, "{asked:?}");
        }
    }
}
