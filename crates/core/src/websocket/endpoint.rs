//! One end of an http2-duplex.1 WebSocket, sans-IO: the transport feeds it
//! the stream's bytes and what the duplex does, and carries out the
//! [`Action`]s it answers. [`Endpoint::new`] is the server's end (frames sent
//! unmasked), [`Endpoint::client`] the client's (every frame masked with a
//! fresh random key).

use bytes::{BufMut, Bytes, BytesMut};

use crate::rejection::{PeerGone, Reason, Rejection};

use super::duplex::{
    credit_message, id_message, Channel, Inbound, ResumableDuplex, ResumeRequest, END_MESSAGE,
};
use super::frame::{encode_header, mask_in_place, Opcode, MAX_HEADER_LEN};
use super::{close_code, Close, Event, Piece, Role, Session, Violation};
use crate::protocol::wait::WS_CLOSE_MS;
use crate::protocol::websocket::{
    ACK_PREFIX, OPEN_MESSAGE, RESUMABLE_PREFIX, RESUMED_PREFIX, RESUME_PREFIX,
};
use crate::resume;
use crate::Code;

/// The reason of the Close with which a client abandons a hung WebSocket.
pub const RESUMING_REASON: &str = "resuming";

/// The reason of the Close a destroyed duplex's WebSocket sends.
pub const DESTROYED_REASON: &str = "duplex destroyed";

/// What the transport must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Bytes of the peer's direction, for the duplex's readable side.
    Deliver(Bytes),
    /// The peer ended its direction.
    End,
    /// Write this frame (header and payload) to the stream.
    Send(Bytes),
    /// The peer granted credit: writes that waited may go.
    Credit,
    /// http2-duplex.2: the peer acknowledged this many units (for the
    /// resume core's `handle_ack`).
    Ack { count: u64 },
    /// http2-duplex.2 (server): the client opens a new duplex.
    Open,
    /// http2-duplex.2 (server): the client resumes a duplex.
    Resume(ResumeRequest),
    /// http2-duplex.2 (client): the server's answer to `open`.
    Resumable(ResumableDuplex),
    /// http2-duplex.2 (client): the server's answer to `resume`, with its
    /// count received.
    Resumed { received: u64 },
    /// http2-duplex.2 (client): the server refused the resume (a Close 1008
    /// naming one of the resume codes); [`Action::Finished`] follows.
    ResumeRefused { code: Code },
    /// The WebSocket is over: end the stream. `violation` when the peer
    /// broke the protocol (a Close with its code was sent), `code` the
    /// peer's close code when it closed; `early` when it is over before
    /// both directions ended (the `end` messages went both ways; in
    /// http2-duplex.2, before the duplex was complete), for another reason
    /// than a violation. `detached`: http2-duplex.2, the client abandoned
    /// the WebSocket (Close 4001): the duplex waits to be resumed.
    Finished {
        code: Option<u16>,
        violation: Option<Violation>,
        early: bool,
        detached: bool,
    },
}

impl Action {
    /// What a [`Action::Finished`] means for the server's duplex: broken by
    /// the client's violation, or by its close before both ends; `None`
    /// for a clean close or another action.
    pub fn server_failure(&self) -> Option<Rejection> {
        match *self {
            Action::Finished {
                violation: Some(violation),
                ..
            } => Some(Rejection::new(Reason::WebSocketViolation(violation))),
            Action::Finished {
                code,
                early: true,
                detached: false,
                ..
            } => Some(Rejection::new(Reason::WebSocketClosedEarly { code })),
            _ => None,
        }
    }
}

/// How the stream under the WebSocket ends when the peer went or the duplex
/// was destroyed (a close handshake that completes says so with
/// [`Action::Finished`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Nothing to do: the stream ended already, or another event decides.
    Leave,
    /// End the stream now; `broken` when that breaks the duplex (the
    /// client's doing).
    End { broken: Option<Rejection> },
    /// End the stream once the peer's Close came ([`Action::Finished`]),
    /// or after `ms` without it.
    EndAfter { ms: u32 },
    /// http2-duplex.2: the WebSocket failed without a Close before the
    /// duplex was complete: the duplex is detached, to be resumed (the
    /// resume core's `handle_transport_failed`); the stream is over.
    Detach,
}

/// The duplex and its stream when the duplex is destroyed, as the adapter
/// sees them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Destroyed {
    /// It was destroyed with an error.
    pub failed: bool,
    /// All of its writes were done (its end included).
    pub writes_done: bool,
    /// Its stream's writable side had ended.
    pub stream_ended: bool,
    /// Its stream was destroyed already.
    pub stream_gone: bool,
}

#[derive(Debug)]
pub struct Endpoint {
    session: Session,
    channel: Channel,
    finished: bool,
    peer_code: Option<u16>,
    role: Role,
    /// http2-duplex.2: the resume core said both ends were acknowledged.
    completed: bool,
}

/// A fresh mask key from the system's CSPRNG (RFC 6455 §5.3).
fn mask_key() -> [u8; 4] {
    let random = uuid::Uuid::new_v4();
    let bytes = random.as_bytes();
    // The first 4 bytes of a v4 UUID are all random (the version and
    // variant bits are in bytes 6 and 8).
    [bytes[0], bytes[1], bytes[2], bytes[3]]
}

/// A whole frame: unmasked for the server, masked for the client.
fn frame(role: Role, opcode: Opcode, payload: &[u8]) -> Bytes {
    let mask = (role == Role::Client).then(mask_key);
    let (header, len) = encode_header(opcode, true, payload.len() as u64, mask);
    let mut out = BytesMut::with_capacity(len + payload.len());
    out.put_slice(&header[..len]);
    out.put_slice(payload);
    if let Some(key) = mask {
        mask_in_place(&mut out[len..], key, 0);
    }
    out.freeze()
}

impl Endpoint {
    /// A server endpoint taking messages of at most `max_message` bytes and
    /// letting the client have `window` bytes in flight (its receive credit).
    pub fn new(max_message: usize, window: u64) -> Self {
        Self::with_role(Role::Server, max_message, window)
    }

    /// A client endpoint: it masks what it sends and takes the server's
    /// unmasked frames, messages of at most `max_message` bytes, letting the
    /// server have `window` bytes in flight.
    pub fn client(max_message: usize, window: u64) -> Self {
        Self::with_role(Role::Client, max_message, window)
    }

