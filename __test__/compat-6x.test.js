'use strict';
// The rest of 6.0.3's public server surface, with 6.0.3's meaning, and the
// bounds a server keeps when its application does not read.
const test = require('node:test');
const assert = require('node:assert/strict');
const { once, EventEmitter } = require('events');
const http2 = require('http2');
const { Http2DuplexServer } = require('..');
const {
    start_server, one_duplex, open, post, next_duplex, read_all
} = require('../support/h2');

const END = { 'http2-duplex-end': 'true' };

test('common_headers is public and sent on every answer', async t => {
    const s = await start_server();
    t.after(s.close);
    assert.equal(s.server.common_headers['cache-control'],
        'max-age=0, no-cache, must-revalidate, proxy-revalidate');
    s.server.common_headers['x-app'] = 'yes';
    const session = s.connect();
    const { headers, id } = await open(session);
    assert.equal(headers['x-app'], 'yes');
    assert.equal((await post(session, 'nope', 'x')).headers['x-app'], 'yes');
    assert.equal((await post(session, id, 'x')).headers['x-app'], 'yes');
});

test('detached, an app drives streams itself with process_session, process_stream and new_stream', async t => {
    const s = await start_server();
    t.after(s.close);
    s.server.detach();
    const results = [];
    // process_session: the server serves the duplex path of this session again.
    s.http2_server.once('session', session => s.server.process_session(session));
    const session = s.connect();
    const opened = next_duplex(s.server);
    const { id } = await open(session);
    const { duplex } = await opened;
    const received = read_all(duplex);
    assert.equal((await post(session, id, 'hi')).status, 200);
    assert.equal((await post(session, id, undefined, END)).status, 200);
    assert.equal((await received).toString(), 'hi');

    // process_stream with the app's own duplexes Map: false for another path.
    const duplexes = new Map();
    s.http2_server.on('stream', (stream, headers, flags, raw) => {
        if (stream.session !== session) {
            s.server.process_stream(stream, headers, flags, raw, duplexes, { 'x-own': '1' })
                .then(handled => {
                    results.push(handled);
                    if (!handled) {
                        stream.respond({ ':status': 204 }, { endStream: true });
                    }
                });
        }
    });
    const other = s.connect();
    const own = await open(other);
    assert.equal(own.headers['x-own'], '1');
    assert.ok(duplexes.get(own.id), 'the duplex is in the Map the app passed');
    const elsewhere = other.request({ ':path': '/elsewhere' });
    elsewhere.end();
    const [answer] = await once(elsewhere, 'response');
    assert.equal(answer[':status'], 204);
    assert.deepEqual(results, [true, false]);
});

test('own_stream takes a stream\'s errors once; destroy turns a throw into a warning', async t => {
    const s = await start_server();
    t.after(s.close);
    const warnings = [];
    s.server.on('warning', err => warnings.push(err));
    s.server.destroy({ destroy() { throw new Error('thrown'); } });
    assert.equal(warnings.at(-1).message, 'thrown');
    // own_stream is idempotent and adds one error handler.
    const fake = new EventEmitter();
    s.server.own_stream(fake);
    s.server.own_stream(fake);
    assert.equal(fake.listenerCount('error'), 1);
    fake.emit('error', new Error('ignored'));
});

test('new_stream resolves to the duplex it opened', async t => {
    const s = await start_server();
    t.after(s.close);
    s.server.detach();
    const duplexes = new Map();
    const made = new Promise(resolve => s.http2_server.on('stream', (stream, headers, flags, raw) =>
        resolve(s.server.new_stream(stream, headers, flags, raw, duplexes, {}))));
    const session = s.connect();
    const { id } = await open(session);
    const duplex = await made;
    assert.equal(duplexes.get(id), duplex);
    assert.equal(typeof duplex.pipe, 'function');
});

