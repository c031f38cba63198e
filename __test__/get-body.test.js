'use strict';
// The framed GET body's bytes come from the core (crates/core/src/framing.rs):
// the preamble and END frame as the core gives them, and the DATA header that
// lib/transport/get-post.js encodes itself on each write (a measured fast path)
// byte for byte as the core's dataHeader.
const { test } = require('node:test');
const assert = require('node:assert');
const { getBody, dataHeader } = require('../lib/native');
const { data_header } = require('../lib/transport/get-post');
const { FRAME, VALUE } = require('../lib/protocol');

test("get body: the DATA header encoded in JS is the core's, at every length width", () => {
    for (const length of [0, 1, 0xff, 0x100, 0xffff, 0x10000, 0x01020304, 0xffffffff]) {
        assert.deepEqual(data_header(length), dataHeader(length), `length ${length}`);
    }
    assert.equal(data_header(3)[0], FRAME.DATA);
    assert.equal(data_header(3).length, FRAME.HEADER_BYTES);
});

test('get body: the preamble and the END frame are the protocol tables\'', () => {
    const body = getBody();
    assert.equal(body.preamble.toString(), VALUE.PREAMBLE);
    assert.deepEqual([...body.end], [FRAME.END, 0, 0, 0, 0]);
});