    pub fn with_role(role: Role, max_message: usize, window: u64) -> Self {
        Endpoint {
            session: Session::new(role, max_message),
            channel: match role {
                Role::Server => Channel::new(window),
                Role::Client => Channel::client(window),
            },
            finished: false,
            peer_code: None,
            role,
            completed: false,
        }
    }

    /// Speak http2-duplex.2 (docs/protocol.md "Resume"), once it was
    /// selected and before anything was received: the first messages open
    /// or resume a duplex, `ack N` goes both ways, the WebSocket closes
    /// when [`Endpoint::complete`] says, not when both `end`s went, and a
    /// failure without a Close detaches the duplex ([`Ending::Detach`]).
    pub fn set_resumable(&mut self) {
        self.channel.set_resumable();
    }

    pub fn is_resumable(&self) -> bool {
        self.channel.is_resumable()
    }

    fn send_text(&mut self, text: &str, out: &mut Vec<Action>) {
        if !self.finished && self.session.can_send() {
            out.push(Action::Send(frame(
                self.role,
                Opcode::Text,
                text.as_bytes(),
            )));
        }
    }

    /// (Client) Ask for a new duplex: the first message.
    pub fn send_open(&mut self, out: &mut Vec<Action>) {
        self.send_text(OPEN_MESSAGE, out);
    }

    /// (Client) Ask to resume duplex `id`, having received `received`
    /// units of the server's direction: the first message.
    pub fn send_resume(&mut self, id: &str, secret: &str, received: u64, out: &mut Vec<Action>) {
        self.send_text(&format!("{RESUME_PREFIX}{id} {secret} {received}"), out);
    }

    /// (Server) Answer `open`: the duplex's id and what resuming it takes,
    /// then the credit beyond the initial one.
    pub fn send_resumable(
        &mut self,
        id: &str,
        secret: &str,
        config: resume::Config,
        keepalive_ms: u64,
        out: &mut Vec<Action>,
    ) {
        let resume::Config {
            resume_buffer,
            resume_timeout_ms,
        } = config;
        self.send_text(
            &format!(
                "{RESUMABLE_PREFIX}{id} {secret} {resume_buffer} {resume_timeout_ms} {keepalive_ms}"
            ),
            out,
        );
        self.open(out);
    }

    /// (Server) Answer `resume`: the server's count received, then the
    /// credit the window leaves beside the `held` bytes the duplex's reader
    /// still holds (a resumed WebSocket has no initial credit).
    pub fn send_resumed(&mut self, received: u64, held: u64, out: &mut Vec<Action>) {
        self.channel.flow_mut().resumed_receiving(held);
        self.send_text(&format!("{RESUMED_PREFIX}{received}"), out);
        self.open(out);
    }

    /// (Server) Refuse a resume: Close 1008 naming the code.
    pub fn refuse_resume(&mut self, code: Code, out: &mut Vec<Action>) {
        self.close(close_code::POLICY_VIOLATION, code.as_str(), out);
    }

    /// Acknowledge `count` units of the peer's direction.
    pub fn send_ack(&mut self, count: u64, out: &mut Vec<Action>) {
        self.send_text(&format!("{ACK_PREFIX}{count}"), out);
    }

    /// The resume core says the duplex is complete: close with 1000.
    pub fn complete(&mut self, out: &mut Vec<Action>) {
        self.completed = true;
        if !self.finished {
            self.session.close(Some(close_code::NORMAL), "");
            self.flush(None, out);
        }
    }

    /// (Client) Abandon a WebSocket taken for hung: Close 4001, the duplex
    /// lives on. Nothing more from it is to be read.
    pub fn abandon(&mut self, out: &mut Vec<Action>) {
        self.close(close_code::RESUMING, RESUMING_REASON, out);
        self.finished = true;
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// The server's stream opened: names the duplex's `id` in the first
    /// message, then grants the credit beyond the initial one.
    pub fn open_with_id(&mut self, id: &str, out: &mut Vec<Action>) {
        out.push(Action::Send(frame(
            self.role,
            Opcode::Text,
            id_message(id).as_bytes(),
        )));
        self.open(out);
    }

    /// The id the server named (client role), once its first message came.
    pub fn peer_id(&self) -> Option<&str> {
        self.channel.peer_id()
    }

    /// The stream opened: grants the credit beyond the initial one.
    pub fn open(&mut self, out: &mut Vec<Action>) {
        if let Some(grant) = self.channel.flow_mut().initial_grant() {
            out.push(Action::Send(frame(
                self.role,
                Opcode::Text,
                credit_message(grant).as_bytes(),
            )));
        }
    }

    /// A piece of the stream arrived.
    pub fn receive<'a>(&mut self, input: impl Into<Piece<'a>>, out: &mut Vec<Action>) {
        if self.finished {
            return;
        }
        let mut events = Vec::new();
        let fed = self.session.feed(input, &mut events);
        let mut violation = fed.err().map(|close| close.violation);
        for event in events {
            if violation.is_some() {
                break;
            }
            if let Event::Close { code, reason } = event {
                self.peer_code = code;
                if let Some(code) = self.resume_refusal(code, &reason) {
                    out.push(Action::ResumeRefused { code });
                }
                continue;
            }
            match self.channel.receive(event) {
                Ok(Some(Inbound::Data(data))) => out.push(Action::Deliver(data)),
                Ok(Some(Inbound::End)) => {
                    out.push(Action::End);
                    self.close_if_both_ended();
                }
                Ok(Some(Inbound::Credit(_))) => out.push(Action::Credit),
                Ok(Some(Inbound::Ack(count))) => out.push(Action::Ack { count }),
                Ok(Some(Inbound::Open)) => out.push(Action::Open),
                Ok(Some(Inbound::Resume(request))) => out.push(Action::Resume(request)),
                Ok(Some(Inbound::Resumable(answer))) => out.push(Action::Resumable(answer)),
                Ok(Some(Inbound::Resumed(received))) => out.push(Action::Resumed { received }),
                Ok(None) => {}
                Err(close) => {
                    self.fail(close);
                    violation = Some(close.violation);
                }
            }
        }
        self.flush(violation, out);
    }

