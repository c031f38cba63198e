//! The WebSocket core, byte for byte: RFC 6455 §5.7's examples, every
//! violation and its close code, every split of a multi-frame input, the
//! close handshake, http2-duplex.1 credit, and arbitrary input.

use bytes::Bytes;
use http2_duplex_core::websocket::*;
use proptest::prelude::*;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::measured;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const MAX: usize = 1 << 20;

/// A frame, masked with `mask` if given.
fn frame(opcode: Opcode, fin: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let (header, len) = encode_header(opcode, fin, payload.len() as u64, mask);
    let mut out = header[..len].to_vec();
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        mask_in_place(&mut out[start..], key, 0);
    }
    out
}

/// The mask a peer of `role` uses: a client masks, a server does not.
fn peer_mask(role: Role) -> Option<[u8; 4]> {
    (role == Role::Server).then_some(KEY)
}

fn decode(role: Role, max: usize, input: &[u8]) -> (Vec<Event>, Result<(), Close>) {
    let mut decoder = Decoder::new(role, max);
    let mut out = Vec::new();
    let result = decoder.feed(Bytes::copy_from_slice(input), &mut out);
    (out, result)
}

/// How the caller holds the pieces it feeds: handed over, kept (shared with
/// the decoder), or lent as slices.
#[derive(Clone, Copy, Debug)]
enum Hold {
    Owned,
    Shared,
    Borrowed,
}

const HOLDS: [Hold; 3] = [Hold::Owned, Hold::Shared, Hold::Borrowed];

/// Decodes `input` in the pieces `cuts` makes, held as `hold` says.
fn decode_split(
    role: Role,
    max: usize,
    input: &[u8],
    cuts: &[usize],
    hold: Hold,
) -> (Vec<Event>, Result<(), Close>) {
    let mut decoder = Decoder::new(role, max);
    let mut out = Vec::new();
    let mut keep = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        let slice = &input[at..cut];
        at = cut;
        let fed = match hold {
            Hold::Borrowed => decoder.feed(slice, &mut out),
            Hold::Owned | Hold::Shared => {
                let piece = Bytes::from(slice.to_vec());
                if let Hold::Shared = hold {
                    keep.push(piece.clone());
                }
                decoder.feed(piece, &mut out)
            }
        };
        if let Err(close) = fed {
            return (out, Err(close));
        }
    }
    (out, Ok(()))
}

fn text(s: &str) -> Event {
    Event::Text(Bytes::copy_from_slice(s.as_bytes()))
}

// RFC 6455 §5.7.

#[test]
fn rfc_single_frame_unmasked_text() {
    let wire = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let (header, len) = encode_header(Opcode::Text, true, 5, None);
    assert_eq!(&header[..len], &wire[..2]);
    assert_eq!(frame(Opcode::Text, true, b"Hello", None), wire);
    assert_eq!(
        decode(Role::Client, MAX, &wire),
        (vec![text("Hello")], Ok(()))
    );
}

#[test]
fn rfc_single_frame_masked_text() {
    let wire = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let (header, len) = encode_header(Opcode::Text, true, 5, Some(KEY));
    assert_eq!(&header[..len], &wire[..6]);
    assert_eq!(frame(Opcode::Text, true, b"Hello", Some(KEY)), wire);
    assert_eq!(
        decode(Role::Server, MAX, &wire),
        (vec![text("Hello")], Ok(()))
    );
}

#[test]
fn rfc_fragmented_unmasked_text() {
    let wire = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
    let mut built = frame(Opcode::Text, false, b"Hel", None);
    built.extend(frame(Opcode::Continuation, true, b"lo", None));
    assert_eq!(built, wire);
    assert_eq!(
        decode(Role::Client, MAX, &wire),
        (vec![text("Hello")], Ok(()))
    );
}

#[test]
fn rfc_ping_and_masked_pong() {
    let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    assert_eq!(frame(Opcode::Ping, true, b"Hello", None), ping);
    assert_eq!(
        decode(Role::Client, MAX, &ping),
        (vec![Event::Ping(Bytes::from_static(b"Hello"))], Ok(()))
    );
    let pong = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    assert_eq!(frame(Opcode::Pong, true, b"Hello", Some(KEY)), pong);
    assert_eq!(
        decode(Role::Server, MAX, &pong),
        (vec![Event::Pong(Bytes::from_static(b"Hello"))], Ok(()))
    );
}

