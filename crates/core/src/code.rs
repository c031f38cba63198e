//! The one table of error codes. Server warnings, duplex errors, the
//! `http2-duplex-error` header of a refused request and the clients'
//! `ResponseError`s all name their cause by one of these codes. The JS
//! layers (server, Node client, browser client) read the same table from
//! `lib/error-codes.js`, which `cargo test` keeps equal to it.

/// A stable error code. `as_str()` is what JS sees as `err.code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    MissingId,
    UnknownId,
    DuplexClosed,
    SeqMalformed,
    SeqMixed,
    SeqRepeated,
    SeqOutsideWindow,
    WindowBytes,
    SessionHeldBytes,
    ConnectionHeldBytes,
    ServerHeldBytes,
    WriteTooLarge,
    StreamingAlreadyOpen,
    WriteAfterEnd,
    BadEndCount,
    AlreadyEnding,
    TooManyDuplexes,
    ConnectionDuplexes,
    ServerDuplexes,
    UnknownWrite,
    MethodNotAllowed,
    ClientReset,
    TruncatedBody,
    IdleTimeout,
    SessionClosed,
    Destroyed,
    InvalidOption,
    Response,
    NoIdInResponse,
    Connection,
    ServerReset,
    WrongNode,
    OriginNotAllowed,
    TruncatedResponse,
    WsProtocol,
    WsInvalidUtf8,
    WsTooBig,
    WsCredit,
    WsMessage,
    WsClosed,
    WsNeedsHttp2,
    WsAbnormalClose,
    WsBadHandshake,
    ResumeTimeout,
    ResumeUnknown,
    ResumeRefused,
    ResumeCount,
    ResumeAck,
}

impl Code {
    /// Every code, in table order.
    pub const ALL: [Code; 48] = [
        Code::MissingId,
        Code::UnknownId,
        Code::DuplexClosed,
        Code::SeqMalformed,
        Code::SeqMixed,
        Code::SeqRepeated,
        Code::SeqOutsideWindow,
        Code::WindowBytes,
        Code::SessionHeldBytes,
        Code::ConnectionHeldBytes,
        Code::ServerHeldBytes,
        Code::WriteTooLarge,
        Code::StreamingAlreadyOpen,
        Code::WriteAfterEnd,
        Code::BadEndCount,
        Code::AlreadyEnding,
        Code::TooManyDuplexes,
        Code::ConnectionDuplexes,
        Code::ServerDuplexes,
        Code::UnknownWrite,
        Code::MethodNotAllowed,
        Code::ClientReset,
        Code::TruncatedBody,
        Code::IdleTimeout,
        Code::SessionClosed,
        Code::Destroyed,
        Code::InvalidOption,
        Code::Response,
        Code::NoIdInResponse,
        Code::Connection,
        Code::ServerReset,
        Code::WrongNode,
        Code::OriginNotAllowed,
        Code::TruncatedResponse,
        Code::WsProtocol,
        Code::WsInvalidUtf8,
        Code::WsTooBig,
        Code::WsCredit,
        Code::WsMessage,
        Code::WsClosed,
        Code::WsNeedsHttp2,
        Code::WsAbnormalClose,
        Code::WsBadHandshake,
        Code::ResumeTimeout,
        Code::ResumeUnknown,
        Code::ResumeRefused,
        Code::ResumeCount,
        Code::ResumeAck,
    ];

