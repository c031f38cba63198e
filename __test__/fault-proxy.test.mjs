// support/fault-proxy.mjs against plain `net` servers (bytes intact, cuts at
// exact byte counts, stalls that hold bytes, refusals, counters, a seeded
// plan), then a first use against this package as it is today, without
// resume: what a cut and a stall do to a duplex on each transport of the Node
// client, and how the server's keep-alive PINGs notice a dead HTTP/2 session.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import { EventEmitter, once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { createHash, randomBytes } from 'node:crypto';
import { start_fault_proxy, fault_plan } from '../support/fault-proxy.mjs';
import { Http2DuplexServer, connect, ConnectionPool } from '../index.mjs';

const sha256 = data => createHash('sha256').update(data).digest('hex');
const LOOPBACK = '127.0.0.1';
// Only where the assertion is that nothing happens: how long nothing must
// happen for (a slow machine can only make it pass more easily, never fail).
const QUIET_MS = 100;

// A `net` server on loopback; `on_socket` gets each accepted socket, and
// `sockets` keeps them in accept order.
async function start_net_server(t, on_socket) {
    const sockets = [];
    const accepted = new EventEmitter();
    const server = net.createServer({ allowHalfOpen: true }, socket => {
        sockets.push(socket);
        accepted.emit('socket');
        socket.on('error', () => {});
        on_socket(socket);
    });
    server.listen(0, LOOPBACK);
    await once(server, 'listening');
    t.after(() => {
        sockets.forEach(s => s.destroy());
        server.close();
    });
    // Resolves to the `index`th socket accepted.
    const nth = async index => {
        while (sockets.length <= index) {
            await once(accepted, 'socket');
        }
        return sockets[index];
    };
    return { target: { host: LOOPBACK, port: server.address().port }, sockets, nth };
}

const echo_server = t => start_net_server(t, socket => socket.pipe(socket));

// (not events.once: it rejects on 'error')
const closed = stream => new Promise(resolve => (stream.closed ? resolve() : stream.once('close', resolve)));

// Keeps what a socket receives: `all()` resolves to all of it once the
// socket closed.
function collect(socket) {
    const chunks = [];
    socket.on('data', chunk => chunks.push(chunk));
    const done = closed(socket);
    return { chunks, all: () => done.then(() => Buffer.concat(chunks)) };
}

// A sink server: each socket's bytes, resolved once it closed.
async function sink_server(t) {
    const received = [];
    const got = new EventEmitter();
    const server = await start_net_server(t, socket => {
        received.push(collect(socket));
        socket.on('data', () => got.emit('data'));
        socket.on('end', () => socket.end());
    });
    const length = index => (received[index]?.chunks ?? []).reduce((sum, b) => sum + b.length, 0);
    // Resolves once the sink's `index`th socket has at least `n` bytes.
    const has = async (index, n) => {
        while (length(index) < n) {
            await once(got, 'data');
        }
    };
    return { ...server, received, has };
}

async function proxy_to(t, target, policy = {}) {
    const proxy = await start_fault_proxy({ target, ...policy });
    t.after(() => proxy.close());
    return proxy;
}

// A client socket through the proxy, and the proxy's record of it.
async function through(proxy) {
    const socket = net.connect(proxy.port, LOOPBACK);
    socket.on('error', () => {});
    const [connection] = await once(proxy, 'connection');
    return { socket, connection };
}

