//! What a request on the duplex path asks for, decided from its head before
//! anything is opened.

use crate::protocol::websocket::RESUME_QUERY;
use crate::rejection::{Reason, Rejection};
use crate::websocket::duplex::valid_id;
use crate::websocket::{is_valid_key, VERSION};

/// How the connection a request came on can carry a WebSocket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WebSocketOffer {
    /// It cannot: a plain HTTP/1.1 request, or an HTTP/2 session that does
    /// not offer the extended CONNECT.
    #[default]
    None,
    /// An HTTP/2 session with the extended CONNECT on (RFC 8441).
    ExtendedConnect,
    /// An HTTP/1.1 upgrade request whose connection the server may take
    /// (RFC 6455; Node's `'upgrade'` event).
    Upgrade,
}

/// The parts of a request's head that decide what it asks for.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestHead<'a> {
    pub method: &'a str,
    /// `:protocol` of an HTTP/2 extended CONNECT (RFC 8441).
    pub protocol: Option<&'a str>,
    /// The `upgrade` header (HTTP/1.1 only).
    pub upgrade: Option<&'a str>,
    /// The `sec-websocket-key` header: a WebSocket handshake, even where a
    /// proxy dropped its hop-by-hop `upgrade` header (nginx's default).
    pub websocket_key: Option<&'a str>,
    /// The `sec-websocket-version` header.
    pub websocket_version: Option<&'a str>,
    pub websockets: WebSocketOffer,
}

/// What an accepted request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// A GET: open a duplex whose answer carries the server's side.
    Open,
    /// An extended CONNECT, or an HTTP/1.1 upgrade: a duplex on one WebSocket.
    WebSocket,
    /// A POST: the client's side of a duplex, routed by its headers.
    Post,
}

/// The path a request's target names: the target, or its path when its
/// query is a resume's [`RESUME_QUERY`] with a node prefix (a proxy routes
/// it by it; the server reads the id from the first message).
pub fn request_path(target: &str) -> &str {
    match target.find(RESUME_QUERY) {
        Some(at) if valid_id(&target.as_bytes()[at + RESUME_QUERY.len()..]) => &target[..at],
        _ => target,
    }
}

