'use strict';
// Resume on the server (http2-duplex.2, docs/protocol.md "Resume"), driven by
// a raw RFC 8441 client that speaks the messages itself: what the server
// keeps, acknowledges, sends again and refuses.
const test = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('events');
const { randomBytes, createHash } = require('crypto');
const { serve } = require('../support/h2');
const { ws_frame, read_frames, open_rfc8441 } = require('../support/ws-frames');

// Not events.once: it listens for 'error', which would count as the application's.
const closing_of = duplex => new Promise(resolve => duplex.on('close', resolve));
const sha256 = data => createHash('sha256').update(data).digest('hex');
const frame = (opcode, payload) => ws_frame(opcode, payload, { masked: true });
const OFFER = 'http2-duplex.2, http2-duplex.1';

// One WebSocket of a raw client: what it received, as units counted by the
// protocol (binary bytes; `end` is one more).
async function connect(s, first, path = '/duplex') {
    const session = s.connect();
    const { stream, headers } = await open_rfc8441(session, path, OFFER);
    const until = read_frames(stream);
    stream.write(frame(1, first));
    const frames = await until(f => f.some(x => x.opcode === 1 || x.opcode === 8));
    return { session, stream, headers, until, frames };
}

const texts = frames => frames.filter(f => f.opcode === 1).map(f => f.payload.toString());
const binary = frames => Buffer.concat(frames.filter(f => f.opcode === 2).map(f => f.payload));
const close_of = frames => {
    const close = frames.find(f => f.opcode === 8);
    return close && { code: close.payload.readUInt16BE(0), reason: close.payload.subarray(2).toString() };
};

async function open_duplex(s) {
    const opened = once(s.server, 'duplex');
    const ws = await connect(s, 'open');
    const [duplex, id] = await opened;
    const [answer] = texts(ws.frames);
    const [word, answer_id, secret, buffer, timeout, keepalive] = answer.split(' ');
    assert.equal(word, 'resumable');
    assert.equal(answer_id, id);
    assert.equal(ws.headers['sec-websocket-protocol'], 'http2-duplex.2');
    return { ws, duplex, id, secret, buffer: Number(buffer), timeout: Number(timeout), keepalive: Number(keepalive) };
}

test('resume: the server selects http2-duplex.2 when offered and answers open with id, secret and options', async t => {
    const { s, warnings } = await serve(t, { resume_buffer: 65536, resume_timeout: 5000, keepalive_interval: 300 });
    const { duplex, secret, buffer, timeout, keepalive } = await open_duplex(s);
    assert.match(secret, /^[A-Za-z0-9_-]{22}$/);
    assert.deepEqual([buffer, timeout, keepalive], [65536, 5000, 300]);
    assert.equal(duplex.resumable, true);
    assert.deepEqual(warnings, []);
});

test('resume: resume_buffer 0 selects http2-duplex.1 as before', async t => {
    const { s } = await serve(t, { resume_buffer: 0 });
    const opened = once(s.server, 'duplex');
    const session = s.connect();
    const { stream, headers } = await open_rfc8441(session, '/duplex', OFFER);
    assert.equal(headers['sec-websocket-protocol'], 'http2-duplex.1');
    const frames = await read_frames(stream)(f => f.some(x => x.opcode === 1));
    assert.match(texts(frames)[0], /^id /);
    const [duplex] = await opened;
    assert.equal(duplex.resumable, false);
});

