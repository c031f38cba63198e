'use strict';
// The Node client (lib/connect.js over crates/client) against this package's
// server and against the original http2-duplex 6.0.3 server.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert');
const http2 = require('node:http2');
const fs = require('node:fs');
const path = require('node:path');
const net = require('node:net');
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');
const { once } = require('node:events');
const { connect, ResponseError, ConnectionPool } = require('../lib/connect');

const certs = path.join(__dirname, '..', 'support', 'certs');
const key = fs.readFileSync(path.join(certs, 'key.pem'));
const cert = fs.readFileSync(path.join(certs, 'cert.pem'));
const ca = fs.readFileSync(path.join(certs, 'ca.pem'));

const servers = {
    ours: async () => require('..').Http2DuplexServer,
    'http2-duplex 6.0.3': async () => (await import('http2-duplex-6')).Http2DuplexServer
};

async function start(Http2DuplexServer, on_duplex = d => d.pipe(d), options) {
    const server = http2.createSecureServer({ key, cert });
    const sessions = [];
    const sockets = [];
    server.on('session', s => sessions.push(s));
    server.on('secureConnection', socket => sockets.push(socket));
    const dx = new Http2DuplexServer(server, '/dx', options);
    dx.on('duplex', on_duplex);
    server.on('stream', (stream, headers) => {
        if (headers[':path'] !== '/dx') {
            stream.respond({ ':status': 404 }, { endStream: true });
        }
    });
    await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
    const url = `https://localhost:${server.address().port}/dx`;
    return {
        server, dx, sessions, sockets, url,
        close: () => {
            dx.detach();
            for (const s of sessions) {s.destroy();}
            return new Promise(resolve => server.close(resolve));
        }
    };
}

const closed = duplex => duplex.closed ? Promise.resolve() : once(duplex, 'close');

// What connecting to `url` rejects with.
function open_error(url, options) {
    return connect(url, options).then(() => assert.fail(`connected to ${url}`), err => err);
}

// Writes random bytes in writes of the sizes given (an iterable), reads the
// echo, and returns the bytes received and both SHA-256 digests.
async function echo_writes(duplex, sizes) {
    const sent = crypto.createHash('sha256');
    const got = crypto.createHash('sha256');
    let received = 0;
    const reading = new Promise((resolve, reject) => {
        duplex.on('data', chunk => { got.update(chunk); received += chunk.length; });
        duplex.on('end', resolve);
        duplex.on('error', reject);
    });
    for (const size of sizes) {
        const chunk = crypto.randomBytes(size);
        sent.update(chunk);
        if (!duplex.write(chunk)) {
            await once(duplex, 'drain');
        }
    }
    duplex.end();
    await reading;
    return { received, sent: sent.digest('hex'), got: got.digest('hex') };
}

// `total` random bytes in `size`-byte writes.
function* sizes_of(total, size) {
    for (let n = 0; n < total; n += size) {
        yield Math.min(size, total - n);
    }
}

const echo = (duplex, total, size) => echo_writes(duplex, sizes_of(total, size));

