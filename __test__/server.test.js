'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('events');
const { createHash, randomBytes } = require('crypto');
const http2 = require('http2');
const { Readable } = require('stream');
const { Http2DuplexServer } = require('..');
const {
    start_server, one_duplex, request, open, post, next_duplex, read_bytes, read_all
} = require('../support/h2');

const sha256 = data => createHash('sha256').update(data).digest('hex');

test('GET opens a duplex with the protocol headers and the preamble', async t => {
    const s = await start_server();
    t.after(s.close);
    const session = s.connect();
    const opened = next_duplex(s.server);
    const { id, headers } = await open(session);
    assert.equal(headers[':status'], 200);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(headers['content-type'], 'application/octet-stream');
    assert.equal(headers['cache-control'], 'max-age=0, no-cache, must-revalidate, proxy-revalidate');
    assert.deepEqual(headers['access-control-expose-headers'].split(', '),
        ['http2-duplex-id', 'http2-duplex-version', 'http2-duplex-window', 'http2-duplex-window-bytes',
            'http2-duplex-error', 'http2-duplex-framing', 'http2-duplex-tunnel']);
    assert.equal(headers['http2-duplex-version'], '2');
    const event = await opened;
    assert.equal(event.id, id);
    assert.equal(event.duplex.stream.constructor.name, 'ServerHttp2Stream');
});

test('duplex event carries the request and the per-session map', async t => {
    const s = await start_server();
    t.after(s.close);
    const session = s.connect();
    const event = once(s.server, 'duplex');
    const { id } = await open(session);
    const [duplex, event_id, headers, flags, raw_headers, duplexes, response_headers] = await event;
    assert.equal(event_id, id);
    assert.equal(headers[':method'], 'GET');
    assert.equal(typeof flags, 'number');
    assert.ok(Array.isArray(raw_headers));
    assert.equal(duplexes.get(id), duplex);
    assert.equal(typeof response_headers, 'object');
});

test('a write POST is delivered and answered; server writes reach the GET body', async t => {
    const { session, id, stream, duplex } = await one_duplex(t);
    const received = read_bytes(duplex, 5);
    const answered = await post(session, id, 'hello');
    assert.equal(answered.status, 200);
    assert.equal((await received).toString(), 'hello');
    duplex.end('bye');
    const body = [];
    stream.on('data', chunk => body.push(chunk));
    await once(stream, 'end');
    assert.equal(Buffer.concat(body).toString(), 'bye');
});

test('a streaming POST delivers every write; its end ends the duplex', async t => {
    const { session, id, duplex } = await one_duplex(t);
    const upload = session.request({
        ':method': 'POST', ':path': '/duplex',
        'http2-duplex-id': id, 'http2-duplex-single': 'true'
    });
    upload.write('one,');
    assert.equal((await read_bytes(duplex, 4)).toString(), 'one,');
    const response_event = once(upload, 'response');
    upload.end('two');
    assert.equal((await read_all(duplex)).toString(), 'two');
    const [response] = await response_event;
    assert.equal(response[':status'], 200);
});

test('end POST ends the readable side; a second end is unknown', async t => {
    const { session, id, duplex } = await one_duplex(t);
    duplex.resume();
    const ended = once(duplex, 'end');
    assert.equal((await post(session, id, undefined, { 'http2-duplex-end': 'true' })).status, 200);
    await ended;
    assert.equal((await post(session, id, undefined, { 'http2-duplex-end': 'true' })).status, 404);
});

test('end POST with destroyed closes the GET stream', async t => {
    const { session, id, stream, duplex } = await one_duplex(t);
    duplex.resume();
    const closed = once(stream, 'close');
    const duplex_closed = once(duplex, 'close');
    const answered = await post(session, id, undefined,
        { 'http2-duplex-end': 'true', 'http2-duplex-destroyed': 'true' });
    assert.equal(answered.status, 200);
    await closed;
    await duplex_closed;
});