    /// The reader took `n` bytes: maybe grant credit back.
    pub fn consumed(&mut self, n: u64, out: &mut Vec<Action>) {
        if self.finished || self.session.close_sent() {
            return;
        }
        if let Some(grant) = self.channel.flow_mut().consumed(n) {
            out.push(Action::Send(frame(
                self.role,
                Opcode::Text,
                credit_message(grant).as_bytes(),
            )));
        }
    }

    /// Bytes the server may send now.
    pub fn send_credit(&self) -> u64 {
        if self.finished || !self.session.can_send() || self.channel.sent_end() {
            0
        } else {
            self.channel.flow().send_credit()
        }
    }

    /// The header of a binary frame of `len` bytes (at most `send_credit()`),
    /// counted as sent; the caller writes it, then the payload. In the client
    /// role the header carries a fresh mask key (its last 4 bytes), with
    /// which the caller masks the payload ([`mask_in_place`] at offset 0);
    /// [`Endpoint::data_frame`] does both.
    pub fn data_header(&mut self, len: u64) -> Option<([u8; MAX_HEADER_LEN], usize)> {
        if len > self.send_credit() {
            return None;
        }
        self.channel.flow_mut().sent(len);
        let mask = (self.role == Role::Client).then(mask_key);
        Some(encode_header(Opcode::Binary, true, len, mask))
    }

    /// [`Endpoint::data_header`] for `payload`, which it masks in place in
    /// the client role: the caller writes the header, then `payload`.
    pub fn data_frame(&mut self, payload: &mut [u8]) -> Option<([u8; MAX_HEADER_LEN], usize)> {
        let (header, len) = self.data_header(payload.len() as u64)?;
        if self.role == Role::Client {
            let key = [
                header[len - 4],
                header[len - 3],
                header[len - 2],
                header[len - 1],
            ];
            mask_in_place(payload, key, 0);
        }
        Some((header, len))
    }

    /// This side ended its direction.
    pub fn end(&mut self, out: &mut Vec<Action>) {
        if self.finished || !self.session.can_send() || !self.channel.end() {
            return;
        }
        out.push(Action::Send(frame(self.role, Opcode::Text, END_MESSAGE)));
        self.close_if_both_ended();
        self.flush(None, out);
    }

    /// Sends the peer a Ping (the keep-alive of [`crate::liveness`]): a
    /// whole control frame, which the caller writes between data frames as
    /// it writes the others. Nothing once the WebSocket is closing.
    pub fn ping(&mut self, out: &mut Vec<Action>) {
        if !self.finished && self.session.ping() {
            self.flush(None, out);
        }
    }

    /// This side gives up on the WebSocket (its duplex was destroyed).
    pub fn close(&mut self, code: u16, reason: &str, out: &mut Vec<Action>) {
        if !self.finished {
            self.session.close(Some(code), reason);
            self.flush(None, out);
        }
    }

    // A client's resume refused: the server's Close 1008 names the code.
    fn resume_refusal(&self, code: Option<u16>, reason: &[u8]) -> Option<Code> {
        if self.role != Role::Client
            || !self.is_resumable()
            || code != Some(close_code::POLICY_VIOLATION)
        {
            return None;
        }
        let code: Code = std::str::from_utf8(reason).ok()?.parse().ok()?;
        matches!(
            code,
            Code::ResumeUnknown | Code::ResumeRefused | Code::ResumeCount
        )
        .then_some(code)
    }

    // The ends went both ways and the duplex is done with the WebSocket.
    fn is_clean(&self) -> bool {
        if self.is_resumable() {
            self.completed
        } else {
            self.channel.both_ended()
        }
    }

    fn close_if_both_ended(&mut self) {
        if !self.is_resumable() && self.channel.both_ended() {
            self.session.close(Some(close_code::NORMAL), "");
        }
    }

    fn fail(&mut self, close: Close) {
        self.session.close(Some(close.code), close.reason);
    }

    fn flush(&mut self, violation: Option<Violation>, out: &mut Vec<Action>) {
        while let Some(outgoing) = self.session.poll_send() {
            out.push(Action::Send(frame(
                self.role,
                outgoing.opcode,
                &outgoing.payload,
            )));
        }
        if violation.is_some() || self.session.is_complete() {
            self.finished = true;
            let detached = violation.is_none()
                && self.is_resumable()
                && !self.completed
                && self.peer_code == Some(close_code::RESUMING);
            out.push(Action::Finished {
                code: self.peer_code,
                early: violation.is_none() && !self.is_clean(),
                violation,
                detached,
            });
        }
    }

    /// The reader took what it holds beyond `buffered` bytes (what the
    /// duplex's readable side still buffers): what it took since the last
    /// call goes back as credit, maybe granted now.
    pub fn handle_read(&mut self, buffered: u64, out: &mut Vec<Action>) {
        // Every byte delivered was received: what is neither buffered nor
        // reported yet is what the reader took since.
        let unconsumed = self.channel.flow().unconsumed();
        if unconsumed > buffered {
            self.consumed(unconsumed - buffered, out);
        }
    }

    /// The peer's side of the stream ended (HTTP/2 END_STREAM, or a TCP
    /// half-close): it can send nothing more, not even its Close. Without
    /// that Close and before both directions ended, this is RFC 6455's
    /// abnormal closure (1006): it breaks the duplex. Either way the
    /// WebSocket is over and the stream ends. `stream_closed`: the stream
    /// had closed by the time the adapter looked; then the end was a reset's
    /// (Node ends a reset stream's readable side too) and the stream's close
    /// says what it means.
    pub fn handle_peer_ended(&mut self, stream_closed: bool) -> Ending {
        if stream_closed {
            return Ending::Leave;
        }
        self.gone(Reason::WebSocketAbnormalClose {
            how: PeerGone::Ended,
        })
    }

    /// The stream closed under the endpoint: reset with `rst_code`, or
    /// (`None`) the connection under an HTTP/1.1 WebSocket closed, after
    /// which nothing more can be sent either. Before both directions ended,
    /// that breaks the duplex.
    pub fn handle_stream_closed(&mut self, rst_code: Option<u32>) -> Ending {
        self.gone(match rst_code {
            Some(code) => Reason::WebSocketReset { code },
            None => Reason::WebSocketAbnormalClose {
                how: PeerGone::ConnectionClosed,
            },
        })
    }

