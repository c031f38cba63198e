//! Resume: a duplex that outlives its connection (issue 23), sans-IO.
//!
//! Each side counts what it sent and received, acknowledges what it
//! received, and keeps what it sent until the peer acknowledged it, so that
//! after a cut, a hang or a change of transport the client can resume the
//! duplex on a new connection and both sides resend exactly what the other
//! lacks: no byte lost, duplicated or reordered, however often it happens.
//! [`Server`] is the server's side of every resumable duplex of a server,
//! [`Client`] the client's side of one duplex. An adapter (the server's JS,
//! the browser client, the Rust client) feeds them what happened, calls
//! `handle_timeout` when `poll_timeout` says, and carries out the
//! [`Action`]s they answer, in order (quinn-proto's shape, as
//! [`crate::websocket::Endpoint`] and [`crate::get_post::Endpoint`] have).
//! Time is passed in as milliseconds on any monotonic clock, never read.
//!
//! # Counts, not bytes
//!
//! The core never sees a byte. Each side keeps what it wrote and the peer
//! has not acknowledged in its own runtime, as a queue (JS `Buffer`s, Rust
//! `Bytes`), and the core says what to do with it: [`Action::Drop`] this
//! many acknowledged bytes from the front, [`Action::Resend`] the queue
//! after a resume. Per duplex and per direction the sender counts `sent`
//! and `peer_acked`, the receiver `received` and `acked_to_peer`
//! ([`Counts`]), as absolute 64-bit counts of application bytes (not of
//! framing) from the duplex's start. JS adapters hold them as numbers:
//! exact below 2^53, i.e. 8 PiB per direction.
//!
//! **The end is counted**: it is its direction's last unit, one past its
//! last byte. After `n` bytes and the end, `sent` is `n + 1`, and an ack of
//! `n + 1` acknowledges the end. So an end is acknowledged, kept and resent
//! like a byte ([`Action::Resend`]'s `end`): never lost, never delivered
//! twice. [`Action::Drop`] counts bytes only, never the end.
//!
//! # Backpressure
//!
//! At most `resume_buffer` bytes ([`Config`], one value for both
//! directions of a duplex, which the server tells the client at open) are
//! sent and not acknowledged. The adapter sends at most `room()` bytes and
//! holds the rest of a write (a write larger than the room goes out in
//! pieces as acks come); [`Action::Hold`] when the room is used up (the
//! duplex's `write()` returns `false`), [`Action::Flow`] when an ack made
//! room again. Backpressure, never loss.
//!
//! # Acknowledgements
//!
//! An ack is a count: "I have received (taken from the transport) this
//! many units of your direction". Acks ride on traffic that flows anyway:
//! before the adapter sends anything to the peer that can carry one (a data
//! frame, a credit message, a POST's answer), it asks `take_ack()` and adds
//! the count it returns. Beyond that the core answers [`Action::Ack`], an
//! explicit ack to send at once, when:
//! - a quarter of `resume_buffer` (at least 1 byte) was received and not
//!   acknowledged, so that the peer's buffer never fills while the reader
//!   keeps up;
//! - the peer's end was received (nothing may follow to carry its ack);
//! - [`ACK_DELAY_MS`] after the first unacknowledged unit arrived, when
//!   nothing carried an ack meanwhile (idle).
//!
//! An ack that goes backwards (below one received before) or beyond what
//! was sent is a protocol violation: [`Action::Fail`] with [`Error::Ack`].
//! Acks must therefore reach the core in the order the peer sent them:
//! only carriers that are ordered with respect to each other may carry
//! them (one stream; pipelined POSTs only in their `seq` order).
//!
//! # Resume
//!
//! The server gives each resumable duplex a [`Secret`] (128 bits from the
//! system's CSPRNG, 22 characters of base64url) besides its id; only the
//! two ends know it: an id seen in a log is not enough to resume a duplex.
//! A resume request carries the id, the secret and the client's `received`.
//! [`Server::handle_resume`] checks, in this order:
//! 1. an unknown id: [`Error::Unknown`] (the client fails the duplex: its
//!    node restarted, or the duplex is gone);
//! 2. a wrong secret: [`Error::Refused`] (harms nothing: the duplex keeps
//!    waiting for its real client);
//! 3. a count outside the server's `peer_acked ..= sent`:
//!    [`Error::Count`] (refused, harms nothing);
//! 4. otherwise it takes the count as an ack, answers with its own
//!    `received` ([`Accepted`]) and resends from the client's count. The
//!    client checks the server's count the same way (within its own
//!    `peer_acked ..= sent`, else [`Error::Count`]), takes it as an ack (of
//!    its bytes; of its end only from an ack, see Completion) and resends
//!    from it ([`Client::handle_resumed`]).
//!
//! The id is looked up among all of the server's resumable duplexes,
//! whatever the pairing scope: a resume comes on a new connection, often
//! another transport, and the secret is its credential.
//!
//! After a resume (and after a failure) the adapter reads nothing more from
//! the old transport: anything it still delivered would be counted twice.
//! The resume's answer goes first on the new transport, then what the
//! actions resend, then new writes ([`Action::Flow`] comes after
//! [`Action::Resend`]).
//!
//! # Detached duplexes
//!
//! When the transport carrying a resumable duplex fails (a reset, its
//! connection closed, a GET or WebSocket that ends without the server's
//! END), the server's side is detached rather than destroyed
//! ([`Server::handle_transport_failed`]): the application sees nothing,
//! its writes are still taken into the resume buffer until it is full, and
//! `resume_timeout` ms later ([`Config`], default
//! [`RESUME_TIMEOUT_MS`]) the duplex fails with [`Error::Timeout`]. A
//! resume of a duplex still attached (the client saw a hang the server did
//! not) first closes the old transport ([`Action::CloseTransport`]).
//! Each side's bound runs from its own detachment: a client that noticed
//! the failure later than the server may find the duplex gone
//! ([`Error::Unknown`]) rather than time out.
//!
//! The client reconnects at once after a failure ([`Action::Reconnect`]),
//! then, each time an attempt fails, after a capped backoff
//! ([`reconnect_delay_ms`]: 250 ms, 500 ms, 1 s, then every 2 s); an attempt
//! not answered within [`ATTEMPT_TIMEOUT_MS`] counts as failed. It gives up
//! `resume_timeout` ms after it detached ([`Error::Timeout`]), or at once
//! when the server refuses ([`Client::handle_refused`]). It also detaches
//! when the transport hangs: nothing at all (data, ack or keep-alive)
//! arrived for [`hang_timeout_ms`] (twice the server's keep-alive interval
//! plus a second: one keep-alive may be late, not two), while its reader
//! was not holding back. The server does not look for hangs: it sees the
//! client's resume, or its transport fails, or the idle timeout ends the
//! duplex. So the server must send keep-alives on every transport that
//! carries a resumable duplex, or the client has no hang check
//! (`keepalive_interval` 0).
//!
//! # Completion
//!
//! When both directions ended and everything is acknowledged both ways,
//! the duplex is complete ([`Action::Complete`]): the adapter closes its
//! transport cleanly and keeps nothing. The last ack of an exchange cannot
//! be confirmed, so the side that can answer a resume, the server, is the
//! one that sends it:
//! - the server acknowledges the client's end only once its own end was
//!   acknowledged (until then its acks stop one short of the client's
//!   end), and completes as it sends that ack;
//! - the client takes its end as acknowledged only from an ack: a resume's
//!   answer gives the server's whole count (so that the client does not
//!   resend an end the server has) and the server follows it with an
//!   [`Action::Ack`] when the end's ack is due;
//! - the server keeps a complete duplex's counts (no bytes) for
//!   `resume_timeout`, and answers a resume of it with its final counts,
//!   the final ack and [`Action::Complete`].
//!
//! So a client completes only after the server had everything, the
//! client's ack of the server's end included: the server never waits for a
//! client that already completed, and a client whose final ack from the
//! server was lost in a cut resumes and completes.
//!
//! # What the adapter keeps to
//!
//! - It carries out the actions of a call in order, before its next call
//!   for that duplex.
//! - It tells the core of every byte the moment it takes it from the
//!   transport (`handle_data`), whether or not the application has read it
//!   yet, and of every write as it queues it (`handle_write`).
//! - After a failure, a [`Action::CloseTransport`] or a resume, it reads
//!   nothing more from the old transport.
//! - Acks reach the core in the order the peer sent them.

