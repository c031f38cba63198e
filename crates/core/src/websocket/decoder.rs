//! Decoding the frames of one stream into messages.
//!
//! # Copies
//!
//! An unmasked payload (the client role) is never copied when its frame
//! arrives whole in one piece: the event holds a slice of the input.
//!
//! A masked payload (the server role) has to be written to be unmasked. When
//! the caller hands over the only reference to its buffer
//! (`Bytes::from(Vec<u8>)`, say), the decoder takes ownership of it
//! ([`Bytes::try_into_mut`]) and unmasks in place: no copy. Otherwise (a
//! shared [`Bytes`], or a borrowed slice: [`Piece`]) it copies each masked
//! payload once, unmasking as part of it. A caller that would have to copy
//! its input to hand it over (the JS adapter) borrows it instead: what is
//! copied is then only what the events keep.
//!
//! A message that is fragmented, or whose frame is split across pieces of
//! input, is copied once into a buffer that grows with what arrived (at first
//! to [`FIRST_RESERVE`], then at most doubling) and never beyond the maximum
//! message size; the finished buffer becomes the event's [`Bytes`] without
//! another copy.

use std::cmp::{max, min};

use bytes::{Buf, Bytes, BytesMut};

use super::frame::{
    is_valid_close_code, mask_in_place, Opcode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN,
};
use super::{Close, Role, Violation};

/// What the peer said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A complete binary message.
    Binary(Bytes),
    /// A complete text message, valid UTF-8.
    Text(Bytes),
    Ping(Bytes),
    Pong(Bytes),
    /// The peer's Close: its code (none if the frame was empty) and reason
    /// (valid UTF-8). The decoder reads nothing after it.
    Close {
        code: Option<u16>,
        reason: Bytes,
    },
}

#[derive(Clone, Copy, Debug)]
struct Frame {
    opcode: Opcode,
    fin: bool,
    mask: Option<[u8; 4]>,
    len: u64,
    read: u64,
}

/// A split data frame's first piece reserves this much of its frame (a
/// socket read's worth) rather than just what arrived: a 64 KiB message in
/// 16 KiB TLS records then takes one allocation, not three.
pub const FIRST_RESERVE: usize = 64 * 1024;

/// A piece of the stream as the caller has it: [`Bytes`] the decoder may take
/// over, or a slice it only reads.
pub enum Piece<'a> {
    Bytes(Bytes),
    Slice(&'a [u8]),
}

impl From<Bytes> for Piece<'_> {
    fn from(bytes: Bytes) -> Self {
        Piece::Bytes(bytes)
    }
}

impl<'a> From<&'a [u8]> for Piece<'a> {
    fn from(slice: &'a [u8]) -> Self {
        Piece::Slice(slice)
    }
}

/// The input being decoded: shared, borrowed, or owned (and so writable in place).
enum Input<'a> {
    Shared(Bytes),
    Borrowed(&'a [u8]),
    Owned(BytesMut),
}

impl<'a> Input<'a> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Input::Shared(b) => b,
            Input::Borrowed(b) => b,
            Input::Owned(b) => b,
        }
    }

    fn advance(&mut self, n: usize) {
        match self {
            Input::Shared(b) => b.advance(n),
            Input::Borrowed(b) => *b = &b[n..],
            Input::Owned(b) => b.advance(n),
        }
    }

    fn take(&mut self, n: usize) -> Input<'a> {
        match self {
            Input::Shared(b) => Input::Shared(b.split_to(n)),
            Input::Borrowed(b) => {
                let (taken, rest) = b.split_at(n);
                *b = rest;
                Input::Borrowed(taken)
            }
            Input::Owned(b) => Input::Owned(b.split_to(n)),
        }
    }

    /// These bytes unmasked, `offset` bytes into their frame's payload.
    fn into_unmasked(self, mask: Option<[u8; 4]>, offset: usize) -> Bytes {
        match (self, mask) {
            (Input::Shared(b), None) => b,
            (Input::Borrowed(b), None) => Bytes::copy_from_slice(b),
            (Input::Owned(b), None) => b.freeze(),
            (Input::Owned(mut b), Some(key)) => {
                mask_in_place(&mut b, key, offset);
                b.freeze()
            }
            (Input::Shared(b), Some(key)) => unmasked_copy(&b, key, offset),
            (Input::Borrowed(b), Some(key)) => unmasked_copy(b, key, offset),
        }
    }
}

fn unmasked_copy(masked: &[u8], key: [u8; 4], offset: usize) -> Bytes {
    let mut copy = masked.to_vec();
    mask_in_place(&mut copy, key, offset);
    Bytes::from(copy)
}

/// Decodes the frames of one stream, piece by piece, for one [`Role`].
///
/// No extension is negotiated: any RSV bit is a protocol error. The length
/// of a frame is not required to be minimally encoded.
#[derive(Debug)]
pub struct Decoder {
    role: Role,
    max_message: usize,
    header: [u8; MAX_HEADER_LEN],
    header_len: usize,
    frame: Option<Frame>,
    /// The data message being read (its first frame is in), text or not.
    message: Option<bool>,
    /// The message's payload so far, when it is not one whole piece.
    buf: Vec<u8>,
    /// How much of `buf` is known to be valid UTF-8 (text messages).
    valid: usize,
    /// The current frame's payload, when it arrived whole and alone.
    whole: Option<Bytes>,
    /// A control frame's payload so far, when split across pieces.
    control: Vec<u8>,
    done: bool,
}

