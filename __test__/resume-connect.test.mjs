// Resume in the Node client: connect(url, { resume: true }) against an
// Http2DuplexServer, through support/fault-proxy.mjs. A resumable duplex
// (http2-duplex.2) survives cuts and hangs of its connection byte-exact on
// both WebSocket paths (RFC 8441 and the HTTP/1.1 upgrade) and through a
// tunnel over the streaming transport (docs/protocol.md "Resume on the
// fetch paths"), fails with the server's refusal or the resume timeout, and
// without resume at the server works as before (http2-duplex.1, or a plain
// streaming duplex).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash, randomBytes } from 'node:crypto';
import { start_fault_proxy, fault_plan } from '../support/fault-proxy.mjs';
import { Http2DuplexServer, connect, ConnectionPool } from '../index.mjs';

const LOOPBACK = '127.0.0.1';
const certs = new URL('../support/certs/', import.meta.url);
const key = readFileSync(new URL('key.pem', certs));
const cert = readFileSync(new URL('cert.pem', certs));
const ca = readFileSync(new URL('ca.pem', certs));
// Keep-alives every 200 ms: a stalled connection is taken for hung after
// 2 × 200 + 1000 ms of silence.
const KEEPALIVE = { keepalive_interval: 200 };

// Each path: the transport asked for (and then in use), and its big echo's
// faults (the tunnel's smaller: it is the slowest path).
const PATHS = {
    'RFC 8441 (WebSocket over HTTP/2)': {
        transport: 'websocket',
        echo: { mib: 64, cuts: 20, stalls: 3 },
        opened_by: headers => headers[':method'] === 'CONNECT'
    },
    'the HTTP/1.1 upgrade': {
        transport: 'websocket',
        echo: { mib: 64, cuts: 20, stalls: 3 },
        http2: { allowHTTP1: true },
        server: { websocket: 'http1' },
        opened_by: headers => headers.upgrade === 'websocket'
    },
    'a tunnel (transport streaming)': {
        transport: 'streaming',
        tunnel: true,
        echo: { mib: 32, cuts: 12, stalls: 2 },
        opened_by: headers => headers['http2-duplex-tunnel'] === 'http2-duplex.2'
    }
};

// Every wait is on an event; this only names a missing one.
function within(promise, ms, what) {
    let timer;
    const deadline = new Promise((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`nothing after ${ms} ms: ${what}`)), ms);
    });
    return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

// Rejects once `progress()` stayed the same for `ms` (a transfer that
// stopped); `stop()` ends the watch.
function watch_progress(progress, ms, what) {
    let timer;
    const stopped = new Promise((resolve, reject) => {
        let last = progress();
        let since = Date.now();
        timer = setInterval(() => {
            const now = progress();
            if (now !== last) {
                last = now;
                since = Date.now();
            } else if (Date.now() - since >= ms) {
                reject(new Error(`${what} stopped at ${now} for ${ms} ms`));
            }
        }, 250);
    });
    return { stopped, stop: () => clearInterval(timer) };
}

// A stream's first 'error' (null if none), whether it ended, and its 'close'.
function watch(stream) {
    const seen = { error: null, ended: false };
    seen.failed = new Promise(resolve => stream.once('error', err => {
        seen.error = err;
        resolve(err);
    }));
    stream.once('end', () => { seen.ended = true; });
    seen.closed = new Promise(resolve => stream.once('close', resolve));
    return seen;
}

