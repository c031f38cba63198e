'use strict';
// Every WebSocket transport on every kind of server the constructor takes:
// RFC 6455 upgrades (the `ws` package as client) on http.Server,
// https.Server and an Http2SecureServer with allowHTTP1; RFC 8441 extended
// CONNECT (Node's http2 client) on Http2SecureServer, with allowHTTP1 too,
// and on a cleartext Http2Server. Each echoes bytes verified one for one,
// with no 'warning'.
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('http');
const https = require('https');
const http2 = require('http2');
const { EventEmitter, once } = require('events');
const { randomBytes, createHash } = require('crypto');
const { readFileSync } = require('fs');
const { join } = require('path');
const WebSocket = require('ws');
const { Http2DuplexServer } = require('..');
const { ws_frame, parse_frame, open_rfc8441 } = require('../support/ws-frames');

const certs = join(__dirname, '..', 'support', 'certs');
const tls = { key: readFileSync(join(certs, 'server.key')), cert: readFileSync(join(certs, 'server.crt')) };
const INITIAL_CREDIT = 1024 * 1024;
const sha256 = data => createHash('sha256').update(data).digest('hex');

const SERVERS = {
    'http.Server': { create: () => http.createServer(), scheme: 'http', transports: ['http1'] },
    'https.Server': { create: () => https.createServer(tls), scheme: 'https', transports: ['http1'] },
    'Http2SecureServer': { create: () => http2.createSecureServer(tls), scheme: 'https', transports: ['rfc8441'] },
    'Http2SecureServer allowHTTP1': {
        create: () => http2.createSecureServer({ ...tls, allowHTTP1: true }),
        scheme: 'https',
        transports: ['http1', 'rfc8441']
    },
    'Http2Server (h2c)': { create: () => http2.createServer(), scheme: 'http', transports: ['rfc8441'] }
};

async function start(kind, options) {
    const server = SERVERS[kind].create();
    const duplex_server = new Http2DuplexServer(server, '/duplex', options);
    const warnings = [];
    duplex_server.on('warning', w => warnings.push(w));
    duplex_server.on('duplex', duplex => duplex.pipe(duplex));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const origin = `${SERVERS[kind].scheme}://127.0.0.1:${server.address().port}`;
    const close = async () => {
        duplex_server.detach();
        server.closeAllConnections?.();
        server.close();
        await once(server, 'close');
    };
    return { server, duplex_server, warnings, origin, close };
}

// An http2-duplex.1 WebSocket (RFC 8441) over Node's http2 client, as
// messages: send(payload, binary), and 'message' (payload, binary) / 'close' (code).
async function rfc8441_channel(origin) {
    const session = http2.connect(origin, { ca: tls.cert });
    session.on('error', () => {});
    const { stream, headers } = await open_rfc8441(session);
    assert.equal(headers[':status'], 200);
    assert.equal(headers['sec-websocket-protocol'], 'http2-duplex.1');
    const channel = new EventEmitter();
    let buffered = Buffer.alloc(0);
    stream.on('data', chunk => {
        buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
        for (let frame; (frame = parse_frame(buffered));) {
            buffered = buffered.subarray(frame.size);
            if (frame.opcode === 8) {
                const code = frame.payload.readUInt16BE(0);
                stream.end(ws_frame(8, frame.payload.subarray(0, 2), { masked: true }));
                channel.emit('close', code);
            } else {
                channel.emit('message', frame.payload, frame.opcode === 2);
            }
        }
    });
    channel.send = (payload, binary) => stream.write(ws_frame(binary ? 2 : 1, payload, { masked: true }));
    channel.done = () => session.close();
    return channel;
}

// The same over an HTTP/1.1 upgrade, with the ws package.
async function http1_channel(origin) {
    const ws = new WebSocket(`${origin.replace(/^http/, 'ws')}/duplex`, 'http2-duplex.1', { ca: tls.cert });
    const channel = new EventEmitter();
    // The server's first messages may come with its 101: kept until echo() listens.
    const early = [];
    ws.on('message', (data, binary) => {
        if (channel.listenerCount('message') > 0) {
            channel.emit('message', data, binary);
        } else {
            early.push([data, binary]);
        }
    });
    channel.once('newListener', event => event === 'message' &&
        setImmediate(() => early.splice(0).forEach(args => channel.emit('message', ...args))));
    ws.on('close', code => channel.emit('close', code));
    await once(ws, 'open');
    assert.equal(ws.protocol, 'http2-duplex.1');
    channel.send = (payload, binary) => ws.send(payload, { binary });
    channel.done = () => ws.terminate();
    return channel;
}