test('an unknown id and an id of another session get 404', async t => {
    const s = await start_server();
    t.after(s.close);
    const one = s.connect();
    const other = s.connect();
    const opened = next_duplex(s.server);
    const { id } = await open(one);
    const { duplex } = await opened;
    let leaked = false;
    duplex.on('data', () => { leaked = true; });
    assert.equal((await post(one, 'no-such-id', 'x')).status, 404);
    assert.equal((await post(other, id, 'x')).status, 404);
    assert.equal((await post(other, id, undefined, { 'http2-duplex-end': 'true' })).status, 404);
    assert.equal(leaked, false);
    assert.equal((await post(one, id, 'mine')).status, 200);
});

test('other methods get 405 and a warning', async t => {
    const s = await start_server();
    t.after(s.close);
    const session = s.connect();
    for (const method of ['PUT', 'DELETE', 'PATCH']) {
        const warning = once(s.server, 'warning');
        const answered = await request(session, { ':method': method, ':path': '/duplex' }, 'x');
        assert.equal(answered.status, 405);
        assert.equal((await warning)[0].message, `unknown method: ${method}`);
    }
});

test('other paths are left to unhandled_stream', async t => {
    const s = await start_server();
    t.after(s.close);
    const session = s.connect();
    s.server.once('unhandled_stream', (stream, headers, flags, raw, duplexes, response_headers) => {
        assert.equal(headers[':path'], '/elsewhere');
        assert.ok(duplexes instanceof Map);
        assert.equal(stream.headersSent, false);
        stream.respond({ ':status': 418, ...response_headers }, { endStream: true });
    });
    const answered = await request(session, { ':path': '/elsewhere' });
    assert.equal(answered.status, 418);
});

test('backpressure: POSTs are answered only once the reader takes their chunks', async t => {
    const { session, id, duplex } = await one_duplex(t, { highWaterMark: 1024 });
    // Nobody reads: the POST's chunk fills the readable buffer past its mark.
    let answered = false;
    const write = post(session, id, Buffer.alloc(2048)).then(r => { answered = true; return r; });
    await once(duplex, 'readable');
    assert.equal(duplex.readableLength, 2048);
    // A later request's answer arrives after the POST's would have.
    assert.equal((await post(session, 'unknown', 'x')).status, 404);
    assert.equal(answered, false);
    assert.equal(duplex.read().length, 2048);
    assert.equal((await write).status, 200);
});

test('a streaming POST is paused while the reader does not read', async t => {
    const { session, id, duplex } = await one_duplex(t, { highWaterMark: 1024 });
    const upload = session.request({
        ':method': 'POST', ':path': '/duplex',
        'http2-duplex-id': id, 'http2-duplex-single': 'true'
    });
    // Write until HTTP/2 flow control pushes back: the server stopped reading.
    const chunk = Buffer.alloc(16384);
    let written = 0;
    while (upload.write(chunk)) {
        written += chunk.length;
    }
    written += chunk.length;
    await new Promise(resolve => setImmediate(resolve));
    assert.ok(duplex.readableLength < 1024 * 1024,
        `server held ${duplex.readableLength} bytes`);
    upload.end();
    const total = (await read_all(duplex)).length;
    assert.equal(total, written);
});

test('50 duplexes on one session stay apart', async t => {
    const s = await start_server();
    t.after(s.close);
    const session = s.connect();
    s.server.on('duplex', duplex => duplex.pipe(duplex));
    const opened = await Promise.all(Array.from({ length: 50 }, () => open(session)));
    await Promise.all(opened.map(async ({ id, stream }, i) => {
        const message = `message ${i} for ${id}`;
        const echoed = read_bytes(stream, message.length);
        assert.equal((await post(session, id, message)).status, 200);
        assert.equal((await echoed).toString(), message);
    }));
    assert.equal(s.server.stats().duplexes, 50);
});

test('10 MiB in random-sized writes both ways, checked by SHA-256', async t => {
    const { session, id, stream, duplex } = await one_duplex(t);
    const size = 10 * 1024 * 1024;
    const up = randomBytes(size);
    const down = randomBytes(size);
    const server_got = read_all(duplex);
    const client_got = read_all(stream);
    // Written in pieces so that the server's writes see backpressure.
    Readable.from(chunks_of(down, 64 * 1024)).pipe(duplex);
    for (let offset = 0; offset < size;) {
        const length = Math.min(size - offset, 1 + Math.floor(Math.random() * 256 * 1024));
        assert.equal((await post(session, id, up.subarray(offset, offset + length))).status, 200);
        offset += length;
    }
    assert.equal((await post(session, id, undefined, { 'http2-duplex-end': 'true' })).status, 200);
    assert.equal(sha256(await server_got), sha256(up));
    assert.equal(sha256(await client_got), sha256(down));
});

