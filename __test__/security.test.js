'use strict';
// Issue 19: who may open and use a duplex (origins, on every transport), fair
// budgets in wide scopes, a scope function that leaves nothing behind, and
// "taken means 200" when the app destroys a duplex in its 'data' handler.
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('http');
const { once } = require('events');
const { start_server, request, open, post, next_duplex } = require('../support/h2');
const { Http2DuplexServer } = require('..');

// Memory is measured after a full collection.
require('v8').setFlagsFromString('--expose-gc');
const gc = require('vm').runInNewContext('gc');

const FOREIGN = 'https://evil.example';
const REFUSED = 'ERR_HTTP2_DUPLEX_ORIGIN_NOT_ALLOWED';

async function server(t, options) {
    const s = await start_server(options);
    t.after(s.close);
    const warnings = [];
    const duplexes = [];
    s.server.on('warning', err => warnings.push(err));
    s.server.on('duplex', duplex => duplexes.push(duplex));
    return { s, warnings, duplexes, own: `https://${new URL(s.url).host}` };
}

async function websocket_answer(session, origin) {
    while (!session.remoteSettings?.enableConnectProtocol) {
        await once(session, 'remoteSettings');
    }
    const headers = {
        ':method': 'CONNECT', ':protocol': 'websocket', ':path': '/duplex',
        'sec-websocket-protocol': 'http2-duplex.1', 'sec-websocket-version': '13'
    };
    if (origin !== undefined) {
        headers.origin = origin;
    }
    const stream = session.request(headers, { endStream: false });
    stream.on('error', () => {});
    const [response] = await once(stream, 'response');
    stream.close();
    return response;
}

function get_answer(session, origin) {
    return request(session, { ':path': '/duplex', ...(origin ? { origin } : {}) });
}

test('origins: a foreign page opens nothing over GET or WebSocket, and uses no duplex by POST', async t => {
    const { s, warnings, duplexes } = await server(t);
    const session = s.connect();
    for (const origin of [FOREIGN, 'null', 'https://127.0.0.1:1']) {
        const get = await get_answer(session, origin);
        assert.equal(get.status, 403, origin);
        assert.equal(get.headers['http2-duplex-error'], REFUSED);
        const ws = await websocket_answer(session, origin);
        assert.equal(ws[':status'], 403, origin);
        assert.equal(ws['http2-duplex-error'], REFUSED);
    }
    assert.equal(duplexes.length, 0, 'the app never hears of a refused request');
    assert.equal(warnings.length, 6);
    for (const warning of warnings) {
        assert.deepEqual([warning.code, warning.status], [REFUSED, 403]);
    }
    // A duplex a same-origin page opened cannot be written by a foreign one.
    const { id } = await open(session);
    const foreign_post = await post(session, id, 'x', { origin: FOREIGN });
    assert.equal(foreign_post.status, 403);
    assert.equal(duplexes.length, 1);
});

test('origins: no origin (not a browser) and the page\'s own are served on every transport', async t => {
    const { s, warnings, duplexes, own } = await server(t);
    const session = s.connect();
    assert.equal((await websocket_answer(session))[':status'], 200);
    assert.equal((await websocket_answer(session, own))[':status'], 200);
    const { id } = await open(session);
    assert.equal((await post(session, id, 'x', { origin: own })).status, 200);
    assert.equal(duplexes.length, 3);
    assert.deepEqual(warnings.filter(w => w.code === REFUSED), []);
});

test('origins: the cors option grants an origin; check_origin: false serves any, as 6.x', async t => {
    const listed = await server(t, { cors: { origins: [FOREIGN] } });
    const session = listed.s.connect();
    const get = session.request({ ':path': '/duplex', origin: FOREIGN });
    get.on('error', () => {});
    const [answer] = await once(get, 'response');
    assert.equal(answer[':status'], 200);
    assert.equal(answer['access-control-allow-origin'], FOREIGN);
    assert.equal((await websocket_answer(session, FOREIGN))[':status'], 200);
    assert.equal((await websocket_answer(session, 'https://other.example'))[':status'], 403);
    get.close();

    const off = await server(t, { check_origin: false });
    const ws = await websocket_answer(off.s.connect(), FOREIGN);
    assert.equal(ws[':status'], 200);
    assert.equal(ws['access-control-allow-origin'], undefined);
    assert.throws(() => new Http2DuplexServer(off.s.http2_server, '/x', { check_origin: 'no' }),
        { code: 'ERR_HTTP2_DUPLEX_INVALID_OPTION' });
    // An origin given as a string, or a misspelt member, is refused, not taken as "none".
    for (const cors of [FOREIGN, { origin: [FOREIGN] }, { origins: [FOREIGN], maxAge: 5 }]) {
        assert.throws(() => new Http2DuplexServer(off.s.http2_server, '/x', { cors }),
            { code: 'ERR_HTTP2_DUPLEX_INVALID_OPTION' }, JSON.stringify(cors));
    }
});

test('origins: HTTP/1.1 requests are checked too', async t => {
    const http_server = http.createServer();
    const server = new Http2DuplexServer(http_server, '/duplex');
    const warnings = [];
    server.on('warning', err => warnings.push(err));
    http_server.listen(0, '127.0.0.1');
    await once(http_server, 'listening');
    t.after(() => {
        http_server.closeAllConnections();
        http_server.close();
    });
    const { port } = http_server.address();
    const status = origin => new Promise((resolve, reject) => {
        const req = http.get({ port, host: '127.0.0.1', path: '/duplex', headers: { origin } }, res => {
            resolve(res.statusCode);
            res.destroy();
        });
        req.on('error', reject);
    });
    assert.equal(await status(FOREIGN), 403);
    assert.equal(await status(`http://127.0.0.1:${port}`), 200);
    assert.equal(warnings[0].code, REFUSED);
});

