use std::fmt;

use http::HeaderMap;
use http2_duplex_core::resume::Error as ResumeError;
use http2_duplex_core::websocket::Violation;
use http2_duplex_core::Code;

/// The header a server names the cause of a refused request in.
pub use http2_duplex_core::protocol::header::ERROR as HEADER_ERROR;

/// Why opening or using a duplex failed. `Display` says what happened in
/// words a user can act on.
#[derive(Debug, Clone)]
pub enum Error {
    /// The URL could not be used (not absolute, unknown scheme, …).
    InvalidUrl(String),
    /// The TCP connection could not be made.
    Connect { authority: String, reason: String },
    /// The TLS handshake failed (unknown or bad certificate, …).
    Tls { authority: String, reason: String },
    /// The TLS server did not pick HTTP/2 by ALPN.
    NoHttp2 { authority: String },
    /// A bad `ca` option.
    InvalidCa(String),
    /// A bad extra request header.
    InvalidHeader(String),
    /// Another bad option (an unknown transport, …).
    InvalidOption(String),
    /// The server answered outside 2xx (to the GET, or later to the
    /// streaming POST). `status_text` is the canonical reason phrase (HTTP/2
    /// carries none); `headers` are the answer's headers.
    Status {
        status: u16,
        status_text: String,
        headers: HeaderMap,
    },
    /// The GET answer had no `http2-duplex-id` header.
    MissingId,
    /// The HTTP/2 connection failed or closed while the duplex was in use.
    ConnectionLost(String),
    /// The server reset one of the duplex's streams.
    StreamReset(String),
    /// The duplex was destroyed.
    Destroyed,
    /// A write after the writable side was ended.
    WriteAfterEnd,
    /// A framed GET body (`http2-duplex-framing: 1`) ended without its END
    /// frame: the server died (and a proxy ended the response cleanly) or
    /// the stream was cut. Never an end of the readable side.
    TruncatedResponse,
    /// `transport: WebSocket` and the server offers no WebSocket: no RFC
    /// 8441 on HTTP/2 and no HTTP/1.1 upgrade, or it refused the
    /// subprotocol.
    NoWebSocket(String),
    /// The server broke the WebSocket protocol or http2-duplex.1 (the
    /// client closed it with the code of the violation).
    WsViolation(Violation),
    /// The server closed the WebSocket (or ended its stream) before both
    /// directions had ended.
    WsClosed { code: Option<u16>, reason: String },
    /// A resumable duplex (http2-duplex.2) could not be resumed: the server
    /// refused (it knows no such duplex, a wrong secret or count), the
    /// client gave up after the resume timeout, or an ack broke the
    /// protocol.
    Resume(http2_duplex_core::resume::Error),
}

impl Error {
    pub(crate) fn from_h2(err: h2::Error) -> Self {
        Self::from_h2_on(err, "stream")
    }

    /// `what`: which of the duplex's streams failed ("GET (read) stream", …).
    /// Only an RST_STREAM the server sent is its reset: h2 also reports
    /// resets it or we made (a stream it gave up on as the connection
    /// failed, our own cancel), which are not the server's doing.
    pub(crate) fn from_h2_on(err: h2::Error, what: &str) -> Self {
        if err.is_reset() && err.is_remote() {
            Error::StreamReset(format!("{what}: {err}"))
        } else {
            Error::ConnectionLost(err.to_string())
        }
    }

    /// The peer reset a stream with NO_ERROR: it wants no more of the
    /// request body, which is not a failure (RFC 9113 §8.1).
    pub(crate) fn is_no_error_reset(err: &h2::Error) -> bool {
        err.is_reset() && err.is_remote() && err.reason() == Some(h2::Reason::NO_ERROR)
    }

