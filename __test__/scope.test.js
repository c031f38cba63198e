'use strict';
// Pairing beyond one HTTP/2 session (scope, node_id), HTTP/1.1 requests, and
// the cors option.
const test = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('events');
const http = require('http');
const http2 = require('http2');
const { Http2DuplexServer } = require('..');
const {
    start_server, open, post, request, next_duplex, read_all, cert
} = require('../support/h2');

const END = { 'http2-duplex-end': 'true' };

async function with_warnings(t, options) {
    const s = await start_server(options);
    t.after(s.close);
    const warnings = [];
    s.server.on('warning', err => warnings.push(err));
    return { s, warnings };
}

test('scope "session" (default): a POST on another connection gets 404', async t => {
    const { s, warnings } = await with_warnings(t);
    const { id } = await open(s.connect());
    const answer = await post(s.connect(), id, 'x');
    assert.equal(answer.status, 404);
    assert.equal(warnings.at(-1).code, 'ERR_HTTP2_DUPLEX_UNKNOWN_ID');
});

test('scope "server": every write on its own connection, as WebKit and proxies send them', async t => {
    const { s } = await with_warnings(t, { scope: 'server' });
    const opened = next_duplex(s.server);
    const { id } = await open(s.connect());
    const { duplex } = await opened;
    const received = read_all(duplex);
    for (const chunk of ['one', 'two', 'three']) {
        assert.equal((await post(s.connect(), id, chunk)).status, 200);
    }
    assert.equal((await post(s.connect(), id, undefined, END)).status, 200);
    assert.equal((await received).toString(), 'onetwothree');
});

test('scope function: a POST that carries the id with another user\'s credentials gets 404', async t => {
    const scope = headers => headers.authorization ?? 'anonymous';
    const { s, warnings } = await with_warnings(t, { scope });
    const alice = { authorization: 'alice' };
    const opened = next_duplex(s.server);
    const get = s.connect().request({ ':path': '/duplex', ...alice });
    const [headers] = await once(get, 'response');
    const id = headers['http2-duplex-id'];
    const { duplex } = await opened;
    const received = read_all(duplex);
    const mallory = await post(s.connect(), id, 'evil', { authorization: 'mallory' });
    assert.equal(mallory.status, 404);
    assert.equal(warnings.at(-1).code, 'ERR_HTTP2_DUPLEX_UNKNOWN_ID');
    assert.equal((await post(s.connect(), id, 'good', alice)).status, 200);
    assert.equal((await post(s.connect(), id, undefined, { ...END, ...alice })).status, 200);
    assert.equal((await received).toString(), 'good');
    assert.equal(s.server.stats().duplexes, 0);
});

test('node_id: ids name their node; a POST for another node gets 404 and a warning saying so', async t => {
    const { s, warnings } = await with_warnings(t, { node_id: 'n1', scope: 'server' });
    const { id } = await open(s.connect());
    assert.match(id, /^n1\.[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const answer = await post(s.connect(), id.replace(/^n1\./, 'n2.'), 'x');
    assert.equal(answer.status, 404);
    assert.equal(answer.headers['http2-duplex-error'], 'ERR_HTTP2_DUPLEX_WRONG_NODE');
    assert.deepEqual([warnings.at(-1).code, warnings.at(-1).status], ['ERR_HTTP2_DUPLEX_WRONG_NODE', 404]);
    for (const node_id of ['N1', 'n-1', '', 'n.1']) {
        assert.throws(() => new Http2DuplexServer(http2.createServer(), '/d', { node_id }),
            { name: 'RangeError', code: 'ERR_HTTP2_DUPLEX_INVALID_OPTION' });
    }
    assert.throws(() => new Http2DuplexServer(http2.createServer(), '/d', { scope: 'connection' }),
        { code: 'ERR_HTTP2_DUPLEX_INVALID_OPTION' });
});

// HTTP/1.1 client helpers.
function h1(port, method, headers = {}, body) {
    return new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, path: '/duplex', method, headers,
            agent: false });
        req.on('error', reject);
        req.on('response', res => {
            const chunks = [];
            res.on('data', c => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        });
        req.end(body);
    });
}

async function h1_server(t, options) {
    const server = http.createServer((req, res) => {
        if (req.url !== '/duplex') {
            res.end('app');
        }
    });
    const duplex_server = new Http2DuplexServer(server, '/duplex', options);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => {
        duplex_server.detach();
        server.closeAllConnections();
        server.close();
    });
    return { server, duplex_server, port: server.address().port };
}