    /// The duplex was destroyed: how its stream ends. The stream ends
    /// cleanly, never reset (a reset could overtake the Close). After both
    /// directions ended, unless the duplex failed, the Close 1000 is out and
    /// the stream ends with the peer's Close ([`Action::Finished`]), or after
    /// [`WS_CLOSE_MS`] without it: ended at once, HAProxy reset the client's
    /// stream and dropped the data still on its way. Otherwise the Close
    /// says why ([`close_code::GOING_AWAY`]) and the stream ends at once.
    pub fn handle_destroyed(&mut self, destroyed: &Destroyed, out: &mut Vec<Action>) -> Ending {
        if destroyed.stream_ended || destroyed.stream_gone {
            Ending::Leave
        } else if !destroyed.failed && destroyed.writes_done && self.is_clean() {
            Ending::EndAfter { ms: WS_CLOSE_MS }
        } else {
            self.close(close_code::GOING_AWAY, DESTROYED_REASON, out);
            Ending::End { broken: None }
        }
    }

    // The peer went: the WebSocket is over, and broken unless it was over
    // already, both directions had ended, or the peer's Close came first.
    fn gone(&mut self, reason: Reason) -> Ending {
        let broke = !self.finished && !self.is_clean() && !self.session.close_received();
        self.finished = true;
        if broke && self.is_resumable() {
            return Ending::Detach;
        }
        Ending::End {
            broken: broke.then(|| Rejection::new(reason)),
        }
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Both directions ended (the Close 1000 is sent or on its way).
    pub fn both_ended(&self) -> bool {
        self.channel.both_ended()
    }

    /// The peer ended its direction.
    pub fn received_end(&self) -> bool {
        self.channel.received_end()
    }

    /// This side sent its Close.
    pub fn close_sent(&self) -> bool {
        self.session.close_sent()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::websocket::{close_payload, mask_in_place, INITIAL_CREDIT};

    // What a gone peer's Ending says of the duplex.
    fn broken(ending: Ending) -> Option<Rejection> {
        match ending {
            Ending::End { broken } => broken,
            other => panic!("the stream ends: {other:?}"),
        }
    }

    #[test]
    fn a_stream_closed_before_both_ends_breaks_the_duplex() {
        let mut open = Endpoint::new(1 << 20, 1 << 20);
        let reset = broken(open.handle_stream_closed(Some(8))).expect("a reset");
        assert_eq!(reset.code(), crate::Code::ClientReset);
        assert_eq!(
            reset.to_string(),
            "the client reset the WebSocket stream (HTTP/2 code 8)"
        );
        assert!(open.is_finished());
        // Both ends done: the close is clean, whatever the code.
        let mut done = Endpoint::new(1 << 20, 1 << 20);
        let mut out = Vec::new();
        done.end(&mut out);
        done.receive(client_frame(Opcode::Text, b"end"), &mut out);
        assert!(done.both_ended());
        assert_eq!(broken(done.handle_stream_closed(Some(0))), None);
    }

    #[test]
    fn a_peer_gone_without_its_close_is_an_abnormal_closure() {
        // Data, then END_STREAM: no `end`, no Close.
        let mut endpoint = Endpoint::new(1 << 20, 1 << 20);
        let mut out = Vec::new();
        endpoint.receive(client_frame(Opcode::Binary, b"hello"), &mut out);
        let broke = broken(endpoint.handle_peer_ended(false)).expect("an abnormal closure");
        assert_eq!(broke.code(), crate::Code::WsAbnormalClose);
        assert!(broke
            .to_string()
            .contains("ended without a WebSocket Close"));
        assert!(endpoint.is_finished());
        // The stream's close that follows adds nothing.
        assert_eq!(broken(endpoint.handle_stream_closed(Some(0))), None);
        // The client's `end` alone is not enough: the server's side had not ended.
        let mut half = Endpoint::new(1 << 20, 1 << 20);
        half.receive(client_frame(Opcode::Text, b"end"), &mut out);
        let broke = broken(half.handle_stream_closed(None)).expect("an abnormal closure");
        assert_eq!(broke.code(), crate::Code::WsAbnormalClose);
        assert!(broke.to_string().contains("connection closed"));
        // The peer's Close (here before both ends: its own error) came first.
        let mut closed = Endpoint::new(1 << 20, 1 << 20);
        closed.receive(client_frame(Opcode::Close, &[0x03, 0xe8]), &mut out);
        assert_eq!(broken(closed.handle_peer_ended(false)), None);
        // Both directions ended and the server's Close 1000 is out: a peer
        // that goes without answering it lost nothing.
        let mut done = Endpoint::new(1 << 20, 1 << 20);
        done.end(&mut out);
        done.receive(client_frame(Opcode::Text, b"end"), &mut out);
        assert_eq!(broken(done.handle_peer_ended(false)), None);
    }

    #[test]
    fn an_end_the_stream_closed_after_is_left_to_its_close() {
        // Node ends a reset stream's readable side too: the reset decides.
        let mut endpoint = Endpoint::new(1 << 20, 1 << 20);
        assert_eq!(endpoint.handle_peer_ended(true), Ending::Leave);
        assert!(!endpoint.is_finished());
        let reset = broken(endpoint.handle_stream_closed(Some(8))).expect("a reset");
        assert_eq!(reset.code(), crate::Code::ClientReset);
    }

    // An Endpoint whose directions ended as told.
    fn ended(server: bool, client: bool) -> Endpoint {
        let mut endpoint = Endpoint::new(1 << 20, 1 << 20);
        let mut out = Vec::new();
        if server {
            endpoint.end(&mut out);
        }
        if client {
            endpoint.receive(client_frame(Opcode::Text, b"end"), &mut out);
        }
        endpoint
    }

    #[test]
    fn a_destroyed_duplex_awaits_the_peers_close_after_both_ends() {
        let done = Destroyed {
            writes_done: true,
            ..Destroyed::default()
        };
        let mut out = Vec::new();
        let mut endpoint = ended(true, true);
        assert_eq!(
            endpoint.handle_destroyed(&done, &mut out),
            Ending::EndAfter { ms: WS_CLOSE_MS }
        );
        assert!(out.is_empty(), "the Close 1000 went out already");
        // Its stream ended or gone: nothing more to do.
        for stream in [
            Destroyed {
                stream_ended: true,
                ..done
            },
            Destroyed {
                stream_gone: true,
                failed: true,
                ..done
            },
        ] {
            let mut endpoint = ended(false, false);
            assert_eq!(endpoint.handle_destroyed(&stream, &mut out), Ending::Leave);
            assert!(out.is_empty());
        }
    }

    #[test]
    fn a_destroyed_duplex_otherwise_closes_going_away_and_ends_at_once() {
        let going_away = [0x88, 2 + DESTROYED_REASON.len() as u8, 0x03, 0xe9];
        let done = Destroyed {
            writes_done: true,
            ..Destroyed::default()
        };
        for (mut endpoint, destroyed) in [
            // Before the client's end.
            (ended(true, false), done),
            // Before its own writes were done.
            (
                ended(true, true),
                Destroyed {
                    writes_done: false,
                    ..done
                },
            ),
            // With an error, after both ends: the Close 1000 is out, so
            // nothing more goes, but the stream ends at once.
            (
                ended(true, true),
                Destroyed {
                    failed: true,
                    ..done
                },
            ),
        ] {
            let mut out = Vec::new();
            let both = endpoint.both_ended();
            assert_eq!(
                endpoint.handle_destroyed(&destroyed, &mut out),
                Ending::End { broken: None }
            );
            if both {
                assert!(out.is_empty());
            } else {
                let [Action::Send(close)] = &out[..] else {
                    panic!("a Close: {out:?}")
                };
                assert_eq!(close[..4], going_away);
                assert_eq!(&close[4..], DESTROYED_REASON.as_bytes());
            }
        }
    }

    #[test]
    fn the_reader_gets_credit_back_for_what_it_took() {
        let window = 4 * INITIAL_CREDIT;
        let mut endpoint = Endpoint::new(window as usize, window);
        let mut out = Vec::new();
        endpoint.open(&mut out);
        out.clear();
        let half = vec![0u8; (window / 2) as usize];
        endpoint.receive(client_frame(Opcode::Binary, &half[..1000]), &mut out);
        endpoint.receive(client_frame(Opcode::Binary, &half[1000..]), &mut out);
        out.clear();
        // All of it still buffered, then all but 1 byte taken: no grant yet.
        endpoint.handle_read(window / 2, &mut out);
        endpoint.handle_read(1, &mut out);
        endpoint.handle_read(1, &mut out);
        assert!(out.is_empty(), "{out:?}");
        // The last byte taken: half the window goes back, once.
        endpoint.handle_read(0, &mut out);
        endpoint.handle_read(0, &mut out);
        assert_eq!(sent_text(&out), vec![format!("credit {}", window / 2)]);
    }

    // A masked client frame.
    fn client_frame(opcode: Opcode, payload: &[u8]) -> Bytes {
        let key = [1, 2, 3, 4];
        let (header, len) = encode_header(opcode, true, payload.len() as u64, Some(key));
        let mut body = payload.to_vec();
        mask_in_place(&mut body, key, 0);
        let mut out = header[..len].to_vec();
        out.extend_from_slice(&body);
        Bytes::from(out)
    }

    fn sent_text(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                // Unmasked server frames with short payloads: 2-byte header.
                Action::Send(frame) if frame[0] == 0x81 => {
                    Some(String::from_utf8_lossy(&frame[2..]).into_owned())
                }
                _ => None,
            })
            .collect()
    }