for (const [name, load] of Object.entries(servers)) {
    describe(`connect to the ${name} server`, () => {
        let s;
        before(async () => { s = await start(await load()); });
        after(() => s.close());

        test('echoes 10 MiB, verified by SHA-256', async () => {
            const duplex = await connect(s.url, { ca });
            assert.strictEqual(typeof duplex.id, 'string');
            const { received, sent, got } = await echo(duplex, 10 << 20, 64 * 1024);
            assert.strictEqual(received, 10 << 20);
            assert.strictEqual(got, sent);
            await closed(duplex);
        });

        test('100 duplexes share one HTTP/2 connection', async () => {
            const pool = new ConnectionPool();
            const before_sessions = s.sessions.length;
            const duplexes = await Promise.all(
                Array.from({ length: 100 }, () => connect(s.url, { ca, pool })));
            assert.strictEqual(pool.connections, 1);
            assert.strictEqual(s.sessions.length, before_sessions + 1);
            assert.deepStrictEqual(new Set(duplexes.map(d => d.transport)),
                new Set([name === 'ours' ? 'websocket' : 'streaming']));
            if (duplexes[0].transport === 'streaming') {
                // (the server names no id on a WebSocket)
                assert.strictEqual(new Set(duplexes.map(d => d.id)).size, 100);
            }
            const results = await Promise.all(duplexes.map((d, i) => echo(d, 10000 + i, 1000)));
            for (const [i, r] of results.entries()) {
                assert.strictEqual(r.received, 10000 + i);
                assert.strictEqual(r.got, r.sent);
            }
            await Promise.all(duplexes.map(closed));
            // the connection closes with its last duplex
            for (let i = 0; i < 100 && pool.connections !== 0; i++) {
                await new Promise(r => setTimeout(r, 20));
            }
            assert.strictEqual(pool.connections, 0);
        });

        test('the GET asks for a framed body; data round-trips', async () => {
            // our server answers framed (DATA frames, END), 6.0.3 ignores the
            // header and answers raw: the client reads either
            // (the server's own 'duplex' listener echoes)
            const seen = new Promise(resolve => s.dx.once('duplex', (d, id, headers) => {
                resolve(headers['http2-duplex-framing']);
            }));
            const duplex = await connect(s.url, { ca, transport: 'streaming' });
            assert.strictEqual(duplex.transport, 'streaming');
            assert.strictEqual(await seen, '1');
            const { received, sent, got } = await echo(duplex, 1 << 20, 1000);
            assert.strictEqual(received, 1 << 20);
            assert.strictEqual(got, sent);
            await closed(duplex);
        });

        test('the server stopping reading makes write() return false', async () => {
            const stalled = await start(await load(), () => {});
            try {
                const duplex = await connect(stalled.url, { ca, highWaterMark: 64 * 1024 });
                const chunk = Buffer.alloc(64 * 1024);
                // The server's HTTP/2 receive windows take some MiB first; then
                // write() returns false and no 'drain' follows.
                let written = 0;
                for (;;) {
                    assert.ok(written < 64 * 1024 * 1024, 'the client was never stopped');
                    written += chunk.length;
                    if (duplex.write(chunk)) {
                        await new Promise(r => setImmediate(r));
                        continue;
                    }
                    const drained = await Promise.race([
                        once(duplex, 'drain').then(() => true),
                        new Promise(r => setTimeout(() => r(false), 500))
                    ]);
                    if (!drained) {
                        break;
                    }
                }
                duplex.destroy();
                await once(duplex, 'close');
            } finally {
                await stalled.close();
            }
        });

        test('a reader that stops reading stops the server (its write() returns false)', async () => {
            let server_duplex;
            const got = new Promise(resolve => { server_duplex = resolve; });
            const stalled = await start(await load(), d => server_duplex(d));
            try {
                const duplex = await connect(stalled.url, { ca, highWaterMark: 64 * 1024 });
                const sd = await got;
                // write while the server's 'drain' keeps coming; it must stop
                let written = 0;
                for (;;) {
                    written += 64 * 1024;
                    if (!sd.write(Buffer.alloc(64 * 1024))) {
                        const drained = await Promise.race([
                            once(sd, 'drain').then(() => true),
                            new Promise(r => setTimeout(() => r(false), 300))
                        ]);
                        if (!drained) {
                            break;
                        }
                    }
                    assert.ok(written < (64 << 20), 'the server wrote 64 MiB to a client that reads nothing');
                }
                assert.ok(written >= (256 << 10), `only ${written} bytes went before backpressure`);
                // once the client reads, everything flows again
                let received = 0;
                const total = written;
                await new Promise(resolve => {
                    duplex.on('data', c => { received += c.length; if (received >= total) {resolve();} });
                });
                assert.strictEqual(received, total);
                duplex.destroy();
                await closed(duplex);
            } finally {
                await stalled.close();
            }
        });
    });
}