function* chunks_of(data, size) {
    for (let offset = 0; offset < data.length; offset += size) {
        yield data.subarray(offset, offset + size);
    }
}

test('closing the session ends every duplex on it', async t => {
    const s = await start_server();
    t.after(s.close);
    const session = s.connect();
    const opened = [next_duplex(s.server)];
    await open(session);
    opened.push(next_duplex(s.server));
    await open(session);
    const duplexes = (await Promise.all(opened)).map(({ duplex }) => duplex);
    const ended = duplexes.map(duplex => { duplex.resume(); return once(duplex, 'end'); });
    session.destroy();
    await Promise.all(ended);
    assert.equal(s.server.stats().sessions, 0);
    assert.equal(s.server.stats().duplexes, 0);
});

test('when the duplex is destroyed, an open POST is answered 410 (not taken) and later closed', async t => {
    const { session, id, duplex } = await one_duplex(t, { close_timeout: 50 });
    const upload = session.request({
        ':method': 'POST', ':path': '/duplex',
        'http2-duplex-id': id, 'http2-duplex-single': 'true'
    });
    upload.write('x');
    await read_bytes(duplex, 1);
    duplex.destroy();
    const [response] = await once(upload, 'response');
    assert.equal(response[':status'], 410);
    assert.equal(response['http2-duplex-error'], 'ERR_HTTP2_DUPLEX_DESTROYED');
    await once(upload, 'close');
});

test('errors the application puts on the GET stream reach the duplex', async t => {
    const s = await start_server();
    t.after(s.close);
    const session = s.connect();
    const opened = next_duplex(s.server);
    await open(session);
    const { duplex } = await opened;
    const failed = once(duplex, 'error');
    duplex.stream.destroy(new Error('boom'));
    assert.equal((await failed)[0].message, 'boom');
});

test('a client resetting its streams never crashes the server', async t => {
    const s = await start_server();
    t.after(s.close);
    s.server.on('duplex', duplex => {
        duplex.on('error', () => {});
        duplex.pipe(duplex);
    });
    const session = s.connect();
    const { id, stream } = await open(session);
    const upload = session.request({
        ':method': 'POST', ':path': '/duplex', 'http2-duplex-id': id
    });
    upload.write('partial');
    upload.close(http2.constants.NGHTTP2_CANCEL);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await once(stream, 'close');
    // The server still serves new duplexes on the same session.
    const again = await open(session);
    assert.equal((await post(session, again.id, 'ok')).status, 200);
});

test('detach destroys every session it saw; attach and detach are idempotent', async t => {
    const s = await start_server();
    t.after(s.close);
    s.server.attach();
    const session = s.connect();
    await open(session);
    assert.equal(s.server.sessions.size, 1);
    const closed = once(session, 'close');
    s.server.detach();
    s.server.detach();
    await closed;
    s.server.attach();
    s.server.attach();
    assert.equal(s.http2_server.listenerCount('session'), 1);
});

test('a session whose destroy throws gives a warning, not an exception', async t => {
    const s = await start_server();
    t.after(s.close);
    const session = s.connect();
    await open(session);
    const [server_session] = s.server.sessions;
    const destroy = server_session.destroy;
    server_session.destroy = () => { throw new Error('cannot destroy'); };
    const warning = once(s.server, 'warning');
    s.server.detach();
    assert.equal((await warning)[0].message, 'cannot destroy');
    server_session.destroy = destroy;
});