test('resume: after a reset, a new WebSocket resumes byte-exact both ways, and the duplex completes', async t => {
    const { s, warnings } = await serve(t, { node_id: 'n1' });
    const { ws, duplex, id, secret } = await open_duplex(s);
    const resumed = once(duplex, 'resumed');
    const closed = closing_of(duplex);
    let got_by_server = Buffer.alloc(0);
    duplex.on('data', d => { got_by_server = Buffer.concat([got_by_server, d]); });
    duplex.on('error', err => assert.fail(err));
    const from_server = randomBytes(200 * 1024);
    const from_client = randomBytes(300 * 1024);
    duplex.write(from_server.subarray(0, 100 * 1024));
    const first_part = await ws.until(f => binary(f).length >= 100 * 1024);
    const received = binary(first_part).length;
    // The client sent a part, which the server delivered; the stream is reset
    // before any ack went either way.
    ws.stream.write(frame(2, from_client.subarray(0, 100 * 1024)));
    while (got_by_server.length < 100 * 1024) {
        await once(duplex, 'data');
    }
    duplex.write(from_server.subarray(100 * 1024)); // while detached, or not yet
    ws.stream.close(0x8);
    await once(ws.stream, 'close');

    // The client resumes, stating what it received; the server answers its
    // count. The id in the query is for proxies: the path is still the duplex's.
    const again = await connect(s, `resume ${id} ${secret} ${received}`, '/duplex?resume=n1');
    assert.equal(texts(again.frames)[0], `resumed ${100 * 1024}`);
    const [{ downtime }] = await resumed;
    assert.ok(downtime >= 0);
    again.stream.write(frame(2, from_client.subarray(100 * 1024)));
    again.stream.write(frame(1, 'end'));
    duplex.end();
    const frames = await again.until(f => texts(f).includes('end'));
    assert.equal(sha256(Buffer.concat([binary(first_part), binary(frames)])), sha256(from_server));
    if (!duplex.readableEnded) {
        await once(duplex, 'end');
    }
    assert.equal(sha256(got_by_server), sha256(from_client));
    // The client acknowledges all of it and the end: the server acknowledges
    // the client's end, completes, and closes with 1000.
    again.stream.write(frame(1, `ack ${from_server.length + 1}`));
    const closing = await again.until(f => close_of(f));
    assert.ok(texts(closing).includes(`ack ${from_client.length + 1}`), texts(closing).join());
    assert.equal(close_of(closing).code, 1000);
    again.stream.end(frame(8, Buffer.from([0x03, 0xe8])));
    await closed;
    assert.deepEqual(warnings, []);
    assert.equal(s.server.stats().duplexes, 0);
});

test('resume: a wrong secret, an unknown id or a count out of range is refused with a Close, a warning, and harms nothing', async t => {
    const { s, warnings } = await serve(t);
    const { ws, duplex, id, secret } = await open_duplex(s);
    duplex.on('error', err => assert.fail(err));
    duplex.write(Buffer.alloc(10));
    await ws.until(f => binary(f).length === 10);
    ws.stream.close(0x8);
    await once(ws.stream, 'close');
    const cases = [
        [`resume ${id} ${'A'.repeat(22)} 0`, 'ERR_HTTP2_DUPLEX_RESUME_REFUSED'],
        [`resume n9.nope ${secret} 0`, 'ERR_HTTP2_DUPLEX_RESUME_UNKNOWN'],
        [`resume ${id} ${secret} 11`, 'ERR_HTTP2_DUPLEX_RESUME_COUNT']
    ];
    for (const [request, code] of cases) {
        const refused = await connect(s, request);
        const closing = await refused.until(f => close_of(f));
        assert.deepEqual(close_of(closing), { code: 1008, reason: code });
        assert.equal(warnings.at(-1).code, code);
    }
    assert.equal(warnings.length, 3);
    // The duplex still waits for its client, which resumes it.
    const again = await connect(s, `resume ${id} ${secret} 10`);
    assert.equal(texts(again.frames)[0], 'resumed 0');
    assert.equal(duplex.destroyed, false);
    assert.equal(s.server.stats().duplexes, 1);
});