// Sends `data` within the server's credit, ends, and resolves to what came
// back and the close code once the server closed.
function echo(channel, data) {
    let credit = INITIAL_CREDIT;
    let sent = 0;
    const received = [];
    const texts = [];
    const pump = () => {
        while (sent < data.length && credit > 0) {
            const n = Math.min(credit, 64 * 1024, data.length - sent);
            channel.send(data.subarray(sent, sent + n), true);
            credit -= n;
            sent += n;
            if (sent === data.length) {
                channel.send('end', false);
            }
        }
    };
    channel.on('message', (payload, binary) => {
        if (binary) {
            received.push(Buffer.from(payload));
            channel.send(`credit ${payload.length}`, false);
            return;
        }
        const text = payload.toString();
        texts.push(text);
        if (text.startsWith('credit ')) {
            credit += Number(text.slice(7));
            pump();
        }
    });
    pump();
    return new Promise(resolve => channel.on('close', code => resolve({
        received: Buffer.concat(received), texts, code
    })));
}

const CHANNELS = { http1: http1_channel, rfc8441: rfc8441_channel };

for (const [kind, { transports }] of Object.entries(SERVERS)) {
    for (const transport of transports) {
        test(`${kind}, ${transport === 'http1' ? 'HTTP/1.1 upgrade (ws)' : 'RFC 8441'}: echo verified, clean close, no warning`, async t => {
            const s = await start(kind);
            t.after(s.close);
            const opened = once(s.duplex_server, 'duplex');
            const channel = await CHANNELS[transport](s.origin);
            t.after(() => channel.done());
            const [duplex, id] = await opened;
            assert.equal(duplex.transport, 'websocket');
            const closed = once(duplex, 'close');
            // Past the initial credit: the server's grants let the rest go.
            const data = randomBytes(3 * INITIAL_CREDIT + 12345);
            const { received, texts, code } = await echo(channel, data);
            assert.equal(texts[0], `id ${id}`);
            assert.ok(texts.includes('end'));
            assert.equal(received.length, data.length);
            assert.equal(sha256(received), sha256(data));
            assert.equal(code, 1000);
            await closed;
            assert.equal(duplex.errored, null);
            assert.deepEqual(s.warnings, []);
            assert.equal(s.duplex_server.stats().duplexes, 0);
        });
    }
}

// A raw HTTP/1.1 request on a new connection; resolves to what came back once it closed.
async function raw_h1(port, head) {
    const socket = require('net').connect(port, '127.0.0.1');
    socket.end(head);
    const chunks = [];
    socket.on('data', chunk => chunks.push(chunk));
    await once(socket, 'close');
    return Buffer.concat(chunks).toString('latin1');
}

const upgrade_head = (path, extra = '') => `GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\n` +
    `upgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`;

test('HTTP/1.1: upgrades to other paths are left to the application\'s \'upgrade\' listener, or without one handled as Node does (a request)', async t => {
    const s = await start('http.Server');
    t.after(s.close);
    const { port } = s.server.address();
    s.server.on('request', (req, res) => req.url !== '/duplex' && res.end(`app ${req.url}`));
    const answer = await raw_h1(port, upgrade_head('/other'));
    assert.match(answer, /^HTTP\/1.1 200 OK\r\n[^]*\r\n\r\napp \/other$/);
    // The application's own upgrade listener gets it, and only it answers.
    s.server.on('upgrade', (req, socket) => req.url !== '/duplex' &&
        socket.end(`HTTP/1.1 418 I'm a teapot\r\nconnection: close\r\n\r\n${req.url}`));
    assert.match(await raw_h1(port, upgrade_head('/mine')), /^HTTP\/1.1 418 [^]*\r\n\r\n\/mine$/);
    // An upgrade of the duplex path that is no WebSocket is a request too: a GET opens a duplex.
    const opened = once(s.duplex_server, 'duplex');
    const h2c = raw_h1(port, 'GET /duplex HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: h2c\r\n\r\n');
    const [duplex] = await opened;
    duplex.end('bye');
    assert.match(await h2c, /^HTTP\/1.1 200 OK\r\n[^]*http2-duplex-id: /);
    assert.deepEqual(s.warnings, []);
});

