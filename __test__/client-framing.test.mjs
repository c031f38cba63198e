// The browser client's frame parser (lib/browser/frames.mjs), driven in Node: a framed
// GET body (docs/protocol.md, "Framed GET body") split across reads at every point,
// PING and unknown frames, END, truncation; and when make() asks for framing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameParser, should_ask_framing, truncated_error } from '../lib/browser/frames.mjs';
import protocol from '../lib/protocol.js';

const { DATA, PING, END } = protocol.FRAME;

const TRUNCATED = 'ERR_HTTP2_DUPLEX_TRUNCATED_RESPONSE';

function frame(type, payload = []) {
    const bytes = new Uint8Array(5 + payload.length);
    bytes[0] = type;
    new DataView(bytes.buffer).setUint32(1, payload.length);
    bytes.set(payload, 5);
    return bytes;
}

function concat(...parts) {
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) {
        all.set(part, at);
        at += part.length;
    }
    return all;
}

// Feeds `reads` (Uint8Arrays); the payload pieces handed on, END seen, finish()'s error.
function parse(reads) {
    const pieces = [];
    const parser = new FrameParser(bytes => {
        pieces.push(bytes);
    });
    for (const read of reads) {
        parser.feed(read);
    }
    const err = parser.finish();
    return { pieces, data: [...concat(...pieces)], ended: parser.ended, err };
}

const text = s => [...new TextEncoder().encode(s)];

// DATA, PING, an unknown frame with a payload, an empty DATA, DATA, END, then bytes
// after END (never data).
const BODY = concat(
    frame(DATA, text('hello, ')),
    frame(PING),
    frame(0x7f, text('ignored payload')),
    frame(DATA),
    frame(DATA, text('world')),
    frame(END),
    frame(DATA, text('after END'))
);
const EXPECTED = text('hello, world');

test('a body in one read: DATA payloads in order; PING, unknown frames and what follows END ignored', () => {
    const { data, ended, err } = parse([BODY]);
    assert.deepEqual(data, EXPECTED);
    assert.equal(ended, true);
    assert.equal(err, null);
});

test('every split of the body into two reads, and into three', () => {
    for (let i = 0; i <= BODY.length; i++) {
        const two = parse([BODY.subarray(0, i), BODY.subarray(i)]);
        assert.deepEqual(two.data, EXPECTED, `split at ${i}`);
        assert.equal(two.ended, true);
        assert.equal(two.err, null);
        for (let j = i; j <= BODY.length; j++) {
            const three = parse([BODY.subarray(0, i), BODY.subarray(i, j), BODY.subarray(j)]);
            assert.deepEqual(three.data, EXPECTED, `split at ${i}, ${j}`);
            assert.equal(three.err, null);
        }
    }
});

test('one byte per read', () => {
    const { data, pieces, err } = parse([...BODY].map(b => new Uint8Array([b])));
    assert.deepEqual(data, EXPECTED);
    assert.ok(pieces.every(p => p.length === 1), 'partial payloads are handed on as they come');
    assert.equal(err, null);
});

test('payloads are views of the reads, not copies; a split payload comes in pieces', () => {
    const body = concat(frame(DATA, text('abcdef')), frame(END));
    const first = body.subarray(0, 8);   // header + 'abc'
    const second = body.subarray(8);     // 'def' + END
    const { pieces } = parse([first, second]);
    assert.deepEqual(pieces.map(p => [...p]), [text('abc'), text('def')]);
    assert.equal(pieces[0].buffer, body.buffer);
    assert.equal(pieces[0].byteOffset, 5);
    assert.equal(pieces[1].byteOffset, 8);
});

test('a large length (big-endian, above 2^31) is read unsigned', () => {
    const parser = new FrameParser(() => {});
    parser.feed(new Uint8Array([DATA, 0xff, 0xff, 0xff, 0xfe, 1, 2]));
    assert.equal(parser._left, 0xfffffffe - 2);
});

test('truncation: a body that ends anywhere before END is an error with its code', () => {
    const end_at = BODY.length - frame(DATA, text('after END')).length;
    for (let i = 0; i < end_at; i++) {
        const { err, ended, data } = parse([BODY.subarray(0, i)]);
        assert.equal(ended, false, `cut at ${i}`);
        assert.ok(err instanceof Error);
        assert.equal(err.code, TRUNCATED, `cut at ${i}`);
        assert.deepEqual(data, EXPECTED.slice(0, data.length), 'what came before is data');
    }
    assert.equal(parse([]).err.code, TRUNCATED, 'an empty framed body');
});

test('truncated_error keeps the cause', () => {
    const cause = new TypeError('network error');
    const err = truncated_error(cause);
    assert.equal(err.code, TRUNCATED);
    assert.equal(err.cause, cause);
});

test('feed() reports on_data asking to stop, after handing on the whole read', () => {
    const pieces = [];
    const parser = new FrameParser(bytes => {
        pieces.push([...bytes]);
        return false;
    });
    assert.equal(parser.feed(concat(frame(DATA, [1]), frame(DATA, [2]))), false);
    assert.deepEqual(pieces, [[1], [2]]);
    assert.equal(parser.feed(frame(PING)), true, 'no data, no stop');
});

test('should_ask_framing: same origin asks, cross-origin only with framing: true', () => {
    const page = 'https://app.example/dir/page.html';
    assert.equal(should_ask_framing('/duplex', undefined, page), true);
    assert.equal(should_ask_framing('duplex', undefined, page), true);
    assert.equal(should_ask_framing('https://app.example/duplex', undefined, page), true);
    assert.equal(should_ask_framing('https://api.example/duplex', undefined, page), false);
    assert.equal(should_ask_framing('http://app.example/duplex', undefined, page), false);
    assert.equal(should_ask_framing('https://app.example:8443/duplex', undefined, page), false);
    assert.equal(should_ask_framing('https://api.example/duplex', true, page), true);
    assert.equal(should_ask_framing('/duplex', false, page), false);
    // Outside a page there is no preflight.
    assert.equal(should_ask_framing('https://api.example/duplex', undefined, undefined), true);
});