test('resume: a duplex not resumed within its resume_timeout fails with RESUME_TIMEOUT and is gone from stats()', async t => {
    const { s, warnings } = await serve(t, { resume_timeout: 300 });
    const { ws, duplex } = await open_duplex(s);
    const errors = [];
    duplex.on('error', err => errors.push(err));
    assert.equal(s.server.stats().duplexes, 1);
    const closed = closing_of(duplex);
    const [session] = s.server.sessions;
    ws.session.destroy();
    await once(session, 'close');
    // Its connection is gone; the duplex waits for its client, and counts.
    assert.equal(duplex.destroyed, false);
    assert.equal(s.server.stats().duplexes, 1);
    await closed;
    assert.equal(errors[0].code, 'ERR_HTTP2_DUPLEX_RESUME_TIMEOUT');
    assert.equal(warnings.at(-1).code, 'ERR_HTTP2_DUPLEX_RESUME_TIMEOUT');
    assert.equal(s.server.stats().duplexes, 0);
});

test('resume: an application with no error listener survives a client that never resumes', async t => {
    const { s, warnings } = await serve(t, { resume_timeout: 100 });
    const { ws, duplex } = await open_duplex(s);
    const closed = closing_of(duplex);
    ws.stream.close(0x8);
    await closed;
    assert.equal(warnings.at(-1).code, 'ERR_HTTP2_DUPLEX_RESUME_TIMEOUT');
});

test('resume: the server keeps at most resume_buffer unacknowledged bytes: write() waits for acks, never loses', async t => {
    const { s } = await serve(t, { resume_buffer: 64 * 1024 });
    const { ws, duplex } = await open_duplex(s);
    const data = randomBytes(256 * 1024);
    let finished = false;
    const written = new Promise(resolve => duplex.write(data, () => { finished = true; resolve(); }));
    const first = await ws.until(f => binary(f).length >= 64 * 1024);
    assert.equal(binary(first).length, 64 * 1024, 'no more than resume_buffer before an ack');
    assert.equal(finished, false);
    let acked = 0;
    while (acked < data.length) {
        const frames = await ws.until(f => binary(f).length > acked);
        acked = binary(frames).length;
        ws.stream.write(frame(1, `ack ${acked}`));
    }
    await written;
    assert.equal(sha256(binary(await ws.until(f => binary(f).length === data.length))), sha256(data));
});

test('resume: an abandoned WebSocket (Close 4001) detaches the duplex; a plain Close still ends it', async t => {
    const { s, warnings } = await serve(t);
    const { ws, duplex, id, secret } = await open_duplex(s);
    duplex.on('error', () => {});
    ws.stream.write(frame(8, Buffer.concat([Buffer.from([0x0f, 0xa1]), Buffer.from('resuming')])));
    const again = await connect(s, `resume ${id} ${secret} 0`);
    assert.equal(texts(again.frames)[0], 'resumed 0');
    assert.equal(duplex.destroyed, false);
    assert.deepEqual(warnings, []);
    const closed = closing_of(duplex);
    again.stream.write(frame(8, Buffer.from([0x03, 0xe9])));
    await closed;
    assert.equal(warnings.at(-1).code, 'ERR_HTTP2_DUPLEX_WS_CLOSED');
});

test('resume: the server sends its last ack as a keep-alive when it has nothing else to send', async t => {
    const { s } = await serve(t, { keepalive_interval: 50 });
    const { ws } = await open_duplex(s);
    const frames = await ws.until(f => texts(f).filter(x => x === 'ack 0').length >= 2);
    assert.ok(texts(frames).filter(x => x === 'ack 0').length >= 2);
});