describe('the fault proxy against plain net servers', () => {
    test('32 MiB each way pass intact (SHA-256); counters per connection and in total', async t => {
        const proxy = await proxy_to(t, (await echo_server(t)).target);
        const data = randomBytes(32 << 20);
        const { socket, connection } = await through(proxy);
        const disconnected = once(proxy, 'disconnect');
        const echoed = collect(socket);
        socket.end(data);
        assert.equal(sha256(await echoed.all()), sha256(data));
        assert.deepEqual(await disconnected, [connection]);
        assert.equal(connection.closed, true);
        assert.deepEqual(connection.bytes, { up: data.length, down: data.length });
        assert.equal(connection.cut_reason, '');
        assert.deepEqual(proxy.stats(), {
            accepted: 1, refused: 0, cuts: 0, stalls: 0, open: 0,
            bytes: { up: data.length, down: data.length }
        });
    });

    test('cut_after up: exactly N bytes reach the server, then it sees the close', async t => {
        const sink = await sink_server(t);
        const proxy = await proxy_to(t, sink.target, { cut_after: { up: 100_001 } });
        const data = randomBytes(1 << 20);
        const { socket, connection } = await through(proxy);
        const cut = once(proxy, 'cut');
        socket.write(data);
        assert.deepEqual(await cut, [connection, 'cut_after']);
        assert.deepEqual(await sink.received[0].all(), data.subarray(0, 100_001));
        await closed(socket);
        assert.equal(connection.bytes.up, 100_001);
        assert.equal(proxy.stats().cuts, 1);
    });

    test('cut_after down, set at runtime: exactly N bytes reach the client, then it sees the close', async t => {
        const data = randomBytes(1 << 20);
        const { target } = await start_net_server(t, socket => socket.end(data));
        const proxy = await proxy_to(t, target);
        assert.throws(() => proxy.set_policy({ cut_afer: { down: 1 } }), TypeError);
        proxy.set_policy({ cut_after: { down: 65_537 } });
        const { socket } = await through(proxy);
        const received = collect(socket);
        assert.deepEqual(await received.all(), data.subarray(0, 65_537));
    });

    test('cut_after set on an open connection counts from its start; cut_after_ms cuts later', async t => {
        const sink = await sink_server(t);
        const proxy = await proxy_to(t, sink.target);
        const { socket, connection } = await through(proxy);
        socket.write(Buffer.alloc(100, 1));
        await sink.has(0, 100);
        proxy.set_policy({ cut_after: { up: 150 } });
        socket.write(Buffer.alloc(100, 2));
        assert.deepEqual(await sink.received[0].all(),
            Buffer.concat([Buffer.alloc(100, 1), Buffer.alloc(50, 2)]));
        assert.equal(connection.cut_reason, 'cut_after');

        proxy.set_policy({ cut_after_ms: 50 });
        const started = Date.now();
        const next = await through(proxy);
        const [cut, reason] = await once(proxy, 'cut');
        assert.equal(cut, next.connection);
        assert.equal(reason, 'cut_after_ms');
        assert.ok(Date.now() - started >= 49, `cut after ${Date.now() - started} ms`);
    });

    test('cut_all destroys every open connection, both sockets; reset sends an RST', async t => {
        const proxy = await proxy_to(t, (await echo_server(t)).target);
        const a = await through(proxy);
        const b = await through(proxy);
        a.socket.write('x');
        await once(a.socket, 'data');
        const cuts = [];
        proxy.on('cut', (c, reason) => cuts.push([c.id, reason]));
        proxy.cut_all();
        await Promise.all([a.connection.done, b.connection.done, closed(a.socket), closed(b.socket)]);
        assert.deepEqual(cuts, [[a.connection.id, 'cut_all'], [b.connection.id, 'cut_all']]);
        assert.equal(proxy.stats().open, 0);

        const c = await through(proxy);
        c.socket.write('y');
        await once(c.socket, 'data');
        const error = new Promise(resolve => c.socket.once('error', resolve));
        proxy.cut_all({ reset: true });
        assert.equal((await error).code, 'ECONNRESET');
    });

    test('stall holds bytes, with both sockets open; resume_all delivers them in order', async t => {
        const server = await echo_server(t);
        const proxy = await proxy_to(t, server.target);
        const { socket, connection } = await through(proxy);
        const echoed = collect(socket);
        socket.write('a');
        await once(socket, 'data');
        const stalled = once(proxy, 'stall');
        proxy.stall_all();
        assert.deepEqual(await stalled, [connection, 'both']);
        const data = randomBytes(256 << 10);
        socket.write(data);
        await delay(QUIET_MS);
        assert.deepEqual(connection.bytes, { up: 1, down: 1 });
        assert.equal(Buffer.concat(echoed.chunks).length, 1);
        assert.ok(!socket.destroyed && !server.sockets[0].destroyed, 'a stalled connection stays open');
        assert.equal(proxy.stats().open, 1);
        proxy.resume_all();
        socket.end();
        assert.equal(sha256(await echoed.all()), sha256(Buffer.concat([Buffer.from('a'), data])));
        assert.equal(proxy.stats().stalls, 1);
    });

    test('a stall one way: the other way still flows', async t => {
        const server = await echo_server(t);
        const proxy = await proxy_to(t, server.target, { stall: 'down' });
        const { socket, connection } = await through(proxy);
        const echoed = collect(socket);
        assert.deepEqual(connection.stalled, { up: false, down: true });
        socket.write('ping');
        const [arrived] = await once(await server.nth(0), 'data');
        assert.equal(arrived.toString(), 'ping');
        await delay(QUIET_MS);
        assert.equal(echoed.chunks.length, 0);
        connection.resume('down');
        socket.end();
        assert.equal((await echoed.all()).toString(), 'ping');
    });

    test('stall_after: exactly N bytes go, then nothing either way until resumed', async t => {
        const sink = await sink_server(t);
        const proxy = await proxy_to(t, sink.target, { stall_after: { up: 70_000 } });
        const data = randomBytes(1 << 20);
        const { socket, connection } = await through(proxy);
        const stalled = once(proxy, 'stall');
        socket.end(data);
        await stalled;
        await sink.has(0, 70_000);
        await delay(QUIET_MS);
        assert.equal(Buffer.concat(sink.received[0].chunks).length, 70_000);
        assert.deepEqual(connection.stalled, { up: true, down: true });
        connection.resume();
        assert.equal(sha256(await sink.received[0].all()), sha256(data));
    });

    test('refuse: new connections are reset at once, open ones go on; refuse(false) accepts again', async t => {
        const proxy = await proxy_to(t, (await echo_server(t)).target);
        const open = await through(proxy);
        proxy.refuse(true);
        const refused = once(proxy, 'refused');
        const socket = net.connect(proxy.port, LOOPBACK);
        const received = collect(socket);
        const error = new Promise(resolve => socket.once('error', resolve));
        await refused;
        assert.equal((await error).code, 'ECONNRESET');
        assert.equal((await received.all()).length, 0);
        open.socket.write('still');
        assert.equal((await once(open.socket, 'data'))[0].toString(), 'still');
        proxy.refuse(false);
        const again = await through(proxy);
        again.socket.write('again');
        assert.equal((await once(again.socket, 'data'))[0].toString(), 'again');
        assert.deepEqual({ ...proxy.stats(), bytes: undefined }, {
            accepted: 2, refused: 1, cuts: 0, stalls: 0, open: 2, bytes: undefined
        });
    });

    test('fault_plan: the same seed gives the same plan', () => {
        const a = fault_plan({ seed: 42, bytes: 1 << 20, cuts: 20, stalls: 3 });
        assert.deepEqual(fault_plan({ seed: 42, bytes: 1 << 20, cuts: 20, stalls: 3 }), a);
        assert.notDeepEqual(fault_plan({ seed: 43, bytes: 1 << 20, cuts: 20, stalls: 3 }).faults, a.faults);
        assert.equal(a.seed, 42);
        assert.equal(a.faults.filter(f => f.fault === 'cut').length, 20);
        assert.equal(a.faults.filter(f => f.fault === 'stall').length, 3);
        const at = a.faults.map(f => f.at);
        assert.deepEqual(at, [...new Set(at)].sort((x, y) => x - y));
        assert.ok(at[0] >= 1 && at.at(-1) < 1 << 20);
        assert.ok(typeof fault_plan({ bytes: 10 }).seed === 'number');
    });

    test('follow(plan): 20 cuts and 3 stalls land at their byte counts; a sender that resends from there delivers every byte', async t => {
        const seed = process.env.FAULT_SEED === undefined ? undefined : Number(process.env.FAULT_SEED);
        const data = randomBytes(4 << 20);
        const plan = fault_plan({ seed, bytes: data.length, cuts: 20, stalls: 3 });
        t.diagnostic(`seed ${plan.seed} (FAULT_SEED=${plan.seed} replays it)`);
        const sink = await sink_server(t);
        const proxy = await proxy_to(t, sink.target);
        proxy.follow(plan);
        const seen = [];
        let faulted;
        for (const fault of ['cut', 'stall']) {
            proxy.on(fault, () => {
                seen.push({ at: proxy.stats().bytes.up, count: 'up', fault });
                faulted();
            });
        }
        for (let offset = 0; offset < data.length;) {
            const { socket, connection } = await through(proxy);
            const fault = new Promise(resolve => { faulted = resolve; });
            socket.end(data.subarray(offset));
            await Promise.race([fault, closed(socket)]);
            if (connection.cut_reason === '' && !connection.stalled.up) {
                assert.equal(connection.bytes.up, data.length - offset, `seed ${plan.seed}`);
            }
            offset += connection.bytes.up;
            // a sender gives up a stalled connection (the proxy does not see it)
            socket.destroy();
        }
        await proxy.close();
        const received = await Promise.all(sink.received.map(c => c.all()));
        assert.deepEqual(seen, plan.faults, `seed ${plan.seed}`);
        assert.equal(proxy.pending_faults, 0);
        assert.equal(received.length, 24, `seed ${plan.seed}`);
        assert.equal(sha256(Buffer.concat(received)), sha256(data), `seed ${plan.seed}`);
        assert.equal(proxy.stats().bytes.up, data.length);
    });

    test('close() ends stalled and open connections and stops listening', async t => {
        const proxy = await start_fault_proxy({ target: (await echo_server(t)).target, stall: 'both' });
        const { socket } = await through(proxy);
        await proxy.close();
        await closed(socket);
        const refused = net.connect(proxy.port, LOOPBACK);
        assert.equal((await once(refused, 'error'))[0].code, 'ECONNREFUSED');
    });
});