#[test]
fn rfc_256_bytes_and_64_kib() {
    let payload: Vec<u8> = (0..256).map(|i| i as u8).collect();
    let wire = frame(Opcode::Binary, true, &payload, None);
    assert_eq!(&wire[..4], &[0x82, 0x7e, 0x01, 0x00]);
    assert_eq!(wire.len(), 4 + 256);
    assert_eq!(
        decode(Role::Client, MAX, &wire),
        (vec![Event::Binary(Bytes::from(payload))], Ok(()))
    );

    let payload: Vec<u8> = (0..65536).map(|i| (i * 7) as u8).collect();
    let wire = frame(Opcode::Binary, true, &payload, None);
    assert_eq!(
        &wire[..10],
        &[0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]
    );
    assert_eq!(
        decode(Role::Client, MAX, &wire),
        (vec![Event::Binary(Bytes::from(payload.clone()))], Ok(()))
    );
    let masked = frame(Opcode::Binary, true, &payload, Some(KEY));
    assert_eq!(
        &masked[..14],
        &[0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0x37, 0xfa, 0x21, 0x3d]
    );
    assert_eq!(
        decode(Role::Server, MAX, &masked),
        (vec![Event::Binary(Bytes::from(payload))], Ok(()))
    );
}

#[test]
fn header_length_boundaries() {
    for (len, header_len) in [
        (0u64, 2),
        (125, 2),
        (126, 4),
        (65535, 4),
        (65536, 10),
        (1 << 40, 10),
    ] {
        assert_eq!(encode_header(Opcode::Binary, true, len, None).1, header_len);
        assert_eq!(
            encode_header(Opcode::Binary, true, len, Some(KEY)).1,
            header_len + 4
        );
    }
    let (header, _) = encode_header(Opcode::Binary, false, 125, None);
    assert_eq!(&header[..2], &[0x02, 125]);
}

#[test]
fn mask_in_place_at_any_offset() {
    let data: Vec<u8> = (0..100).collect();
    let mut whole = data.clone();
    mask_in_place(&mut whole, KEY, 0);
    for (i, b) in whole.iter().enumerate() {
        assert_eq!(*b, data[i] ^ KEY[i % 4]);
    }
    for cut in 0..=data.len() {
        let mut pieces = data.clone();
        let (a, b) = pieces.split_at_mut(cut);
        mask_in_place(a, KEY, 0);
        mask_in_place(b, KEY, cut);
        assert_eq!(pieces, whole);
    }
    mask_in_place(&mut whole, KEY, 0);
    assert_eq!(whole, data);
}

#[test]
fn close_payloads() {
    assert_eq!(&close_payload(1000, "")[..], &[0x03, 0xe8]);
    assert_eq!(&close_payload(1002, "bye")[..], b"\x03\xeabye");
    let long = "é".repeat(100);
    let payload = close_payload(1000, &long);
    assert!(payload.len() <= MAX_CONTROL_PAYLOAD);
    assert_eq!(payload.len(), 2 + 122);
    assert!(std::str::from_utf8(&payload[2..]).is_ok());
    let close = Close::from(Violation::TooBig);
    assert_eq!(&close.payload()[..], b"\x03\xf1message too big");
}

#[test]
fn close_frames() {
    let (events, result) = decode(Role::Client, MAX, &frame(Opcode::Close, true, b"", None));
    assert_eq!(
        (events, result),
        (
            vec![Event::Close {
                code: None,
                reason: Bytes::new()
            }],
            Ok(())
        )
    );
    let wire = frame(Opcode::Close, true, b"\x03\xe8done", None);
    let (events, result) = decode(Role::Client, MAX, &wire);
    assert_eq!(
        (events, result),
        (
            vec![Event::Close {
                code: Some(1000),
                reason: Bytes::from_static(b"done")
            }],
            Ok(())
        )
    );
    // Nothing after a Close is read.
    let mut wire = frame(Opcode::Close, true, b"\x0f\xa0", None);
    wire.extend(frame(Opcode::Text, true, b"late", None));
    wire.extend([0xff, 0xff]);
    let (events, result) = decode(Role::Client, MAX, &wire);
    assert_eq!(result, Ok(()));
    assert_eq!(
        events,
        vec![Event::Close {
            code: Some(4000),
            reason: Bytes::new()
        }]
    );
}

#[test]
fn close_codes() {
    for code in 0..=u16::MAX {
        let valid = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
        assert_eq!(is_valid_close_code(code), valid, "{code}");
    }
}

// Violations.