    pub const fn as_str(self) -> &'static str {
        use Code::*;
        match self {
            MissingId => "ERR_HTTP2_DUPLEX_MISSING_ID",
            UnknownId => "ERR_HTTP2_DUPLEX_UNKNOWN_ID",
            DuplexClosed => "ERR_HTTP2_DUPLEX_CLOSED",
            SeqMalformed => "ERR_HTTP2_DUPLEX_SEQ_MALFORMED",
            SeqMixed => "ERR_HTTP2_DUPLEX_SEQ_MIXED",
            SeqRepeated => "ERR_HTTP2_DUPLEX_SEQ_REPEATED",
            SeqOutsideWindow => "ERR_HTTP2_DUPLEX_SEQ_OUTSIDE_WINDOW",
            WindowBytes => "ERR_HTTP2_DUPLEX_WINDOW_BYTES",
            SessionHeldBytes => "ERR_HTTP2_DUPLEX_SESSION_HELD_BYTES",
            ConnectionHeldBytes => "ERR_HTTP2_DUPLEX_CONNECTION_HELD_BYTES",
            ServerHeldBytes => "ERR_HTTP2_DUPLEX_SERVER_HELD_BYTES",
            WriteTooLarge => "ERR_HTTP2_DUPLEX_WRITE_TOO_LARGE",
            StreamingAlreadyOpen => "ERR_HTTP2_DUPLEX_STREAMING_ALREADY_OPEN",
            WriteAfterEnd => "ERR_HTTP2_DUPLEX_WRITE_AFTER_END",
            BadEndCount => "ERR_HTTP2_DUPLEX_BAD_END_COUNT",
            AlreadyEnding => "ERR_HTTP2_DUPLEX_ALREADY_ENDING",
            TooManyDuplexes => "ERR_HTTP2_DUPLEX_TOO_MANY_DUPLEXES",
            ConnectionDuplexes => "ERR_HTTP2_DUPLEX_CONNECTION_DUPLEXES",
            ServerDuplexes => "ERR_HTTP2_DUPLEX_SERVER_DUPLEXES",
            UnknownWrite => "ERR_HTTP2_DUPLEX_UNKNOWN_WRITE",
            MethodNotAllowed => "ERR_HTTP2_DUPLEX_METHOD_NOT_ALLOWED",
            ClientReset => "ERR_HTTP2_DUPLEX_CLIENT_RESET",
            TruncatedBody => "ERR_HTTP2_DUPLEX_TRUNCATED_BODY",
            IdleTimeout => "ERR_HTTP2_DUPLEX_IDLE_TIMEOUT",
            SessionClosed => "ERR_HTTP2_DUPLEX_SESSION_CLOSED",
            Destroyed => "ERR_HTTP2_DUPLEX_DESTROYED",
            InvalidOption => "ERR_HTTP2_DUPLEX_INVALID_OPTION",
            Response => "ERR_HTTP2_DUPLEX_RESPONSE",
            NoIdInResponse => "ERR_HTTP2_DUPLEX_NO_ID_IN_RESPONSE",
            Connection => "ERR_HTTP2_DUPLEX_CONNECTION",
            ServerReset => "ERR_HTTP2_DUPLEX_SERVER_RESET",
            WrongNode => "ERR_HTTP2_DUPLEX_WRONG_NODE",
            OriginNotAllowed => "ERR_HTTP2_DUPLEX_ORIGIN_NOT_ALLOWED",
            TruncatedResponse => "ERR_HTTP2_DUPLEX_TRUNCATED_RESPONSE",
            WsProtocol => "ERR_HTTP2_DUPLEX_WS_PROTOCOL",
            WsInvalidUtf8 => "ERR_HTTP2_DUPLEX_WS_INVALID_UTF8",
            WsTooBig => "ERR_HTTP2_DUPLEX_WS_TOO_BIG",
            WsCredit => "ERR_HTTP2_DUPLEX_WS_CREDIT",
            WsMessage => "ERR_HTTP2_DUPLEX_WS_MESSAGE",
            WsClosed => "ERR_HTTP2_DUPLEX_WS_CLOSED",
            WsNeedsHttp2 => "ERR_HTTP2_DUPLEX_WS_NEEDS_HTTP2",
            WsAbnormalClose => "ERR_HTTP2_DUPLEX_WS_ABNORMAL_CLOSE",
            WsBadHandshake => "ERR_HTTP2_DUPLEX_WS_BAD_HANDSHAKE",
            ResumeTimeout => "ERR_HTTP2_DUPLEX_RESUME_TIMEOUT",
            ResumeUnknown => "ERR_HTTP2_DUPLEX_RESUME_UNKNOWN",
            ResumeRefused => "ERR_HTTP2_DUPLEX_RESUME_REFUSED",
            ResumeCount => "ERR_HTTP2_DUPLEX_RESUME_COUNT",
            ResumeAck => "ERR_HTTP2_DUPLEX_RESUME_ACK",
        }
    }

    /// The HTTP status a server answers with for this cause, if it answers.
    pub const fn status(self) -> Option<u16> {
        use Code::*;
        Some(match self {
            MissingId | UnknownId | DuplexClosed | WrongNode => 404,
            OriginNotAllowed => 403,
            SeqMalformed | SeqMixed | WriteAfterEnd | BadEndCount | TruncatedBody => 400,
            SeqRepeated | StreamingAlreadyOpen | AlreadyEnding => 409,
            SeqOutsideWindow | TooManyDuplexes | ConnectionDuplexes => 429,
            ServerDuplexes => 503,
            WindowBytes | SessionHeldBytes | ConnectionHeldBytes | ServerHeldBytes
            | WriteTooLarge => 413,
            UnknownWrite => 500,
            MethodNotAllowed => 405,
            IdleTimeout => 408,
            WsNeedsHttp2 => 501,
            WsBadHandshake => 400,
            Destroyed => 410,
            ClientReset | SessionClosed | InvalidOption | Response | NoIdInResponse
            | Connection | ServerReset | TruncatedResponse | WsProtocol | WsInvalidUtf8
            | WsTooBig | WsCredit | WsMessage | WsClosed | WsAbnormalClose | ResumeTimeout
            | ResumeUnknown | ResumeRefused | ResumeCount | ResumeAck => return None,
        })
    }

    /// What happened and what to do about it, for messages and docs.
    pub const fn hint(self) -> &'static str {
        use Code::*;
        match self {
            MissingId => "POST without an http2-duplex-id header: send the id from the GET answer",
            UnknownId => "unknown http2-duplex-id in this pairing scope: open a duplex with a GET first, on a connection of the same scope",
            DuplexClosed => "the duplex of this http2-duplex-id has closed: open a new one",
            SeqMalformed => "http2-duplex-seq is not a decimal integer below 2^53",
            SeqMixed => "http2-duplex-seq on some write POSTs of a duplex and not on others: number all or none",
            SeqRepeated => "http2-duplex-seq was already used: number each write once",
            SeqOutsideWindow => "http2-duplex-seq is past the window: wait for earlier writes to be answered",
            WindowBytes => "too many bytes held out of order for this duplex: keep at most http2-duplex-window-bytes in flight",
            SessionHeldBytes => "the duplexes of this pairing scope hold too many bytes out of order, past twice the budget their POSTs were paused at: honour HTTP/2 flow control, or raise max_held_bytes_per_session",
            ConnectionHeldBytes => "the duplexes this connection opened hold too many bytes out of order, past twice the budget their POSTs were paused at: honour HTTP/2 flow control, or raise max_held_bytes_per_connection",
            ServerHeldBytes => "the duplexes of this server hold too many bytes out of order, past twice the budget their POSTs were paused at: honour HTTP/2 flow control, or raise max_held_bytes",
            WriteTooLarge => "write POST body larger than max_write_bytes: split the write or raise the limit",
            StreamingAlreadyOpen => "a streaming POST is already open for this duplex: send one per duplex",
            WriteAfterEnd => "write POST numbered at or after the end POST's count",
            BadEndCount => "the end POST counts fewer writes than were already delivered",
            AlreadyEnding => "a second end POST for a duplex that is already ending",
            TooManyDuplexes => "too many duplexes open in this pairing scope (an HTTP/2 session by default): close some or raise max_duplexes_per_session",
            ConnectionDuplexes => "too many duplexes opened by this connection and open: close some or raise max_duplexes_per_connection",
            ServerDuplexes => "too many duplexes open in this server: try again later, or raise max_duplexes",
            UnknownWrite => "no such write POST in flight (internal error: please report it)",
            MethodNotAllowed => "only GET, POST and the WebSocket CONNECT (OPTIONS with cors) are served on the duplex path",
            ClientReset => "the client reset a request of the duplex before it was done",
            TruncatedBody => "a write POST body ended before its content-length: the byte stream is no longer whole",
            IdleTimeout => "no traffic on the duplex for idle_timeout ms",
            SessionClosed => "the connection carrying the duplex closed with an error",
            Destroyed => "the duplex was destroyed before this POST's bytes were taken",
            InvalidOption => "an option of Http2DuplexServer is out of range",
            Response => "the server answered outside 2xx",
            NoIdInResponse => "the GET answer has no http2-duplex-id header: is the URL an http2-duplex endpoint?",
            Connection => "the HTTP/2 connection failed or closed",
            ServerReset => "the server reset a stream of the duplex",
            WrongNode => "the http2-duplex-id names another node: route each POST to the node its id starts with (see docs/deploying.md)",
            OriginNotAllowed => "the request comes from a page on another origin that the server's cors option does not allow",
            TruncatedResponse => "the server's side ended without its END frame: the server or a proxy in between failed",
            WsProtocol => "the WebSocket peer broke RFC 6455 (closed with 1002)",
            WsInvalidUtf8 => "a WebSocket text message was not UTF-8 (closed with 1007)",
            WsTooBig => "a WebSocket message was larger than the maximum (closed with 1009)",
            WsCredit => "the WebSocket peer sent more than the credit it was granted (closed with 1008)",
            WsMessage => "a WebSocket text message was neither `end` nor `credit N` (nor the server's first message `id X`), or data came after `end` (closed with 1008)",
            WsClosed => "the WebSocket peer closed before both directions had ended",
            WsNeedsHttp2 => "a WebSocket handshake over HTTP/1.1 that the server does not take: it came as a plain request (a proxy dropped its upgrade and connection headers: see docs/deploying.md), or the websocket option leaves HTTP/1.1 WebSockets off; a client falls back to the GET and POST transports",
            WsAbnormalClose => "the WebSocket peer's stream or connection ended without a Close frame before both directions had ended (an abnormal closure, 1006 in RFC 6455)",
            WsBadHandshake => "a WebSocket upgrade on the duplex path without a whole RFC 6455 handshake: send upgrade: websocket, sec-websocket-version: 13 and a sec-websocket-key of 16 random bytes in base64",
            ResumeTimeout => "the duplex's connection failed and it was not resumed within resume_timeout ms",
            ResumeUnknown => "the server does not know the duplex to resume: its node restarted, or the duplex is gone",
            ResumeRefused => "a resume with the wrong secret: only the duplex's own client can resume it",
            ResumeCount => "a resume's count of bytes received is outside what the peer sent and had acknowledged",
            ResumeAck => "an ack went backwards or beyond what was sent: the peer broke the resume protocol",
        }
    }
}