describe('WebSocket transport (RFC 8441, http2-duplex.1)', () => {
    let Ours;
    let Old;
    before(async () => {
        Ours = require('..').Http2DuplexServer;
        Old = (await import('http2-duplex-6')).Http2DuplexServer;
    });

    // A server of ours that collects its warnings.
    async function ours(on_duplex, options) {
        const s = await start(Ours, on_duplex, options);
        s.warnings = [];
        s.dx.on('warning', w => s.warnings.push(w));
        return s;
    }

    test('auto: our server offers it; 10 MiB echo verified by SHA-256, no server warning', async () => {
        const s = await ours();
        try {
            const duplex = await connect(s.url, { ca, pool: new ConnectionPool() });
            assert.strictEqual(duplex.transport, 'websocket');
            const seen = new Promise(resolve => s.dx.once('duplex', d => resolve(d.transport)));
            const { received, sent, got } = await echo(duplex, 10 << 20, 64 * 1024);
            assert.strictEqual(received, 10 << 20);
            assert.strictEqual(got, sent);
            await closed(duplex);
            assert.strictEqual(duplex.errored, null);
            for (let i = 0; i < 50 && s.dx.stats().duplexes !== 0; i++) {
                await new Promise(r => setTimeout(r, 20));
            }
            assert.strictEqual(s.dx.stats().duplexes, 0);
            assert.deepStrictEqual(s.warnings, []);
            void seen;
        } finally {
            await s.close();
        }
    });

    test('auto falls back to streaming against the 6.0.3 server (it never offers RFC 8441); websocket rejects', async () => {
        const s = await start(Old);
        try {
            const duplex = await connect(s.url, { ca, pool: new ConnectionPool() });
            assert.strictEqual(duplex.transport, 'streaming');
            const { received, sent, got } = await echo(duplex, 1 << 20, 16 * 1024);
            assert.strictEqual(received, 1 << 20);
            assert.strictEqual(got, sent);
            await closed(duplex);
            const err = await open_error(s.url, { ca, pool: new ConnectionPool(), transport: 'websocket' });
            assert.strictEqual(err.code, 'ERR_HTTP2_DUPLEX_CONNECTION');
            assert.match(err.message, /RFC 8441/);
        } finally {
            await s.close();
        }
    });

    test("transport 'streaming' (or 7.0.0's 'fetch') forces the GET + POST; a server with websocket: false gets it from auto", async () => {
        const s = await ours();
        const off = await ours(undefined, { websocket: false });
        try {
            const forced = await connect(s.url, { ca, pool: new ConnectionPool(), transport: 'streaming' });
            assert.strictEqual(forced.transport, 'streaming');
            const old_name = await connect(s.url, { ca, pool: new ConnectionPool(), transport: 'fetch' });
            assert.strictEqual(old_name.transport, 'streaming');
            const auto = await connect(off.url, { ca, pool: new ConnectionPool() });
            assert.strictEqual(auto.transport, 'streaming');
            for (const duplex of [forced, old_name, auto]) {
                const { got, sent } = await echo(duplex, 100000, 1000);
                assert.strictEqual(got, sent);
                await closed(duplex);
            }
            assert.deepStrictEqual([...s.warnings, ...off.warnings], []);
            const err = await open_error(s.url, { ca, transport: 'carrier pigeon' });
            assert.strictEqual(err.code, 'ERR_HTTP2_DUPLEX_INVALID_OPTION');
            assert.match(err.message, /transport must be 'auto', 'websocket' or 'streaming'/);
        } finally {
            await s.close();
            await off.close();
        }
    });

    test('a server that stops reading stops the client: write() returns false, bounded by its credit', async () => {
        let server_side;
        const got_side = new Promise(resolve => { server_side = resolve; });
        // The server's window (the credit it grants) is window_bytes.
        const s = await ours(d => server_side(d), { window_bytes: 1 << 20 });
        try {
            const duplex = await connect(s.url, { ca, pool: new ConnectionPool(), highWaterMark: 64 * 1024 });
            assert.strictEqual(duplex.transport, 'websocket');
            const sd = await got_side;
            sd.pause();
            const chunk = Buffer.alloc(64 * 1024, 7);
            let written = 0;
            for (;;) {
                assert.ok(written < 64 << 20, 'the client was never stopped');
                written += chunk.length;
                if (duplex.write(chunk)) {
                    await new Promise(r => setImmediate(r));
                    continue;
                }
                const drained = await Promise.race([
                    once(duplex, 'drain').then(() => true),
                    new Promise(r => setTimeout(() => r(false), 500))
                ]);
                if (!drained) {
                    break;
                }
            }
            // What went: the server's window (its credit to us), plus our own
            // writable buffer.
            assert.ok(written <= (1 << 20) + (256 << 10), `${written} bytes went to a server that reads nothing`);
            // Once the server reads, everything arrives, in order.
            let received = 0;
            const all = new Promise(resolve => sd.on('data', c => {
                received += c.length;
                if (received === written) {resolve();}
            }));
            sd.resume();
            await all;
            duplex.end();
            sd.end();
            duplex.resume();
            await closed(duplex);
            assert.deepStrictEqual(s.warnings, []);
        } finally {
            await s.close();
        }
    });

    test('a client that stops reading stops the server (its write() returns false); reading resumes it', async () => {
        let server_side;
        const got_side = new Promise(resolve => { server_side = resolve; });
        const s = await ours(d => server_side(d));
        try {
            const duplex = await connect(s.url, { ca, pool: new ConnectionPool(), highWaterMark: 64 * 1024 });
            assert.strictEqual(duplex.transport, 'websocket');
            const sd = await got_side;
            let written = 0;
            const data = crypto.createHash('sha256');
            for (;;) {
                const chunk = crypto.randomBytes(64 * 1024);
                data.update(chunk);
                written += chunk.length;
                if (!sd.write(chunk)) {
                    const drained = await Promise.race([
                        once(sd, 'drain').then(() => true),
                        new Promise(r => setTimeout(() => r(false), 300))
                    ]);
                    if (!drained) {
                        break;
                    }
                }
                assert.ok(written < 64 << 20, 'the server wrote 64 MiB to a client that reads nothing');
            }
            // The client's credit (1 MiB) plus what its reader buffered.
            assert.ok(written <= 4 << 20, `${written} bytes went to a client that reads nothing`);
            const got = crypto.createHash('sha256');
            let received = 0;
            await new Promise(resolve => {
                duplex.on('data', c => {
                    got.update(c);
                    received += c.length;
                    if (received >= written) {resolve();}
                });
            });
            assert.strictEqual(received, written);
            assert.strictEqual(got.digest('hex'), data.digest('hex'));
            sd.end();
            sd.resume();
            duplex.end();
            await closed(duplex);
            assert.deepStrictEqual(s.warnings, []);
        } finally {
            await s.close();
        }
    });
});