fn violation(role: Role, max: usize, wire: &[u8]) -> Close {
    let (_, result) = decode(role, max, wire);
    let close = result.expect_err("a violation");
    // Whatever the split, the same violation.
    for cut in 0..=wire.len() {
        for hold in HOLDS {
            let (_, split) = decode_split(role, max, wire, &[cut], hold);
            assert_eq!(split, Err(close), "cut at {cut}");
        }
    }
    close
}

fn expect(role: Role, max: usize, wire: &[u8], v: Violation, code: u16) {
    let close = violation(role, max, wire);
    assert_eq!(close.violation, v, "{wire:02x?}");
    assert_eq!(close.code, code);
    assert_eq!(close.reason, v.reason());
    assert_eq!(v.code(), code);
}

#[test]
fn protocol_errors_close_1002() {
    use Violation::*;
    for role in [Role::Server, Role::Client] {
        let m = peer_mask(role);
        for rsv in [0x40, 0x20, 0x10] {
            let mut wire = frame(Opcode::Text, true, b"x", m);
            wire[0] |= rsv;
            expect(role, MAX, &wire, ReservedBits, 1002);
        }
        for op in [3u8, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf] {
            let mut wire = frame(Opcode::Binary, true, b"x", m);
            wire[0] = 0x80 | op;
            expect(role, MAX, &wire, UnknownOpcode, 1002);
        }
        let other = if m.is_some() { None } else { Some(KEY) };
        expect(
            role,
            MAX,
            &frame(Opcode::Binary, true, b"x", other),
            Masking,
            1002,
        );
        expect(
            role,
            MAX,
            &frame(Opcode::Ping, true, b"x", other),
            Masking,
            1002,
        );
        for op in [Opcode::Ping, Opcode::Pong, Opcode::Close] {
            let mut payload = vec![b'a'; 126];
            payload[..2].copy_from_slice(&[0x03, 0xe8]);
            expect(
                role,
                MAX,
                &frame(op, true, &payload, m),
                ControlTooLong,
                1002,
            );
            expect(
                role,
                MAX,
                &frame(op, false, b"", m),
                ControlFragmented,
                1002,
            );
        }
        expect(
            role,
            MAX,
            &frame(Opcode::Continuation, true, b"x", m),
            UnexpectedContinuation,
            1002,
        );
        let mut wire = frame(Opcode::Text, true, b"done", m);
        wire.extend(frame(Opcode::Continuation, false, b"x", m));
        expect(role, MAX, &wire, UnexpectedContinuation, 1002);
        for second in [Opcode::Text, Opcode::Binary] {
            let mut wire = frame(Opcode::Binary, false, b"x", m);
            wire.extend(frame(second, true, b"y", m));
            expect(role, MAX, &wire, ExpectedContinuation, 1002);
        }
        // 64-bit length with the top bit set.
        let mut wire = vec![0x82, if m.is_some() { 0xff } else { 0x7f }];
        wire.extend((1u64 << 63).to_be_bytes());
        wire.extend(
            m.unwrap_or_default()
                .iter()
                .take(if m.is_some() { 4 } else { 0 }),
        );
        expect(role, MAX, &wire, LengthTopBit, 1002);
        expect(
            role,
            MAX,
            &frame(Opcode::Close, true, b"\x03", m),
            CloseLengthOne,
            1002,
        );
        for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            let wire = frame(Opcode::Close, true, &code.to_be_bytes(), m);
            expect(role, MAX, &wire, CloseCode, 1002);
        }
    }
}

#[test]
fn invalid_utf8_closes_1007() {
    for role in [Role::Server, Role::Client] {
        let m = peer_mask(role);
        for bad in [
            &b"\xff"[..],
            b"a\xc3",
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
            b"\xc0\xaf",
        ] {
            expect(
                role,
                MAX,
                &frame(Opcode::Text, true, bad, m),
                Violation::InvalidUtf8,
                1007,
            );
            // Fragmented, split inside the bad sequence.
            let mut wire = frame(Opcode::Text, false, &bad[..1], m);
            wire.extend(frame(Opcode::Continuation, true, &bad[1..], m));
            expect(role, MAX, &wire, Violation::InvalidUtf8, 1007);
            let mut reason = b"\x03\xe8".to_vec();
            reason.extend_from_slice(bad);
            expect(
                role,
                MAX,
                &frame(Opcode::Close, true, &reason, m),
                Violation::InvalidUtf8,
                1007,
            );
        }
        // A message ending inside a character.
        let mut wire = frame(Opcode::Text, false, b"ok", m);
        wire.extend(frame(Opcode::Continuation, true, b"\xe2\x82", m));
        expect(role, MAX, &wire, Violation::InvalidUtf8, 1007);
        // Fail fast: the bad byte is refused before the message ends.
        let wire = frame(Opcode::Text, false, b"ok\xff", m);
        expect(role, MAX, &wire, Violation::InvalidUtf8, 1007);
        // A character split across fragments is fine.
        let mut wire = frame(Opcode::Text, false, b"\xe2", m);
        wire.extend(frame(Opcode::Continuation, false, b"\x82", m));
        wire.extend(frame(Opcode::Continuation, true, b"\xac", m));
        assert_eq!(decode(role, MAX, &wire), (vec![text("€")], Ok(())));
    }
}

