'use strict';
// Resume on the fetch paths (docs/protocol.md "Resume on the fetch paths: a
// WebSocket tunnel"), on the server, driven by a raw client: a GET+POST
// carrier carries http2-duplex.2, whose duplex resumes on another tunnel or
// on a WebSocket, and the other way round.
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('http');
const { once } = require('events');
const { randomBytes } = require('crypto');
const { serve, request } = require('../support/h2');
const { ws_frame, read_frames, open_rfc8441 } = require('../support/ws-frames');
const { open_tunnel } = require('../support/tunnel');
const { HEADER, WEBSOCKET } = require('../lib/protocol');
const { Http2DuplexServer } = require('..');

const frame = (opcode, payload) => ws_frame(opcode, payload, { masked: true });
const texts = frames => frames.filter(f => f.opcode === 1).map(f => f.payload.toString());
const binary = frames => Buffer.concat(frames.filter(f => f.opcode === 2).map(f => f.payload));
const closing_of = duplex => new Promise(resolve => duplex.on('close', resolve));

// A tunnel whose first message is `first`: its carrier and the frames read.
async function tunnel(session, first, options) {
    const carrier = await open_tunnel(session, options);
    assert.equal(carrier.status, 200);
    const until = read_frames(carrier.stream);
    await carrier.send(frame(1, first));
    const frames = await until(f => f.some(x => x.opcode === 1 || x.opcode === 8));
    return { ...carrier, until, frames };
}

async function open_duplex(s, session = s.connect()) {
    const opened = once(s.server, 'duplex');
    const t = await tunnel(session, WEBSOCKET.OPEN_MESSAGE);
    const [duplex, id] = await opened;
    const [word, answer_id, secret] = texts(t.frames)[0].split(' ');
    assert.equal(word, 'resumable');
    assert.equal(answer_id, id);
    return { t, session, duplex, id, secret };
}

test('tunnel: a GET asking for http2-duplex.2 carries a resumable duplex that echoes, counted once', async t => {
    const { s, warnings } = await serve(t, { max_duplexes_per_connection: 1 });
    const { t: carrier, duplex, id } = await open_duplex(s);
    assert.equal(carrier.headers[HEADER.TUNNEL], WEBSOCKET.RESUME_SUBPROTOCOL);
    assert.notEqual(carrier.id, id, 'the carrier has an id of its own');
    assert.equal(duplex.transport, 'tunnel');
    assert.equal(duplex.resumable, true);
    assert.equal(s.server.stats().duplexes, 1);
    const data = randomBytes(100000);
    duplex.write(data);
    const got = await carrier.until(f => binary(f).length >= data.length);
    assert.deepEqual(binary(got), data);
    const read = once(duplex, 'data');
    await carrier.send(frame(2, 'from the page'));
    assert.equal(String((await read)[0]), 'from the page');
    assert.deepEqual(warnings, []);
});

test('tunnel: without resume (resume_buffer 0) the GET opens a plain duplex', async t => {
    const { s } = await serve(t, { resume_buffer: 0 });
    const opened = once(s.server, 'duplex');
    const carrier = await open_tunnel(s.connect());
    const [duplex, id] = await opened;
    assert.equal(carrier.headers[HEADER.TUNNEL], undefined);
    assert.equal(carrier.id, id);
    assert.equal(duplex.transport, undefined);
    duplex.end('plain');
    const data = [];
    carrier.stream.on('data', chunk => data.push(chunk));
    await once(carrier.stream, 'end');
    assert.equal(Buffer.concat(data).toString(), 'plain');
});

