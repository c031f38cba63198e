'use strict';
// The WebSocket transport (RFC 8441 extended CONNECT, subprotocol
// http2-duplex.1): one HTTP/2 stream carries both directions of a duplex.
const test = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('events');
const { randomBytes, createHash } = require('crypto');
const { start_server, next_duplex } = require('../support/h2');
const { ws_frame, read_frames, open_rfc8441 } = require('../support/ws-frames');

const sha256 = data => createHash('sha256').update(data).digest('hex');

// A client's frames are masked.
const frame = (opcode, payload) => ws_frame(opcode, payload, { masked: true });

async function connect_ws(s) {
    const session = s.connect();
    const { stream, headers } = await open_rfc8441(session);
    return { session, stream, headers, until: read_frames(stream) };
}

// A server with `options`, a WebSocket to it, and the duplex it opened;
// `warnings` collects the server's.
async function ws_duplex(t, options) {
    const s = await start_server(options);
    t.after(s.close);
    const warnings = [];
    s.server.on('warning', w => warnings.push(w));
    const opened = next_duplex(s.server);
    const { stream, until } = await connect_ws(s);
    const { duplex } = await opened;
    return { s, warnings, stream, until, duplex };
}

const binary = frames => Buffer.concat(frames.filter(f => f.opcode === 2).map(f => f.payload));
const texts = frames => frames.filter(f => f.opcode === 1).map(f => f.payload.toString());

test('WebSocket: the server offers RFC 8441; a CONNECT stream is one duplex, echoed both ways and closed cleanly', async t => {
    const s = await start_server();
    t.after(s.close);
    s.server.on('duplex', duplex => duplex.pipe(duplex));
    const opened = next_duplex(s.server);
    const { stream, headers, until } = await connect_ws(s);
    assert.equal(headers[':status'], 200);
    assert.equal(headers['sec-websocket-protocol'], 'http2-duplex.1');
    const { duplex, id } = await opened;
    assert.equal(headers['http2-duplex-id'], id);
    assert.equal(duplex.transport, 'websocket');
    const closed = new Promise(resolve => duplex.on('close', resolve));
    const data = randomBytes(300 * 1024);
    stream.write(frame(2, data.subarray(0, 1000)));
    stream.write(frame(2, data.subarray(1000)));
    stream.write(frame(1, 'end'));
    const frames = await until(f => texts(f).includes('end'));
    assert.equal(sha256(binary(frames)), sha256(data));
    // Both directions ended: the server closes with 1000; the client answers.
    const closing = await until(f => f.some(x => x.opcode === 8));
    assert.equal(closing.find(x => x.opcode === 8).payload.readUInt16BE(0), 1000);
    stream.end(frame(8, Buffer.from([0x03, 0xe8])));
    await closed;
    await once(stream, 'close');
    assert.equal(stream.rstCode, 0);
    assert.deepEqual(s.server.stats().duplexes, 0);
});

test('WebSocket: a client past its credit is closed 1008 with a warning; an unmasked frame 1002', async t => {
    // The client's credit is the window: window_bytes, here 1 MiB.
    const s = await start_server({ window_bytes: 1024 * 1024 });
    t.after(s.close);
    const warnings = [];
    s.server.on('warning', w => warnings.push(w));
    s.server.on('duplex', duplex => duplex.on('error', () => {}));
    const { stream, until } = await connect_ws(s);
    stream.write(frame(2, Buffer.alloc(1024 * 1024 + 1)));
    const frames = await until(f => f.some(x => x.opcode === 8));
    assert.equal(frames.find(x => x.opcode === 8).payload.readUInt16BE(0), 1008);
    assert.equal(warnings.at(-1).code, 'ERR_HTTP2_DUPLEX_WS_CREDIT');
    const second = await connect_ws(s);
    second.stream.write(Buffer.from([0x82, 0x01, 0x00]));
    const closed = await second.until(f => f.some(x => x.opcode === 8));
    assert.equal(closed.find(x => x.opcode === 8).payload.readUInt16BE(0), 1002);
    assert.equal(warnings.at(-1).code, 'ERR_HTTP2_DUPLEX_WS_PROTOCOL');
});

test('WebSocket: the server sends no more than the client granted; credit lets it go on', async t => {
    const { stream, until, duplex } = await ws_duplex(t);
    const size = 3 * 1024 * 1024;
    let finished = false;
    duplex.write(Buffer.alloc(size, 7), () => {
        finished = true;
    });
    const first = await until(f => binary(f).length >= 1024 * 1024);
    assert.equal(binary(first).length, 1024 * 1024);
    // Wait for a round trip: nothing more comes without credit.
    await new Promise(resolve => stream.session.ping(resolve));
    assert.equal(binary(first).length, 1024 * 1024);
    assert.equal(finished, false);
    stream.write(frame(1, `credit ${2 * 1024 * 1024}`));
    const all = await until(f => binary(f).length >= size);
    assert.equal(binary(all).length, size);
});