/// Decides what a request asks for, or refuses it.
pub fn classify(head: &RequestHead<'_>) -> Result<Request, Rejection> {
    let asks_websocket = head
        .upgrade
        .is_some_and(|upgrade| upgrade.eq_ignore_ascii_case("websocket"));
    let websocket_handshake = head.websocket_key.is_some() || asks_websocket;
    let upgrade = head.websockets == WebSocketOffer::Upgrade;
    match head.method {
        "GET" if upgrade => {
            let whole = asks_websocket
                && head.websocket_version == Some(VERSION)
                && head.websocket_key.is_some_and(is_valid_key);
            if whole {
                Ok(Request::WebSocket)
            } else {
                Err(Rejection::new(Reason::WebSocketBadHandshake))
            }
        }
        // Answered with a duplex's GET body, a WebSocket handshake would open a
        // duplex that no one reads, and the client's fallback a second one.
        "GET" if websocket_handshake => Err(Rejection::new(Reason::WebSocketNeedsHttp2)),
        "GET" => Ok(Request::Open),
        "CONNECT"
            if head.websockets == WebSocketOffer::ExtendedConnect
                && head.protocol == Some("websocket") =>
        {
            Ok(Request::WebSocket)
        }
        "POST" if !upgrade => Ok(Request::Post),
        method => Err(Rejection::new(Reason::MethodNotAllowed {
            method: method.chars().take(32).collect(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

    fn head(method: &str) -> RequestHead<'_> {
        RequestHead {
            method,
            ..RequestHead::default()
        }
    }

    fn refused(head: &RequestHead<'_>) -> (Code, u16) {
        let rejection = classify(head).expect_err("refused");
        assert!(!rejection.fatal, "no duplex to break");
        (rejection.code(), rejection.status)
    }

    #[test]
    fn get_opens_and_post_routes() {
        assert_eq!(classify(&head("GET")), Ok(Request::Open));
        assert_eq!(classify(&head("POST")), Ok(Request::Post));
    }

    #[test]
    fn extended_connect_opens_a_websocket_where_offered() {
        let connect = RequestHead {
            protocol: Some("websocket"),
            websockets: WebSocketOffer::ExtendedConnect,
            ..head("CONNECT")
        };
        assert_eq!(classify(&connect), Ok(Request::WebSocket));
        for offer in [WebSocketOffer::None, WebSocketOffer::Upgrade] {
            let not_offered = RequestHead {
                websockets: offer,
                ..connect
            };
            assert_eq!(refused(&not_offered), (Code::MethodNotAllowed, 405));
        }
        let not_offered = RequestHead {
            websockets: WebSocketOffer::None,
            ..connect
        };
        assert_eq!(refused(&not_offered), (Code::MethodNotAllowed, 405));
        let other_protocol = RequestHead {
            protocol: Some("webtransport"),
            ..connect
        };
        assert_eq!(refused(&other_protocol), (Code::MethodNotAllowed, 405));
    }

    #[test]
    fn an_http1_upgrade_opens_a_websocket_when_its_handshake_is_whole() {
        let get = RequestHead {
            upgrade: Some("WebSocket"),
            websocket_key: Some("dGhlIHNhbXBsZSBub25jZQ=="),
            websocket_version: Some("13"),
            websockets: WebSocketOffer::Upgrade,
            ..head("GET")
        };
        assert_eq!(classify(&get), Ok(Request::WebSocket));
        let broken = [
            RequestHead {
                websocket_version: Some("8"),
                ..get
            },
            RequestHead {
                websocket_version: None,
                ..get
            },
            RequestHead {
                websocket_key: Some("short"),
                ..get
            },
            RequestHead {
                websocket_key: None,
                ..get
            },
            RequestHead {
                upgrade: Some("h2c"),
                ..get
            },
        ];
        for head in broken {
            assert_eq!(refused(&head), (Code::WsBadHandshake, 400), "{head:?}");
        }
        // A handshake is a GET.
        for method in ["POST", "PUT"] {
            let other = RequestHead { method, ..get };
            assert_eq!(refused(&other), (Code::MethodNotAllowed, 405));
        }
        // Where upgrades are not taken, a handshake is refused as before.
        let not_offered = RequestHead {
            websockets: WebSocketOffer::None,
            ..get
        };
        assert_eq!(refused(&not_offered), (Code::WsNeedsHttp2, 501));
    }

    #[test]
    fn an_http1_websocket_handshake_is_refused_not_opened() {
        for upgrade in ["websocket", "WebSocket"] {
            let get = RequestHead {
                upgrade: Some(upgrade),
                ..head("GET")
            };
            assert_eq!(refused(&get), (Code::WsNeedsHttp2, 501));
        }
        // A proxy that drops `upgrade` still forwards the key.
        let keyed = RequestHead {
            websocket_key: Some("dGhlIHNhbXBsZSBub25jZQ=="),
            ..head("GET")
        };
        assert_eq!(refused(&keyed), (Code::WsNeedsHttp2, 501));
        let h2c = RequestHead {
            upgrade: Some("h2c"),
            ..head("GET")
        };
        assert_eq!(classify(&h2c), Ok(Request::Open));
    }

    #[test]
    fn other_methods_are_refused_with_their_name() {
        for method in ["PUT", "DELETE", "OPTIONS", "get"] {
            let rejection = classify(&head(method)).expect_err("refused");
            assert_eq!(rejection.code(), Code::MethodNotAllowed);
            assert!(rejection.to_string().contains(method));
        }
    }

    #[test]
    fn a_resume_query_names_the_duplex_path() {
        assert_eq!(request_path("/duplex"), "/duplex");
        assert_eq!(request_path("/duplex?resume=n2"), "/duplex");
        for other in [
            "/duplex?resume=",
            "/duplex?resume=a/b",
            "/duplex?x=1",
            "/duplex?resume=a&b=c",
        ] {
            assert_eq!(request_path(other), other);
        }
    }
}