#[test]
fn too_big_closes_1009() {
    for role in [Role::Server, Role::Client] {
        let m = peer_mask(role);
        let exact = frame(Opcode::Binary, true, &[7; 100], m);
        assert_eq!(decode(role, 100, &exact).1, Ok(()));
        expect(role, 99, &exact, Violation::TooBig, 1009);
        // Refused on the header, before the payload arrives.
        let header = &frame(Opcode::Binary, true, &[0; 1000], m)[..if m.is_some() { 8 } else { 4 }];
        expect(role, 999, header, Violation::TooBig, 1009);
        // Across fragments.
        let mut wire = frame(Opcode::Text, false, &[b'a'; 60], m);
        wire.extend(frame(Opcode::Ping, true, b"in between", m));
        wire.extend(frame(Opcode::Continuation, true, &[b'b'; 41], m));
        expect(role, 100, &wire, Violation::TooBig, 1009);
        // Control frames do not count.
        let mut wire = frame(Opcode::Text, false, &[b'a'; 60], m);
        wire.extend(frame(Opcode::Ping, true, &[1; 125], m));
        wire.extend(frame(Opcode::Continuation, true, &[b'b'; 40], m));
        let (events, result) = decode(role, 100, &wire);
        assert_eq!(result, Ok(()));
        assert_eq!(events.len(), 2);
    }
}

#[test]
fn events_before_a_violation_are_kept_and_nothing_after() {
    let mut wire = frame(Opcode::Binary, true, b"first", Some(KEY));
    wire.extend(frame(Opcode::Binary, true, b"unmasked", None));
    let mut decoder = Decoder::new(Role::Server, MAX);
    let mut out = Vec::new();
    let close = decoder.feed(Bytes::from(wire), &mut out).unwrap_err();
    assert_eq!(close.violation, Violation::Masking);
    assert_eq!(out, vec![Event::Binary(Bytes::from_static(b"first"))]);
    assert!(decoder.is_done());
    let more = frame(Opcode::Binary, true, b"more", Some(KEY));
    assert_eq!(decoder.feed(Bytes::from(more), &mut out), Ok(()));
    assert_eq!(out.len(), 1);
    assert_eq!(decoder.buffered(), 0);
}

// Splits.

/// Frames of every kind: a fragmented text with a ping in between, an empty
/// binary, a 300-byte binary, a pong, a two-fragment binary, a close.
fn conversation(m: Option<[u8; 4]>) -> (Vec<u8>, Vec<Event>) {
    let big: Vec<u8> = (0..300).map(|i| (i * 13) as u8).collect();
    let mut wire = frame(Opcode::Text, false, "Hé".as_bytes(), m);
    wire.extend(frame(Opcode::Ping, true, b"p", m));
    wire.extend(frame(Opcode::Continuation, false, b"", m));
    wire.extend(frame(Opcode::Continuation, true, "llo €".as_bytes(), m));
    wire.extend(frame(Opcode::Binary, true, b"", m));
    wire.extend(frame(Opcode::Binary, true, &big, m));
    wire.extend(frame(Opcode::Pong, true, b"", m));
    wire.extend(frame(Opcode::Binary, false, b"ab", m));
    wire.extend(frame(Opcode::Continuation, true, b"cdefg", m));
    wire.extend(frame(Opcode::Close, true, b"\x03\xe8bye", m));
    let events = vec![
        Event::Ping(Bytes::from_static(b"p")),
        text("Héllo €"),
        Event::Binary(Bytes::new()),
        Event::Binary(Bytes::from(big)),
        Event::Pong(Bytes::new()),
        Event::Binary(Bytes::from_static(b"abcdefg")),
        Event::Close {
            code: Some(1000),
            reason: Bytes::from_static(b"bye"),
        },
    ];
    (wire, events)
}

