//! The close handshake (RFC 6455 §5.5.1, §7) and pongs, around a decoder.

use std::collections::VecDeque;

use bytes::Bytes;

use super::frame::{close_payload, encode_header, Opcode, MAX_HEADER_LEN};
use super::{Close, Decoder, Event, Piece, Role};

/// A control frame the session wants sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub opcode: Opcode,
    pub payload: Bytes,
}

impl Outgoing {
    /// Its header; a client passes a fresh mask key and masks the payload
    /// with [`super::mask_in_place`].
    pub fn header(&self, mask: Option<[u8; 4]>) -> ([u8; MAX_HEADER_LEN], usize) {
        encode_header(self.opcode, true, self.payload.len() as u64, mask)
    }
}

/// One WebSocket's receive side and close handshake.
///
/// - A Ping is answered with a Pong ([`Session::poll_send`]); only the pong
///   to the latest ping waits, as RFC 6455 §5.5.3 allows.
/// - [`Session::ping`] queues a Ping of this side's (the server's keep-alive).
/// - After the peer's Close, the session answers with a Close once (echoing
///   the peer's code, or empty if it sent none).
/// - After this side's Close ([`Session::close`]), the session sends no more
///   and drops the peer's data, pings and pongs while it waits for its Close.
/// - [`Session::is_complete`] says when both Closes are through: the caller
///   then ends the stream.
/// - A peer that breaks the protocol gets a Close with the code of the
///   violation (returned by [`Session::feed`] and queued); the caller sends
///   it and ends the stream without waiting.
#[derive(Debug)]
pub struct Session {
    decoder: Decoder,
    queue: VecDeque<Outgoing>,
    close_sent: bool,
    close_received: bool,
    failed: bool,
}

impl Session {
    pub fn new(role: Role, max_message: usize) -> Self {
        Session {
            decoder: Decoder::new(role, max_message),
            queue: VecDeque::new(),
            close_sent: false,
            close_received: false,
            failed: false,
        }
    }

    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// Feeds the next piece of the stream. Appends data messages, pings,
    /// pongs and the peer's Close to `out` (data, pings and pongs only while
    /// this side has not sent its Close); queues what to answer.
    pub fn feed<'a>(
        &mut self,
        input: impl Into<Piece<'a>>,
        out: &mut Vec<Event>,
    ) -> Result<(), Close> {
        let start = out.len();
        let result = self.decoder.feed(input, out);
        let mut i = start;
        while i < out.len() {
            match &out[i] {
                Event::Close { code, .. } => {
                    self.close_received = true;
                    if !self.close_sent {
                        let payload = match code {
                            Some(code) => close_payload(*code, ""),
                            None => Bytes::new(),
                        };
                        self.send_close(payload);
                    }
                }
                _ if self.close_sent => {
                    out.remove(i);
                    continue;
                }
                Event::Ping(payload) => {
                    let payload = payload.clone();
                    self.queue.retain(|o| o.opcode != Opcode::Pong);
                    self.queue.push_back(Outgoing {
                        opcode: Opcode::Pong,
                        payload,
                    });
                }
                _ => {}
            }
            i += 1;
        }
        if let Err(close) = &result {
            self.failed = true;
            if !self.close_sent {
                self.send_close(close.payload());
            }
        }
        result
    }

    fn send_close(&mut self, payload: Bytes) {
        self.close_sent = true;
        self.queue.retain(|o| o.opcode != Opcode::Pong);
        self.queue.push_back(Outgoing {
            opcode: Opcode::Close,
            payload,
        });
    }

    /// Starts the close handshake from this side with `code` (none: an
    /// empty Close) and `reason`. Returns false if a Close was already sent.
    pub fn close(&mut self, code: Option<u16>, reason: &str) -> bool {
        if self.close_sent {
            return false;
        }
        self.send_close(match code {
            Some(code) => close_payload(code, reason),
            None => Bytes::new(),
        });
        true
    }

    /// Queues an empty Ping, which the peer answers with a Pong; none once
    /// this side sent its Close. Returns whether it is queued.
    pub fn ping(&mut self) -> bool {
        if self.close_sent {
            return false;
        }
        self.queue.push_back(Outgoing {
            opcode: Opcode::Ping,
            payload: Bytes::new(),
        });
        true
    }

    /// The next control frame to send, if any.
    pub fn poll_send(&mut self) -> Option<Outgoing> {
        self.queue.pop_front()
    }

    /// Whether this side may still send data (it has not sent a Close).
    pub fn can_send(&self) -> bool {
        !self.close_sent
    }

    pub fn close_sent(&self) -> bool {
        self.close_sent
    }

    pub fn close_received(&self) -> bool {
        self.close_received
    }

    /// The peer broke the protocol: send the queued Close and end the stream.
    pub fn has_failed(&self) -> bool {
        self.failed
    }

    /// Both Closes are through (the caller has taken the last one from
    /// [`Session::poll_send`]): end the stream.
    pub fn is_complete(&self) -> bool {
        self.close_sent && self.close_received && self.queue.is_empty()
    }
}
