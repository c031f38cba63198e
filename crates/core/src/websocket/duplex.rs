//! The http2-duplex message layer over a WebSocket (subprotocol
//! `http2-duplex.1`, docs/websocket.md): binary messages carry a direction's
//! bytes, the text message `end` ends it, and the text message `credit N`
//! lets the peer send N more bytes of binary payload.

use bytes::Bytes;

use super::{Close, Event, Violation};

use super::Role;
use crate::protocol::websocket::{
    ACK_PREFIX, CREDIT_PREFIX, ID_PREFIX, MAX_ID_LENGTH, OPEN_MESSAGE, RESUMABLE_PREFIX,
    RESUMED_PREFIX, RESUME_PREFIX,
};
pub use crate::protocol::websocket::{INITIAL_CREDIT, MAX_CREDIT, SUBPROTOCOL};

/// The text message that ends the sender's direction.
pub const END_MESSAGE: &[u8] = crate::protocol::websocket::END_MESSAGE.as_bytes();

/// The server's first message: text `id <id>`, the duplex's id (a browser
/// cannot read the CONNECT answer's `http2-duplex-id` header).
pub fn id_message(id: &str) -> String {
    format!("{ID_PREFIX}{id}")
}

/// An id as the server sends it: 1 to 100 characters of `[A-Za-z0-9.-]`.
pub(crate) fn valid_id(id: &[u8]) -> bool {
    (1..=MAX_ID_LENGTH).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'-')
}

/// The text message granting `n` bytes of credit.
pub fn credit_message(n: u64) -> String {
    format!("{CREDIT_PREFIX}{n}")
}

/// Credit both ways.
///
/// Receive side: the peer may send at most what was granted. What is in
/// flight towards this side — credit the peer still holds, bytes received
/// and not consumed by the reader, bytes consumed and not yet granted back —
/// always adds up to the window, so a reader that stops reading stops the
/// peer with at most `window` bytes held. Credit goes back in grants of at
/// least half the window, not one per read.
///
/// Send side: this side may send what the peer granted, no more; a write
/// larger than the credit goes out in pieces as credit comes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flow {
    window: u64,
    send_credit: u64,
    recv_credit: u64,
    unconsumed: u64,
    pending: u64,
}

impl Default for Flow {
    fn default() -> Self {
        Flow::new(INITIAL_CREDIT)
    }
}

impl Flow {
    /// Credit for a receive window of `window` bytes (at least
    /// [`INITIAL_CREDIT`], which the peer may send anyway, at most
    /// [`MAX_CREDIT`]). A window above the initial credit is granted by
    /// [`Flow::initial_grant`].
    pub fn new(window: u64) -> Self {
        let window = window.clamp(INITIAL_CREDIT, MAX_CREDIT);
        Flow {
            window,
            send_credit: INITIAL_CREDIT,
            recv_credit: INITIAL_CREDIT,
            unconsumed: 0,
            pending: window - INITIAL_CREDIT,
        }
    }

    pub fn window(&self) -> u64 {
        self.window
    }

    /// The credit to grant as soon as the stream opens, if the window is
    /// larger than the initial credit.
    pub fn initial_grant(&mut self) -> Option<u64> {
        self.take_pending()
    }

    // Send side.

    /// What this side may still send.
    pub fn send_credit(&self) -> u64 {
        self.send_credit
    }

    pub fn can_send(&self, len: u64) -> bool {
        len <= self.send_credit
    }

    /// This side sent `len` bytes of binary payload (at most its credit).
    pub fn sent(&mut self, len: u64) {
        debug_assert!(len <= self.send_credit, "sent beyond the credit");
        self.send_credit = self.send_credit.saturating_sub(len);
    }

    /// http2-duplex.2, the client: the server resumed the duplex on this
    /// WebSocket; nothing may be sent before its first grant.
    pub fn resumed_sending(&mut self) {
        self.send_credit = 0;
    }

    /// http2-duplex.2, the server: a resumed WebSocket grants the client no
    /// initial credit, only what the window leaves beside the `held` bytes
    /// the reader still holds from before (which count as unconsumed), so
    /// that resuming again and again never lets more than the window in.
    pub fn resumed_receiving(&mut self, held: u64) {
        self.unconsumed = held.min(self.window);
        self.recv_credit = 0;
        self.pending = self.window - self.unconsumed;
    }

    /// The peer granted `n` bytes (a `credit n` message).
    pub fn granted(&mut self, n: u64) -> Result<(), Close> {
        match self.send_credit.checked_add(n) {
            Some(credit) if credit <= MAX_CREDIT => {
                self.send_credit = credit;
                Ok(())
            }
            _ => Err(Violation::BadControlMessage.into()),
        }
    }

    // Receive side.

    /// What the peer may still send.
    pub fn recv_credit(&self) -> u64 {
        self.recv_credit
    }