#[test]
fn every_two_way_split() {
    for role in [Role::Server, Role::Client] {
        let (wire, events) = conversation(peer_mask(role));
        assert_eq!(decode(role, 1000, &wire), (events.clone(), Ok(())));
        for cut in 0..=wire.len() {
            for hold in HOLDS {
                assert_eq!(
                    decode_split(role, 1000, &wire, &[cut], hold),
                    (events.clone(), Ok(())),
                    "{role:?} cut at {cut}, {hold:?}"
                );
            }
        }
    }
}

#[test]
fn every_three_way_split() {
    for role in [Role::Server, Role::Client] {
        let (wire, events) = conversation(peer_mask(role));
        // Around the short frames, every pair of cuts; the 300-byte payload
        // is stepped over.
        let cuts: Vec<usize> = (0..=wire.len())
            .filter(|&c| c < 40 || c > wire.len() - 40 || c % 17 == 0)
            .collect();
        for (i, &a) in cuts.iter().enumerate() {
            for &b in &cuts[i..] {
                assert_eq!(
                    decode_split(role, 1000, &wire, &[a, b], HOLDS[a % 3]),
                    (events.clone(), Ok(())),
                    "{role:?} cuts at {a}, {b}"
                );
            }
        }
    }
}

#[test]
fn byte_by_byte() {
    for role in [Role::Server, Role::Client] {
        let (wire, events) = conversation(peer_mask(role));
        let cuts: Vec<usize> = (1..wire.len()).collect();
        for hold in HOLDS {
            assert_eq!(
                decode_split(role, 1000, &wire, &cuts, hold),
                (events.clone(), Ok(()))
            );
        }
    }
}

#[test]
fn whole_unmasked_frames_are_not_copied() {
    let wire = Bytes::from(frame(Opcode::Binary, true, b"zero copy", None));
    let mut decoder = Decoder::new(Role::Client, MAX);
    let mut out = Vec::new();
    decoder.feed(wire.clone(), &mut out).unwrap();
    let Event::Binary(payload) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(payload.as_ptr(), wire[2..].as_ptr());
}

#[test]
fn owned_masked_frames_are_unmasked_in_place() {
    let wire = frame(Opcode::Binary, true, b"in place", Some(KEY));
    let at = wire[6..].as_ptr();
    let mut decoder = Decoder::new(Role::Server, MAX);
    let mut out = Vec::new();
    decoder.feed(Bytes::from(wire), &mut out).unwrap();
    assert_eq!(out, vec![Event::Binary(Bytes::from_static(b"in place"))]);
    let Event::Binary(payload) = &out[0] else {
        unreachable!()
    };
    assert_eq!(payload.as_ptr(), at);
}

// Session.

#[test]
fn session_answers_pings_and_the_peer_close() {
    let mut session = Session::new(Role::Server, MAX);
    let mut out = Vec::new();
    let mut wire = frame(Opcode::Ping, true, b"1", Some(KEY));
    wire.extend(frame(Opcode::Ping, true, b"2", Some(KEY)));
    wire.extend(frame(Opcode::Binary, true, b"data", Some(KEY)));
    session.feed(Bytes::from(wire), &mut out).unwrap();
    assert_eq!(out.len(), 3);
    // Only the latest ping is answered.
    assert_eq!(
        session.poll_send(),
        Some(Outgoing {
            opcode: Opcode::Pong,
            payload: Bytes::from_static(b"2")
        })
    );
    assert_eq!(session.poll_send(), None);
    assert!(session.can_send());

    out.clear();
    let wire = frame(Opcode::Close, true, b"\x03\xe9away", Some(KEY));
    session.feed(Bytes::from(wire), &mut out).unwrap();
    assert_eq!(
        out,
        vec![Event::Close {
            code: Some(1001),
            reason: Bytes::from_static(b"away")
        }]
    );
    assert!(session.close_received() && session.close_sent() && !session.can_send());
    assert!(!session.is_complete());
    let answer = session.poll_send().unwrap();
    assert_eq!(
        answer,
        Outgoing {
            opcode: Opcode::Close,
            payload: Bytes::from_static(b"\x03\xe9")
        }
    );
    let (header, len) = answer.header(None);
    assert_eq!(&header[..len], &[0x88, 0x02]);
    assert!(session.is_complete());
    assert_eq!(session.poll_send(), None);
    assert!(!session.close(Some(1000), ""));
}