test('fair limits: under scope "server" a connection at its bound leaves others their duplexes', async t => {
    const { s, warnings } = await server(t, { scope: 'server', max_duplexes_per_connection: 3 });
    const greedy = s.connect();
    for (let i = 0; i < 3; i++) {
        await open(greedy);
    }
    const refused = await get_answer(greedy);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers['http2-duplex-error'], 'ERR_HTTP2_DUPLEX_CONNECTION_DUPLEXES');
    assert.equal(warnings.at(-1).code, 'ERR_HTTP2_DUPLEX_CONNECTION_DUPLEXES');
    // A second connection still opens duplexes while the first sits at its bound.
    const polite = s.connect();
    const { id } = await open(polite);
    assert.equal((await post(polite, id, 'x')).status, 200);
    const { limits } = s.server;
    assert.deepEqual([limits.maxDuplexesPerConnection, limits.maxDuplexes, limits.maxHeldBytes],
        [3, 10000, 256 * 1024 * 1024]);
});

test('fair limits: defaults per connection are under the scope\'s when scopes are wide', async t => {
    const session = await server(t);
    const wide = await server(t, { scope: 'server' });
    assert.equal(session.s.server.limits.maxDuplexesPerConnection, 1000);
    assert.equal(wide.s.server.limits.maxDuplexesPerConnection, 100);
    assert.equal(wide.s.server.limits.maxHeldBytesPerConnection, 16 * 1024 * 1024);
    const server_wide = await server(t, { max_duplexes: 1 });
    const first = server_wide.s.connect();
    await open(first);
    const refused = await get_answer(server_wide.s.connect());
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['http2-duplex-error'], 'ERR_HTTP2_DUPLEX_SERVER_DUPLEXES');
});

test('scope function: called for the duplex path only; a throw fails only that request', async t => {
    const keys = [];
    const { s, warnings } = await server(t, {
        scope: headers => {
            if (headers['x-user'] === 'boom') {
                throw new Error('no user');
            }
            keys.push(headers['x-user']);
            return headers['x-user'];
        }
    });
    s.server.on('unhandled_stream', stream => stream.respond({ ':status': 204 }, { endStream: true }));
    const session = s.connect();
    assert.equal((await request(session, { ':path': '/static.js', 'x-user': 'a' })).status, 204);
    assert.deepEqual(keys, []);
    assert.equal((await request(session, { ':path': '/duplex', 'x-user': 'boom' })).status, 500);
    assert.equal(warnings.at(-1).message, 'no user');
    const opened = next_duplex(s.server);
    const get = session.request({ ':path': '/duplex', 'x-user': 'a' });
    get.on('error', () => {});
    await once(get, 'response');
    await opened;
    assert.deepEqual(keys, ['a']);
});

test('scope function: 100,000 requests with distinct keys leave the key table at its baseline', async t => {
    const s = await start_server({ scope: headers => headers['x-user'] });
    t.after(s.close);
    let warnings = 0;
    s.server.on('warning', () => warnings++);
    const session = s.connect();
    const send = i => new Promise(resolve => {
        // An unknown id: refused, it opens nothing.
        const stream = session.request({
            ':method': 'POST', ':path': '/duplex', 'x-user': `user-${i}`,
            'http2-duplex-id': 'not-an-id'
        });
        stream.on('error', () => {});
        stream.on('close', resolve);
        stream.resume();
        stream.end();
    });
    const batch = 500;
    const run = async (from, total) => {
        for (let i = from; i < from + total; i += batch) {
            await Promise.all(Array.from({ length: batch }, (_, j) => send(i + j)));
        }
    };
    // Warmed up, so that what the allocators keep anyway is in the baseline:
    // on Node 24 a plain http2 server's RSS grows ~110 MiB over its first
    // 100,000 streams (heap flat), and not at all over the next 100,000.
    await run(-100_000, 100_000);
    const baseline = s.server.stats().sessions;
    gc();
    const rss_before = process.memoryUsage().rss;
    await run(0, 100_000);
    gc();
    assert.equal(s.server.stats().sessions, baseline);
    assert.equal(s.server.stats().duplexes, 0);
    const grown = (process.memoryUsage().rss - rss_before) / 2 ** 20;
    assert.ok(grown < 32, `RSS grew ${grown.toFixed(1)} MiB`);
    assert.equal(warnings, 200_000, 'each refused with a warning');
});

test('taken means 200: a write destroyed by the app in its own \'data\' handler is answered 200', async t => {
    const { s, warnings } = await server(t);
    const session = s.connect();
    for (let i = 0; i < 20; i++) {
        const opened = next_duplex(s.server);
        const { id } = await open(session);
        const { duplex } = await opened;
        duplex.on('data', () => duplex.destroy());
        const answer = await post(session, id, Buffer.alloc(1000, i));
        assert.equal(answer.status, 200, `try ${i}`);
    }
    // A write that comes after the destroy is not taken.
    const opened = next_duplex(s.server);
    const { id } = await open(session);
    const { duplex } = await opened;
    duplex.destroy();
    await once(duplex, 'close');
    assert.notEqual((await post(session, id, 'late')).status, 200);
    assert.deepEqual(warnings.filter(w => w.code === 'ERR_HTTP2_DUPLEX_DESTROYED'), []);
});