impl Decoder {
    /// A decoder for `role` that refuses messages longer than `max_message`
    /// bytes with close code 1009.
    pub fn new(role: Role, max_message: usize) -> Self {
        Decoder {
            role,
            max_message,
            header: [0; MAX_HEADER_LEN],
            header_len: 0,
            frame: None,
            message: None,
            buf: Vec::new(),
            valid: 0,
            whole: None,
            control: Vec::new(),
            done: false,
        }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn max_message(&self) -> usize {
        self.max_message
    }

    /// Whether the decoder stopped: it decoded a Close, or refused input.
    /// It ignores whatever it is fed after that.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The heap memory the decoder holds: at most the maximum message size
    /// plus one control frame's payload (125 bytes).
    pub fn buffered(&self) -> usize {
        self.buf.capacity() + self.control.capacity()
    }

    /// Feeds the next piece of the stream; appends the events it completes
    /// to `out`. On a violation, returns the Close to send; the events before
    /// it stay in `out`, and the decoder ignores everything after.
    pub fn feed<'a>(
        &mut self,
        input: impl Into<Piece<'a>>,
        out: &mut Vec<Event>,
    ) -> Result<(), Close> {
        let mut input = match (input.into(), self.role) {
            (Piece::Slice(slice), _) => Input::Borrowed(slice),
            (Piece::Bytes(bytes), Role::Server) => match bytes.try_into_mut() {
                Ok(owned) => Input::Owned(owned),
                Err(shared) => Input::Shared(shared),
            },
            (Piece::Bytes(bytes), Role::Client) => Input::Shared(bytes),
        };
        if self.done || input.len() == 0 {
            return Ok(());
        }
        let result = self.run(&mut input, out);
        if result.is_err() {
            self.done = true;
            self.buf = Vec::new();
            self.control = Vec::new();
            self.whole = None;
        }
        result
    }

    fn run(&mut self, input: &mut Input<'_>, out: &mut Vec<Event>) -> Result<(), Close> {
        while !self.done {
            if self.frame.is_none() && !self.read_header(input)? {
                return Ok(());
            }
            let mut frame = self.frame.expect("a frame is being read");
            let remaining = frame.len - frame.read;
            if remaining > 0 {
                if input.len() == 0 {
                    return Ok(());
                }
                let n = min(remaining, input.len() as u64) as usize;
                let piece = input.take(n);
                let offset = (frame.read % 4) as usize;
                frame.read += n as u64;
                self.frame = Some(frame);
                let completes = frame.read == frame.len;
                if frame.opcode.is_control() {
                    if completes && self.control.is_empty() {
                        self.whole = Some(piece.into_unmasked(frame.mask, offset));
                    } else {
                        // One buffer for every split control frame: 125 bytes.
                        if self.control.capacity() == 0 {
                            self.control.reserve_exact(MAX_CONTROL_PAYLOAD);
                        }
                        let start = self.control.len();
                        self.control.extend_from_slice(piece.as_slice());
                        if let Some(key) = frame.mask {
                            mask_in_place(&mut self.control[start..], key, offset);
                        }
                    }
                } else if completes && frame.fin && self.buf.is_empty() {
                    self.whole = Some(piece.into_unmasked(frame.mask, offset));
                } else {
                    let frame_end = self.buf.len() + remaining as usize;
                    self.append(piece.as_slice(), frame_end, frame.mask, offset)?;
                }
            }
            if frame.read == frame.len {
                self.frame = None;
                self.finish(frame, out)?;
            }
        }
        Ok(())
    }

    /// How many header bytes the frame being started has.
    fn header_need(&self) -> usize {
        if self.header_len < 2 {
            return 2;
        }
        let b1 = self.header[1];
        let ext = match b1 & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        2 + ext + if b1 & 0x80 != 0 { 4 } else { 0 }
    }