impl std::str::FromStr for Code {
    type Err = ();

    fn from_str(code: &str) -> Result<Code, ()> {
        Code::ALL.into_iter().find(|c| c.as_str() == code).ok_or(())
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table as a CommonJS module (`lib/error-codes.js`).
    fn js_table_cjs() -> String {
        format!(
            "'use strict';\n{}module.exports = {};\n",
            GENERATED_NOTE,
            js_object()
        )
    }

    const GENERATED_NOTE: &str = "// Generated from crates/core/src/code.rs by `UPDATE_CODES=1 cargo test -p http2-duplex-core`; do not edit.\n";

    fn js_object() -> String {
        let rows: Vec<String> = Code::ALL
            .iter()
            .map(|code| {
                let status = code
                    .status()
                    .map_or_else(|| "null".to_owned(), |s| s.to_string());
                format!(
                    "    {}: Object.freeze({{ code: '{}', status: {}, message: '{}' }})",
                    code.as_str(),
                    code.as_str(),
                    status,
                    code.hint().replace('\\', "\\\\").replace('\'', "\\'")
                )
            })
            .collect();
        format!("Object.freeze({{\n{}\n}})", rows.join(",\n"))
    }

    #[test]
    fn codes_are_unique_and_named() {
        for (i, a) in Code::ALL.iter().enumerate() {
            assert!(a.as_str().starts_with("ERR_HTTP2_DUPLEX_"));
            assert_eq!(a.as_str().parse(), Ok(*a));
            for b in &Code::ALL[i + 1..] {
                assert_ne!(a.as_str(), b.as_str());
            }
        }
    }

    // The JS copy of the table is generated; this keeps it equal to it.
    #[test]
    fn js_table_matches() {
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../lib/error-codes.js");
        let text = js_table_cjs();
        if std::env::var_os("UPDATE_CODES").is_some() {
            std::fs::write(file, &text).unwrap();
        }
        let on_disk = std::fs::read_to_string(file).unwrap_or_default();
        assert!(
            on_disk == text,
            "lib/error-codes.js differs from crates/core/src/code.rs: run `UPDATE_CODES=1 cargo test -p http2-duplex-core`"
        );
    }
}