// Where no RFC 8441 is offered the client upgrades to a WebSocket over
// HTTP/1.1 (RFC 6455), one connection per duplex, before it falls back to the streaming transport.
describe('WebSocket transport over HTTP/1.1 (RFC 6455 upgrade)', () => {
    // Our server on `server`, echoing; its warnings and TLS connections by ALPN.
    async function on(server, options) {
        const dx = new (require('..').Http2DuplexServer)(server, '/dx', options);
        const warnings = [];
        const alpn = [];
        dx.on('warning', w => warnings.push(`${w.code} ${w.status}`));
        dx.on('duplex', d => d.pipe(d));
        const tcp = [];
        server.on('secureConnection', socket => alpn.push(socket.alpnProtocol || 'none'));
        // Every TCP connection: a probe refused for its ALPN has no 'secureConnection'.
        server.on('connection', socket => tcp.push(socket));
        await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
        return {
            dx, warnings, alpn, tcp,
            url: `https://localhost:${server.address().port}/dx`,
            close: () => {
                dx.detach();
                server.closeAllConnections?.();
                return new Promise(resolve => server.close(resolve));
            }
        };
    }

    async function echoes(duplexes, total) {
        await Promise.all(duplexes.map(async duplex => {
            assert.strictEqual(duplex.transport, 'websocket');
            const { received, sent, got } = await echo(duplex, total, 16 * 1024);
            assert.strictEqual(received, total);
            assert.strictEqual(got, sent);
            await closed(duplex);
            assert.strictEqual(duplex.errored, null);
        }));
    }

    test('an https.Server (HTTP/1.1 only): auto and websocket open WebSockets, 4 MiB echoes by SHA-256; a pool asks for HTTP/2 once; streaming cannot', async () => {
        const s = await on(require('node:https').createServer({ key, cert, requestTimeout: 0 }));
        try {
            const duplexes = [
                await connect(s.url, { ca, pool: new ConnectionPool() }),
                await connect(s.url, { ca, pool: new ConnectionPool(), transport: 'websocket' })
            ];
            await echoes(duplexes, 4 << 20);
            assert.deepStrictEqual(s.warnings, []);
            // A pool remembers that the origin has no HTTP/2: a second duplex
            // asks for it no more and opens one connection, its upgrade.
            const pool = new ConnectionPool();
            await echoes([await connect(s.url, { ca, pool })], 1000);
            const tcp_before = s.tcp.length;
            await echoes([await connect(s.url, { ca, pool })], 1000);
            assert.strictEqual(s.tcp.length - tcp_before, 1);
            const err = await open_error(s.url, { ca, pool: new ConnectionPool(), transport: 'streaming' });
            assert.strictEqual(err.code, 'ERR_HTTP2_DUPLEX_CONNECTION');
            assert.match(err.message, /HTTP\/2/);
        } finally {
            await s.close();
        }
    });

    test("websocket: 'http1' (no RFC 8441 on HTTP/2, allowHTTP1): 8 duplexes at once, one HTTP/1.1 connection each, the HTTP/2 one kept", async () => {
        const s = await on(http2.createSecureServer({ key, cert, allowHTTP1: true }), { websocket: 'http1' });
        try {
            const pool = new ConnectionPool();
            const duplexes = await Promise.all(Array.from({ length: 8 }, () => connect(s.url, { ca, pool })));
            assert.strictEqual(pool.connections, 1, 'the HTTP/2 connection that offered no RFC 8441');
            assert.deepStrictEqual(s.alpn.toSorted(), ['h2', ...Array(8).fill('http/1.1')]);
            await echoes(duplexes, 1 << 20);
            assert.deepStrictEqual(s.warnings, []);
        } finally {
            await s.close();
        }
    });

    test('a server taking no WebSocket over HTTP/1.1 (websocket: false, allowHTTP1): auto falls back to streaming after one 501 per connection', async () => {
        const s = await on(http2.createSecureServer({ key, cert, allowHTTP1: true }), { websocket: false });
        try {
            const pool = new ConnectionPool();
            const duplexes = await Promise.all(Array.from({ length: 5 }, () => connect(s.url, { ca, pool })));
            for (const duplex of duplexes) {
                assert.strictEqual(duplex.transport, 'streaming');
                const { got, sent } = await echo(duplex, 100000, 1000);
                assert.strictEqual(got, sent);
                await closed(duplex);
            }
            assert.deepStrictEqual(s.warnings, ['ERR_HTTP2_DUPLEX_WS_NEEDS_HTTP2 501']);
            const err = await open_error(s.url, { ca, pool: new ConnectionPool(), transport: 'websocket' });
            assert.strictEqual(err.code, 'ERR_HTTP2_DUPLEX_WS_NEEDS_HTTP2');
            assert.strictEqual(err.status, 501);
        } finally {
            await s.close();
        }
    });
});