#[test]
fn session_answers_an_empty_close_with_an_empty_close() {
    let mut session = Session::new(Role::Client, MAX);
    let mut out = Vec::new();
    session
        .feed(Bytes::from(frame(Opcode::Close, true, b"", None)), &mut out)
        .unwrap();
    assert_eq!(
        session.poll_send(),
        Some(Outgoing {
            opcode: Opcode::Close,
            payload: Bytes::new()
        })
    );
    assert!(session.is_complete());
}

#[test]
fn session_closing_first_drops_data_and_waits() {
    let mut session = Session::new(Role::Client, MAX);
    let mut out = Vec::new();
    session
        .feed(
            Bytes::from(frame(Opcode::Ping, true, b"early", None)),
            &mut out,
        )
        .unwrap();
    assert!(session.close(Some(1000), "done"));
    assert!(!session.close(Some(1000), "again"));
    // The pong not yet sent is dropped: nothing goes after a Close.
    assert_eq!(
        session.poll_send(),
        Some(Outgoing {
            opcode: Opcode::Close,
            payload: Bytes::from_static(b"\x03\xe8done")
        })
    );
    assert_eq!(session.poll_send(), None);
    assert!(!session.can_send() && !session.is_complete());
    out.clear();
    let mut wire = frame(Opcode::Binary, true, b"ignored", None);
    wire.extend(frame(Opcode::Ping, true, b"ignored", None));
    wire.extend(frame(Opcode::Close, true, b"\x03\xe8", None));
    session.feed(Bytes::from(wire), &mut out).unwrap();
    assert_eq!(
        out,
        vec![Event::Close {
            code: Some(1000),
            reason: Bytes::new()
        }]
    );
    assert_eq!(session.poll_send(), None);
    assert!(session.is_complete());
}

#[test]
fn session_fails_a_broken_peer_with_one_close() {
    let mut session = Session::new(Role::Server, MAX);
    let mut out = Vec::new();
    let close = session
        .feed(
            Bytes::from(frame(Opcode::Binary, true, b"x", None)),
            &mut out,
        )
        .unwrap_err();
    assert_eq!(close.code, 1002);
    assert!(session.has_failed());
    assert_eq!(
        session.poll_send(),
        Some(Outgoing {
            opcode: Opcode::Close,
            payload: close.payload()
        })
    );
    assert_eq!(session.poll_send(), None);
    // After our Close, a violation is still reported but not answered twice.
    let mut session = Session::new(Role::Server, MAX);
    session.close(Some(1000), "");
    session.poll_send();
    let close = session
        .feed(Bytes::from_static(&[0x8f, 0x80, 0, 0, 0, 0]), &mut out)
        .unwrap_err();
    assert_eq!(close.violation, Violation::UnknownOpcode);
    assert_eq!(session.poll_send(), None);
}

// http2-duplex.1.

#[test]
fn flow_grants_half_the_window_at_a_time() {
    let mut flow = Flow::default();
    assert_eq!(flow.window(), INITIAL_CREDIT);
    assert_eq!(flow.initial_grant(), None);
    assert_eq!(flow.recv_credit(), INITIAL_CREDIT);
    flow.received(INITIAL_CREDIT).unwrap();
    assert_eq!(flow.received(1).unwrap_err().code, 1008);
    assert_eq!(
        flow.received(1).unwrap_err().violation,
        Violation::CreditExceeded
    );
    assert_eq!(flow.consumed(1000), None);
    assert_eq!(flow.consumed(INITIAL_CREDIT / 2 - 1000 - 1), None);
    assert_eq!(flow.consumed(1), Some(INITIAL_CREDIT / 2));
    assert_eq!(flow.recv_credit(), INITIAL_CREDIT / 2);
    // Consuming more than was received counts what was received.
    assert_eq!(flow.consumed(u64::MAX), Some(INITIAL_CREDIT / 2));
    assert_eq!(flow.recv_credit(), INITIAL_CREDIT);
    assert_eq!(flow.unconsumed(), 0);
}

#[test]
fn flow_with_a_larger_window_grants_the_rest_at_once() {
    let mut flow = Flow::new(4 * INITIAL_CREDIT);
    assert_eq!(flow.initial_grant(), Some(3 * INITIAL_CREDIT));
    assert_eq!(flow.initial_grant(), None);
    assert_eq!(flow.recv_credit(), 4 * INITIAL_CREDIT);
    assert_eq!(Flow::new(1).window(), INITIAL_CREDIT);
}