test('tunnel: a page on another origin gets no tunnel the cors option does not grant', async t => {
    const { s, warnings } = await serve(t, {});
    let opened = false;
    s.server.on('duplex', () => { opened = true; });
    const carrier = await open_tunnel(s.connect(), { extra: { origin: 'https://evil.example' } });
    assert.equal(carrier.status, 403);
    assert.equal(carrier.headers[HEADER.ERROR], 'ERR_HTTP2_DUPLEX_ORIGIN_NOT_ALLOWED');
    assert.equal(opened, false);
    assert.equal(s.server.stats().duplexes, 0);
    assert.equal(warnings[0]?.code, 'ERR_HTTP2_DUPLEX_ORIGIN_NOT_ALLOWED');
});

test('tunnel: a preflight may ask for the tunnel header, and an answer exposes it', async t => {
    const { s } = await serve(t, { cors: { origins: ['https://app.example'] } });
    const answer = await request(s.connect(), {
        ':method': 'OPTIONS', ':path': '/duplex', origin: 'https://app.example',
        'access-control-request-method': 'GET'
    });
    assert.match(answer.headers['access-control-allow-headers'], /\bhttp2-duplex-tunnel\b/);
    const carrier = await open_tunnel(s.connect(), { extra: { origin: 'https://app.example' } });
    assert.equal(carrier.status, 200);
    assert.match(carrier.headers['access-control-expose-headers'], /\bhttp2-duplex-tunnel\b/);
});

// A cut connection detaches the duplex; a new tunnel on a new connection
// resumes it, and each side sends again what the other lacks.
test('tunnel: after its connection is cut, a new tunnel resumes the duplex byte-exact both ways', async t => {
    const { s, warnings } = await serve(t, { node_id: 'n1' });
    const { t: first, session, duplex, id, secret } = await open_duplex(s);
    const errors = [];
    duplex.on('error', err => errors.push(err));
    const resumed = once(duplex, 'resumed');
    const before = randomBytes(50000);
    duplex.write(before);
    const got = binary(await first.until(f => binary(f).length >= 20000));
    session.destroy();
    const after = randomBytes(30000);
    duplex.write(after);
    const second = await tunnel(s.connect(), `${WEBSOCKET.RESUME_PREFIX}${id} ${secret} ${got.length}`,
        { path: `/duplex${WEBSOCKET.RESUME_QUERY}n1` });
    assert.equal(texts(second.frames)[0], `${WEBSOCKET.RESUMED_PREFIX}0`);
    const expected = Buffer.concat([before, after]);
    const rest = await second.until(f => got.length + binary(f).length >= expected.length);
    assert.deepEqual(Buffer.concat([got, binary(rest)]), expected);
    await resumed;
    const read = once(duplex, 'data');
    await second.send(frame(2, 'after the cut'));
    assert.equal(String((await read)[0]), 'after the cut');
    assert.deepEqual(errors, []);
    assert.equal(s.server.stats().duplexes, 1);
    assert.deepEqual(warnings.filter(w => /RESUME/.test(w.code)), []);
});

// Across transports: a duplex opened on a WebSocket resumes on a tunnel,
// and one opened on a tunnel resumes on a WebSocket.
test('tunnel: a WebSocket duplex resumes on a tunnel, and a tunnel duplex on a WebSocket', async t => {
    const { s } = await serve(t, {});
    const opened = once(s.server, 'duplex');
    const ws_session = s.connect();
    const ws = await open_rfc8441(ws_session, '/duplex', `${WEBSOCKET.RESUME_SUBPROTOCOL}, ${WEBSOCKET.SUBPROTOCOL}`);
    const ws_frames = read_frames(ws.stream);
    ws.stream.write(frame(1, WEBSOCKET.OPEN_MESSAGE));
    const [duplex, id] = await opened;
    const [, , secret] = texts(await ws_frames(f => f.some(x => x.opcode === 1)))[0].split(' ');
    ws_session.destroy();
    duplex.write('one');
    const on_tunnel = await tunnel(s.connect(), `${WEBSOCKET.RESUME_PREFIX}${id} ${secret} 0`);
    assert.equal(texts(on_tunnel.frames)[0], `${WEBSOCKET.RESUMED_PREFIX}0`);
    assert.equal(String(binary(await on_tunnel.until(f => binary(f).length >= 3))), 'one');
    assert.equal(duplex.transport, 'websocket', 'the application duplex is the same object');
    on_tunnel.get.close();
    await once(on_tunnel.get, 'close');
    duplex.write('two');
    const back = s.connect();
    const ws2 = await open_rfc8441(back, '/duplex', WEBSOCKET.RESUME_SUBPROTOCOL);
    const frames2 = read_frames(ws2.stream);
    ws2.stream.write(frame(1, `${WEBSOCKET.RESUME_PREFIX}${id} ${secret} 3`));
    const got = await frames2(f => binary(f).length >= 3);
    assert.equal(texts(got)[0], `${WEBSOCKET.RESUMED_PREFIX}0`);
    assert.equal(String(binary(got)), 'two');
});