    /// Reads header bytes; sets `self.frame` once the header is complete.
    fn read_header(&mut self, input: &mut Input<'_>) -> Result<bool, Close> {
        loop {
            let need = self.header_need();
            if self.header_len == need {
                break;
            }
            if input.len() == 0 {
                return Ok(false);
            }
            let take = min(need - self.header_len, input.len());
            self.header[self.header_len..self.header_len + take]
                .copy_from_slice(&input.as_slice()[..take]);
            input.advance(take);
            let before = self.header_len;
            self.header_len += take;
            if before < 2 && self.header_len >= 2 {
                self.check_start()?;
            }
        }
        let (b0, b1) = (self.header[0], self.header[1]);
        let opcode = Opcode::from_u8(b0 & 0x0f).expect("checked");
        let (len, at) = match b1 & 0x7f {
            126 => (
                u16::from_be_bytes([self.header[2], self.header[3]]) as u64,
                4,
            ),
            127 => {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&self.header[2..10]);
                (u64::from_be_bytes(bytes), 10)
            }
            short => (short as u64, 2),
        };
        let mask = (b1 & 0x80 != 0).then(|| {
            let mut key = [0u8; 4];
            key.copy_from_slice(&self.header[at..at + 4]);
            key
        });
        self.header_len = 0;
        if len >> 63 != 0 {
            return Err(Violation::LengthTopBit.into());
        }
        match opcode {
            Opcode::Close if len == 1 => return Err(Violation::CloseLengthOne.into()),
            Opcode::Text | Opcode::Binary | Opcode::Continuation => {
                let room = self.max_message.saturating_sub(self.buf.len());
                if len > room as u64 {
                    return Err(Violation::TooBig.into());
                }
                if opcode != Opcode::Continuation {
                    self.message = Some(opcode == Opcode::Text);
                }
            }
            _ => {}
        }
        self.frame = Some(Frame {
            opcode,
            fin: b0 & 0x80 != 0,
            mask,
            len,
            read: 0,
        });
        Ok(true)
    }

    /// Checks what the first two bytes of a header say.
    fn check_start(&self) -> Result<(), Close> {
        let (b0, b1) = (self.header[0], self.header[1]);
        if b0 & 0x70 != 0 {
            return Err(Violation::ReservedBits.into());
        }
        let Some(opcode) = Opcode::from_u8(b0 & 0x0f) else {
            return Err(Violation::UnknownOpcode.into());
        };
        let masked = b1 & 0x80 != 0;
        if masked != (self.role == Role::Server) {
            return Err(Violation::Masking.into());
        }
        if opcode.is_control() {
            if b0 & 0x80 == 0 {
                return Err(Violation::ControlFragmented.into());
            }
            if (b1 & 0x7f) as usize > MAX_CONTROL_PAYLOAD {
                return Err(Violation::ControlTooLong.into());
            }
        } else if opcode == Opcode::Continuation {
            if self.message.is_none() {
                return Err(Violation::UnexpectedContinuation.into());
            }
        } else if self.message.is_some() {
            return Err(Violation::ExpectedContinuation.into());
        }
        Ok(())
    }

    /// Appends a piece of a data message to the buffer, unmasking it and
    /// checking text as it arrives. The buffer grows at most to `frame_end`,
    /// the end of the current frame, which the header check bounded by the
    /// maximum message size.
    fn append(
        &mut self,
        piece: &[u8],
        frame_end: usize,
        mask: Option<[u8; 4]>,
        offset: usize,
    ) -> Result<(), Close> {
        let start = self.buf.len();
        let needed = start + piece.len();
        if needed > self.buf.capacity() {
            let grown = max(self.buf.capacity() * 2, FIRST_RESERVE);
            let target = max(needed, min(grown, frame_end));
            self.buf.reserve_exact(target - start);
        }
        self.buf.extend_from_slice(piece);
        if let Some(key) = mask {
            mask_in_place(&mut self.buf[start..], key, offset);
        }
        if self.message == Some(true) {
            match std::str::from_utf8(&self.buf[self.valid..]) {
                Ok(_) => self.valid = self.buf.len(),
                Err(e) if e.error_len().is_some() => return Err(Violation::InvalidUtf8.into()),
                Err(e) => self.valid += e.valid_up_to(),
            }
        }
        Ok(())
    }

    fn finish(&mut self, frame: Frame, out: &mut Vec<Event>) -> Result<(), Close> {
        if frame.opcode.is_control() {
            let payload = match self.whole.take() {
                Some(whole) => whole,
                None => {
                    let payload = Bytes::copy_from_slice(&self.control);
                    self.control.clear();
                    payload
                }
            };
            out.push(match frame.opcode {
                Opcode::Ping => Event::Ping(payload),
                Opcode::Pong => Event::Pong(payload),
                _ => {
                    let event = parse_close(payload)?;
                    self.done = true;
                    event
                }
            });
            return Ok(());
        }
        if !frame.fin {
            return Ok(());
        }
        let text = self.message.take() == Some(true);
        let payload = match self.whole.take() {
            Some(whole) => {
                if text && std::str::from_utf8(&whole).is_err() {
                    return Err(Violation::InvalidUtf8.into());
                }
                whole
            }
            None => {
                if text && self.valid != self.buf.len() {
                    return Err(Violation::InvalidUtf8.into());
                }
                self.valid = 0;
                Bytes::from(std::mem::take(&mut self.buf))
            }
        };
        out.push(if text {
            Event::Text(payload)
        } else {
            Event::Binary(payload)
        });
        Ok(())
    }
}

fn parse_close(payload: Bytes) -> Result<Event, Close> {
    if payload.is_empty() {
        return Ok(Event::Close {
            code: None,
            reason: payload,
        });
    }
    let code = u16::from_be_bytes([payload[0], payload[1]]);
    if !is_valid_close_code(code) {
        return Err(Violation::CloseCode.into());
    }
    let reason = payload.slice(2..);
    if std::str::from_utf8(&reason).is_err() {
        return Err(Violation::InvalidUtf8.into());
    }
    Ok(Event::Close {
        code: Some(code),
        reason,
    })
}
