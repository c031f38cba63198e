use std::fmt;

use crate::code::Code;
use crate::limits::Budget;

/// Why a request was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    MissingId,
    UnknownId,
    MalformedSeq,
    MixedSequencing,
    DuplicateSeq(u64),
    OutsideWindow {
        seq: u64,
        window_end: u64,
    },
    HeldBytesExceeded {
        held: usize,
        limit: usize,
    },
    /// The duplexes of a budget would hold more than twice its bytes out of order.
    HeldBytesBudgetExceeded {
        budget: Budget,
        limit: usize,
    },
    WriteTooLarge {
        limit: usize,
    },
    StreamingAlreadyOpen,
    WriteAfterEnd {
        seq: u64,
        count: u64,
    },
    BadEndCount {
        count: u64,
        delivered: u64,
    },
    AlreadyEnding,
    TooManyDuplexes {
        budget: Budget,
        limit: usize,
    },
    UnknownWrite(u64),
    /// The id was open in this scope a moment ago (e.g. 6.x's second end POST).
    DuplexClosed,
    /// A POST body was reset before its end.
    ClientReset,
    /// The duplex's GET was reset before the duplex was done.
    GetReset {
        code: u32,
    },
    /// A WebSocket's stream closed before both directions ended.
    WebSocketReset {
        code: u32,
    },
    /// The peer's side of a WebSocket ended without a Close frame before both
    /// directions ended: RFC 6455's abnormal closure (1006).
    WebSocketAbnormalClose {
        how: PeerGone,
    },
    /// The peer closed the WebSocket (a Close frame with `code`) before both
    /// directions had ended.
    WebSocketClosedEarly {
        code: Option<u16>,
    },
    /// The peer broke the WebSocket protocol; the Close sent says how.
    WebSocketViolation(crate::websocket::Violation),
    /// The connection carrying the duplex's GET failed (an error, a GOAWAY
    /// with an error code, a cut) before the duplex was done.
    SessionClosed,
    /// The connection carrying the duplex did not answer a keep-alive PING
    /// (HTTP/2's, or an HTTP/1.1 WebSocket's Ping frame) for `timeout_ms`:
    /// it is dead or stalled, and was destroyed.
    SessionUnanswered {
        timeout_ms: u64,
    },
    /// No traffic on the duplex for the idle timeout.
    IdleTimeout {
        timeout_ms: u64,
    },
    /// A write POST body ended short of its `content-length`.
    TruncatedBody {
        received: u64,
        declared: u64,
    },
    /// The id's node prefix names another node.
    WrongNode {
        node: String,
    },
    /// Not GET, POST or a WebSocket CONNECT.
    MethodNotAllowed {
        method: String,
    },
    /// A WebSocket handshake over HTTP/1.1 the server does not take.
    WebSocketNeedsHttp2,
    /// An HTTP/1.1 upgrade on the duplex path that is no whole RFC 6455
    /// handshake (its key, version or `upgrade` header).
    WebSocketBadHandshake,
    /// A foreign origin the cors option does not allow.
    OriginNotAllowed {
        origin: String,
    },
}

/// How a WebSocket peer went without its Close frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerGone {
    /// Its HTTP/2 stream ended (END_STREAM), or it half-closed its TCP connection.
    Ended,
    /// Its connection closed (HTTP/1.1).
    ConnectionClosed,
}

/// A refused request: the HTTP status to answer with, the reason, and whether
/// the duplex it names must be destroyed (its byte stream can no longer be
/// delivered intact).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub reason: Reason,
    pub fatal: bool,
}

impl Reason {
    /// The stable code of this reason.
    pub fn code(&self) -> Code {
        use Reason::*;
        match self {
            MissingId => Code::MissingId,
            UnknownId => Code::UnknownId,
            MalformedSeq => Code::SeqMalformed,
            MixedSequencing => Code::SeqMixed,
            DuplicateSeq(_) => Code::SeqRepeated,
            OutsideWindow { .. } => Code::SeqOutsideWindow,
            HeldBytesExceeded { .. } => Code::WindowBytes,
            HeldBytesBudgetExceeded { budget, .. } => match budget {
                Budget::Connection => Code::ConnectionHeldBytes,
                Budget::Scope => Code::SessionHeldBytes,
                Budget::Server => Code::ServerHeldBytes,
            },
            WriteTooLarge { .. } => Code::WriteTooLarge,
            StreamingAlreadyOpen => Code::StreamingAlreadyOpen,
            WriteAfterEnd { .. } => Code::WriteAfterEnd,
            BadEndCount { .. } => Code::BadEndCount,
            AlreadyEnding => Code::AlreadyEnding,
            TooManyDuplexes { budget, .. } => match budget {
                Budget::Connection => Code::ConnectionDuplexes,
                Budget::Scope => Code::TooManyDuplexes,
                Budget::Server => Code::ServerDuplexes,
            },
            UnknownWrite(_) => Code::UnknownWrite,
            DuplexClosed => Code::DuplexClosed,
            ClientReset | GetReset { .. } | WebSocketReset { .. } => Code::ClientReset,
            TruncatedBody { .. } => Code::TruncatedBody,
            SessionClosed | SessionUnanswered { .. } => Code::SessionClosed,
            IdleTimeout { .. } => Code::IdleTimeout,
            WrongNode { .. } => Code::WrongNode,
            MethodNotAllowed { .. } => Code::MethodNotAllowed,
            WebSocketNeedsHttp2 => Code::WsNeedsHttp2,
            WebSocketBadHandshake => Code::WsBadHandshake,
            WebSocketAbnormalClose { .. } => Code::WsAbnormalClose,
            WebSocketClosedEarly { .. } => Code::WsClosed,
            WebSocketViolation(violation) => violation.error_code(),
            OriginNotAllowed { .. } => Code::OriginNotAllowed,
        }
    }
}