#[test]
fn flow_send_side() {
    let mut flow = Flow::default();
    assert!(flow.can_send(INITIAL_CREDIT));
    assert!(!flow.can_send(INITIAL_CREDIT + 1));
    flow.sent(INITIAL_CREDIT - 10);
    assert_eq!(flow.send_credit(), 10);
    flow.granted(100).unwrap();
    assert_eq!(flow.send_credit(), 110);
    assert_eq!(
        flow.granted(MAX_CREDIT).unwrap_err().violation,
        Violation::BadControlMessage
    );
    assert_eq!(flow.send_credit(), 110);
}

proptest! {
    /// Whatever the reader does, what is in flight to it stays within the
    /// window, and a peer that sends only what it was granted is never
    /// refused.
    #[test]
    fn flow_bounds_what_is_in_flight(steps in proptest::collection::vec((any::<bool>(), 0u64..300_000), 0..200)) {
        let mut flow = Flow::default();
        let mut sender = Flow::default();
        for (send, n) in steps {
            if send {
                let n = n.min(sender.send_credit());
                sender.sent(n);
                flow.received(n).unwrap();
            } else if let Some(grant) = flow.consumed(n) {
                prop_assert!(grant >= INITIAL_CREDIT / 2);
                sender.granted(grant).unwrap();
            }
            prop_assert_eq!(sender.send_credit(), flow.recv_credit());
            prop_assert!(flow.recv_credit() + flow.unconsumed() <= flow.window());
        }
    }
}

#[test]
fn channel_messages() {
    let mut channel = Channel::new(INITIAL_CREDIT);
    assert_eq!(SUBPROTOCOL, "http2-duplex.1");
    assert_eq!(credit_message(524288), "credit 524288");
    let data = Bytes::from_static(b"bytes");
    assert_eq!(
        channel.receive(Event::Binary(data.clone())),
        Ok(Some(Inbound::Data(data)))
    );
    assert_eq!(channel.flow().unconsumed(), 5);
    assert_eq!(
        channel.receive(text("credit 524288")),
        Ok(Some(Inbound::Credit(524288)))
    );
    assert_eq!(channel.flow().send_credit(), INITIAL_CREDIT + 524288);
    assert_eq!(channel.receive(Event::Ping(Bytes::new())), Ok(None));
    assert_eq!(channel.receive(text("end")), Ok(Some(Inbound::End)));
    assert!(channel.received_end() && !channel.both_ended());
    // Credit still comes after the peer's end: it still reads.
    assert_eq!(
        channel.receive(text("credit 1")),
        Ok(Some(Inbound::Credit(1)))
    );
    assert_eq!(
        channel
            .clone()
            .receive(Event::Binary(Bytes::new()))
            .unwrap_err()
            .violation,
        Violation::DataAfterEnd
    );
    assert_eq!(channel.clone().receive(text("end")).unwrap_err().code, 1008);
    assert!(channel.end());
    assert!(!channel.end());
    assert!(channel.both_ended());
    assert_eq!(END_MESSAGE, b"end");
}

#[test]
fn channel_refuses_bad_control_messages_and_excess_data() {
    for bad in [
        "",
        "END",
        "end ",
        "credit",
        "credit ",
        "credit 0",
        "credit 01",
        "credit -1",
        "credit +1",
        "credit 1 ",
        "credit  1",
        "credit 1x",
        "credit 99999999999999999",
        "hello",
    ] {
        let close = Channel::default().receive(text(bad)).unwrap_err();
        assert_eq!(close.violation, Violation::BadControlMessage, "{bad:?}");
        assert_eq!(close.code, 1008);
    }
    let close = Channel::default()
        .receive(text("credit 9999999999999999"))
        .unwrap_err();
    assert_eq!(close.violation, Violation::BadControlMessage);
    let mut channel = Channel::default();
    let full = Bytes::from(vec![0; INITIAL_CREDIT as usize]);
    channel.receive(Event::Binary(full)).unwrap();
    let close = channel
        .receive(Event::Binary(Bytes::from_static(b"x")))
        .unwrap_err();
    assert_eq!(
        (close.code, close.violation),
        (1008, Violation::CreditExceeded)
    );
}

// Arbitrary input.