    /// Bytes received and not yet consumed.
    pub fn unconsumed(&self) -> u64 {
        self.unconsumed
    }

    /// The peer sent `len` bytes of binary payload: more than its credit is
    /// a policy violation (close 1008).
    pub fn received(&mut self, len: u64) -> Result<(), Close> {
        if len > self.recv_credit {
            return Err(Violation::CreditExceeded.into());
        }
        self.recv_credit -= len;
        self.unconsumed += len;
        Ok(())
    }

    /// The reader consumed `n` bytes (at most what was received); returns
    /// the credit to grant (`credit N`) once at least half the window waits.
    pub fn consumed(&mut self, n: u64) -> Option<u64> {
        let n = n.min(self.unconsumed);
        self.unconsumed -= n;
        self.pending += n;
        if self.pending >= (self.window / 2).max(1) {
            self.take_pending()
        } else {
            None
        }
    }

    fn take_pending(&mut self) -> Option<u64> {
        if self.pending == 0 {
            return None;
        }
        let grant = std::mem::take(&mut self.pending);
        self.recv_credit += grant;
        Some(grant)
    }
}

/// What a message of the peer means to the duplex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// Bytes of the peer's direction.
    Data(Bytes),
    /// The peer ended its direction.
    End,
    /// The peer granted this much more credit: writes waiting may go.
    Credit(u64),
    /// http2-duplex.2: the peer received this many units of this side's
    /// direction.
    Ack(u64),
    /// http2-duplex.2, the client's first message: open a new duplex.
    Open,
    /// http2-duplex.2, the client's first message: resume a duplex.
    Resume(ResumeRequest),
    /// http2-duplex.2, the server's answer to `open`.
    Resumable(ResumableDuplex),
    /// http2-duplex.2, the server's answer to `resume`: it received this
    /// many units of the client's direction.
    Resumed(u64),
}

/// A client's `resume I S N`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResumeRequest {
    pub id: String,
    pub secret: String,
    /// Units of the server's direction the client received.
    pub received: u64,
}

/// The server's `resumable I S B T K`: what a client needs to resume the
/// duplex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResumableDuplex {
    pub id: String,
    pub secret: String,
    pub resume_buffer: u64,
    pub resume_timeout_ms: u64,
    /// The server's keep-alive interval (ms; 0: none): the client's hang
    /// timeout follows from it.
    pub keepalive_ms: u64,
}

/// A count of a message: 1 to 16 decimal digits without a leading zero, or
/// `0` (below 10^16 < 2^53, so that JS can hold it).
fn parse_count(digits: &[u8]) -> Option<u64> {
    let well_formed = !digits.is_empty()
        && digits.len() <= 16
        && (digits[0] != b'0' || digits.len() == 1)
        && digits.iter().all(u8::is_ascii_digit);
    well_formed.then(|| {
        digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'))
    })
}

/// A resume secret as the server sends it: 22 characters of base64url.
fn valid_secret(secret: &[u8]) -> bool {
    secret.len() == 22
        && secret
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
}

fn bad() -> Close {
    Close::from(Violation::BadControlMessage)
}

fn text_field(field: &[u8]) -> String {
    String::from_utf8_lossy(field).into_owned()
}

