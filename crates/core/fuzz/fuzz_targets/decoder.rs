//! Arbitrary bytes into the WebSocket decoder, in arbitrary pieces, either
//! role, through the session and the http2-duplex.1 channel: it never
//! panics, never makes an allocation larger than the maximum message size
//! (or one control frame), and never holds more than the maximum message
//! size plus one control frame.
//!
//! Input: byte 0 = flags (bit 0: server role, bit 1: pieces shared with the
//! caller, bit 2: through Session and Channel), bytes 1–2 = maximum message
//! size (big-endian, modulo 4096), byte 3 = piece length (0: all at once),
//! then the stream.

#![no_main]

use bytes::Bytes;
use http2_duplex_core::websocket::{
    is_valid_close_code, Channel, Decoder, Event, Role, Session, MAX_CONTROL_PAYLOAD,
};
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::measured;

fn check(event: &Event, max: usize) {
    match event {
        Event::Binary(b) => assert!(b.len() <= max),
        Event::Text(t) => assert!(t.len() <= max && std::str::from_utf8(t).is_ok()),
        Event::Ping(p) | Event::Pong(p) => assert!(p.len() <= MAX_CONTROL_PAYLOAD),
        Event::Close { code, reason } => {
            assert!(code.is_none_or(is_valid_close_code));
            assert!(std::str::from_utf8(reason).is_ok());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let flags = data[0];
    let role = if flags & 1 != 0 {
        Role::Server
    } else {
        Role::Client
    };
    let shared = flags & 2 != 0;
    let layered = flags & 4 != 0;
    let max = usize::from(u16::from_be_bytes([data[1], data[2]])) % 4096;
    let piece_len = match data[3] {
        0 => usize::MAX,
        n => usize::from(n),
    };
    let stream = &data[4..];
    let largest_allowed = max.max(MAX_CONTROL_PAYLOAD);

    let mut decoder = Decoder::new(role, max);
    let mut session = Session::new(role, max);
    let mut channel = Channel::default();
    let mut keep = Vec::new();
    // Room for every event up front: the measure is the decoder's.
    let mut out = Vec::with_capacity(stream.len() + 1);
    for chunk in stream.chunks(piece_len.min(stream.len().max(1))) {
        let piece = Bytes::from(chunk.to_vec());
        if shared {
            keep.push(piece.clone());
        }
        let start = out.len();
        let (result, largest) = if layered {
            measured(|| session.feed(piece, &mut out))
        } else {
            measured(|| decoder.feed(piece, &mut out))
        };
        assert!(largest <= largest_allowed, "allocated {largest}, max {max}");
        let held = if layered {
            session.decoder().buffered()
        } else {
            decoder.buffered()
        };
        assert!(held <= max + MAX_CONTROL_PAYLOAD, "holds {held}, max {max}");
        for event in &out[start..] {
            check(event, max);
            if layered {
                let _ = channel.receive(event.clone());
            }
        }
        if layered {
            while let Some(outgoing) = session.poll_send() {
                assert!(outgoing.payload.len() <= MAX_CONTROL_PAYLOAD);
            }
        }
        if result.is_err() {
            break;
        }
    }
});
