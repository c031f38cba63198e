//! The framed GET body (docs/protocol.md, "Framed GET body"): after the
//! preamble byte, frames of one type byte, a 4-byte big-endian length and the
//! payload. DATA carries the server's writes, PING keeps an idle GET alive
//! through proxies, END says the server ended on purpose.

use bytes::{Buf, Bytes, BytesMut};

pub use crate::protocol::frame::{DATA, END, HEADER_BYTES as HEADER_LEN, PING};
/// The value of `http2-duplex-framing` a client sends and a server answers.
pub use crate::protocol::value::FRAMING_VERSION;

/// Whether a GET's `http2-duplex-framing` header asks for frames this
/// version speaks.
pub fn wants_framing(header: Option<&str>) -> bool {
    header
        .map(|value| value.split(',').any(|v| v.trim() == FRAMING_VERSION))
        .unwrap_or(false)
}

/// The header of a frame of `kind` carrying `len` bytes.
pub const fn frame_header(kind: u8, len: u32) -> [u8; HEADER_LEN] {
    let [a, b, c, d] = len.to_be_bytes();
    [kind, a, b, c, d]
}

/// What every GET body starts with, framed or not: fetch may resolve only
/// once the first byte came, and the server may not write for a while.
pub const PREAMBLE: &[u8] = crate::protocol::value::PREAMBLE.as_bytes();

/// The keep-alive an idle framed GET carries (`crate::tick` says when).
pub const PING_FRAME: [u8; HEADER_LEN] = frame_header(PING, 0);

/// The last frame of a framed GET whose server ended on purpose.
pub const END_FRAME: [u8; HEADER_LEN] = frame_header(END, 0);

/// The header before a write of `len` bytes on a framed GET.
pub fn data_header(len: u32) -> [u8; HEADER_LEN] {
    frame_header(DATA, len)
}

/// What a framed body said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    Data(Bytes),
    End,
}

/// A framed body that went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FramingError {
    /// Bytes after the END frame.
    AfterEnd,
    /// The body ended without an END frame.
    Truncated,
}

/// Decodes a framed body piece by piece, without copying DATA payloads that
/// arrive whole in one piece.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buffered: BytesMut,
    /// Type and remaining length of the frame whose payload is being read.
    current: Option<(u8, usize)>,
    ended: bool,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next piece of the body (after the preamble byte); appends
    /// what it completes to `out`.
    pub fn feed(&mut self, mut piece: Bytes, out: &mut Vec<Frame>) -> Result<(), FramingError> {
        while !piece.is_empty() {
            if self.ended {
                return Err(FramingError::AfterEnd);
            }
            match self.current {
                None => {
                    let need = HEADER_LEN - self.buffered.len();
                    let take = need.min(piece.len());
                    self.buffered.extend_from_slice(&piece[..take]);
                    piece.advance(take);
                    if self.buffered.len() == HEADER_LEN {
                        let kind = self.buffered[0];
                        let len = u32::from_be_bytes([
                            self.buffered[1],
                            self.buffered[2],
                            self.buffered[3],
                            self.buffered[4],
                        ]) as usize;
                        self.buffered.clear();
                        self.current = Some((kind, len));
                        if len == 0 {
                            self.finish_frame(kind, out);
                        }
                    }
                }
                Some((kind, left)) => {
                    let take = left.min(piece.len());
                    let part = piece.split_to(take);
                    if kind == DATA && !part.is_empty() {
                        // Payloads are delivered as they come: a DATA frame
                        // need not be whole to be passed on.
                        out.push(Frame::Data(part));
                    }
                    let left = left - take;
                    self.current = Some((kind, left));
                    if left == 0 {
                        self.finish_frame(kind, out);
                    }
                }
            }
        }
        Ok(())
    }

    fn finish_frame(&mut self, kind: u8, out: &mut Vec<Frame>) {
        self.current = None;
        if kind == END {
            self.ended = true;
            out.push(Frame::End);
        }
    }

    /// The body ended: fine only after the END frame.
    pub fn finish(&self) -> Result<(), FramingError> {
        if self.ended {
            Ok(())
        } else {
            Err(FramingError::Truncated)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(frames: &[(u8, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (kind, payload) in frames {
            out.extend_from_slice(&frame_header(*kind, payload.len() as u32));
            out.extend_from_slice(payload);
        }
        out
    }

    fn data(frames: &[Frame]) -> Vec<u8> {
        frames
            .iter()
            .flat_map(|f| match f {
                Frame::Data(b) => b.to_vec(),
                Frame::End => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn header_layout() {
        assert_eq!(frame_header(DATA, 0x0102_0304), [0, 1, 2, 3, 4]);
        assert_eq!(data_header(0x0102_0304), [0, 1, 2, 3, 4]);
        assert_eq!(PING_FRAME, [1, 0, 0, 0, 0]);
        assert_eq!(END_FRAME, [2, 0, 0, 0, 0]);
        assert_eq!(PREAMBLE, b"a");
        assert!(wants_framing(Some("1")));
        assert!(wants_framing(Some("2, 1")));
        assert!(!wants_framing(Some("2")));
        assert!(!wants_framing(None));
    }

    #[test]
    fn decodes_whatever_the_split() {
        let bytes = body(&[
            (DATA, b"hello"),
            (PING, b""),
            (0x7f, b"unknown"),
            (DATA, b" world"),
            (END, b""),
        ]);
        for split in 0..bytes.len() {
            let mut decoder = FrameDecoder::new();
            let mut out = Vec::new();
            decoder
                .feed(Bytes::copy_from_slice(&bytes[..split]), &mut out)
                .unwrap();
            decoder
                .feed(Bytes::copy_from_slice(&bytes[split..]), &mut out)
                .unwrap();
            assert_eq!(data(&out), b"hello world", "split at {split}");
            assert_eq!(out.last(), Some(&Frame::End));
            assert_eq!(decoder.finish(), Ok(()));
        }
    }

    #[test]
    fn a_body_without_end_is_truncated() {
        let mut decoder = FrameDecoder::new();
        let mut out = Vec::new();
        decoder
            .feed(Bytes::from(body(&[(DATA, b"partial")])), &mut out)
            .unwrap();
        assert_eq!(decoder.finish(), Err(FramingError::Truncated));
        let mut after = FrameDecoder::new();
        let bytes = body(&[(END, b""), (DATA, b"x")]);
        assert_eq!(
            after.feed(Bytes::from(bytes), &mut out),
            Err(FramingError::AfterEnd)
        );
    }
}
