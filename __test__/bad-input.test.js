'use strict';
// One test per row of docs/hardening.md: every bad input gets a clear answer,
// never a crash, and the other duplexes lose nothing.
const test = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('events');
const http2 = require('http2');
const {
    start_server, request, open, post, next_duplex, read_bytes, read_all
} = require('../support/h2');

const END = { 'http2-duplex-end': 'true' };

const pick = ({ code, status }) => ({ code, status });

async function setup(t, options) {
    const s = await start_server(options);
    t.after(s.close);
    const warnings = [];
    s.server.on('warning', err => warnings.push(err));
    const session = s.connect();
    const duplex_of = async () => {
        const opened = next_duplex(s.server);
        const client = await open(session);
        const { duplex } = await opened;
        return { ...client, duplex };
    };
    return { s, session, warnings, duplex_of };
}

// A bystander duplex whose data must come through whole, whatever happens to others.
async function bystander(ctx) {
    const { id, duplex } = await ctx.duplex_of();
    const received = read_all(duplex);
    assert.equal((await post(ctx.session, id, 'before')).status, 200);
    return async () => {
        assert.equal((await post(ctx.session, id, 'after')).status, 200);
        assert.equal((await post(ctx.session, id, undefined, END)).status, 200);
        assert.equal((await received).toString(), 'beforeafter');
    };
}

test('POST without http2-duplex-id: 404 as in 6.x, and a warning', async t => {
    const ctx = await setup(t);
    const check = await bystander(ctx);
    const answered = await request(ctx.session, { ':method': 'POST', ':path': '/duplex' }, 'x');
    assert.equal(answered.status, 404);
    assert.equal(answered.headers['http2-duplex-error'], 'ERR_HTTP2_DUPLEX_MISSING_ID');
    assert.deepEqual(pick(ctx.warnings.at(-1)), { code: 'ERR_HTTP2_DUPLEX_MISSING_ID', status: 404 });
    await check();
});

test('id from another session: 404', async t => {
    const ctx = await setup(t);
    const { id, duplex } = await ctx.duplex_of();
    const other = ctx.s.connect();
    assert.equal((await post(other, id, 'intruder')).status, 404);
    assert.equal(duplex.readableLength, 0);
    assert.match(ctx.warnings.at(-1).message, /unknown http2-duplex-id/);
});

test('id of a duplex already ended: 404', async t => {
    const ctx = await setup(t);
    const { id, duplex } = await ctx.duplex_of();
    duplex.resume();
    assert.equal((await post(ctx.session, id, undefined, END)).status, 200);
    assert.equal((await post(ctx.session, id, 'late')).status, 404);
});

test('malformed and oversized header values: 400 or 404, never a crash', async t => {
    const ctx = await setup(t);
    const check = await bystander(ctx);
    const { id, duplex } = await ctx.duplex_of();
    const failed = once(duplex, 'error');
    assert.equal((await post(ctx.session, 'x'.repeat(8000), 'x')).status, 404);
    assert.equal((await post(ctx.session, `${id}, ${id}`, 'x')).status, 404);
    assert.equal((await post(ctx.session, id, 'x', { 'http2-duplex-seq': '9'.repeat(40) })).status, 400);
    assert.equal((await failed)[0].status, 400);
    await check();
});

test('end POST twice: the second gets 404', async t => {
    const ctx = await setup(t);
    const { id, duplex } = await ctx.duplex_of();
    duplex.resume();
    assert.equal((await post(ctx.session, id, undefined, END)).status, 200);
    assert.equal((await post(ctx.session, id, undefined, END)).status, 404);
});

test('end POST twice while the first waits for writes: 409', async t => {
    const ctx = await setup(t);
    const { id, duplex } = await ctx.duplex_of();
    duplex.on('error', () => {});
    const seq = { 'http2-duplex-seq': '1' };
    post(ctx.session, id, undefined, { ...END, ...seq });
    assert.equal((await post(ctx.session, id, undefined, { ...END, ...seq })).status, 409);
});