test('options are checked once: an integer in range or a RangeError naming the option', () => {
    const server = http2.createServer();
    const big = new Http2DuplexServer(server, '/d', { max_write_bytes: 2 ** 32 });
    assert.equal(big.limits.maxWriteBytes, 2 ** 32);
    big.detach();
    for (const [option, value] of [
        ['window', 0], ['window', 1.5], ['max_write_bytes', -1], ['max_duplexes_per_session', '10'],
        ['window_bytes', 2 ** 53], ['idle_timeout', Infinity], ['close_timeout', NaN]
    ]) {
        assert.throws(() => new Http2DuplexServer(server, '/d', { [option]: value }), err => {
            assert.equal(err.name, 'RangeError');
            assert.equal(err.code, 'ERR_HTTP2_DUPLEX_INVALID_OPTION');
            assert.ok(err.message.includes(option), err.message);
            return true;
        }, `${option}: ${value}`);
    }
});

// Waits until the server has handled every frame the client sent before.
async function settled(session) {
    for (let i = 0; i < 3; i++) {
        await new Promise((resolve, reject) => session.ping(err => err ? reject(err) : resolve()));
    }
}

test('a never-reading app holds what flow control lets through, not what clients send; reading resumes all', async t => {
    // 8 POSTs of 1 MiB in flight: a window of 16 MiB lets them all go.
    const { s, session, id, duplex } = await one_duplex(t, { highWaterMark: 16384, window_bytes: 16 << 20 });
    const size = 1024 * 1024;
    const posts = [];
    for (let seq = 0; seq < 8; seq++) {
        posts.push(post(session, id, Buffer.alloc(size, seq), { 'http2-duplex-seq': String(seq) }));
    }
    let answered = 0;
    for (const p of posts) {
        p.then(() => answered++);
    }
    await once(duplex, 'readable');
    await settled(session);
    await settled(session);
    // 8 MiB sent; the reader holds its highWaterMark, the core almost nothing.
    assert.ok(duplex.readableLength <= 16384 + 65536, `reader holds ${duplex.readableLength}`);
    assert.ok(s.server.stats().heldBytes <= 8 * 65536, `core holds ${s.server.stats().heldBytes}`);
    assert.equal(answered, 0);
    const received = read_all(duplex);
    const statuses = (await Promise.all(posts)).map(r => r.status);
    assert.deepEqual(statuses, Array(8).fill(200));
    assert.equal((await post(session, id, undefined, { ...END, 'http2-duplex-seq': '8' })).status, 200);
    const all = await received;
    assert.equal(all.length, 8 * size);
    for (let seq = 0; seq < 8; seq++) {
        assert.equal(all[seq * size], seq);
        assert.equal(all[(seq + 1) * size - 1], seq);
    }
});

test('the table of codes is exported, equal to the core\'s, and every code a test meets is in it', () => {
    const { codes } = require('..');
    const native = require('../lib/native');
    assert.deepEqual(Object.keys(codes), native.errorCodes());
    assert.deepEqual(codes.ERR_HTTP2_DUPLEX_UNKNOWN_ID.status, 404);
    assert.equal(codes.ERR_HTTP2_DUPLEX_CLIENT_RESET.status, null);
});

test('two Http2DuplexServers on one HTTP/2 server, both used on one session', async t => {
    const s = await start_server();
    t.after(s.close);
    const other = new Http2DuplexServer(s.http2_server, '/other');
    t.after(() => other.detach());
    const session = s.connect();
    const opened = [next_duplex(s.server), next_duplex(other)];
    const first = await open(session, '/duplex');
    const second = await open(session, '/other');
    const [a, b] = await Promise.all(opened);
    const received = [read_all(a.duplex), read_all(b.duplex)];
    assert.equal((await post(session, first.id, 'one')).status, 200);
    assert.equal((await post(session, second.id, 'two', {}, '/other')).status, 200);
    assert.equal((await post(session, first.id, undefined, END)).status, 200);
    assert.equal((await post(session, second.id, undefined, END, '/other')).status, 200);
    assert.deepEqual((await Promise.all(received)).map(String), ['one', 'two']);
});