// An HTTP/2 server (TLS) listening on `port` (0: any) with an
// Http2DuplexServer at /dx whose duplexes go to `on_duplex`.
async function start_server(t, path, options, on_duplex, port = 0) {
    const http2_server = http2.createSecureServer({ key, cert, ...path.http2 });
    const server = new Http2DuplexServer(http2_server, '/dx', { ...path.server, ...options });
    const warnings = [];
    server.on('warning', w => warnings.push(w));
    server.on('duplex', on_duplex);
    const sockets = new Set();
    http2_server.on('secureConnection', socket => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
    });
    http2_server.listen(port, LOOPBACK);
    await once(http2_server, 'listening');
    let stopped = false;
    // Gone at once, as a node that died: its connections dropped.
    const stop = async () => {
        if (stopped) {
            return;
        }
        stopped = true;
        server.detach();
        sockets.forEach(s => s.destroy());
        http2_server.close();
        await once(http2_server, 'close');
    };
    t.after(stop);
    return { http2_server, server, warnings, port: http2_server.address().port, stop };
}

// An echoing server whose duplexes count and hash what they receive.
async function echo_server(t, path, options) {
    const duplexes = [];
    const started = await start_server(t, path, options, (duplex, id, headers) => {
        const hash = createHash('sha256');
        const entry = { duplex, headers, seen: watch(duplex), resumes: 0, bytes: 0, hash };
        duplex.on('data', chunk => {
            entry.bytes += chunk.length;
            hash.update(chunk);
        });
        duplex.on('resumed', () => entry.resumes++);
        duplex.pipe(duplex);
        duplexes.push(entry);
    });
    return { ...started, duplexes };
}

async function proxy_to(t, port) {
    const proxy = await start_fault_proxy({ target: { host: LOOPBACK, port } });
    t.after(() => proxy.close());
    return proxy;
}

async function echo_once(client, text) {
    client.write(text);
    const [echoed] = await once(client, 'data');
    assert.equal(echoed.toString(), text);
}

// Writes `data` in 64 KiB pieces (with backpressure) and ends.
function write_all(client, data) {
    const pieces = function* () {
        for (let at = 0; at < data.length; at += 64 << 10) {
            yield data.subarray(at, at + (64 << 10));
        }
    };
    return pipeline(Readable.from(pieces()), client);
}

const sha256 = data => createHash('sha256').update(data).digest('hex');