test('WebSocket: credit counts bytes, also for strings written with decodeStrings: false', async t => {
    const { stream, until, duplex } = await ws_duplex(t, { window_bytes: 1024 * 1024, decodeStrings: false });
    // 600 Ki characters, 1.2 MiB of UTF-8: more than the 1 MiB granted.
    const text = 'é'.repeat(600 * 1024);
    duplex.write(text.slice(0, 1000));
    duplex.write(text.slice(1000), 'utf8');
    const first = await until(f => binary(f).length >= 1024 * 1024);
    await new Promise(resolve => stream.session.ping(resolve));
    assert.equal(binary(first).length, 1024 * 1024);
    stream.write(frame(1, `credit ${1024 * 1024}`));
    const all = await until(f => binary(f).length >= Buffer.byteLength(text));
    assert.equal(binary(all).toString(), text);
});

test('WebSocket: a client that resets the stream breaks the duplex (CLIENT_RESET), never the process', async t => {
    const { s, warnings, stream, duplex } = await ws_duplex(t);
    duplex.pipe(duplex);
    stream.close(require('http2').constants.NGHTTP2_CANCEL);
    await new Promise(resolve => duplex.on('close', resolve));
    assert.equal(warnings.at(-1).code, 'ERR_HTTP2_DUPLEX_CLIENT_RESET');
    assert.equal(s.server.stats().duplexes, 0);
});

test('WebSocket: a client stream that ends (END_STREAM) without a Close or `end` breaks the duplex (WS_ABNORMAL_CLOSE), as a reset does', async t => {
    const { s, warnings, stream, duplex } = await ws_duplex(t);
    const received = [];
    duplex.on('data', chunk => received.push(chunk));
    let ended = false;
    duplex.on('end', () => {
        ended = true;
    });
    stream.end(frame(2, 'partial'));
    await new Promise(resolve => duplex.on('close', resolve));
    assert.equal(Buffer.concat(received).toString(), 'partial');
    assert.equal(ended, false, 'never a clean end');
    assert.deepEqual([warnings.at(-1).code, warnings.at(-1).status],
        ['ERR_HTTP2_DUPLEX_WS_ABNORMAL_CLOSE', undefined]);
    assert.match(warnings.at(-1).message, /without a WebSocket Close frame/);
    // The server ends its side too: the stream closes, not reset.
    await once(stream, 'close');
    assert.equal(stream.rstCode, 0);
    assert.equal(s.server.stats().duplexes, 0);
});

test('WebSocket: the client\'s end and Close in one read, before the reader took the end, is a clean close', async t => {
    const { warnings, stream, until, duplex } = await ws_duplex(t);
    duplex.end();
    await until(f => texts(f).includes('end'));
    stream.end(Buffer.concat([frame(1, 'end'), frame(8, Buffer.from([0x03, 0xe8]))]));
    await once(stream, 'close');
    duplex.resume();
    await new Promise(resolve => duplex.on('close', resolve));
    assert.deepEqual(warnings.map(w => w.code), []);
    assert.equal(duplex.errored, null);
});

test('WebSocket: idle_timeout ends a quiet WebSocket duplex (IDLE_TIMEOUT, Close 1001); traffic keeps it open', async t => {
    const { s, warnings, stream, until, duplex } = await ws_duplex(t, { idle_timeout: 100 });
    duplex.pipe(duplex);
    let closed = false;
    duplex.on('close', () => {
        closed = true;
    });
    // A write every 20 ms for 5 timeouts: never idle.
    for (let i = 0; i < 25; i++) {
        stream.write(frame(2, 'x'));
        await new Promise(resolve => setTimeout(resolve, 20));
    }
    assert.equal(closed, false, 'a duplex with traffic is not idle');
    await until(f => binary(f).length === 25);
    const frames = await until(f => f.some(x => x.opcode === 8));
    assert.equal(frames.find(x => x.opcode === 8).payload.readUInt16BE(0), 1001);
    assert.deepEqual([warnings.at(-1).code, warnings.at(-1).status], ['ERR_HTTP2_DUPLEX_IDLE_TIMEOUT', 408]);
    assert.equal(closed, true);
    assert.equal(s.server.stats().duplexes, 0);
});
