//! Sans-IO core of http2-duplex.
//!
//! The core decides; the caller does IO. A caller (the Node bindings, or a
//! test) feeds it what happened on the wire — a session opened, a GET, a POST's
//! headers, a piece of a POST body, a POST body ended — and carries out what it
//! answers: deliver these bytes, answer this POST, end this duplex, reject with
//! this status.
//!
//! In-order bytes are never copied by the core: `Registry::piece` tells the
//! caller to deliver its own buffer. Only pieces that arrive early (pipelined
//! writes, protocol version 2) are held, as [`bytes::Bytes`].

mod answer;
mod code;
pub mod cors;
pub mod framing;
mod get_close;
pub mod get_post;
mod idle;
mod inbound;
mod limits;
pub mod liveness;
mod options;
mod post;
pub mod protocol;
mod registry;
mod rejection;
mod request;
pub mod resume;
pub mod tick;
pub mod websocket;

pub use answer::{
    open_answer_headers, resume_subprotocol, websocket_answer_headers, EXPOSED_HEADERS,
};
pub use code::Code;
pub use get_close::{
    end_get, get_closed, session_closed, session_failed, DestroyedGet, GetClosed, GetEnd, GetError,
    GetOutcome, SessionOutcome,
};
pub use idle::{IdleDeadlines, Silences};
pub use inbound::{Completion, Piece};
pub use limits::{Budget, Limits};
pub use options::{check_option, NUMERIC_OPTIONS};
pub use post::{BodyEnd, PostHeaders, PostKind, PostRoute};
pub use registry::{ConnectionKey, DuplexKey, OpenedDuplex, Registry, ScopeKey, Stats};
pub use rejection::{PeerGone, Reason, Rejection};
pub use request::{classify, request_path, Request, RequestHead, WebSocketOffer};

/// The protocol version this core speaks when a client asks for it.
pub const PROTOCOL_VERSION: u32 = protocol::value::PROTOCOL_VERSION;
