//! Free functions: what a request on the duplex path asks for, the numeric
//! options' ranges, the code table, and what a closed connection means.

use http2_duplex_core as core;
use napi_derive::napi;

use crate::refusal::Refusal;

/// The protocol headers a page on another origin may read (CORS).
#[napi]
pub const EXPOSED_HEADERS: &str = core::EXPOSED_HEADERS;

/// What a request on the duplex path asks for.
#[napi(
    discriminant = "kind",
    discriminant_case = "kebab-case",
    object_from_js = false
)]
pub enum RequestClass {
    /// A GET: open a duplex.
    Open,
    /// A WebSocket handshake (RFC 8441 or RFC 6455).
    Websocket,
    Post,
    Refused {
        refusal: Refusal,
    },
}

/// `websockets`: how the connection can carry a WebSocket, "extended-connect"
/// (an HTTP/2 session offering RFC 8441), "upgrade" (an HTTP/1.1 upgrade the
/// server may take) or null.
#[napi]
pub fn classify_request(
    method: String,
    protocol: Option<String>,
    upgrade: Option<String>,
    websocket_key: Option<String>,
    websocket_version: Option<String>,
    websockets: Option<String>,
) -> RequestClass {
    let head = core::RequestHead {
        method: &method,
        protocol: protocol.as_deref(),
        upgrade: upgrade.as_deref(),
        websocket_key: websocket_key.as_deref(),
        websocket_version: websocket_version.as_deref(),
        websockets: match websockets.as_deref() {
            Some("extended-connect") => core::WebSocketOffer::ExtendedConnect,
            Some("upgrade") => core::WebSocketOffer::Upgrade,
            _ => core::WebSocketOffer::None,
        },
    };
    match core::classify(&head) {
        Ok(core::Request::Open) => RequestClass::Open,
        Ok(core::Request::WebSocket) => RequestClass::Websocket,
        Ok(core::Request::Post) => RequestClass::Post,
        Err(refused) => RequestClass::Refused {
            refusal: Refusal::from(&refused),
        },
    }
}

/// The `sec-websocket-accept` answering an HTTP/1.1 WebSocket's key (RFC 6455 §4.2.2).
#[napi]
pub fn websocket_accept(key: String) -> String {
    core::websocket::accept_key(&key)
}

/// `Err(message)` when `value` is out of range for the numeric option `name`.
#[napi]
pub fn check_option(name: String, value: f64) -> Option<String> {
    core::check_option(&name, value).err()
}

/// The table of error codes, for tests that compare it with lib/error-codes.js.
#[napi]
pub fn error_codes() -> Vec<String> {
    core::Code::ALL
        .iter()
        .map(|code| code.as_str().to_owned())
        .collect()
}

/// The path a request's target names: a resume's `?resume=<id>` query
/// still names the duplex path.
#[napi]
pub fn request_path(target: String) -> String {
    core::request_path(&target).to_owned()
}