    /// The HTTP status when the server answered outside 2xx.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The stable code of this failure (`err.code` in JS). For an answer
    /// outside 2xx: the code the server named in its `http2-duplex-error`
    /// header, or [`Code::Response`] when it named none (or one this client
    /// does not know).
    pub fn code(&self) -> Code {
        match self {
            Error::InvalidUrl(_)
            | Error::InvalidCa(_)
            | Error::InvalidHeader(_)
            | Error::InvalidOption(_) => Code::InvalidOption,
            Error::Connect { .. }
            | Error::Tls { .. }
            | Error::NoHttp2 { .. }
            | Error::ConnectionLost(_) => Code::Connection,
            Error::Status { headers, .. } => headers
                .get(HEADER_ERROR)
                .and_then(|v| v.to_str().ok())
                .and_then(|code| code.parse().ok())
                .unwrap_or(Code::Response),
            Error::MissingId => Code::NoIdInResponse,
            Error::StreamReset(_) => Code::ServerReset,
            Error::Destroyed => Code::Destroyed,
            Error::WriteAfterEnd => Code::WriteAfterEnd,
            Error::TruncatedResponse => Code::TruncatedResponse,
            Error::NoWebSocket(_) => Code::Connection,
            Error::WsViolation(violation) => violation.error_code(),
            Error::WsClosed { .. } => Code::WsClosed,
            Error::Resume(error) => match error {
                ResumeError::Timeout { .. } => Code::ResumeTimeout,
                ResumeError::Unknown => Code::ResumeUnknown,
                ResumeError::Refused => Code::ResumeRefused,
                ResumeError::Count { .. } => Code::ResumeCount,
                ResumeError::Ack { .. } => Code::ResumeAck,
            },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidUrl(why) => write!(f, "invalid http2-duplex URL: {why}"),
            Error::Connect { authority, reason } => {
                write!(f, "cannot connect to {authority}: {reason}")
            }
            Error::Tls { authority, reason } => {
                write!(f, "TLS handshake with {authority} failed: {reason}")
            }
            Error::NoHttp2 { authority } => write!(
                f,
                "{authority} did not negotiate HTTP/2 (ALPN h2); http2-duplex needs HTTP/2"
            ),
            Error::InvalidCa(why) => write!(f, "invalid ca option: {why}"),
            Error::InvalidHeader(why) => write!(f, "invalid request header: {why}"),
            Error::InvalidOption(why) => write!(f, "invalid option: {why}"),
            Error::Status {
                status,
                status_text,
                ..
            } => {
                if status_text.is_empty() {
                    write!(f, "{status}")
                } else {
                    write!(f, "{status_text}")
                }
            }
            // A cause without particulars has one text: its code's.
            Error::MissingId | Error::TruncatedResponse => f.write_str(self.code().hint()),
            Error::ConnectionLost(why) => write!(f, "HTTP/2 connection lost: {why}"),
            Error::StreamReset(why) => write!(f, "the server reset the duplex's {why}"),
            Error::Destroyed => write!(f, "the duplex was destroyed"),
            Error::WriteAfterEnd => write!(f, "write after end"),

            Error::NoWebSocket(why) => write!(f, "no WebSocket: {why}"),
            Error::WsViolation(violation) => write!(
                f,
                "the server broke the WebSocket protocol ({}): closed with code {}",
                violation.reason(),
                violation.code()
            ),
            Error::WsClosed { code, reason } => match code {
                Some(code) => write!(f, "{reason} (close code {code})"),
                None => write!(f, "{reason}"),
            },
            Error::Resume(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// A request's answer on an in-memory HTTP/2 connection, the request's
    /// body, and the server's handle on the stream.
    async fn stream() -> (
        h2::client::ResponseFuture,
        h2::SendStream<Bytes>,
        h2::server::SendResponse<Bytes>,
    ) {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let server = tokio::spawn(async move {
            let mut conn = h2::server::handshake(server_io).await.unwrap();
            let (_, respond) = conn.accept().await.unwrap().unwrap();
            tokio::spawn(async move { while conn.accept().await.is_some() {} });
            respond
        });
        let (mut client, conn) = h2::client::handshake(client_io).await.unwrap();
        tokio::spawn(conn);
        let request = http::Request::post("http://localhost/").body(()).unwrap();
        let (answer, body) = client.send_request(request, false).unwrap();
        (answer, body, server.await.unwrap())
    }

    #[tokio::test]
    async fn a_reset_the_server_sent_is_its_reset() {
        let (answer, _body, mut respond) = stream().await;
        respond.send_reset(h2::Reason::CANCEL);
        let err = Error::from_h2_on(answer.await.unwrap_err(), "stream");
        assert_eq!(err.code(), Code::ServerReset, "{err}");
    }

    // h2 reports a stream it or we reset as a reset too: not the server's.
    #[tokio::test]
    async fn a_reset_made_here_is_not_the_servers() {
        let (answer, mut body, _respond) = stream().await;
        body.send_reset(h2::Reason::CANCEL);
        let h2_err = answer.await.unwrap_err();
        assert!(h2_err.is_reset() && !h2_err.is_remote(), "{h2_err:?}");
        let err = Error::from_h2_on(h2_err, "stream");
        assert_eq!(err.code(), Code::Connection, "{err}");
    }
}