test('HTTP/1.1 (a plain http.Server, as behind a TLS-terminating proxy): GET, writes, streaming POST, end, echo', async t => {
    const { duplex_server, port } = await h1_server(t);
    duplex_server.on('duplex', duplex => duplex.pipe(duplex));
    const get = http.request({ host: '127.0.0.1', port, path: '/duplex', agent: false });
    get.end();
    const [res] = await once(get, 'response');
    assert.equal(res.statusCode, 200);
    const id = res.headers['http2-duplex-id'];
    assert.equal(res.headers['http2-duplex-version'], '2');
    const echoed = [];
    res.on('data', c => echoed.push(c));
    const ended = once(res, 'end');
    assert.equal((await h1(port, 'POST', { 'http2-duplex-id': id }, 'per-write ')).status, 200);
    // A chunked streaming POST.
    const upload = http.request({ host: '127.0.0.1', port, path: '/duplex', method: 'POST', agent: false,
        headers: { 'http2-duplex-id': id, 'http2-duplex-single': 'true' } });
    upload.write('streamed ');
    upload.write(Buffer.alloc(100000, 0x61));
    upload.end();
    const [answer] = await once(upload, 'response');
    assert.equal(answer.statusCode, 200);
    await ended;
    const all = Buffer.concat(echoed).toString();
    assert.equal(all, 'aper-write streamed ' + 'a'.repeat(100000));
    // Other paths stay the application's.
    const other = await new Promise(resolve => http.get({ host: '127.0.0.1', port, path: '/x', agent: false },
        r => r.on('data', () => {}).on('end', () => resolve(r.statusCode))));
    assert.equal(other, 200);
});

test('HTTP/1.1: refusals carry their code; a client cutting its GET closes the duplex with CLIENT_RESET', async t => {
    const { duplex_server, port } = await h1_server(t);
    const warnings = [];
    duplex_server.on('warning', w => warnings.push(w));
    const missing = await h1(port, 'POST', {}, 'x');
    assert.deepEqual([missing.status, missing.headers['http2-duplex-error']], [404, 'ERR_HTTP2_DUPLEX_MISSING_ID']);
    const opened = once(duplex_server, 'duplex');
    const get = http.request({ host: '127.0.0.1', port, path: '/duplex', agent: false });
    get.on('error', () => {});
    get.end();
    const [res] = await once(get, 'response');
    const [duplex] = await opened;
    const closed = new Promise(resolve => duplex.on('close', resolve));
    res.destroy();
    await closed;
    assert.equal(warnings.at(-1).code, 'ERR_HTTP2_DUPLEX_CLIENT_RESET');
    assert.equal(duplex_server.stats().duplexes, 0);
});

test('HTTP/1.1: a WebSocket handshake not taken is refused 501 (WS_NEEDS_HTTP2) and opens no duplex: without its upgrade header, or with websocket \'http2\'', async t => {
    const { duplex_server, port } = await h1_server(t, { websocket: 'http2' });
    const warnings = [];
    duplex_server.on('warning', w => warnings.push(w));
    let opened = 0;
    duplex_server.on('duplex', () => opened++);
    const handshake = { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' };
    // As an HTTP/1.1 upgrade where the option leaves them off, and as nginx
    // passes it with its hop-by-hop upgrade header dropped.
    for (const headers of [{ connection: 'Upgrade', upgrade: 'websocket', ...handshake }, handshake]) {
        const answer = await h1(port, 'GET', headers);
        assert.deepEqual([answer.status, answer.headers['http2-duplex-error']], [501, 'ERR_HTTP2_DUPLEX_WS_NEEDS_HTTP2']);
        assert.deepEqual([warnings.at(-1).code, warnings.at(-1).status], ['ERR_HTTP2_DUPLEX_WS_NEEDS_HTTP2', 501]);
    }
    assert.equal(opened, 0);
    assert.equal(duplex_server.stats().duplexes, 0);
    // An ordinary GET still opens one.
    const get = http.request({ host: '127.0.0.1', port, path: '/duplex', agent: false });
    get.on('error', () => {});
    get.end();
    const [res] = await once(get, 'response');
    assert.equal(res.statusCode, 200);
    res.destroy();
    assert.equal(opened, 1);
});

test('HTTP/1.1 on an HTTP/2 server with allowHTTP1, next to HTTP/2, in one server scope', async t => {
    const { readFileSync } = require('fs');
    const { join } = require('path');
    const certs = join(__dirname, '..', 'support', 'certs');
    const server = http2.createSecureServer({
        key: readFileSync(join(certs, 'server.key')), cert, allowHTTP1: true
    });
    const duplex_server = new Http2DuplexServer(server, '/duplex', { scope: 'server' });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address();
    const sessions = [];
    t.after(() => {
        sessions.forEach(s => s.destroy());
        duplex_server.detach();
        server.close();
    });
    const opened = once(duplex_server, 'duplex');
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: cert });
    sessions.push(session);
    const { id } = await open(session);
    const [duplex] = await opened;
    const received = read_all(duplex);
    const https = require('https');
    const status = await new Promise((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port, path: '/duplex', method: 'POST', ca: cert,
            servername: 'localhost', headers: { 'http2-duplex-id': id }, agent: false }, r => {
            r.resume();
            resolve(r.statusCode);
        });
        req.on('error', reject);
        req.end('over http/1.1');
    });
    assert.equal(status, 200);
    assert.equal((await post(session, id, undefined, END)).status, 200);
    assert.equal((await received).toString(), 'over http/1.1');
});