fn check_arbitrary(
    role: Role,
    max: usize,
    input: &[u8],
    cuts: &[usize],
    shared: bool,
) -> Result<(), TestCaseError> {
    let mut decoder = Decoder::new(role, max);
    let mut out = Vec::with_capacity(input.len() + 1);
    let mut keep = Vec::with_capacity(cuts.len() + 1);
    let mut at = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(input.len());
    for cut in cuts {
        let piece = Bytes::from(input[at..cut].to_vec());
        at = cut;
        if shared {
            keep.push(piece.clone());
        }
        let (result, largest) = measured(|| decoder.feed(piece, &mut out));
        prop_assert!(
            largest <= max.max(MAX_CONTROL_PAYLOAD),
            "allocated {largest} bytes at once, max {max}"
        );
        prop_assert!(
            decoder.buffered() <= max + MAX_CONTROL_PAYLOAD,
            "holds {}",
            decoder.buffered()
        );
        if result.is_err() {
            prop_assert!(decoder.is_done());
        }
    }
    for event in &out {
        match event {
            Event::Binary(b) => prop_assert!(b.len() <= max),
            Event::Text(t) => prop_assert!(t.len() <= max && std::str::from_utf8(t).is_ok()),
            Event::Ping(p) | Event::Pong(p) => prop_assert!(p.len() <= MAX_CONTROL_PAYLOAD),
            Event::Close { code, reason } => {
                prop_assert!(code.is_none_or(is_valid_close_code));
                prop_assert!(std::str::from_utf8(reason).is_ok());
            }
        }
    }
    Ok(())
}

/// Valid frames, masked for `role`, with a bit flipped here and there.
fn frames() -> impl Strategy<Value = Vec<u8>> {
    let one = (
        0u8..6,
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 0..300),
    );
    proptest::collection::vec(one, 0..8).prop_map(|frames| {
        let mut wire = Vec::new();
        for (kind, fin, payload) in frames {
            let op = [
                Opcode::Continuation,
                Opcode::Text,
                Opcode::Binary,
                Opcode::Ping,
                Opcode::Pong,
                Opcode::Close,
            ][kind as usize];
            let payload = if op.is_control() {
                &payload[..payload.len().min(125)]
            } else {
                &payload[..]
            };
            wire.extend(frame(op, fin || op.is_control(), payload, Some(KEY)));
        }
        wire
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes(
        server in any::<bool>(),
        max in 0usize..2048,
        input in proptest::collection::vec(any::<u8>(), 0..4096),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        shared in any::<bool>(),
    ) {
        let role = if server { Role::Server } else { Role::Client };
        check_arbitrary(role, max, &input, &cuts, shared)?;
    }

    #[test]
    fn nearly_valid_frames(
        wire in frames(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        max in 0usize..1024,
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        shared in any::<bool>(),
    ) {
        let mut wire = wire;
        if !wire.is_empty() {
            for (at, bits) in flips {
                let len = wire.len();
                wire[at % len] ^= bits;
            }
        }
        check_arbitrary(Role::Server, max, &wire, &cuts, shared)?;
    }

    /// Messages round-trip through frames of any size, in any split.
    #[test]
    fn messages_round_trip(
        messages in proptest::collection::vec((any::<bool>(), ".{0,40}", 1usize..5), 0..6),
        server in any::<bool>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let role = if server { Role::Server } else { Role::Client };
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        for (is_text, s, fragments) in &messages {
            let bytes = s.as_bytes();
            let step = bytes.len().div_ceil(*fragments).max(1);
            let chunks: Vec<&[u8]> = if bytes.is_empty() { vec![&[][..]] } else { bytes.chunks(step).collect() };
            for (i, chunk) in chunks.iter().enumerate() {
                let op = if i > 0 { Opcode::Continuation } else if *is_text { Opcode::Text } else { Opcode::Binary };
                wire.extend(frame(op, i + 1 == chunks.len(), chunk, peer_mask(role)));
                if i == 0 {
                    wire.extend(frame(Opcode::Ping, true, b"!", peer_mask(role)));
                }
            }
            let payload = Bytes::copy_from_slice(bytes);
            let message = if *is_text { Event::Text(payload) } else { Event::Binary(payload) };
            // A message in one frame is complete before the ping.
            if chunks.len() == 1 {
                expected.push(message);
                expected.push(Event::Ping(Bytes::from_static(b"!")));
            } else {
                expected.push(Event::Ping(Bytes::from_static(b"!")));
                expected.push(message);
            }
        }
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
        cuts.sort_unstable();
        prop_assert_eq!(decode_split(role, 200, &wire, &cuts, HOLDS[cuts.len() % 3]), (expected, Ok(())));
    }
}