    fn resumable_server() -> Endpoint {
        let mut endpoint = Endpoint::new(4 << 20, INITIAL_CREDIT);
        endpoint.set_resumable();
        endpoint
    }

    const SECRET: &str = "AAAAAAAAAAAAAAAAAAAAAA";

    #[test]
    fn resume_the_client_opens_or_resumes_with_its_first_message() {
        let mut endpoint = resumable_server();
        let mut out = Vec::new();
        endpoint.receive(client_frame(Opcode::Text, b"open"), &mut out);
        assert_eq!(out, vec![Action::Open]);
        out.clear();
        let config = resume::Config {
            resume_buffer: 4096,
            resume_timeout_ms: 30_000,
        };
        endpoint.send_resumable("n1.x", SECRET, config, 200, &mut out);
        assert_eq!(
            sent_text(&out),
            vec![format!("resumable n1.x {SECRET} 4096 30000 200")]
        );
        out.clear();
        endpoint.receive(client_frame(Opcode::Text, b"ack 0"), &mut out);
        endpoint.receive(client_frame(Opcode::Text, b"ack 12"), &mut out);
        assert_eq!(
            out,
            vec![Action::Ack { count: 0 }, Action::Ack { count: 12 }]
        );

        let mut endpoint = resumable_server();
        out.clear();
        let request = format!("resume n1.x {SECRET} 77");
        endpoint.receive(client_frame(Opcode::Text, request.as_bytes()), &mut out);
        assert_eq!(
            out,
            vec![Action::Resume(ResumeRequest {
                id: "n1.x".into(),
                secret: SECRET.into(),
                received: 77
            })]
        );
        out.clear();
        endpoint.send_resumed(5, 0, &mut out);
        // No initial credit on a resumed WebSocket: the whole window is granted.
        assert_eq!(
            sent_text(&out),
            vec!["resumed 5".to_string(), format!("credit {}", 1 << 20)]
        );
        // Credit beyond the grant is a violation.
        out.clear();
        let too_much = vec![0u8; (1 << 20) + 1];
        endpoint.receive(client_frame(Opcode::Binary, &too_much), &mut out);
        assert!(matches!(
            out.last(),
            Some(Action::Finished {
                violation: Some(Violation::CreditExceeded),
                ..
            })
        ));
        // A reader that still holds a whole window: no grant until it reads.
        let mut endpoint = resumable_server();
        out.clear();
        endpoint.receive(client_frame(Opcode::Text, request.as_bytes()), &mut out);
        out.clear();
        endpoint.send_resumed(5, 2 << 20, &mut out);
        assert_eq!(sent_text(&out), vec!["resumed 5".to_string()]);
        assert!(out.len() == 1);
        endpoint.handle_read(0, &mut out);
        assert_eq!(sent_text(&out)[1], format!("credit {}", 1 << 20));
    }

