//! The WebSocket protocol (RFC 6455) as carried on an HTTP/2 extended CONNECT
//! stream (RFC 8441), sans-IO, both roles — and the http2-duplex message layer
//! on top of it (subprotocol `http2-duplex.1`, docs/websocket.md).
//!
//! On HTTP/2 the stream is opened by the CONNECT request, and everything
//! after its headers is frames. Over HTTP/1.1 the same frames follow an
//! upgrade: [`accept_key`] and [`is_valid_key`] are its handshake.
//!
//! - [`Decoder`] turns the bytes of one stream into [`Event`]s, piece by
//!   piece, and answers a peer that breaks the protocol with the [`Close`] to
//!   send.
//! - [`encode_header`], [`mask_in_place`] and [`close_payload`] build what to
//!   send: the caller writes the header and the payload as two buffers.
//! - [`Session`] wraps a decoder with the close handshake and pongs.
//! - [`Flow`] and [`Channel`] are the http2-duplex message layer: binary data,
//!   `end`, and `credit N` for receive backpressure.

mod decoder;
pub(crate) mod duplex;
mod endpoint;
mod frame;
mod handshake;
mod session;

pub use decoder::{Decoder, Event, Piece};
pub use duplex::{
    credit_message, Channel, Flow, Inbound, ResumableDuplex, ResumeRequest, END_MESSAGE,
    INITIAL_CREDIT, MAX_CREDIT, SUBPROTOCOL,
};
pub use endpoint::{Action, Destroyed, Ending, Endpoint, DESTROYED_REASON};
pub use frame::{
    close_payload, encode_header, is_valid_close_code, mask_in_place, Opcode, MAX_CONTROL_PAYLOAD,
    MAX_HEADER_LEN,
};
pub use handshake::{accept_key, is_valid_key, VERSION};
pub use session::{Outgoing, Session};

/// Which end of the stream this is. A server receives masked frames from the
/// client; a client receives unmasked frames from the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    #[default]
    Server,
    Client,
}

/// Close codes (RFC 6455 §7.4.1) this module sends.
pub use crate::protocol::close as close_code;

/// Why a peer's input was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Violation {
    /// RSV1, RSV2 or RSV3 set; no extension is negotiated.
    ReservedBits,
    /// An opcode RFC 6455 does not define.
    UnknownOpcode,
    /// A server got an unmasked frame, or a client a masked one.
    Masking,
    /// A control frame with more than 125 bytes of payload.
    ControlTooLong,
    /// A control frame without FIN.
    ControlFragmented,
    /// A continuation frame with no fragmented message to continue.
    UnexpectedContinuation,
    /// A text or binary frame while a fragmented message is unfinished.
    ExpectedContinuation,
    /// A 64-bit payload length with its most significant bit set.
    LengthTopBit,
    /// A Close frame with exactly one byte of payload.
    CloseLengthOne,
    /// A Close frame whose code may not be sent on the wire.
    CloseCode,
    /// A text message or close reason that is not UTF-8.
    InvalidUtf8,
    /// A message longer than the maximum message size.
    TooBig,
    /// http2-duplex.1: binary payload beyond the credit granted to the peer.
    CreditExceeded,
    /// http2-duplex.1: a text message that is neither `end` nor `credit N`,
    /// or a credit that would overflow [`MAX_CREDIT`].
    BadControlMessage,
    /// http2-duplex.1: data or a second `end` after the peer's `end`.
    DataAfterEnd,
}

impl Violation {
    pub const ALL: [Violation; 15] = {
        use Violation::*;
        [
            ReservedBits,
            UnknownOpcode,
            Masking,
            ControlTooLong,
            ControlFragmented,
            UnexpectedContinuation,
            ExpectedContinuation,
            LengthTopBit,
            CloseLengthOne,
            CloseCode,
            InvalidUtf8,
            TooBig,
            CreditExceeded,
            BadControlMessage,
            DataAfterEnd,
        ]
    };

    /// The stable error code the server's warning carries.
    pub const fn error_code(self) -> crate::Code {
        use crate::Code;
        use Violation::*;
        match self {
            InvalidUtf8 => Code::WsInvalidUtf8,
            TooBig => Code::WsTooBig,
            CreditExceeded => Code::WsCredit,
            BadControlMessage | DataAfterEnd => Code::WsMessage,
            _ => Code::WsProtocol,
        }
    }

    /// The close code to send.
    pub const fn code(self) -> u16 {
        use Violation::*;
        match self {
            ReservedBits
            | UnknownOpcode
            | Masking
            | ControlTooLong
            | ControlFragmented
            | UnexpectedContinuation
            | ExpectedContinuation
            | LengthTopBit
            | CloseLengthOne
            | CloseCode => close_code::PROTOCOL_ERROR,
            InvalidUtf8 => close_code::INVALID_DATA,
            TooBig => close_code::TOO_BIG,
            CreditExceeded | BadControlMessage | DataAfterEnd => close_code::POLICY_VIOLATION,
        }
    }

    /// The close reason to send (ASCII, well under 123 bytes). A policy
    /// violation's names its `Code`: the close code is the same for each.
    pub const fn reason(self) -> &'static str {
        use Violation::*;
        match self {
            CreditExceeded | BadControlMessage | DataAfterEnd => self.error_code().as_str(),
            ReservedBits => "reserved bits set",
            UnknownOpcode => "unknown opcode",
            Masking => "bad masking",
            ControlTooLong => "control frame too long",
            ControlFragmented => "fragmented control frame",
            UnexpectedContinuation => "continuation without a message",
            ExpectedContinuation => "new message inside a fragmented one",
            LengthTopBit => "payload length too large",
            CloseLengthOne => "close payload of one byte",
            CloseCode => "invalid close code",
            InvalidUtf8 => "invalid UTF-8",
            TooBig => "message too big",
        }
    }
}

/// The Close to send to a peer that broke the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Close {
    pub code: u16,
    pub reason: &'static str,
    pub violation: Violation,
}

impl From<Violation> for Close {
    fn from(violation: Violation) -> Self {
        Close {
            code: violation.code(),
            reason: violation.reason(),
            violation,
        }
    }
}

impl Close {
    /// The payload of the Close frame to send.
    pub fn payload(&self) -> bytes::Bytes {
        close_payload(self.code, self.reason)
    }
}