describe('connect errors', () => {
    let s;
    before(async () => { s = await start(require('..').Http2DuplexServer); });
    after(() => s.close());

    test("import { connect } from 'http2-duplex' works", async () => {
        const esm = await import('http2-duplex');
        assert.strictEqual(esm.connect, connect);
        assert.strictEqual(esm.ResponseError, ResponseError);
        assert.strictEqual(require('http2-duplex').connect, connect);
    });

    test('connection refused rejects with ERR_HTTP2_DUPLEX_CONNECTION', async () => {
        const port = await new Promise(resolve => {
            const l = net.createServer().listen(0, '127.0.0.1', () => {
                const { port } = l.address();
                l.close(() => resolve(port));
            });
        });
        const err = await open_error(`https://127.0.0.1:${port}/dx`, { ca });
        assert.strictEqual(err.code, 'ERR_HTTP2_DUPLEX_CONNECTION');
        assert.ok(!(err instanceof ResponseError));
    });

    test('an unknown certificate rejects with ERR_HTTP2_DUPLEX_CONNECTION', async () => {
        const err = await open_error(s.url);
        assert.strictEqual(err.code, 'ERR_HTTP2_DUPLEX_CONNECTION');
    });

    test('a URL that is not http(s) rejects with ERR_HTTP2_DUPLEX_INVALID_OPTION', async () => {
        const err = await open_error('ftp://localhost/dx');
        assert.strictEqual(err.code, 'ERR_HTTP2_DUPLEX_INVALID_OPTION');
    });

    test('rejectUnauthorized: false accepts an unknown certificate', async () => {
        const duplex = await connect(s.url, { rejectUnauthorized: false });
        duplex.destroy();
        await once(duplex, 'close');
    });

    test('a non-2xx answer rejects with ResponseError', async () => {
        const err = await open_error(s.url.replace('/dx', '/nowhere'), { ca });
        assert.ok(err instanceof ResponseError);
        assert.strictEqual(err.name, 'ResponseError');
        assert.strictEqual(err.code, 'ERR_HTTP2_DUPLEX_RESPONSE');
        assert.strictEqual(err.status, 404);
        assert.strictEqual(err.response.status, 404);
        assert.strictEqual(err.response.statusText, 'Not Found');
        assert.strictEqual(err.response.ok, false);
        assert.strictEqual(typeof err.response.headers, 'object');
    });

    test("a GET the server refuses carries the server's code (max_duplexes_per_session)", async () => {
        const limited = await start(require('..').Http2DuplexServer, d => d.pipe(d),
            { max_duplexes_per_session: 1 });
        try {
            const pool = new ConnectionPool();
            const first = await connect(limited.url, { ca, pool });
            const err = await open_error(limited.url, { ca, pool });
            assert.ok(err instanceof ResponseError);
            assert.strictEqual(err.name, 'ResponseError');
            assert.strictEqual(err.status, 429);
            assert.strictEqual(err.code, 'ERR_HTTP2_DUPLEX_TOO_MANY_DUPLEXES');
            assert.strictEqual(err.response.headers['http2-duplex-error'], err.code);
            first.destroy();
            await closed(first);
        } finally {
            await limited.close();
        }
    });

    test('extra headers reach the server', async () => {
        const seen = new Promise(resolve => s.dx.once('duplex', (d, id, headers) => {
            resolve(headers['x-test']);
            d.pipe(d);
        }));
        const duplex = await connect(s.url, { ca, headers: { 'X-Test': 'yes' } });
        assert.strictEqual(await seen, 'yes');
        duplex.destroy();
    });

    test('a connection lost mid-stream emits ERR_HTTP2_DUPLEX_CONNECTION', async () => {
        const duplex = await connect(s.url, { ca, pool: new ConnectionPool() });
        duplex.resume();
        duplex.write('x');
        await new Promise(r => setTimeout(r, 100));
        // the TCP connection cut, without a frame
        for (const socket of s.sockets) {socket.destroy();}
        const [err] = await once(duplex, 'error');
        assert.strictEqual(err.code, 'ERR_HTTP2_DUPLEX_CONNECTION');
    });

    test('a server destroying its session mid-stream is an error, never an end', async () => {
        // Node ends the session's streams cleanly (NO_ERROR) and closes the
        // connection: the framed GET ends without its END frame, or the lost
        // connection is seen first
        const duplex = await connect(s.url, { ca, pool: new ConnectionPool() });
        let ended = false;
        duplex.on('end', () => { ended = true; });
        duplex.resume();
        duplex.write('x');
        await new Promise(r => setTimeout(r, 100));
        for (const session of s.sessions) {session.destroy();}
        const [err] = await once(duplex, 'error');
        assert.ok(['ERR_HTTP2_DUPLEX_TRUNCATED_RESPONSE', 'ERR_HTTP2_DUPLEX_CONNECTION'].includes(err.code), err.code);
        assert.strictEqual(ended, false);
    });
});