    #[test]
    fn resume_a_bad_first_message_or_ack_is_a_violation() {
        let bad: [&[u8]; 9] = [
            b"end",
            b"resume n1.x short 1",
            b"resume n1.x AAAAAAAAAAAAAAAAAAAAAA",
            b"resume n1.x AAAAAAAAAAAAAAAAAAAAAA 01",
            b"resume n1.x AAAAAAAAAAAAAAAAAAAAAA 1 2",
            b"resume n1/x AAAAAAAAAAAAAAAAAAAAAA 1",
            b"opened",
            b"credit 5",
            b"id n1.x",
        ];
        for first in bad {
            let mut endpoint = resumable_server();
            let mut out = Vec::new();
            endpoint.receive(client_frame(Opcode::Text, first), &mut out);
            assert!(
                matches!(
                    out.last(),
                    Some(Action::Finished {
                        violation: Some(Violation::BadControlMessage),
                        ..
                    })
                ),
                "{:?}: {out:?}",
                String::from_utf8_lossy(first)
            );
        }
        // Data before the first message.
        let mut endpoint = resumable_server();
        let mut out = Vec::new();
        endpoint.receive(client_frame(Opcode::Binary, b"x"), &mut out);
        assert!(matches!(
            out.last(),
            Some(Action::Finished {
                violation: Some(_),
                ..
            })
        ));
        // An ack is not part of http2-duplex.1, nor a malformed one of .2.
        for (resumable, ack) in [(false, &b"ack 1"[..]), (true, b"ack -1"), (true, b"ack 00")] {
            let mut endpoint = Endpoint::new(1 << 20, INITIAL_CREDIT);
            let mut out = Vec::new();
            if resumable {
                endpoint.set_resumable();
                endpoint.receive(client_frame(Opcode::Text, b"open"), &mut out);
            }
            endpoint.receive(client_frame(Opcode::Text, ack), &mut out);
            assert!(matches!(
                out.last(),
                Some(Action::Finished {
                    violation: Some(_),
                    ..
                })
            ));
        }
    }

    #[test]
    fn resume_both_ends_wait_for_complete_and_a_failure_detaches() {
        let mut endpoint = resumable_server();
        let mut out = Vec::new();
        endpoint.receive(client_frame(Opcode::Text, b"open"), &mut out);
        endpoint.receive(client_frame(Opcode::Text, b"end"), &mut out);
        endpoint.end(&mut out);
        assert!(!endpoint.close_sent(), "both ends alone do not close .2");
        // The stream fails now: the duplex is detached, not broken.
        assert_eq!(endpoint.handle_stream_closed(Some(8)), Ending::Detach);

        let mut endpoint = resumable_server();
        out.clear();
        endpoint.receive(client_frame(Opcode::Text, b"open"), &mut out);
        endpoint.complete(&mut out);
        assert!(endpoint.close_sent());
        out.clear();
        endpoint.receive(
            client_frame(Opcode::Close, &close_payload(1000, "")),
            &mut out,
        );
        assert!(matches!(
            out.last(),
            Some(Action::Finished {
                early: false,
                detached: false,
                ..
            })
        ));

        // The client abandons a hung WebSocket: Close 4001.
        let mut endpoint = resumable_server();
        out.clear();
        endpoint.receive(client_frame(Opcode::Text, b"open"), &mut out);
        let abandon = close_payload(close_code::RESUMING, RESUMING_REASON);
        endpoint.receive(client_frame(Opcode::Close, &abandon), &mut out);
        let finished = out.last().unwrap();
        assert!(matches!(finished, Action::Finished { detached: true, .. }));
        assert_eq!(finished.server_failure(), None);
        // Without resume, the same Close ends the duplex.
        let mut endpoint = Endpoint::new(1 << 20, INITIAL_CREDIT);
        out.clear();
        endpoint.receive(client_frame(Opcode::Close, &abandon), &mut out);
        assert!(out.last().unwrap().server_failure().is_some());
    }

    #[test]
    fn resume_the_client_reads_the_answers_and_a_refusal() {
        let mut client = Endpoint::client(1 << 20, INITIAL_CREDIT);
        client.set_resumable();
        let mut out = Vec::new();
        client.send_open(&mut out);
        client.send_resume("n1.x", SECRET, 3, &mut out);
        assert_eq!(out.len(), 2);
        out.clear();
        let answer = format!("resumable n1.x {SECRET} 4096 30000 0");
        client.receive(server_frame(Opcode::Text, answer.as_bytes()), &mut out);
        assert_eq!(
            out,
            vec![Action::Resumable(ResumableDuplex {
                id: "n1.x".into(),
                secret: SECRET.into(),
                resume_buffer: 4096,
                resume_timeout_ms: 30_000,
                keepalive_ms: 0
            })]
        );
        assert_eq!(client.peer_id(), Some("n1.x"));

        let mut client = Endpoint::client(1 << 20, INITIAL_CREDIT);
        client.set_resumable();
        out.clear();
        client.receive(server_frame(Opcode::Text, b"resumed 9"), &mut out);
        assert_eq!(out, vec![Action::Resumed { received: 9 }]);
        assert_eq!(client.send_credit(), 0, "nothing before the server's grant");
        client.receive(server_frame(Opcode::Text, b"credit 100"), &mut out);
        assert_eq!(client.send_credit(), 100);

        let mut client = Endpoint::client(1 << 20, INITIAL_CREDIT);
        client.set_resumable();
        out.clear();
        let refusal = close_payload(
            close_code::POLICY_VIOLATION,
            "ERR_HTTP2_DUPLEX_RESUME_UNKNOWN",
        );
        client.receive(server_frame(Opcode::Close, &refusal), &mut out);
        assert_eq!(
            out[0],
            Action::ResumeRefused {
                code: Code::ResumeUnknown
            }
        );
        assert!(matches!(
            out.last(),
            Some(Action::Finished { early: true, .. })
        ));
    }