test('write POST after end: 404', async t => {
    const ctx = await setup(t);
    const { id, duplex } = await ctx.duplex_of();
    duplex.resume();
    await post(ctx.session, id, undefined, END);
    assert.equal((await post(ctx.session, id, 'more')).status, 404);
});

test('a second streaming POST while one is open: 409, the first goes on', async t => {
    const ctx = await setup(t);
    const { id, duplex } = await ctx.duplex_of();
    duplex.on('error', () => {});
    const headers = {
        ':method': 'POST', ':path': '/duplex',
        'http2-duplex-id': id, 'http2-duplex-single': 'true'
    };
    const first = ctx.session.request(headers);
    first.write('one');
    assert.equal((await read_bytes(duplex, 3)).toString(), 'one');
    assert.equal((await request(ctx.session, headers, 'two')).status, 409);
    assert.match(ctx.warnings.at(-1).message, /streaming POST is already open/);
});

test('client resets the GET (CANCEL): the duplex closes quietly, frees its slot, and warns', async t => {
    const ctx = await setup(t);
    const check = await bystander(ctx);
    const { stream, duplex } = await ctx.duplex_of();
    duplex.write('some');
    const before = ctx.s.server.stats().duplexes;
    stream.close(http2.constants.NGHTTP2_CANCEL);
    // events.once() would listen for 'error'; the app here does not.
    await new Promise(resolve => duplex.on('close', resolve));
    assert.equal(duplex.errored, null);
    assert.deepEqual(pick(ctx.warnings.at(-1)), { code: 'ERR_HTTP2_DUPLEX_CLIENT_RESET', status: undefined });
    assert.equal(ctx.s.server.stats().duplexes, before - 1);
    await check();
});

test('client resets a write POST mid-body: the duplex errors, others are untouched', async t => {
    const ctx = await setup(t);
    const check = await bystander(ctx);
    const { id, duplex } = await ctx.duplex_of();
    const failed = once(duplex, 'error');
    // Node's client ends the body before it resets; the declared length
    // shows the body was cut short, as a browser's reset would.
    const upload = ctx.session.request({
        ':method': 'POST', ':path': '/duplex', 'http2-duplex-id': id, 'content-length': '100'
    });
    upload.on('error', () => {});
    upload.write('partial');
    await read_bytes(duplex, 7);
    upload.close(http2.constants.NGHTTP2_CANCEL);
    assert.equal((await failed)[0].code, 'ERR_HTTP2_DUPLEX_TRUNCATED_BODY');
    await check();
});

test('session cut with a write in flight: that duplex errors (SESSION_CLOSED), the registry empties', async t => {
    const ctx = await setup(t);
    const session = ctx.s.connect();
    const opened = next_duplex(ctx.s.server);
    const { id } = await open(session);
    const { duplex } = await opened;
    const arrived = new Promise(resolve => ctx.s.http2_server.once('stream',
        stream => stream.once('data', resolve)));
    const upload = session.request({
        ':method': 'POST', ':path': '/duplex', 'http2-duplex-id': id, 'http2-duplex-seq': '1'
    });
    upload.on('error', () => {});
    upload.write('early');
    await arrived;
    assert.equal(ctx.s.server.stats().heldBytes, 5);
    const failed = once(duplex, 'error');
    duplex.resume();
    session.destroy();
    assert.equal((await failed)[0].code, 'ERR_HTTP2_DUPLEX_SESSION_CLOSED');
    assert.equal(ctx.warnings.at(-1).code, 'ERR_HTTP2_DUPLEX_SESSION_CLOSED');
    assert.deepEqual(ctx.s.server.stats(), {
        sessions: 1, duplexes: 0, heldBytes: 0, writesInFlight: 0
    });
});

test('a client that never reads the GET body: server writes see backpressure', async t => {
    const ctx = await setup(t);
    const { stream, duplex } = await ctx.duplex_of();
    stream.pause();
    const chunk = Buffer.alloc(64 * 1024);
    let written = 0;
    while (duplex.write(chunk)) {
        written += chunk.length;
        assert.ok(written < 64 * 1024 * 1024, 'write() never returned false');
    }
    // Flow control stops the GET at its window; the rest waits in the duplex.
    await new Promise(resolve => setImmediate(resolve));
    assert.ok(duplex.writableLength <= 2 * duplex.writableHighWaterMark + chunk.length);
    const drained = once(duplex, 'drain');
    stream.resume();
    await drained;
});