for (const [name, path] of Object.entries(PATHS)) {
    describe(`resume over ${name}`, () => {
        const { mib, cuts, stalls } = path.echo;
        const tunnel = path.tunnel === true;
        test(`a ${mib} MiB echo under ${cuts} cuts and ${stalls} stalls arrives whole both ways (SHA-256), no error on either side`, async t => {
            const seed = process.env.FAULT_SEED === undefined ? undefined : Number(process.env.FAULT_SEED);
            const data = randomBytes(mib << 20);
            const plan = fault_plan({ seed, bytes: data.length, cuts, stalls });
            t.diagnostic(`seed ${plan.seed} (FAULT_SEED=${plan.seed} replays it)`);
            const echo = await echo_server(t, path, KEEPALIVE);
            const proxy = await proxy_to(t, echo.port);
            const started = Date.now();
            const client = await connect(`https://localhost:${proxy.port}/dx`,
                { ca, pool: new ConnectionPool(), transport: path.transport, resume: true });
            assert.equal(client.resumable, true);
            assert.equal(client.transport, path.transport);
            assert.equal(client.tunnel, tunnel);
            const client_seen = watch(client);
            const resumed = [];
            client.on('resumed', info => resumed.push(info));
            await echo_once(client, 'before the faults');
            const server_side = echo.duplexes[0];
            assert.ok(path.opened_by(server_side.headers), JSON.stringify(server_side.headers));
            proxy.follow(plan);
            const hash = createHash('sha256');
            let received = 0;
            client.on('data', chunk => {
                received += chunk.length;
                hash.update(chunk);
            });
            const written = write_all(client, data);
            written.catch(() => {});    // awaited below, once the duplex closed
            t.after(() => client.destroy());
            // No byte for 10 s is no hang the client would not have noticed
            // (1.4 s): the transfer stopped.
            const progress = watch_progress(() => received + server_side.bytes, 10_000, 'the echo');
            try {
                await within(Promise.race([client_seen.closed, client_seen.failed, progress.stopped]), 55_000,
                    "the client's 'close'");
            } finally {
                progress.stop();
            }
            await written;
            const seconds = (Date.now() - started) / 1000;
            t.diagnostic(`${seconds.toFixed(1)} s, ${resumed.length} resumes at the client, ` +
                `${server_side.resumes} at the server, faults left ${proxy.pending_faults}, ` +
                `proxy ${JSON.stringify(proxy.stats())}`);
            assert.equal(client_seen.error, null, `client error: ${client_seen.error?.code} ${client_seen.error?.message}`);
            assert.equal(client_seen.ended, true);
            await within(server_side.seen.closed, 10_000, "the server duplex's 'close'");
            assert.equal(server_side.seen.error, null, `server error: ${server_side.seen.error?.code}`);
            assert.equal(received, data.length);
            assert.equal(hash.digest('hex'), sha256(data), `seed ${plan.seed}`);
            assert.equal(server_side.bytes, data.length + 'before the faults'.length);
            assert.equal(proxy.pending_faults, 0, 'every fault of the plan happened');
            assert.ok(resumed.length >= cuts, `resumes ${resumed.length}`);
            // Its resumes went the way it opened.
            assert.equal(client.tunnel, tunnel);
            assert.ok(resumed.every(r => r.attempt >= 1 && r.downtime >= 0), JSON.stringify(resumed));
            assert.equal(echo.warnings.filter(w => !/RESUME|ABNORMAL|SESSION|RESET|CONNECTION/.test(w.code)).length, 0,
                JSON.stringify(echo.warnings.map(w => w.code)));
        });

        test("the server ends first: the client's writes after it arrive whole through 5 cuts, and 'finish' waits for the server's ack", async t => {
            const data = randomBytes(8 << 20);
            const plan = fault_plan({ bytes: data.length, cuts: 5 });
            t.diagnostic(`seed ${plan.seed}`);
            let server_side;
            const started = await start_server(t, path, KEEPALIVE, duplex => {
                const hash = createHash('sha256');
                server_side = { seen: watch(duplex), hash, bytes: 0 };
                duplex.on('data', chunk => {
                    server_side.bytes += chunk.length;
                    hash.update(chunk);
                });
                duplex.end();
            });
            const proxy = await proxy_to(t, started.port);
            const client = await connect(`https://localhost:${proxy.port}/dx`,
                { ca, pool: new ConnectionPool(), transport: path.transport, resume: true });
            const client_seen = watch(client);
            let resumed = 0;
            client.on('resumed', () => resumed++);
            client.resume();
            await within(once(client, 'end'), 10_000, "the client's 'end'");
            proxy.follow(plan);
            await write_all(client, data);
            // 'finish' came: the server has every byte, though the client lets go now.
            assert.equal(server_side.bytes, data.length);
            await within(client_seen.closed, 10_000, "the client's 'close'");
            await within(server_side.seen.closed, 10_000, "the server duplex's 'close'");
            t.diagnostic(`${resumed} resumes`);
            assert.equal(client_seen.error, null, client_seen.error?.message);
            assert.equal(server_side.seen.error, null, server_side.seen.error?.message);
            assert.equal(server_side.hash.digest('hex'), sha256(data));
            assert.equal(proxy.pending_faults, 0);
            // One resume per cut, but the last 'resumed' may come after the
            // duplex was destroyed (it then goes unseen).
            assert.ok(resumed >= 4 && resumed <= 5, `${resumed} resumes`);
        });

        test('a server that is gone (a new one on the same port): ERR_HTTP2_DUPLEX_RESUME_UNKNOWN within 1 s of reaching it', async t => {
            const first = await echo_server(t, path, KEEPALIVE);
            const client = await connect(`https://localhost:${first.port}/dx`,
                { ca, pool: new ConnectionPool(), transport: path.transport, resume: true });
            assert.equal(client.resumable, true);
            const client_seen = watch(client);
            await echo_once(client, 'hello');
            await first.stop();
            let reached;
            const second = await start_server(t, path, KEEPALIVE, () => {}, first.port);
            const reached_new = new Promise(resolve => second.http2_server.once('secureConnection', () => {
                reached = Date.now();
                resolve();
            }));
            const err = await within(client_seen.failed, 10_000, "the client's 'error'");
            await reached_new;
            const after = Date.now() - reached;
            t.diagnostic(`failed ${after} ms after reaching the new server`);
            assert.equal(err.code, 'ERR_HTTP2_DUPLEX_RESUME_UNKNOWN', err.message);
            assert.ok(after < 1000, `${after} ms`);
            assert.equal(client_seen.ended, false);
        });

        test(`resume off at the server (resume_buffer 0): the duplex is ${tunnel ? 'a plain streaming duplex' : 'http2-duplex.1'} (resumable false) and works`, async t => {
            const echo = await echo_server(t, path, { ...KEEPALIVE, resume_buffer: 0 });
            const client = await connect(`https://localhost:${echo.port}/dx`,
                { ca, pool: new ConnectionPool(), transport: path.transport, resume: true });
            assert.equal(client.resumable, false);
            assert.equal(client.transport, path.transport);
            assert.equal(client.tunnel, false);
            const client_seen = watch(client);
            let resumed = 0;
            client.on('resumed', () => resumed++);
            await echo_once(client, 'hello');
            const data = randomBytes(1 << 20);
            const chunks = [];
            client.on('data', chunk => chunks.push(chunk));
            await write_all(client, data);
            await within(client_seen.closed, 10_000, "the client's 'close'");
            assert.equal(client_seen.error, null);
            assert.equal(sha256(Buffer.concat(chunks)), sha256(data));
            assert.equal(resumed, 0);
        });

        test("no resume within the server's resume_timeout (new connections refused): ERR_HTTP2_DUPLEX_RESUME_TIMEOUT", async t => {
            const echo = await echo_server(t, path, { ...KEEPALIVE, resume_timeout: 600 });
            const proxy = await proxy_to(t, echo.port);
            const client = await connect(`https://localhost:${proxy.port}/dx`,
                { ca, pool: new ConnectionPool(), transport: path.transport, resume: true });
            const client_seen = watch(client);
            await echo_once(client, 'hello');
            proxy.refuse();
            const cut = Date.now();
            proxy.cut_all();
            const err = await within(client_seen.failed, 10_000, "the client's 'error'");
            const after = Date.now() - cut;
            t.diagnostic(`failed ${after} ms after the cut`);
            assert.equal(err.code, 'ERR_HTTP2_DUPLEX_RESUME_TIMEOUT', err.message);
            assert.ok(after >= 550 && after < 3000, `${after} ms`);
        });
    });
}