    #[test]
    fn data_both_ways_then_a_clean_close() {
        let mut endpoint = Endpoint::new(1 << 20, INITIAL_CREDIT);
        let mut out = Vec::new();
        endpoint.open(&mut out);
        assert!(out.is_empty(), "no grant beyond the initial credit");
        endpoint.receive(client_frame(Opcode::Binary, b"hello"), &mut out);
        assert_eq!(out, vec![Action::Deliver(Bytes::from_static(b"hello"))]);
        assert_eq!(endpoint.send_credit(), INITIAL_CREDIT);
        let (header, len) = endpoint.data_header(3).unwrap();
        assert_eq!(&header[..len], &[0x82, 3]);
        assert_eq!(endpoint.send_credit(), INITIAL_CREDIT - 3);
        out.clear();
        endpoint.receive(client_frame(Opcode::Text, b"end"), &mut out);
        assert_eq!(out, vec![Action::End]);
        out.clear();
        endpoint.end(&mut out);
        assert_eq!(sent_text(&out), vec!["end".to_owned()]);
        // Both ended: the server's Close 1000 goes out.
        assert!(matches!(&out[1], Action::Send(f) if f[..4] == [0x88, 2, 0x03, 0xe8]));
        out.clear();
        endpoint.receive(client_frame(Opcode::Close, &[0x03, 0xe8]), &mut out);
        assert_eq!(
            out,
            vec![Action::Finished {
                code: Some(1000),
                violation: None,
                early: false,
                detached: false
            }]
        );
        assert_eq!(endpoint.send_credit(), 0);
    }

    #[test]
    fn a_close_before_both_ends_is_early_and_breaks_the_servers_duplex() {
        let finished = |out: &[Action]| out.last().cloned().expect("an action");
        // The client closes after its `end`, before the server's.
        let mut endpoint = Endpoint::new(1 << 20, INITIAL_CREDIT);
        let mut out = Vec::new();
        endpoint.receive(client_frame(Opcode::Text, b"end"), &mut out);
        endpoint.receive(client_frame(Opcode::Close, &[0x03, 0xe9]), &mut out);
        let last = finished(&out);
        assert!(matches!(
            last,
            Action::Finished {
                code: Some(1001),
                violation: None,
                early: true,
                detached: false
            }
        ));
        let broke = last.server_failure().expect("a failure");
        assert_eq!(broke.code(), crate::Code::WsClosed);
        assert_eq!(
            broke.to_string(),
            "the client closed the WebSocket (code 1001) before both directions had ended"
        );
        // A violation breaks it with its own code, whatever the ends.
        let mut endpoint = Endpoint::new(1 << 20, INITIAL_CREDIT);
        out.clear();
        endpoint.receive(Bytes::from_static(&[0x82, 0x01, 0x00]), &mut out);
        let last = finished(&out);
        assert!(matches!(last, Action::Finished { early: false, .. }));
        let broke = last.server_failure().expect("a failure");
        assert_eq!(broke.code(), crate::Code::WsProtocol);
        assert_eq!(broke.to_string(), "WebSocket closed: bad masking");
        // Both `end`s went: the close is clean.
        let mut endpoint = Endpoint::new(1 << 20, INITIAL_CREDIT);
        out.clear();
        endpoint.end(&mut out);
        endpoint.receive(client_frame(Opcode::Text, b"end"), &mut out);
        endpoint.receive(client_frame(Opcode::Close, &[0x03, 0xe8]), &mut out);
        let last = finished(&out);
        assert!(matches!(last, Action::Finished { early: false, .. }));
        assert_eq!(last.server_failure(), None);
        assert_eq!(Action::End.server_failure(), None);
    }

    #[test]
    fn credit_is_granted_as_the_reader_consumes_and_enforced() {
        let window = 4 * INITIAL_CREDIT;
        let mut endpoint = Endpoint::new(1 << 20, window);
        let mut out = Vec::new();
        endpoint.open(&mut out);
        assert_eq!(
            sent_text(&out),
            vec![format!("credit {}", 3 * INITIAL_CREDIT)]
        );
        out.clear();
        endpoint.consumed(10, &mut out);
        assert!(out.is_empty(), "nothing was received");
        // The server may send only what the client granted.
        assert!(endpoint.data_header(INITIAL_CREDIT + 1).is_none());
        endpoint.receive(client_frame(Opcode::Text, b"credit 5"), &mut out);
        assert_eq!(out, vec![Action::Credit]);
        assert!(endpoint.data_header(INITIAL_CREDIT + 5).is_some());
    }

    #[test]
    fn a_client_past_its_credit_or_breaking_the_protocol_is_closed() {
        let mut endpoint = Endpoint::new(4 << 20, INITIAL_CREDIT);
        let mut out = Vec::new();
        let big = vec![0u8; INITIAL_CREDIT as usize + 1];
        endpoint.receive(client_frame(Opcode::Binary, &big), &mut out);
        assert!(matches!(
            out.last(),
            Some(Action::Finished {
                violation: Some(Violation::CreditExceeded),
                ..
            })
        ));
        let mut unmasked = Endpoint::new(1 << 20, INITIAL_CREDIT);
        out.clear();
        unmasked.receive(Bytes::from_static(&[0x82, 0x01, 0x00]), &mut out);
        assert!(matches!(
            out.last(),
            Some(Action::Finished {
                violation: Some(Violation::Masking),
                ..
            })
        ));
        assert!(matches!(&out[0], Action::Send(f) if f[0] == 0x88));
    }

    // An unmasked server frame.
    fn server_frame(opcode: Opcode, payload: &[u8]) -> Bytes {
        let (header, len) = encode_header(opcode, true, payload.len() as u64, None);
        let mut out = header[..len].to_vec();
        out.extend_from_slice(payload);
        Bytes::from(out)
    }