mod client;
mod link;
mod secret;
mod server;

#[cfg(test)]
mod model_tests;

use std::fmt;

pub use client::Client;
pub use secret::Secret;
pub use server::{Accepted, Budgets, Server};

pub use crate::protocol::resume::{
    ACK_DELAY_MS, ATTEMPT_TIMEOUT_MS, BUFFER as RESUME_BUFFER, FIRST_RECONNECT_DELAY_MS,
    MAX_RECONNECT_DELAY_MS, TIMEOUT_MS as RESUME_TIMEOUT_MS,
};

/// The resume options of a duplex: the server's, which it tells the client
/// at open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Bytes sent and not acknowledged, at most, per direction; 0 is taken
    /// as 1.
    pub resume_buffer: u64,
    /// How long a detached duplex waits to be resumed (ms).
    pub resume_timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            resume_buffer: RESUME_BUFFER,
            resume_timeout_ms: RESUME_TIMEOUT_MS,
        }
    }
}

/// The silence after which the client takes its transport for hung, for
/// the server's `keepalive_interval_ms`; none when keep-alives are off.
pub fn hang_timeout_ms(keepalive_interval_ms: u64) -> Option<u64> {
    (keepalive_interval_ms > 0).then(|| 2 * keepalive_interval_ms + 1_000)
}