describe('framed GET body (our server)', () => {
    let Http2DuplexServer;
    before(() => { Http2DuplexServer = require('..').Http2DuplexServer; });

    test('keep-alives of an idle duplex are not data', async () => {
        let server_side;
        const s = await start(Http2DuplexServer, d => {
            server_side = d;
            d.resume();
        }, { keepalive_interval: 10 });
        try {
            const duplex = await connect(s.url, { ca, pool: new ConnectionPool() });
            const chunks = [];
            duplex.on('data', chunk => chunks.push(chunk));
            const ended = once(duplex, 'end');
            duplex.end();
            // idle for many keepalive_intervals: PINGs come, no data
            await new Promise(r => setTimeout(r, 150));
            assert.strictEqual(chunks.length, 0);
            server_side.write('after ');
            await new Promise(r => setTimeout(r, 50));
            server_side.end('pings');
            await ended;
            assert.strictEqual(Buffer.concat(chunks).toString(), 'after pings');
            await closed(duplex);
        } finally {
            await s.close();
        }
    });

    test('the server ending first, then the client, finishes the duplex', async () => {
        const s = await start(Http2DuplexServer, d => {
            d.resume();
            d.end('bye');
        });
        try {
            const duplex = await connect(s.url, { ca, pool: new ConnectionPool() });
            const chunks = [];
            duplex.on('data', chunk => chunks.push(chunk));
            await once(duplex, 'end');
            assert.strictEqual(Buffer.concat(chunks).toString(), 'bye');
            duplex.end();
            await once(duplex, 'finish');
            await closed(duplex);
        } finally {
            await s.close();
        }
    });

    for (const [transport, code] of [['streaming', 'ERR_HTTP2_DUPLEX_TRUNCATED_RESPONSE'], ['websocket', 'ERR_HTTP2_DUPLEX_WS_CLOSED']]) {
        test(`${transport}: a stream that ends without the END frame (or Close) is ${code}`, async () => {
            // as a proxy does when the server behind it died: a clean end of the
            // GET's body (the CONNECT stream), without END (without a Close)
            const s = await start(Http2DuplexServer, d => {
                d.write('partial');
                setTimeout(() => d.stream.end(), 50);
            });
            try {
                const duplex = await connect(s.url, { ca, pool: new ConnectionPool(), transport });
                assert.strictEqual(duplex.transport, transport);
                const chunks = [];
                duplex.on('data', chunk => chunks.push(chunk));
                const [err] = await once(duplex, 'error');
                assert.strictEqual(err.code, code);
                assert.strictEqual(Buffer.concat(chunks).toString(), 'partial');
                await closed(duplex);
            } finally {
                await s.close();
            }
        });
    }
});