    // Unmasks a client frame: (opcode, payload).
    fn unmask(frame: &[u8]) -> (u8, Vec<u8>) {
        assert_eq!(frame[1] & 0x80, 0x80, "client frames are masked");
        let (len, at) = match frame[1] & 0x7f {
            126 => (u16::from_be_bytes([frame[2], frame[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(frame[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        let key = [frame[at], frame[at + 1], frame[at + 2], frame[at + 3]];
        let mut payload = frame[at + 4..at + 4 + len].to_vec();
        mask_in_place(&mut payload, key, 0);
        (frame[0], payload)
    }

    #[test]
    fn a_client_masks_what_it_sends_and_takes_unmasked_frames() {
        let mut endpoint = Endpoint::client(1 << 20, 2 * INITIAL_CREDIT);
        assert_eq!(endpoint.role(), Role::Client);
        let mut out = Vec::new();
        endpoint.open(&mut out);
        let Action::Send(grant) = &out[0] else {
            panic!("a grant")
        };
        assert_eq!(
            unmask(grant),
            (0x81, format!("credit {INITIAL_CREDIT}").into_bytes())
        );
        out.clear();
        endpoint.receive(server_frame(Opcode::Binary, b"hi"), &mut out);
        assert_eq!(out, vec![Action::Deliver(Bytes::from_static(b"hi"))]);
        // Two data frames: the payload masked in place, fresh keys.
        let mut first = b"hello".to_vec();
        let (h1, n1) = endpoint.data_frame(&mut first).unwrap();
        let mut second = b"hello".to_vec();
        let (h2, n2) = endpoint.data_frame(&mut second).unwrap();
        assert_eq!(&h1[..2], &[0x82, 0x85]);
        let mut whole = h1[..n1].to_vec();
        whole.extend_from_slice(&first);
        assert_eq!(unmask(&whole), (0x82, b"hello".to_vec()));
        assert!(
            h1[2..n1] != h2[2..n2] || first != second,
            "a fresh key per frame"
        );
        assert_eq!(endpoint.send_credit(), INITIAL_CREDIT - 10);
        // A masked server frame is a protocol error.
        out.clear();
        endpoint.receive(client_frame(Opcode::Binary, b"x"), &mut out);
        assert!(matches!(
            out.last(),
            Some(Action::Finished {
                violation: Some(Violation::Masking),
                ..
            })
        ));
        let Action::Send(close) = &out[0] else {
            panic!("a Close")
        };
        assert_eq!(unmask(close).0, 0x88);
    }

    #[test]
    fn a_ping_goes_out_whole_and_the_answer_is_heard_quietly() {
        let mut server = Endpoint::new(1 << 20, 1 << 20);
        let mut client = Endpoint::client(1 << 20, 1 << 20);
        let mut out = Vec::new();
        server.ping(&mut out);
        assert_eq!(out, vec![Action::Send(server_frame(Opcode::Ping, b""))]);
        // The client answers by itself with a masked Pong.
        let Some(Action::Send(ping)) = out.pop() else {
            panic!("a Ping")
        };
        client.receive(ping, &mut out);
        let [Action::Send(pong)] = &out[..] else {
            panic!("a Pong: {out:?}")
        };
        assert_eq!(unmask(pong), (0x8a, Vec::new()));
        // The server takes the Pong without a word, and data as before.
        let pong = pong.clone();
        out.clear();
        server.receive(pong, &mut out);
        assert!(out.is_empty(), "{out:?}");
        server.receive(client_frame(Opcode::Binary, b"hi"), &mut out);
        assert_eq!(out, vec![Action::Deliver(Bytes::from_static(b"hi"))]);
        // No Ping once its Close is out.
        out.clear();
        server.close(close_code::GOING_AWAY, DESTROYED_REASON, &mut out);
        out.clear();
        server.ping(&mut out);
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn a_client_closes_cleanly_once_both_directions_ended() {
        let mut endpoint = Endpoint::client(1 << 20, INITIAL_CREDIT);
        let mut out = Vec::new();
        endpoint.end(&mut out);
        assert_eq!(
            unmask(match &out[0] {
                Action::Send(f) => f,
                _ => panic!(),
            }),
            (0x81, b"end".to_vec())
        );
        out.clear();
        endpoint.receive(server_frame(Opcode::Text, b"end"), &mut out);
        assert_eq!(out[0], Action::End);
        assert!(endpoint.both_ended());
        // The client's Close 1000 (it may close too), then the server's.
        assert!(matches!(&out[1], Action::Send(f) if unmask(f) == (0x88, vec![0x03, 0xe8])));
        out.clear();
        endpoint.receive(server_frame(Opcode::Close, &[0x03, 0xe8]), &mut out);
        assert_eq!(
            out,
            vec![Action::Finished {
                code: Some(1000),
                violation: None,
                early: false,
                detached: false
            }]
        );
    }

    #[test]
    fn the_server_names_the_id_first_and_only_the_client_takes_it() {
        let mut server = Endpoint::new(1 << 20, 2 * INITIAL_CREDIT);
        let mut out = Vec::new();
        server.open_with_id("n1.abc-def", &mut out);
        assert_eq!(
            sent_text(&out),
            vec![
                "id n1.abc-def".to_owned(),
                format!("credit {INITIAL_CREDIT}")
            ]
        );
        let mut client = Endpoint::client(1 << 20, INITIAL_CREDIT);
        let mut actions = Vec::new();
        for action in out {
            if let Action::Send(frame) = action {
                client.receive(frame, &mut actions);
            }
        }
        assert_eq!(client.peer_id(), Some("n1.abc-def"));
        assert_eq!(actions, vec![Action::Credit]);
        // Later, or from the client, `id` is a bad message (1008).
        let mut client = Endpoint::client(1 << 20, INITIAL_CREDIT);
        let mut actions = Vec::new();
        client.receive(server_frame(Opcode::Text, b"credit 5"), &mut actions);
        client.receive(server_frame(Opcode::Text, b"id x"), &mut actions);
        assert!(matches!(
            actions.last(),
            Some(Action::Finished {
                violation: Some(Violation::BadControlMessage),
                ..
            })
        ));
        let mut server = Endpoint::new(1 << 20, INITIAL_CREDIT);
        let mut actions = Vec::new();
        server.receive(client_frame(Opcode::Text, b"id x"), &mut actions);
        assert!(matches!(
            actions.last(),
            Some(Action::Finished {
                violation: Some(Violation::BadControlMessage),
                ..
            })
        ));
        // An id the server would never send.
        for bad in [&b"id "[..], b"id a b", b"id \xff"] {
            let mut client = Endpoint::client(1 << 20, INITIAL_CREDIT);
            let mut actions = Vec::new();
            client.receive(server_frame(Opcode::Text, bad), &mut actions);
            assert!(client.peer_id().is_none());
            assert!(
                matches!(actions.last(), Some(Action::Finished { .. })),
                "{bad:?}"
            );
        }
    }
}