/// How long the client waits after its `failed`-th failed resume attempt
/// before the next (the first attempt goes at once): 250 ms, doubling, at
/// most [`MAX_RECONNECT_DELAY_MS`].
pub fn reconnect_delay_ms(failed: u32) -> u64 {
    let doublings = failed.saturating_sub(1).min(16);
    (FIRST_RECONNECT_DELAY_MS << doublings).min(MAX_RECONNECT_DELAY_MS)
}

/// One duplex's counts, in units (bytes, and one for an end).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Units of this side's direction written (sent, or queued while
    /// detached).
    pub sent: u64,
    /// Units of this side's direction the peer acknowledged.
    pub peer_acked: u64,
    /// Units of the peer's direction received.
    pub received: u64,
    /// The last count this side acknowledged to the peer.
    pub acked_to_peer: u64,
}

/// What the adapter does, in order. [`Server`] names the duplex of each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// The peer acknowledged these bytes: drop them from the front of the
    /// queue of bytes sent.
    Drop { bytes: u64 },
    /// The resume buffer is full: hold writes (`write()` returns `false`).
    Hold,
    /// Acks made room: writes that waited may go, up to `room()`.
    Flow,
    /// Send an ack with this count now, as its own message.
    Ack { count: u64 },
    /// Close the transport in use without failing the duplex: the hung
    /// one, a resume attempt's that hung, or (server) the old one of a
    /// duplex resumed elsewhere. Read nothing more from it.
    CloseTransport,
    /// (Client) Abandon any attempt in flight, open a new transport and
    /// ask it to resume the duplex: its id, its secret and `count` (the
    /// client's `received`). `attempt` counts from 1 per detachment.
    Reconnect { attempt: u32, count: u64 },
    /// The duplex was resumed after `downtime_ms` (from its detachment;
    /// 0 for a server that had not noticed the failure), on the client's
    /// `attempt` (`None` at the server, which sees only the attempt that
    /// reached it): the duplex's `'resumed'` event.
    Resumed {
        attempt: Option<u32>,
        downtime_ms: u64,
    },
    /// Send again, on the new transport and after the resume's answer, the
    /// whole queue of bytes sent (it starts at offset `from`, everything
    /// before it having been dropped), then the end if `end`.
    Resend { from: u64, end: bool },
    /// Both directions ended and everything is acknowledged: close the
    /// transport cleanly; nothing needs keeping. (Server) Also the answer
    /// to a resume of a duplex already complete: end the new transport
    /// after the answer.
    Complete,
    /// Destroy the duplex with this error; the core forgot it.
    Fail(Error),
}