describe('resume options', () => {
    test("resume with transport 'per-write' (not the Node client's) or a non-boolean resume is ERR_HTTP2_DUPLEX_INVALID_OPTION", async () => {
        const url = 'https://localhost:1/dx';
        await assert.rejects(connect(url, { ca, transport: 'per-write', resume: true }),
            { code: 'ERR_HTTP2_DUPLEX_INVALID_OPTION' });
        await assert.rejects(connect(url, { ca, resume: 'yes' }),
            { code: 'ERR_HTTP2_DUPLEX_INVALID_OPTION' });
    });

    // What 'auto' with resume opens, by what the server serves.
    const AUTO = {
        'a resumable WebSocket': {
            path: PATHS['RFC 8441 (WebSocket over HTTP/2)'],
            transport: 'websocket',
            tunnel: false,
            offered: headers => headers['sec-websocket-protocol'] === 'http2-duplex.2, http2-duplex.1'
        },
        'with no WebSocket at the server (websocket: false), a tunnel': {
            path: { server: { websocket: false } },
            transport: 'streaming',
            tunnel: true,
            offered: PATHS['a tunnel (transport streaming)'].opened_by
        }
    };
    for (const [what, way] of Object.entries(AUTO)) {
        test(`transport 'auto' (the default) with resume: ${what} that survives a cut`, async t => {
            const echo = await echo_server(t, way.path, KEEPALIVE);
            const proxy = await proxy_to(t, echo.port);
            const client = await connect(`https://localhost:${proxy.port}/dx`,
                { ca, pool: new ConnectionPool(), resume: true });
            assert.equal(client.transport, way.transport);
            assert.equal(client.tunnel, way.tunnel);
            assert.equal(client.resumable, true);
            const client_seen = watch(client);
            await echo_once(client, 'before');
            assert.ok(way.offered(echo.duplexes[0].headers), JSON.stringify(echo.duplexes[0].headers));
            const resumed = once(client, 'resumed');
            proxy.cut_all();
            const [info] = await within(resumed, 10_000, "the client's 'resumed'");
            assert.equal(info.attempt, 1);
            assert.ok(info.downtime >= 0 && info.downtime < 5_000, JSON.stringify(info));
            assert.equal(client.tunnel, way.tunnel);
            await echo_once(client, 'after');
            client.end();
            client.resume();
            await within(client_seen.closed, 10_000, "the client's 'close'");
            assert.equal(client_seen.error, null);
            assert.equal(echo.duplexes[0].seen.error, null);
        });
    }

    test('a WebSocket duplex whose resume finds the WebSocket refused resumes on a tunnel, byte-exact', async t => {
        const echo = await echo_server(t, PATHS['RFC 8441 (WebSocket over HTTP/2)'], KEEPALIVE);
        // Once set, a CONNECT is answered 403 before the duplex server sees
        // it: a hop that takes no WebSockets.
        let refuse_websockets = false;
        echo.http2_server.on('session', session => session.prependListener('stream', (stream, headers) => {
            if (refuse_websockets && headers[':method'] === 'CONNECT') {
                stream.respond({ ':status': 403 });
                stream.end();
            }
        }));
        const proxy = await proxy_to(t, echo.port);
        const client = await connect(`https://localhost:${proxy.port}/dx`,
            { ca, pool: new ConnectionPool(), transport: 'websocket', resume: true });
        assert.equal(client.tunnel, false);
        const client_seen = watch(client);
        const chunks = [];
        client.on('data', chunk => chunks.push(chunk));
        const before = randomBytes(1 << 20);
        client.write(before);
        refuse_websockets = true;
        const resumed = once(client, 'resumed');
        proxy.cut_all();
        await within(resumed, 10_000, "the client's 'resumed'");
        assert.equal(client.tunnel, true);
        assert.equal(client.transport, 'streaming');
        const after = randomBytes(1 << 20);
        client.end(after);
        await within(client_seen.closed, 10_000, "the client's 'close'");
        assert.equal(client_seen.error, null, client_seen.error?.message);
        assert.equal(sha256(Buffer.concat(chunks)), sha256(Buffer.concat([before, after])));
        const server_side = echo.duplexes[0];
        await within(server_side.seen.closed, 10_000, "the server duplex's 'close'");
        assert.equal(server_side.seen.error, null);
        assert.ok(server_side.resumes >= 1, `${server_side.resumes} resumes at the server`);
    });

    test('without resume the client offers http2-duplex.1 only: not resumable on a server with resume', async t => {
        const echo = await echo_server(t, PATHS['RFC 8441 (WebSocket over HTTP/2)'], KEEPALIVE);
        const client = await connect(`https://localhost:${echo.port}/dx`,
            { ca, pool: new ConnectionPool(), transport: 'websocket' });
        assert.equal(client.resumable, false);
        await echo_once(client, 'hello');
        assert.equal(echo.duplexes[0].headers['sec-websocket-protocol'], 'http2-duplex.1');
        client.destroy();
    });
});