test('cors: preflight answered, allowed origins get access-control headers, others 403 and a warning', async t => {
    const { s, warnings } = await with_warnings(t, {
        scope: 'server', cors: { origins: ['https://app.example'], credentials: true }
    });
    const session = s.connect();
    const preflight = await request(session, {
        ':method': 'OPTIONS', ':path': '/duplex', origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'http2-duplex-id, http2-duplex-seq'
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], 'https://app.example');
    assert.equal(preflight.headers['access-control-allow-credentials'], 'true');
    assert.match(preflight.headers['access-control-allow-methods'], /POST/);
    assert.equal(preflight.headers['access-control-allow-headers'], 'http2-duplex-id, http2-duplex-seq');
    const get = session.request({ ':path': '/duplex', origin: 'https://app.example' });
    const [headers] = await once(get, 'response');
    assert.equal(headers[':status'], 200);
    assert.equal(headers['access-control-allow-origin'], 'https://app.example');
    assert.match(headers['access-control-expose-headers'], /http2-duplex-error/);
    const foreign = await request(session, { ':path': '/duplex', origin: 'https://evil.example' });
    assert.deepEqual([foreign.status, foreign.headers['http2-duplex-error']], [403, 'ERR_HTTP2_DUPLEX_ORIGIN_NOT_ALLOWED']);
    assert.equal(foreign.headers['access-control-allow-origin'], undefined);
    assert.deepEqual([warnings.at(-1).code, warnings.at(-1).status], ['ERR_HTTP2_DUPLEX_ORIGIN_NOT_ALLOWED', 403]);
    const foreign_post = await post(session, headers['http2-duplex-id'], 'x', { origin: 'https://evil.example' });
    assert.equal(foreign_post.status, 403);
    // A page's own origin is always allowed.
    const own = await post(session, headers['http2-duplex-id'], 'x', { origin: s.url });
    assert.equal(own.status, 200);
});

test('cors with a function: asked only for foreign origins; false or a throw is 403', async t => {
    const asked = [];
    const { s, warnings } = await with_warnings(t, {
        cors: {
            origins: (origin, headers) => {
                asked.push(origin);
                if (origin === 'https://broken.example') {
                    throw new Error('the app\'s check failed');
                }
                return origin.endsWith('.trusted.example') && headers[':method'] !== undefined;
            }
        }
    });
    const session = s.connect();
    const get = session.request({ ':path': '/duplex', origin: 'https://app.trusted.example' });
    const [headers] = await once(get, 'response');
    assert.equal(headers[':status'], 200);
    assert.equal(headers['access-control-allow-origin'], 'https://app.trusted.example');
    assert.equal(headers['access-control-allow-credentials'], undefined);
    const own = await post(session, headers['http2-duplex-id'], 'x', { origin: s.url });
    assert.equal(own.status, 200);
    const foreign = await request(session, { ':path': '/duplex', origin: 'https://evil.example' });
    assert.equal(foreign.status, 403);
    assert.equal(warnings.at(-1).code, 'ERR_HTTP2_DUPLEX_ORIGIN_NOT_ALLOWED');
    const broken = await request(session, { ':path': '/duplex', origin: 'https://broken.example' });
    assert.equal(broken.status, 403);
    assert.deepEqual(warnings.slice(-2).map(w => w.message),
        ['the app\'s check failed', 'origin https://broken.example is not allowed by the cors option']);
    assert.deepEqual(asked, ['https://app.trusted.example', 'https://evil.example', 'https://broken.example']);
});

test('an application function that throws fails its request (500, warning), not the process', async t => {
    const { s, warnings } = await with_warnings(t, {
        scope: headers => {
            if (headers.authorization === undefined) {
                throw new Error('no user');
            }
            return headers.authorization;
        }
    });
    const session = s.connect();
    const refused = await request(session, { ':path': '/duplex' });
    assert.equal(refused.status, 500);
    assert.equal(warnings.at(-1).message, 'no user');
    const get = session.request({ ':path': '/duplex', authorization: 'alice' });
    const [headers] = await once(get, 'response');
    assert.equal(headers[':status'], 200);
});

test('without cors, a foreign preflight is 403 and OPTIONS from no page 405 as in 6.x', async t => {
    const { s } = await with_warnings(t);
    const foreign = await request(s.connect(), { ':method': 'OPTIONS', ':path': '/duplex', origin: 'https://x.example' });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.headers['http2-duplex-error'], 'ERR_HTTP2_DUPLEX_ORIGIN_NOT_ALLOWED');
    const answer = await request(s.connect(), { ':method': 'OPTIONS', ':path': '/duplex' });
    assert.equal(answer.status, 405);
});

test('scope "server": the connection of a GET the server ended may close; POSTs on others still pair', async t => {
    const { s } = await with_warnings(t, { scope: 'server' });
    const get_session = s.connect();
    const opened = next_duplex(s.server);
    const { id, stream } = await open(get_session);
    const { duplex } = await opened;
    const received = read_all(duplex);
    duplex.end('bye');
    await once(stream, 'end');
    get_session.close();
    await once(get_session, 'close');
    const other = s.connect();
    assert.equal((await post(other, id, 'still here')).status, 200);
    assert.equal((await post(other, id, undefined, END)).status, 200);
    assert.equal((await received).toString(), 'still here');
});