impl Rejection {
    pub(crate) fn new(reason: Reason) -> Self {
        use Reason::*;
        // Refusals that leave the duplex's byte stream intact are not fatal.
        let fatal = !matches!(
            reason,
            MissingId
                | UnknownId
                | DuplexClosed
                | TooManyDuplexes { .. }
                | WrongNode { .. }
                | MethodNotAllowed { .. }
                | WebSocketNeedsHttp2
                | WebSocketBadHandshake
                | OriginNotAllowed { .. }
        );
        Rejection {
            // A reset stream is not answered; 400 only fills the field.
            status: reason.code().status().unwrap_or(400),
            reason,
            fatal,
        }
    }

    pub fn code(&self) -> Code {
        self.reason.code()
    }

    /// A refusal that a well-behaved client meets in ordinary races (a POST
    /// for a duplex that just closed): answered, but not worth a warning.
    pub fn is_quiet(&self) -> bool {
        self.reason == Reason::DuplexClosed
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Reason::*;
        match self {
            // A cause without particulars has one text: its code's.
            MissingId | UnknownId | MalformedSeq | MixedSequencing | StreamingAlreadyOpen
            | AlreadyEnding | DuplexClosed | ClientReset | SessionClosed | WebSocketNeedsHttp2
            | WebSocketBadHandshake => f.write_str(self.code().hint()),
            DuplicateSeq(seq) => write!(f, "http2-duplex-seq {seq} was already used"),
            OutsideWindow { seq, window_end } => write!(
                f,
                "http2-duplex-seq {seq} is outside the window (must be below {window_end})"
            ),
            HeldBytesExceeded { held, limit } => write!(
                f,
                "{held} bytes held out of order, above the window of {limit} bytes"
            ),
            HeldBytesBudgetExceeded { budget, limit } => write!(
                f,
                "the duplexes of {budget} would hold more than twice {} ({limit} bytes) out of order: their POSTs went on after they were paused",
                budget.held_bytes_option()
            ),
            WriteTooLarge { limit } => write!(f, "write POST body larger than {limit} bytes"),
            WriteAfterEnd { seq, count } => write!(
                f,
                "write POST {seq} after an end POST that counted {count} writes"
            ),
            BadEndCount { count, delivered } => write!(
                f,
                "end POST counts {count} writes but {delivered} were already delivered"
            ),
            TooManyDuplexes { budget, limit } => write!(
                f,
                "too many duplexes open in {budget} ({} {limit})",
                budget.duplexes_option()
            ),
            UnknownWrite(seq) => write!(f, "no write POST {seq} in flight"),
            WebSocketReset { code } => write!(
                f,
                "the client reset the WebSocket stream (HTTP/2 code {code})"
            ),
            WebSocketAbnormalClose { how } => write!(
                f,
                "the client's {} without a WebSocket Close frame before both directions had ended (abnormal closure, 1006)",
                match how {
                    PeerGone::Ended => "side of the WebSocket ended",
                    PeerGone::ConnectionClosed => "connection closed",
                }
            ),
            WebSocketClosedEarly { code } => match code {
                Some(code) => write!(
                    f,
                    "the client closed the WebSocket (code {code}) before both directions had ended"
                ),
                None => write!(
                    f,
                    "the client closed the WebSocket (no code) before both directions had ended"
                ),
            },
            WebSocketViolation(violation) => write!(f, "WebSocket closed: {}", violation.reason()),
            GetReset { code } => write!(
                f,
                "the client reset the duplex's GET (HTTP/2 code {code})"
            ),
            WrongNode { node } => write!(
                f,
                "http2-duplex-id belongs to node {node:?}, not this one: the proxy routed it wrong"
            ),
            MethodNotAllowed { method } => write!(f, "unknown method: {method}"),
            OriginNotAllowed { origin } => {
                write!(f, "origin {origin} is not allowed by the cors option")
            }
            SessionUnanswered { timeout_ms } => write!(
                f,
                "the connection carrying the duplex did not answer a PING for {timeout_ms} ms: it was destroyed as dead"
            ),
            IdleTimeout { timeout_ms } => write!(
                f,
                "idle timeout: no traffic on the duplex for {timeout_ms} ms"
            ),
            TruncatedBody { received, declared } => write!(
                f,
                "write POST body ended after {received} of its {declared} bytes (content-length)"
            ),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.reason.fmt(f)
    }
}

impl std::error::Error for Rejection {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_without_particulars_says_its_codes_text() {
        for reason in [
            Reason::MissingId,
            Reason::UnknownId,
            Reason::ClientReset,
            Reason::SessionClosed,
            Reason::WebSocketNeedsHttp2,
        ] {
            assert_eq!(reason.to_string(), reason.code().hint());
        }
    }
}