test('HTTP/1.1: a client that resets an upgrade answered as a request does not end the process', async t => {
    const s = await start('http.Server');
    t.after(s.close);
    const { port } = s.server.address();
    // The client resets once the request reached the app; the answer is
    // written to a socket already reset.
    const requested = new Promise(resolve => s.server.on('request', (req, res) => {
        if (req.url !== '/duplex') {
            resolve(res);
        }
    }));
    const socket = require('net').connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(upgrade_head('/other'));
    const res = await requested;
    const gone = once(res, 'close');
    socket.resetAndDestroy();
    await gone;
    res.end('x'.repeat(1 << 20));
    // Still serving.
    s.server.removeAllListeners('request');
    s.server.on('request', (req, answer) => req.url !== '/duplex' && answer.end('app'));
    assert.match(await raw_h1(port, upgrade_head('/other')), /^HTTP\/1.1 200 OK/);
});

test('HTTP/1.1: a broken handshake is refused 400 (WS_BAD_HANDSHAKE) and opens nothing; a client gone without a Close breaks its duplex (WS_ABNORMAL_CLOSE)', async t => {
    const s = await start('http.Server');
    t.after(s.close);
    const { port } = s.server.address();
    const refused = await raw_h1(port, upgrade_head('/duplex').replace('version: 13', 'version: 8'));
    assert.match(refused, /^HTTP\/1.1 400 Bad Request\r\n[^]*http2-duplex-error: ERR_HTTP2_DUPLEX_WS_BAD_HANDSHAKE\r\n/);
    assert.deepEqual(s.warnings.map(w => [w.code, w.status]), [['ERR_HTTP2_DUPLEX_WS_BAD_HANDSHAKE', 400]]);
    assert.equal(s.duplex_server.stats().duplexes, 0);
    s.duplex_server.removeAllListeners('duplex');
    const opened = once(s.duplex_server, 'duplex');
    const channel = await http1_channel(s.origin);
    const [duplex] = await opened;
    const received = [];
    duplex.on('data', chunk => received.push(chunk));
    channel.send(Buffer.from('partial'), true);
    await once(duplex, 'data');
    channel.done();     // the TCP connection closes: no Close, no end
    await new Promise(resolve => duplex.on('close', resolve));
    assert.equal(Buffer.concat(received).toString(), 'partial');
    assert.equal(duplex.readableEnded, false, 'never a clean end');
    assert.equal(s.warnings.at(-1).code, 'ERR_HTTP2_DUPLEX_WS_ABNORMAL_CLOSE');
    assert.equal(s.duplex_server.stats().duplexes, 0);
});

test('allowHTTP1: CONNECTs to other paths are answered 405 as Node does, or left to the application\'s \'connect\' listener', async t => {
    const s = await start('Http2SecureServer allowHTTP1');
    t.after(s.close);
    const session = http2.connect(s.origin, { ca: tls.cert });
    t.after(() => session.close());
    while (!session.remoteSettings?.enableConnectProtocol) {
        await once(session, 'remoteSettings');
    }
    const connect = async path => {
        const stream = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':path': path }, { endStream: false });
        stream.on('error', () => {});
        const [headers] = await once(stream, 'response');
        stream.close();
        return headers[':status'];
    };
    assert.equal(await connect('/other'), 405);
    s.server.on('connect', (req, res) => {
        res.writeHead(204);
        res.end();
    });
    assert.equal(await connect('/other'), 204);
    assert.deepEqual(s.warnings, []);
});

test('option websocket: \'http1\' takes upgrades and offers no RFC 8441; false takes neither (501); anything else is refused', async t => {
    const s = await start('Http2SecureServer allowHTTP1', { websocket: 'http1' });
    t.after(s.close);
    const session = http2.connect(s.origin, { ca: tls.cert });
    t.after(() => session.close());
    await once(session, 'remoteSettings');
    // Node sends its SETTINGS first; the package's would follow at once.
    await new Promise(resolve => session.ping(resolve));
    assert.equal(session.remoteSettings.enableConnectProtocol, false);
    const data = randomBytes(100000);
    const { received, code } = await echo(await http1_channel(s.origin), data);
    assert.equal(sha256(received), sha256(data));
    assert.equal(code, 1000);

    const off = await start('http.Server', { websocket: false });
    t.after(off.close);
    assert.match(await raw_h1(off.server.address().port, upgrade_head('/duplex')),
        /^HTTP\/1.1 501 [^]*http2-duplex-error: ERR_HTTP2_DUPLEX_WS_NEEDS_HTTP2\r\n/);
    for (const websocket of ['yes', 1, null]) {
        assert.throws(() => new Http2DuplexServer(http.createServer(), '/duplex', { websocket }),
            { code: 'ERR_HTTP2_DUPLEX_INVALID_OPTION' });
    }
});