/// Why a resume failed or was refused, or a count broke the protocol. The
/// variants are named for their codes (`ERR_HTTP2_DUPLEX_RESUME_…`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// `RESUME_TIMEOUT`: detached for `timeout_ms` without a resume.
    Timeout { timeout_ms: u64 },
    /// `RESUME_UNKNOWN`: the server knows no duplex of that id (its node
    /// restarted, or the duplex is gone).
    Unknown,
    /// `RESUME_REFUSED`: the secret did not match (the server warns; the
    /// duplex keeps waiting for its client).
    Refused,
    /// `RESUME_COUNT`: a resume's count was outside what its checker sent
    /// and had acknowledged, `range` (`peer_acked ..= sent`) when this side
    /// checked it, `None` when the server refused it.
    Count {
        count: u64,
        range: Option<(u64, u64)>,
    },
    /// `RESUME_ACK`: an ack went backwards (below `peer_acked`) or beyond
    /// `sent`: the peer broke the protocol; the duplex fails.
    Ack {
        count: u64,
        peer_acked: u64,
        sent: u64,
    },
}

/// What the server answered a resume with, for [`Client::handle_refused`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Unknown,
    Refused,
    Count,
}

impl Error {
    /// The stable code of the duplex's error, the warning and the Close
    /// that refuses a resume.
    pub const fn code(&self) -> crate::Code {
        use crate::Code;
        match self {
            Error::Timeout { .. } => Code::ResumeTimeout,
            Error::Unknown => Code::ResumeUnknown,
            Error::Refused => Code::ResumeRefused,
            Error::Count { .. } => Code::ResumeCount,
            Error::Ack { .. } => Code::ResumeAck,
        }
    }
}

impl Refusal {
    /// The refusal a client reads from the code of the server's Close.
    pub const fn from_code(code: crate::Code) -> Option<Refusal> {
        use crate::Code;
        match code {
            Code::ResumeUnknown => Some(Refusal::Unknown),
            Code::ResumeRefused => Some(Refusal::Refused),
            Code::ResumeCount => Some(Refusal::Count),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Timeout { timeout_ms } => {
                write!(f, "the duplex was not resumed within {timeout_ms} ms")
            }
            Error::Unknown => f.write_str(
                "the server does not know the duplex (its node restarted, or the duplex is gone)",
            ),
            Error::Refused => f.write_str("resume refused: wrong secret"),
            Error::Count {
                count,
                range: Some((low, high)),
            } => write!(
                f,
                "resume count {count} is outside {low}..={high} (acknowledged ..= sent)"
            ),
            Error::Count { count, range: None } => {
                write!(f, "the server refused the resume count {count}")
            }
            Error::Ack {
                count,
                peer_acked,
                sent,
            } => write!(
                f,
                "ack {count} is outside {peer_acked}..={sent}: an ack may not go backwards or beyond what was sent"
            ),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hang_timeout_and_backoff() {
        assert_eq!(hang_timeout_ms(0), None);
        assert_eq!(hang_timeout_ms(20_000), Some(41_000));
        let delays: Vec<u64> = (1..=6).map(reconnect_delay_ms).collect();
        assert_eq!(delays, [250, 500, 1_000, 2_000, 2_000, 2_000]);
        assert_eq!(reconnect_delay_ms(u32::MAX), MAX_RECONNECT_DELAY_MS);
    }

    #[test]
    fn errors_say_what_was_wrong() {
        assert_eq!(
            Error::Timeout { timeout_ms: 30_000 }.to_string(),
            "the duplex was not resumed within 30000 ms"
        );
        assert_eq!(
            Error::Count {
                count: 9,
                range: Some((2, 5))
            }
            .to_string(),
            "resume count 9 is outside 2..=5 (acknowledged ..= sent)"
        );
        assert_eq!(
            Error::Ack {
                count: 1,
                peer_acked: 2,
                sent: 5
            }
            .to_string(),
            "ack 1 is outside 2..=5: an ack may not go backwards or beyond what was sent"
        );
    }
}