test('tunnel: a resume with a wrong secret is refused with a Close naming the code and harms nothing', async t => {
    const { s, warnings } = await serve(t, {});
    const { duplex, id } = await open_duplex(s);
    const refused = await tunnel(s.connect(), `${WEBSOCKET.RESUME_PREFIX}${id} ${'A'.repeat(22)} 0`);
    const close = refused.frames.find(f => f.opcode === 8);
    assert.equal(close.payload.readUInt16BE(0), 1008);
    assert.equal(close.payload.subarray(2).toString(), 'ERR_HTTP2_DUPLEX_RESUME_REFUSED');
    assert.equal(warnings.at(-1).code, 'ERR_HTTP2_DUPLEX_RESUME_REFUSED');
    assert.equal(duplex.destroyed, false);
    assert.equal(s.server.stats().duplexes, 1);
});

test('tunnel: a detached duplex left past resume_timeout is gone, with no error listener needed', async t => {
    const { s, warnings } = await serve(t, { resume_timeout: 200 });
    const { session, duplex } = await open_duplex(s);
    const closed = closing_of(duplex);
    session.destroy();
    await closed;
    assert.equal(s.server.stats().duplexes, 0);
    assert.ok(warnings.some(w => w.code === 'ERR_HTTP2_DUPLEX_RESUME_TIMEOUT'));
});

// HTTP/1.1 (a plain http.Server, as behind a proxy that speaks it to its
// nodes): the carrier's GET and POSTs are requests of their own, and a
// duplex whose GET was cut resumes on a new one.
test('tunnel: over HTTP/1.1 a tunnel opens, echoes, and resumes after its GET is cut', async t => {
    const http_server = http.createServer();
    const server = new Http2DuplexServer(http_server, '/duplex', { keepalive_interval: 0 });
    const warnings = [];
    server.on('warning', w => warnings.push(w));
    http_server.listen(0, '127.0.0.1');
    await once(http_server, 'listening');
    t.after(() => {
        server.detach();
        http_server.closeAllConnections();
        http_server.close();
    });
    const origin = `http://127.0.0.1:${http_server.address().port}`;
    const opened = once(server, 'duplex');
    const first = await tunnel(origin, WEBSOCKET.OPEN_MESSAGE);
    const [duplex, id] = await opened;
    assert.equal(duplex.transport, 'tunnel');
    const [, , secret] = texts(first.frames)[0].split(' ');
    const read = once(duplex, 'data');
    await first.send(frame(2, 'over HTTP/1.1'));
    assert.equal(String((await read)[0]), 'over HTTP/1.1');
    first.get.destroy();
    duplex.write('while cut');
    const second = await tunnel(origin, `${WEBSOCKET.RESUME_PREFIX}${id} ${secret} 0`);
    assert.equal(texts(second.frames)[0], `${WEBSOCKET.RESUMED_PREFIX}13`);
    assert.equal(String(binary(await second.until(f => binary(f).length >= 9))), 'while cut');
    assert.equal(duplex.destroyed, false);
    assert.deepEqual(warnings.filter(w => /RESUME/.test(w.code)), []);
});