test('resume: acks that come before the buffer is full make room too', { timeout: 10000 }, async t => {
    const { s } = await serve(t, { resume_buffer: 64 * 1024 });
    const { ws, duplex } = await open_duplex(s);
    const data = randomBytes(4 * 48 * 1024);
    const piece = i => data.subarray(i * 48 * 1024, (i + 1) * 48 * 1024);
    // 48 KiB sent and acknowledged while the buffer still has room; then
    // more than the room that was left before the ack.
    duplex.write(piece(0));
    await ws.until(f => binary(f).length === 48 * 1024);
    ws.stream.write(frame(1, `ack ${48 * 1024}`));
    // A byte after the ack: once the duplex has it, the server took the ack.
    const heard = once(duplex, 'data');
    ws.stream.write(frame(2, Buffer.from('x')));
    await heard;
    let acked = 48 * 1024;
    for (let i = 1; i < 4; i++) {
        duplex.write(piece(i));
    }
    while (acked < data.length) {
        const frames = await ws.until(f => binary(f).length > acked);
        acked = binary(frames).length;
        ws.stream.write(frame(1, `ack ${acked}`));
    }
    assert.equal(sha256(binary(await ws.until(f => binary(f).length === data.length))), sha256(data));
});

test('resume: a client that resumes again and again cannot make an unread duplex hold more than a window', { timeout: 20000 }, async t => {
    const window = 1024 * 1024;
    const { s, warnings } = await serve(t, { window_bytes: window });
    const { ws, duplex, id, secret } = await open_duplex(s);
    duplex.on('error', () => {});
    duplex.pause();
    // The first WebSocket's initial credit: a window, which the reader leaves unread.
    ws.stream.write(frame(2, Buffer.alloc(window)));
    await ws.until(f => texts(f).includes(`ack ${window}`) || binary(f).length > 0 ||
        duplex.readableLength >= window);
    let current = ws;
    let granted = 0;
    for (let round = 0; round < 4; round++) {
        const closed = once(current.stream, 'close');
        current.stream.close(0x8);
        await closed;
        current = await connect(s, `resume ${id} ${secret} 0`);
        assert.equal(texts(current.frames)[0], `resumed ${window}`);
        // A resumed WebSocket has no initial credit: the reader holds a whole
        // window, so the server grants nothing.
        granted += texts(current.frames).filter(text => text.startsWith('credit ')).length;
    }
    assert.equal(granted, 0);
    assert.equal(duplex.readableLength, window);
    // Data beyond the grant is refused (Close 1008, ERR_HTTP2_DUPLEX_WS_CREDIT).
    current.stream.write(frame(2, Buffer.alloc(1)));
    const closing = await current.until(f => close_of(f));
    assert.equal(close_of(closing).code, 1008);
    assert.equal(warnings.at(-1).code, 'ERR_HTTP2_DUPLEX_WS_CREDIT');
});

// The resume buffers of one connection's duplexes share its budget; another
// connection's duplex is not held by them, and an ack on one duplex of the
// connection lets the other go on.
test('resume: one connection\'s resume buffers share max_resume_bytes_per_connection; other connections are not held', async t => {
    const budget = 100 * 1024;
    const { s } = await serve(t, { max_resume_bytes_per_connection: budget });
    const session = s.connect();
    const opened = [];
    s.server.on('duplex', duplex => opened.push(duplex));
    const open_on = async on => {
        const { stream } = await open_rfc8441(on, '/duplex', OFFER);
        const until = read_frames(stream);
        stream.write(frame(1, 'open'));
        await until(f => f.some(x => x.opcode === 1));
        return { stream, until, duplex: opened.at(-1) };
    };
    const [a, b, other] = [await open_on(session), await open_on(session), await open_on(s.connect())];
    const data = randomBytes(80 * 1024);
    for (const each of [a, b, other]) {
        each.duplex.write(data);
    }
    await a.until(f => binary(f).length === data.length);
    const held = await b.until(f => binary(f).length >= budget - data.length);
    assert.equal(binary(await other.until(f => binary(f).length === data.length)).length, data.length,
        'another connection has its own budget');
    // b's piece beyond the budget waits for an ack on the connection.
    assert.equal(binary(held).length, budget - data.length);
    a.stream.write(frame(1, `ack ${data.length}`));
    assert.equal(sha256(binary(await b.until(f => binary(f).length === data.length))), sha256(data));
});