/// A text message of http2-duplex.1, and `ack N` of http2-duplex.2.
fn parse_control(text: &[u8], resumable: bool) -> Result<Inbound, Close> {
    if text == END_MESSAGE {
        return Ok(Inbound::End);
    }
    if let Some(digits) = text.strip_prefix(CREDIT_PREFIX.as_bytes()) {
        return match parse_count(digits) {
            Some(n) if n > 0 => Ok(Inbound::Credit(n)),
            _ => Err(bad()),
        };
    }
    match text.strip_prefix(ACK_PREFIX.as_bytes()) {
        Some(digits) if resumable => parse_count(digits).map(Inbound::Ack).ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// The first message of an http2-duplex.2 WebSocket: the client's (`open`,
/// `resume I S N`) for a server, the server's answer for a client.
fn parse_first(text: &[u8], role: Role) -> Result<Inbound, Close> {
    let fields = |prefix: &str, n: usize| -> Result<Vec<&[u8]>, Close> {
        let rest = text.strip_prefix(prefix.as_bytes()).ok_or_else(bad)?;
        let fields: Vec<&[u8]> = rest.split(|b| *b == b' ').collect();
        if fields.len() == n {
            Ok(fields)
        } else {
            Err(bad())
        }
    };
    let count = |digits: &[u8]| parse_count(digits).ok_or_else(bad);
    let id_and_secret = |id: &[u8], secret: &[u8]| {
        if valid_id(id) && valid_secret(secret) {
            Ok((text_field(id), text_field(secret)))
        } else {
            Err(bad())
        }
    };
    match role {
        Role::Server if text == OPEN_MESSAGE.as_bytes() => Ok(Inbound::Open),
        Role::Server => {
            let f = fields(RESUME_PREFIX, 3)?;
            let (id, secret) = id_and_secret(f[0], f[1])?;
            Ok(Inbound::Resume(ResumeRequest {
                id,
                secret,
                received: count(f[2])?,
            }))
        }
        Role::Client if text.starts_with(RESUMED_PREFIX.as_bytes()) => {
            Ok(Inbound::Resumed(count(&text[RESUMED_PREFIX.len()..])?))
        }
        Role::Client => {
            let f = fields(RESUMABLE_PREFIX, 5)?;
            let (id, secret) = id_and_secret(f[0], f[1])?;
            Ok(Inbound::Resumable(ResumableDuplex {
                id,
                secret,
                resume_buffer: count(f[2])?,
                resume_timeout_ms: count(f[3])?,
                keepalive_ms: count(f[4])?,
            }))
        }
    }
}

/// The http2-duplex.1 state of one WebSocket: credit and the two ends.
/// Both directions ended → the caller closes with 1000.
#[derive(Clone, Debug, Default)]
pub struct Channel {
    flow: Flow,
    sent_end: bool,
    received_end: bool,
    role: Role,
    /// http2-duplex.2: resume's messages (docs/protocol.md "Resume").
    resumable: bool,
    /// Until the peer's first message: a client's may be `id` (and must be
    /// the server's answer in http2-duplex.2), a server's must be `open` or
    /// `resume` in http2-duplex.2.
    awaits_first: bool,
    peer_id: Option<String>,
}

impl Channel {
    pub fn new(window: u64) -> Self {
        Channel {
            flow: Flow::new(window),
            ..Channel::default()
        }
    }

    /// The client's channel: the server's first message may name the id.
    pub fn client(window: u64) -> Self {
        Channel {
            role: Role::Client,
            awaits_first: true,
            ..Channel::new(window)
        }
    }

    /// Speak http2-duplex.2: the first messages open or resume a duplex,
    /// and `ack N` goes both ways. Before anything was received.
    pub fn set_resumable(&mut self) {
        self.resumable = true;
        self.awaits_first = true;
    }

    pub fn is_resumable(&self) -> bool {
        self.resumable
    }

    /// The id the server named in its first message.
    pub fn peer_id(&self) -> Option<&str> {
        self.peer_id.as_deref()
    }

    pub fn flow(&self) -> &Flow {
        &self.flow
    }

    pub fn flow_mut(&mut self) -> &mut Flow {
        &mut self.flow
    }

    /// What a data message of the peer means; `None` for pings, pongs and
    /// Close, which the [`super::Session`] handles.
    pub fn receive(&mut self, event: Event) -> Result<Option<Inbound>, Close> {
        let first = std::mem::take(&mut self.awaits_first);
        if first && self.resumable {
            return match event {
                Event::Text(text) => parse_first(&text, self.role).map(|inbound| {
                    match &inbound {
                        Inbound::Resumable(answer) => self.peer_id = Some(answer.id.clone()),
                        Inbound::Resumed(_) => self.flow.resumed_sending(),
                        _ => {}
                    }
                    Some(inbound)
                }),
                Event::Binary(_) => Err(bad()),
                _ => {
                    self.awaits_first = true;
                    Ok(None)
                }
            };
        }
        match event {
            Event::Text(text) if first && text.starts_with(ID_PREFIX.as_bytes()) => {
                let id = &text[ID_PREFIX.len()..];
                if !valid_id(id) {
                    return Err(Violation::BadControlMessage.into());
                }
                self.peer_id = Some(String::from_utf8_lossy(id).into_owned());
                Ok(None)
            }
            Event::Binary(data) => {
                if self.received_end {
                    return Err(Violation::DataAfterEnd.into());
                }
                self.flow.received(data.len() as u64)?;
                Ok(Some(Inbound::Data(data)))
            }
            Event::Text(text) => match parse_control(&text, self.resumable)? {
                Inbound::End if self.received_end => Err(Violation::DataAfterEnd.into()),
                Inbound::End => {
                    self.received_end = true;
                    Ok(Some(Inbound::End))
                }
                Inbound::Credit(n) => {
                    self.flow.granted(n)?;
                    Ok(Some(Inbound::Credit(n)))
                }
                other => Ok(Some(other)),
            },
            _ => Ok(None),
        }
    }

    /// This side ends its direction: send [`END_MESSAGE`] as a text message.
    /// Returns false if it already did.
    pub fn end(&mut self) -> bool {
        !std::mem::replace(&mut self.sent_end, true)
    }

    pub fn sent_end(&self) -> bool {
        self.sent_end
    }

    pub fn received_end(&self) -> bool {
        self.received_end
    }

    /// Both directions ended: close with 1000.
    pub fn both_ended(&self) -> bool {
        self.sent_end && self.received_end
    }
}