// ---- A first use: this package today (no resume), through the proxy ----

const certs = new URL('../support/certs/', import.meta.url);
const key = readFileSync(new URL('key.pem', certs));
const cert = readFileSync(new URL('cert.pem', certs));
const ca = readFileSync(new URL('ca.pem', certs));
const IDLE_TIMEOUT = 'ERR_HTTP2_DUPLEX_IDLE_TIMEOUT';
const SESSION_CLOSED = 'ERR_HTTP2_DUPLEX_SESSION_CLOSED';
// A short keep-alive interval: an HTTP/2 session or HTTP/1.1 WebSocket that
// received nothing this long gets a PING (an HTTP/2 PING, a WebSocket Ping
// frame), and is destroyed when it does not answer within the interval (at
// least WAIT.PING_ANSWER_MIN_MS, 1 s).
const KEEPALIVE = { keepalive_interval: 200 };

// Each transport of the Node client, and what a lost connection is called on
// it today: `client_lost` at the client, `server_lost` at the server when it
// sees the loss, `client_after_stall` at the client once a stalled
// connection delivers the server's idle-timeout close, `client_after_ping`
// what it delivers once the server destroyed the session (the WebSocket's
// Close 1001, the 410 answer of a POST, or just the connection's end). The
// server checks every connection is alive with PINGs (HTTP/2's, or an
// HTTP/1.1 WebSocket's Ping frames).
const TRANSPORTS = {
    'WebSocket over HTTP/2 (RFC 8441)': {
        client: { transport: 'websocket' },
        opened_by: headers => headers[':method'] === 'CONNECT' && headers[':protocol'] === 'websocket',
        client_lost: ['ERR_HTTP2_DUPLEX_CONNECTION'],
        server_lost: ['ERR_HTTP2_DUPLEX_CLIENT_RESET', 'ERR_HTTP2_DUPLEX_SESSION_CLOSED'],
        client_after_stall: 'ERR_HTTP2_DUPLEX_WS_CLOSED',
        client_after_ping: ['ERR_HTTP2_DUPLEX_WS_CLOSED', 'ERR_HTTP2_DUPLEX_CONNECTION']
    },
    'WebSocket over an HTTP/1.1 upgrade': {
        http2: { allowHTTP1: true },
        server: { websocket: 'http1' },
        client: { transport: 'websocket' },
        opened_by: headers => headers.upgrade === 'websocket',
        client_lost: ['ERR_HTTP2_DUPLEX_WS_CLOSED'],
        server_lost: ['ERR_HTTP2_DUPLEX_WS_ABNORMAL_CLOSE', 'ERR_HTTP2_DUPLEX_SESSION_CLOSED'],
        client_after_stall: 'ERR_HTTP2_DUPLEX_WS_CLOSED',
        client_after_ping: ['ERR_HTTP2_DUPLEX_WS_CLOSED']
    },
    'GET and streaming POST': {
        client: { transport: 'streaming' },
        opened_by: headers => headers[':method'] === 'GET',
        client_lost: ['ERR_HTTP2_DUPLEX_CONNECTION'],
        server_lost: ['ERR_HTTP2_DUPLEX_SESSION_CLOSED', 'ERR_HTTP2_DUPLEX_CLIENT_RESET'],
        client_after_stall: 'ERR_HTTP2_DUPLEX_TRUNCATED_RESPONSE',
        client_after_ping: ['ERR_HTTP2_DUPLEX_DESTROYED', 'ERR_HTTP2_DUPLEX_TRUNCATED_RESPONSE',
            'ERR_HTTP2_DUPLEX_CONNECTION']
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

// What happens to a stream: its first 'error', and whether it ended or closed.
function watch(stream) {
    const seen = { error: null, ended: false, closed: false };
    seen.failed = new Promise(resolve => stream.once('error', err => {
        seen.error = err;
        resolve(err);
    }));
    stream.once('end', () => { seen.ended = true; });
    seen.done = new Promise(resolve => stream.once('close', () => {
        seen.closed = true;
        resolve();
    }));
    return seen;
}

// An echoing Http2DuplexServer on `transport`'s server, a fault proxy in
// front of it, and one duplex opened through the proxy: `client` (the Node
// client's duplex) and `server_side` (the server's, watched).
async function duplex_through_proxy(t, transport, options = {}) {
    const http2_server = http2.createSecureServer({ key, cert, ...transport.http2 });
    const server = new Http2DuplexServer(http2_server, '/dx', { ...transport.server, ...options });
    const warnings = [];
    server.on('warning', w => warnings.push(w));
    const opened = new Promise(resolve => server.once('duplex', (duplex, id, headers) => {
        const seen = watch(duplex);
        duplex.pipe(duplex);
        resolve({ duplex, headers, seen });
    }));
    const sockets = new Set();
    http2_server.on('secureConnection', socket => sockets.add(socket));
    http2_server.listen(0, LOOPBACK);
    await once(http2_server, 'listening');
    const proxy = await start_fault_proxy({ target: { host: LOOPBACK, port: http2_server.address().port } });
    t.after(async () => {
        await proxy.close();
        server.detach();
        // (a server that never saw its connection go still holds it)
        sockets.forEach(s => s.destroy());
        http2_server.close();
    });
    const client = await connect(`https://localhost:${proxy.port}/dx`,
        { ca, pool: new ConnectionPool(), ...transport.client });
    const client_seen = watch(client);
    const server_side = await opened;
    assert.ok(transport.opened_by(server_side.headers), JSON.stringify(server_side.headers));
    return { server, warnings, proxy, client, client_seen, server_side };
}

async function echo_once(client, text) {
    client.write(text);
    const [echoed] = await once(client, 'data');
    assert.equal(echoed.toString(), text);
}

// The client's duplex errored with one of `codes`, and never ended cleanly.
async function assert_client_lost(client_seen, codes) {
    const err = await within(client_seen.failed, 10_000, "the client's 'error'");
    assert.ok(codes.includes(err.code), `client error ${err.code} (${err.message}), expected one of ${codes}`);
    assert.equal(client_seen.ended, false, "the client saw a clean 'end'");
}

// The server's duplex ended with one of `codes`, said so in a 'warning', and
// is gone from its stats.
async function assert_server_lost(server, warnings, server_side, codes) {
    const err = await within(server_side.seen.failed, 10_000, "the server duplex's 'error'");
    assert.ok(codes.includes(err.code), `server duplex error ${err.code}, expected one of ${codes}`);
    assert.ok(warnings.some(w => w.code === err.code), `no '${err.code}' warning: ${warnings.map(w => w.code)}`);
    await server_side.seen.done;
    assert.equal(server.stats().duplexes, 0);
    return err.code;
}

// The server's HTTP/2 sessions all closed, and its counts are back to 0
// (over HTTP/1.1, no sessions: its duplexes' pairing scope, which `sessions`
// counts, lives on).
async function assert_sessions_gone(server, transport) {
    const http1 = transport.server?.websocket === 'http1';
    await within(Promise.all([...server.sessions].map(session => once(session, 'close'))), 10_000,
        "the sessions' 'close'");
    assert.deepEqual(server.stats(), { sessions: http1 ? 1 : 0, duplexes: 0, heldBytes: 0, writesInFlight: 0 });
}

// Resolves once the HTTP/2 session of the server's `duplex` had `count` of its PINGs
// answered (observed by wrapping the session's ping()); over HTTP/1.1, once
// the WebSocket's `count`th Ping was answered: its next goes out (wrapping
// the duplex's ping()) only once the last was.
function answered_pings(duplex, count) {
    const session = duplex.stream.session;
    if (!session) {
        const ping = duplex.ping.bind(duplex);
        let pinged = 0;
        return new Promise(resolve => {
            duplex.ping = () => {
                if (++pinged === count + 1) {
                    resolve();
                }
                ping();
            };
        });
    }
    const ping = session.ping.bind(session);
    let answered = 0;
    return new Promise(resolve => {
        session.ping = callback => ping((err, ...rest) => {
            if (!err && ++answered === count) {
                resolve();
            }
            callback(err, ...rest);
        });
    });
}

describe('today, without resume: a duplex through the fault proxy', () => {
    for (const [name, transport] of Object.entries(TRANSPORTS)) {
        describe(name, () => {
            test('a cut while idle: the client errors with its code; the server sees it at once (no timeout set)', async t => {
                const { server, warnings, proxy, client, client_seen, server_side } =
                    await duplex_through_proxy(t, transport);
                await echo_once(client, 'hello');
                proxy.cut_all();
                await assert_client_lost(client_seen, transport.client_lost);
                await assert_server_lost(server, warnings, server_side, transport.server_lost);
            });

            // Mid-transfer, an HTTP/2 server may not see the cut at all
            // (over RFC 8441 about half the time, over the fetch transport
            // less often): its session had stopped reading the socket (the
            // echo's writes wait on the client's windows), so neither the FIN
            // nor an RST is ever read. Its keep-alive PING goes unanswered,
            // and the server destroys the session (SESSION_CLOSED) within a
            // few keep-alive intervals; an HTTP/1.1 WebSocket whose server
            // stopped reading likewise, by its unanswered Ping. Resume cannot
            // count on the server seeing the loss itself.
            test('a cut mid-transfer: the client errors at once with its code; the server by the loss or by an unanswered PING (no idle_timeout)', async t => {
                const { server, warnings, proxy, client, client_seen, server_side } =
                    await duplex_through_proxy(t, transport, KEEPALIVE);
                let received = 0;
                const enough = new Promise(resolve => client.on('data', chunk => {
                    received += chunk.length;
                    if (received >= 1 << 20) {
                        resolve();
                    }
                }));
                const writing = (async () => {
                    const chunk = randomBytes(64 << 10);
                    while (!client_seen.error && !client.destroyed) {
                        if (!client.write(chunk)) {
                            await once(client, 'drain');
                        }
                    }
                })().catch(() => {});
                await enough;
                proxy.cut_all();
                await assert_client_lost(client_seen, transport.client_lost);
                await writing;
                const code = await assert_server_lost(server, warnings, server_side,
                    [...new Set([...transport.server_lost, SESSION_CLOSED])]);
                t.diagnostic(`the server ended its duplex with ${code}: ${server_side.seen.error.message}`);
                await assert_sessions_gone(server, transport);
            });

            // A quiet cut: the client's side of the connection goes while
            // nothing is written, and the server hears nothing (its end never
            // reaches it, as when a NAT or a dead path drops it): its PING
            // goes unanswered, and it fails the duplex and drops the connection.
            test('a quiet cut the server never hears of: it fails the duplex when its PING is unanswered (no idle_timeout)', async t => {
                const { server, warnings, proxy, client, client_seen, server_side } =
                    await duplex_through_proxy(t, transport, KEEPALIVE);
                await echo_once(client, 'hello');
                for (const connection of proxy.connections) {
                    connection.client.destroy();
                }
                await assert_client_lost(client_seen, transport.client_lost);
                assert.equal(await assert_server_lost(server, warnings, server_side, [SESSION_CLOSED]), SESSION_CLOSED);
                await assert_sessions_gone(server, transport);
            });

            // A stall (both ways): the client notices nothing (no hang
            // detection); the server's PING goes unanswered, so it
            // destroys the connection and fails the duplex, without
            // idle_timeout; its close waits in the stall; once the
            // connection delivers again, the client errors.
            test('a stall: the client waits; the server destroys the connection whose PING is unanswered; the client learns it once the connection delivers', async t => {
                const { server, warnings, proxy, client, client_seen, server_side } =
                    await duplex_through_proxy(t, transport, KEEPALIVE);
                await echo_once(client, 'hello');
                proxy.stall_all();
                client.write('held by the stall');
                assert.equal(await assert_server_lost(server, warnings, server_side, [SESSION_CLOSED]), SESSION_CLOSED);
                assert.match(server_side.seen.error.message, /did not answer a PING for 1000 ms/);
                await assert_sessions_gone(server, transport);
                assert.deepEqual([client_seen.error, client_seen.ended, client_seen.closed], [null, false, false],
                    'the client noticed something');
                proxy.resume_all();
                const err = await within(client_seen.failed, 10_000, "the client's 'error'");
                assert.ok(transport.client_after_ping.includes(err.code), `client error ${err.code} (${err.message})`);
                assert.equal(client_seen.ended, false);
            });

            // A client that answers (Node's, the browsers' and the Rust
            // client's HTTP/2 and WebSocket stacks all do, on their own)
            // keeps an idle connection: the PINGs go on, answered, and the
            // duplex echoes.
            test('an idle duplex whose client answers the PINGs lives on and still echoes', async t => {
                const { server, warnings, client, client_seen, server_side } =
                    await duplex_through_proxy(t, transport, KEEPALIVE);
                await echo_once(client, 'hello');
                // A connection's second PING goes out only once its first
                // was answered; one unanswered would end it 1 s later.
                await within(answered_pings(server_side.duplex, 5), 10_000, 'five answered PINGs');
                await echo_once(client, 'still here');
                assert.deepEqual([client_seen.error, server_side.seen.error, warnings], [null, null, []]);
                assert.equal(server.stats().duplexes, 1);
            });

            // keepalive_interval 0 turns the PINGs off: in a stall (both
            // ways) only idle_timeout ends the duplex, and its close waits in
            // the stall; once the connection delivers again, the client errors.
            test('keepalive_interval 0, a stall: the server ends the duplex at idle_timeout, not by a PING; the client learns it once the connection delivers', async t => {
                const { server, warnings, proxy, client, client_seen, server_side } =
                    await duplex_through_proxy(t, transport, { idle_timeout: 1000, keepalive_interval: 0 });
                await echo_once(client, 'hello');
                proxy.stall_all();
                client.write('held by the stall');
                assert.equal(await assert_server_lost(server, warnings, server_side, [IDLE_TIMEOUT]), IDLE_TIMEOUT);
                assert.deepEqual([client_seen.error, client_seen.ended, client_seen.closed], [null, false, false],
                    'the client noticed something');
                proxy.resume_all();
                const err = await within(client_seen.failed, 10_000, "the client's 'error'");
                assert.equal(err.code, transport.client_after_stall);
                assert.equal(client_seen.ended, false);
            });
        });
    }
});