test('each session gets the larger HTTP/2 receive windows; 0 keeps the server\'s', async t => {
    const windows_seen = async options => {
        const s = await start_server(options);
        t.after(s.close);
        const session = s.connect();
        // The new SETTINGS and WINDOW_UPDATE precede the GET's answer.
        await open(session);
        return {
            stream: session.remoteSettings.initialWindowSize,
            session: session.state.remoteWindowSize
        };
    };
    assert.deepEqual(await windows_seen(), { stream: 1024 * 1024, session: 8 * 1024 * 1024 });
    assert.deepEqual(await windows_seen({ session_window: 0, stream_window: 0 }),
        { stream: 65535, session: 65535 });
    const server = http2.createServer();
    assert.throws(() => new Http2DuplexServer(server, '/duplex', { stream_window: 2 ** 31 }),
        { name: 'RangeError', code: 'ERR_HTTP2_DUPLEX_INVALID_OPTION' });
    assert.throws(() => new Http2DuplexServer(server, '/duplex', { session_window: -1 }),
        { name: 'RangeError', code: 'ERR_HTTP2_DUPLEX_INVALID_OPTION' });
});

test('a streaming POST that ends while the reader is full is answered 200 once the reader has read to the end', async t => {
    const { session, id, duplex } = await one_duplex(t, { highWaterMark: 1024 });
    const upload = session.request({
        ':method': 'POST', ':path': '/duplex',
        'http2-duplex-id': id, 'http2-duplex-single': 'true'
    });
    // One DATA frame with END_STREAM: the piece fills the reader and the
    // body's end comes with it.
    const body = Buffer.alloc(15 * 1024, 7);
    upload.end(body);
    let answered = false;
    const response = once(upload, 'response').then(([headers]) => {
        answered = true;
        return headers[':status'];
    });
    await once(duplex, 'readable');
    assert.equal(answered, false, 'answered before the reader took the bytes');
    assert.equal((await read_all(duplex)).length, body.length);
    assert.equal(await response, 200);
});

// Splits a framed GET body (after the preamble) into [type, payload] frames.
function frames_of(body) {
    const frames = [];
    for (let at = 0; at < body.length;) {
        const length = body.readUInt32BE(at + 1);
        frames.push([body[at], body.subarray(at + 5, at + 5 + length).toString()]);
        at += 5 + length;
    }
    return frames;
}

test('framed GET body on request: DATA per write, PING when idle, END when the server ends', async t => {
    const s = await start_server({ keepalive_interval: 50 });
    t.after(s.close);
    const session = s.connect();
    const opened = next_duplex(s.server);
    const get = session.request({ ':path': '/duplex', 'http2-duplex-framing': '1' });
    const [headers] = await once(get, 'response');
    assert.equal(headers['http2-duplex-framing'], '1');
    assert.match(headers['access-control-expose-headers'], /http2-duplex-framing/);
    const chunks = [];
    get.on('data', c => chunks.push(c));
    const { duplex } = await opened;
    duplex.write('one');
    // Idle for more than one keepalive_interval: a PING comes.
    await new Promise(resolve => get.on('data', function seen(c) {
        if (Buffer.concat(chunks).includes(Buffer.from([1, 0, 0, 0, 0]))) {
            get.off('data', seen);
            resolve();
        }
    }));
    duplex.end('two');
    await once(get, 'end');
    const body = Buffer.concat(chunks);
    assert.equal(body[0], 0x61);
    const frames = frames_of(body.subarray(1)).filter(([type]) => type !== 1);
    assert.deepEqual(frames, [[0, 'one'], [0, 'two'], [2, '']]);
});

test('a GET that does not ask gets the raw body, as 6.x', async t => {
    const { duplex, stream, headers } = await one_duplex(t);
    assert.equal(headers['http2-duplex-framing'], undefined);
    const chunks = [];
    stream.on('data', c => chunks.push(c));
    duplex.end('raw');
    await once(stream, 'end');
    assert.equal(Buffer.concat(chunks).toString(), 'raw');
});

test('a destroyed duplex ends a framed GET without its END frame (a reset WebKit would never report)', async t => {
    const s = await start_server();
    t.after(s.close);
    const session = s.connect();
    const opened = next_duplex(s.server);
    const get = session.request({ ':path': '/duplex', 'http2-duplex-framing': '1' });
    get.on('error', () => {});
    const chunks = [];
    get.on('data', c => chunks.push(c));
    await once(get, 'response');
    const { duplex } = await opened;
    duplex.write('partial');
    duplex.destroy();
    await once(get, 'end');
    assert.equal(get.rstCode, http2.constants.NGHTTP2_NO_ERROR);
    const frames = frames_of(Buffer.concat(chunks).subarray(1));
    assert.deepEqual(frames, [[0, 'partial']]);
});