// A raw HTTP/2 (h2c) server that answers as `handlers` say: get(stream,
// headers) and post(stream, headers); by default GET opens a duplex with id
// `stub` and POST is never answered.
async function stub(handlers) {
    const server = http2.createServer();
    const sessions = new Set();
    server.on('session', session => {
        sessions.add(session);
        session.on('close', () => sessions.delete(session));
    });
    server.on('stream', (stream, headers) => {
        stream.on('error', () => {});
        const handler = handlers[headers[':method'].toLowerCase()];
        if (handler) {
            handler(stream, headers);
        } else if (headers[':method'] === 'GET') {
            stream.respond({ ':status': 200, 'http2-duplex-id': 'stub' });
            stream.write('a');
        }
    });
    await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
    return {
        url: `http://127.0.0.1:${server.address().port}/dx`,
        close: () => {
            for (const session of sessions) {session.destroy();}
            return new Promise(resolve => server.close(resolve));
        }
    };
}

// Opens a duplex on `url` and returns the error it is destroyed with.
async function duplex_error(url, options) {
    const duplex = await connect(url, { pool: new ConnectionPool(), ...options });
    duplex.resume();
    duplex.write('x');
    const [err] = await once(duplex, 'error');
    await closed(duplex);
    return err;
}

describe('connect errors from a raw HTTP/2 server', () => {
    test('a GET answered 429 with http2-duplex-error rejects with that code', async () => {
        const s = await stub({
            get: stream => stream.respond({
                ':status': 429, 'http2-duplex-error': 'ERR_HTTP2_DUPLEX_TOO_MANY_DUPLEXES'
            }, { endStream: true })
        });
        try {
            const err = await open_error(s.url);
            assert.ok(err instanceof ResponseError);
            assert.strictEqual(err.name, 'ResponseError');
            assert.strictEqual(err.code, 'ERR_HTTP2_DUPLEX_TOO_MANY_DUPLEXES');
            assert.strictEqual(err.status, 429);
            assert.strictEqual(err.response.status, 429);
        } finally {
            await s.close();
        }
    });

    test('a GET answered 200 without an id rejects with ERR_HTTP2_DUPLEX_NO_ID_IN_RESPONSE', async () => {
        const s = await stub({
            get: stream => {
                stream.respond({ ':status': 200 });
                stream.end('a');
            }
        });
        try {
            const err = await open_error(s.url);
            assert.strictEqual(err.code, 'ERR_HTTP2_DUPLEX_NO_ID_IN_RESPONSE');
            assert.ok(!(err instanceof ResponseError));
        } finally {
            await s.close();
        }
    });

    test('a streaming POST answered 413 destroys the duplex with a ResponseError', async () => {
        const s = await stub({
            post: stream => stream.respond({
                ':status': 413, 'http2-duplex-error': 'ERR_HTTP2_DUPLEX_WRITE_TOO_LARGE'
            }, { endStream: true })
        });
        try {
            const err = await duplex_error(s.url);
            assert.ok(err instanceof ResponseError);
            assert.strictEqual(err.name, 'ResponseError');
            assert.strictEqual(err.code, 'ERR_HTTP2_DUPLEX_WRITE_TOO_LARGE');
            assert.strictEqual(err.status, 413);
            assert.strictEqual(err.response.status, 413);
            assert.strictEqual(err.response.ok, false);
        } finally {
            await s.close();
        }
    });

    test('a POST answered 500 without a code is ERR_HTTP2_DUPLEX_RESPONSE', async () => {
        const s = await stub({
            post: stream => stream.respond({ ':status': 500 }, { endStream: true })
        });
        try {
            const err = await duplex_error(s.url);
            assert.ok(err instanceof ResponseError);
            assert.strictEqual(err.code, 'ERR_HTTP2_DUPLEX_RESPONSE');
            assert.strictEqual(err.status, 500);
        } finally {
            await s.close();
        }
    });

    test('the ResponseError option is used for a refused POST too, after init()', async () => {
        class MyError extends ResponseError {
            async init() {
                this.initialised = true;
            }
        }
        const s = await stub({
            post: stream => stream.respond({
                ':status': 410, 'http2-duplex-error': 'ERR_HTTP2_DUPLEX_DESTROYED'
            }, { endStream: true })
        });
        try {
            const err = await duplex_error(s.url, { ResponseError: MyError });
            assert.ok(err instanceof MyError);
            assert.strictEqual(err.initialised, true);
            assert.strictEqual(err.code, 'ERR_HTTP2_DUPLEX_DESTROYED');
            assert.strictEqual(err.status, 410);
        } finally {
            await s.close();
        }
    });

    test('a GET stream the server resets is ERR_HTTP2_DUPLEX_SERVER_RESET', async () => {
        let get;
        const s = await stub({
            get: stream => {
                get = stream;
                stream.respond({ ':status': 200, 'http2-duplex-id': 'stub' });
                stream.write('a');
            },
            post: () => get.destroy(new Error('reset by the test'))
        });
        try {
            const err = await duplex_error(s.url);
            assert.strictEqual(err.code, 'ERR_HTTP2_DUPLEX_SERVER_RESET');
            assert.ok(!(err instanceof ResponseError));
        } finally {
            await s.close();
        }
    });
});