for (const method of ['HEAD', 'PUT', 'DELETE', 'OPTIONS']) {
    test(`${method} on the duplex path: 405 and a warning`, async t => {
        const ctx = await setup(t);
        const answered = await request(ctx.session, { ':method': method, ':path': '/duplex' });
        assert.equal(answered.status, 405);
        assert.equal(ctx.warnings.at(-1).message, `unknown method: ${method}`);
    });
}

test('limit: duplexes per session, 429 and a warning; other sessions unaffected', async t => {
    const ctx = await setup(t, { max_duplexes_per_session: 2 });
    await ctx.duplex_of();
    await ctx.duplex_of();
    const refused = await request(ctx.session, { ':path': '/duplex' });
    assert.equal(refused.status, 429);
    assert.match(ctx.warnings.at(-1).message, /too many duplexes open in this pairing scope \(max_duplexes_per_session 2\)/);
    const other = ctx.s.connect();
    assert.equal((await open(other)).headers[':status'], 200);
});

test('limit: one write POST body, 413 and a warning', async t => {
    const ctx = await setup(t, { max_write_bytes: 1024 });
    const check = await bystander(ctx);
    const { id, duplex } = await ctx.duplex_of();
    const failed = once(duplex, 'error');
    assert.equal((await post(ctx.session, id, Buffer.alloc(4096))).status, 413);
    assert.match(ctx.warnings.at(-1).message, /larger than 1024 bytes/);
    assert.equal((await failed)[0].status, 413);
    await check();
});

test('limit: bytes not taken by the reader stay bounded by the client\'s writes', async t => {
    const ctx = await setup(t, { highWaterMark: 16 * 1024 });
    const { id, duplex } = await ctx.duplex_of();
    // Nobody reads. A v1 client sends a write only once the previous one was answered.
    let bodies_ended = 0;
    const two_ended = new Promise(resolve => ctx.s.http2_server.on('stream',
        stream => stream.on('end', () => ++bodies_ended === 2 && resolve())));
    let sent = 0;
    const writer = (async () => {
        for (;;) {
            const answered = await post(ctx.session, id, Buffer.alloc(8192));
            assert.equal(answered.status, 200);
            sent += 8192;
        }
    })();
    writer.catch(() => {});
    await two_ended;
    // The second write filled the buffer: its answer is withheld.
    assert.equal((await post(ctx.session, 'unknown', 'x')).status, 404);
    // Held: the answered writes plus the one whose answer is withheld.
    assert.equal(duplex.readableLength, sent + 8192);
    assert.ok(duplex.readableLength <= 16 * 1024 + 8192, `held ${duplex.readableLength}`);
});

test('limit: idle timeout destroys a silent duplex with a warning', async t => {
    const ctx = await setup(t, { idle_timeout: 50 });
    const { duplex } = await ctx.duplex_of();
    const [err] = await once(duplex, 'error');
    assert.match(err.message, /idle timeout: no traffic on the duplex for 50 ms/);
    assert.equal(err.status, 408);
    assert.match(ctx.warnings.at(-1).message, /idle timeout/);
});

test('limit: idle timeout spares a duplex with traffic', async t => {
    const ctx = await setup(t, { idle_timeout: 100 });
    const { duplex, id } = await ctx.duplex_of();
    let closed = false;
    duplex.on('close', () => {
        closed = true;
    });
    duplex.resume();
    for (let i = 0; i < 10; i++) {
        assert.equal((await post(ctx.session, id, 'x')).status, 200);
        await new Promise(resolve => setTimeout(resolve, 30));
    }
    assert.equal(closed, false, 'write POSTs every 30 ms keep it open past 3 timeouts');
    const [err] = await once(duplex, 'error');
    assert.equal(err.code, 'ERR_HTTP2_DUPLEX_IDLE_TIMEOUT');
    assert.equal(ctx.s.server.stats().duplexes, 0);
});