// Writes that flow control lets go at once leave from the JS thread
// (tryWrite), reads that are there already come back at once (readNow); the
// rest waits on the runtime. Mixed, they must keep order and lose nothing.
describe('writes and reads taken at once', () => {
    let s;
    before(async () => { s = await start(require('..').Http2DuplexServer); });
    after(() => s.close());

    for (const transport of ['websocket', 'streaming']) {
        test(`${transport}: small writes in a tight loop between big ones are echoed in order`, async () => {
            const duplex = await connect(s.url, { ca, transport, pool: new ConnectionPool() });
            assert.strictEqual(duplex.transport, transport);
            // Mostly 1 to 100 bytes; every 1000th write 300 KiB, more than
            // one batch may take at once.
            const sizes = Array.from({ length: 20000 }, (_, i) => i % 1000 === 999 ? 300 * 1024 : 1 + (i % 100));
            const { received, sent, got } = await echo_writes(duplex, sizes);
            assert.strictEqual(received, sizes.reduce((a, b) => a + b));
            assert.strictEqual(got, sent);
        });
    }

    test('a process waiting for a read stays alive until the data comes', async () => {
        const late = await start(require('..').Http2DuplexServer, d => {
            d.on('error', () => {});
            setTimeout(() => d.end('late'), 1500);
            d.resume();
        });
        try {
            const script = `
                const { connect } = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'connect'))});
                const ca = require('fs').readFileSync(${JSON.stringify(path.join(certs, 'ca.pem'))});
                connect(process.argv[1], { ca }).then(duplex => {
                    duplex.on('data', data => process.stdout.write(String(data)));
                    duplex.on('end', () => duplex.end());
                });`;
            const child = spawn(process.execPath, ['-e', script, late.url], { stdio: ['ignore', 'pipe', 'inherit'] });
            let out = '';
            child.stdout.on('data', d => { out += d; });
            const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
            const [code, signal] = await once(child, 'exit');
            clearTimeout(timer);
            assert.strictEqual(signal, null, 'the child had to be killed: it did not exit');
            assert.strictEqual(code, 0);
            assert.strictEqual(out, 'late', 'the child exited before its read was answered');
        } finally {
            await late.close();
        }
    });
});

describe('process exit', () => {
    let s;
    before(async () => { s = await start(require('..').Http2DuplexServer); });
    after(() => s.close());

    for (const how of ['destroy', 'end']) {
        test(`a process that connects and then ${how}s exits on its own`, async () => {
            const script = `
                const { connect } = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'connect'))});
                const ca = require('fs').readFileSync(${JSON.stringify(path.join(certs, 'ca.pem'))});
                connect(process.argv[1], { ca }).then(duplex => {
                    duplex.on('data', () => {});
                    duplex.write('hello');
                    setTimeout(() => duplex.${how}(), 100);
                });`;
            const child = spawn(process.execPath, ['-e', script, s.url], { stdio: 'inherit' });
            const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
            const [code, signal] = await once(child, 'exit');
            clearTimeout(timer);
            assert.strictEqual(signal, null, 'the child had to be killed: it did not exit');
            assert.strictEqual(code, 0);
        });
    }
});
