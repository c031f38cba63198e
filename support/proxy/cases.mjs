// The cases every proxy runs: the Node client and raw Node http2 clients
// through the proxy to three echoing backends n1..n3.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import http2 from 'node:http2';
import { createRequire } from 'node:module';
import { CA, DUPLEX_PATH, NODE_IDS, round_trips, within } from './harness.mjs';

const require = createRequire(import.meta.url);
const { connect, ConnectionPool } = require('../../index.js');

// The Node client's GET + streaming POST transport: the one a proxy must pair
// (its 'auto' may pick a WebSocket, one stream and no id).
export const FETCH = { transport: 'fetch' };

export const ID = /^(n[123])\.[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function node_of(id) {
    const match = ID.exec(id);
    assert.ok(match, `id ${id} is <node>.<uuid v4>`);
    return match[1];
}

export function sha256(buffer) {
    return createHash('sha256').update(buffer).digest('hex');
}

// Collects everything a readable gives until 'end'; rejects on 'error'.
export function read_all(readable) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        readable.on('data', chunk => chunks.push(chunk));
        readable.once('end', () => resolve(Buffer.concat(chunks)));
        readable.once('error', reject);
    });
}

// Resolves on the writable's next 'drain', or its 'close' (then it is destroyed);
// the listeners go with it.
export function drained(writable) {
    return new Promise(resolve => {
        const done = () => {
            writable.off('drain', done);
            writable.off('close', done);
            resolve();
        };
        writable.on('drain', done);
        writable.on('close', done);
    });
}

// Writes `data` in chunks of 1..max_chunk bytes, honouring backpressure, then ends.
export async function write_all(writable, data, max_chunk = 32 * 1024) {
    let offset = 0;
    while (offset < data.length) {
        const size = Math.min(data.length - offset, 1 + Math.floor(Math.random() * max_chunk));
        const ok = writable.write(data.subarray(offset, offset + size));
        offset += size;
        if (!ok) {
            await drained(writable);
            if (writable.destroyed) {
                throw new Error('destroyed while writing');
            }
        }
    }
    writable.end();
}

// One duplex through the Node client: sends `data`, ends, and checks that the
// echo is exactly `data`. Resolves to the duplex's node.
export async function echo_node_client(url, data, options, opened = []) {
    const duplex = await connect(url, { ca: CA, ...FETCH, ...options });
    opened.push(duplex);
    duplex.on('error', () => {});    // read_all reports the first
    const node = node_of(duplex.id);
    const [echo] = await Promise.all([read_all(duplex), write_all(duplex, data)]);
    assert.equal(echo.length, data.length, `duplex ${duplex.id}: echo length`);
    assert.equal(sha256(echo), sha256(data), `duplex ${duplex.id}: echo bytes`);
    return node;
}

// ------------------------------------------------------------ raw http2 client

// The raw client's connections: each request can go out on another one.
export class RawClient {
    constructor(origin, count) {
        this.sessions = Array.from({ length: count }, () => {
            // Receive windows as a browser's (Chromium: 6 MiB per stream, 15 MiB per
            // connection). With Node's 64 KiB defaults, 30 duplexes whose POSTs
            // ride other connections stalled through HAProxy.
            const session = http2.connect(origin, { ca: CA, settings: { initialWindowSize: 6 * 1024 * 1024 } });
            session.once('connect', () => session.setLocalWindowSize(16 * 1024 * 1024));
            session.on('error', () => {});
            return session;
        });
        this.next = 0;
    }

    session() {
        return this.sessions[this.next++ % this.sessions.length];
    }

    close() {
        for (const session of this.sessions) {
            session.close();
        }
    }
}

function response(stream) {
    return new Promise((resolve, reject) => {
        const on_response = headers => {
            stream.off('close', on_close);
            resolve(headers);
        };
        const on_close = () => {
            stream.off('response', on_response);
            reject(new Error(`request closed without an answer (rst ${stream.rstCode})`));
        };
        stream.once('response', on_response);
        stream.once('close', on_close);
    });
}

// A POST with `headers` and `body`; resolves to its answer's status and error code.
async function post(session, headers, body) {
    const stream = session.request({ ':method': 'POST', ':path': DUPLEX_PATH, ...headers });
    stream.on('error', () => {});
    stream.end(body);
    const answer = await response(stream);
    stream.resume();
    return { status: answer[':status'], error: answer['http2-duplex-error'] };
}

// One duplex spoken raw: the GET on one connection, then (mode 'stream') one
// streaming POST or ('writes') one POST per write plus the end POST, each on
// the client's next connection. Checks the echo; resolves to the node.
export async function echo_raw(client, data, mode, writes = 8) {
    const get = client.session().request({ ':path': DUPLEX_PATH });
    get.on('error', () => {});
    const headers = await response(get);
    assert.equal(headers[':status'], 200);
    const id = headers['http2-duplex-id'];
    const node = node_of(id);
    const body = read_all(get);
    if (mode === 'stream') {
        const stream = client.session().request({
            ':method': 'POST', ':path': DUPLEX_PATH,
            'http2-duplex-id': id, 'http2-duplex-single': 'true'
        });
        stream.on('error', () => {});
        const answer = response(stream);
        answer.catch(() => {});
        await write_all(stream, data, 16 * 1024);
        const status = (await answer)[':status'];
        assert.equal(status, 200, `duplex ${id}: streaming POST answer (${(await answer)['http2-duplex-error']})`);
        stream.resume();
    } else {
        const size = Math.ceil(data.length / writes);
        for (let offset = 0; offset < data.length; offset += size) {
            const answer = await post(client.session(), { 'http2-duplex-id': id }, data.subarray(offset, offset + size));
            assert.deepEqual(answer, { status: 200, error: undefined }, `duplex ${id}: write POST`);
        }
        const answer = await post(client.session(), { 'http2-duplex-id': id, 'http2-duplex-end': 'true' });
        assert.deepEqual(answer, { status: 200, error: undefined }, `duplex ${id}: end POST`);
    }
    const echo = await body;
    assert.equal(echo.subarray(0, 1).toString(), 'a', 'preamble');
    assert.equal(echo.length - 1, data.length, `duplex ${id}: echo length`);
    assert.equal(sha256(echo.subarray(1)), sha256(data), `duplex ${id}: echo bytes`);
    return node;
}

// ------------------------------------------------------------ the cases

// Awaits every promise; if one failed, runs `cleanup` and throws the first error
// (so nothing of a failed case is left running into the next one).
export async function all_or_cleanup(promises, cleanup) {
    const results = await Promise.allSettled(promises);
    const failed = results.find(r => r.status === 'rejected');
    if (failed) {
        await cleanup();
        throw failed.reason;
    }
    return results.map(r => r.value);
}

// Every node got some of the duplexes and no backend warned (a misrouted POST
// warns ERR_HTTP2_DUPLEX_WRONG_NODE, an unknown id ERR_HTTP2_DUPLEX_UNKNOWN_ID).
export function assert_spread(nodes, backends, marks = backends.map(() => 0), refused = 0) {
    const counts = Object.fromEntries(NODE_IDS.map(id => [id, nodes.filter(n => n === id).length]));
    for (const id of NODE_IDS) {
        assert.ok(counts[id] > 0, `node ${id} got duplexes: ${JSON.stringify(counts)}`);
    }
    // `refused`: WebSocket handshakes an HTTP/1.1 hop passed on (501), expected.
    const warnings = backends.flatMap((backend, i) => backend.warnings(marks[i]).map(w => `${backend.node_id} ${w.code}`));
    assert.equal(warnings.filter(w => w.endsWith('ERR_HTTP2_DUPLEX_WS_NEEDS_HTTP2')).length, refused, 'refused WebSocket handshakes');
    assert.deepEqual(warnings.filter(w => !w.endsWith('ERR_HTTP2_DUPLEX_WS_NEEDS_HTTP2')), [], 'backend warnings');
    return counts;
}

// 100 duplexes through the Node client (one pool: one HTTP/2 connection to the
// proxy carries 100 GETs and 100 streaming POSTs), 16..256 KiB each way.
export async function hundred_node_client(proxy, backends) {
    const marks = backends.map(b => b.events.length);
    const pool = new ConnectionPool();
    const opened = [];
    const nodes = await all_or_cleanup(Array.from({ length: 100 }, () =>
        echo_node_client(proxy.url, randomBytes(16 * 1024 + Math.floor(Math.random() * 240 * 1024)), { pool }, opened)),
    () => opened.forEach(d => d.destroy()));
    return assert_spread(nodes, backends, marks);
}

// 60 duplexes spoken raw over 6 connections, each request on the next one: the
// POSTs of a duplex never ride its GET's connection. Half stream one POST,
// half POST per write.
export async function raw_across_connections(proxy, backends) {
    const marks = backends.map(b => b.events.length);
    const client = new RawClient(proxy.origin, 6);
    try {
        const nodes = await all_or_cleanup(Array.from({ length: 60 }, (_, i) =>
            echo_raw(client, randomBytes(8 * 1024 + Math.floor(Math.random() * 120 * 1024)),
                i % 2 ? 'writes' : 'stream')),
        () => client.sessions.forEach(s => s.destroy()));
        return assert_spread(nodes, backends, marks);
    } finally {
        client.close();
    }
}

// A duplex through the Node client that writes and checks its echo until told
// to finish (or until it fails).
class Running {
    constructor(duplex) {
        this.duplex = duplex;
        this.id = duplex.id;
        this.node = node_of(duplex.id);
        this.sent = [];             // chunks written whose echo has not all come back
        this.received = 0;
        this.mismatch = null;
        this.error = null;
        this.failed = new Promise(resolve => duplex.once('error', err => {
            this.error = err;
            this.failed_at = performance.now();
            resolve(err);
        }));
        this.ended = new Promise(resolve => duplex.once('end', resolve));
        duplex.on('error', () => {});
        duplex.on('data', chunk => this.check(chunk));
    }

    check(chunk) {
        this.received += chunk.length;
        let offset = 0;
        while (offset < chunk.length && !this.mismatch) {
            const head = this.sent[0];
            const n = Math.min(head.length, chunk.length - offset);
            if (!head.subarray(0, n).equals(chunk.subarray(offset, offset + n))) {
                this.mismatch = `echo differs at byte ${this.received - chunk.length + offset}`;
            }
            offset += n;
            if (n === head.length) {
                this.sent.shift();
            } else {
                this.sent[0] = head.subarray(n);
            }
        }
        if (this.waiting && this.received >= this.waiting.bytes) {
            this.waiting.resolve();
            this.waiting = null;
        }
    }

    // Resolves once `bytes` have come back.
    echoed(bytes) {
        return this.received >= bytes ? Promise.resolve() :
            new Promise(resolve => { this.waiting = { bytes, resolve }; });
    }

    // Writes 16 KiB chunks until `stop` says so, honouring backpressure.
    async pump(stop) {
        while (!stop() && !this.error) {
            const chunk = randomBytes(16 * 1024);
            this.sent.push(chunk);
            if (!this.duplex.write(chunk)) {
                await drained(this.duplex);
            }
        }
    }
}

// 30 duplexes streaming through the Node client; once each has had 256 KiB
// echoed, node n2 is killed (SIGKILL). Its duplexes must fail at the client
// with an error, promptly; the others write on, end, and get every byte back.
// Resolves to figures for the report.
export async function kill_a_node(proxy, backends, { prompt_ms = 3000, transport = FETCH } = {}) {
    const pool = new ConnectionPool();
    const opened = [];
    const running = await all_or_cleanup(Array.from({ length: 30 }, () =>
        connect(proxy.url, { ca: CA, pool, ...transport }).then(duplex => {
            opened.push(duplex);
            return new Running(duplex);
        })), () => opened.forEach(d => d.destroy()));
    try {
        return await kill_running(running, backends, prompt_ms);
    } finally {
        for (const duplex of opened) {
            duplex.destroy();
        }
    }
}

async function kill_running(running, backends, prompt_ms) {
    const victim = backends.find(b => b.node_id === 'n2');
    const doomed = running.filter(r => r.node === 'n2');
    const survivors = running.filter(r => r.node !== 'n2');
    assert.ok(doomed.length > 0 && survivors.length > 0, 'duplexes on n2 and elsewhere');

    let killed_at = null;
    const pumps = running.map(r => r.pump(() => r.stop));
    await within(Promise.all(running.map(r => r.echoed(256 * 1024))), 20000, '256 KiB echoed on every duplex');
    killed_at = performance.now();
    await victim.kill();

    // n2's duplexes: an error at the client, promptly.
    await within(Promise.all(doomed.map(r => r.failed)), prompt_ms,
        `every duplex of the killed node to fail (${doomed.filter(r => !r.error).length} of ${doomed.length} still open)`);
    const fail_ms = doomed.map(r => r.failed_at - killed_at);
    const codes = [...new Set(doomed.map(r => r.error.code || r.error.message))];

    // The others: 256 KiB more each, then end; every byte back, then 'end'.
    const more = survivors.map(r => r.received + 256 * 1024);
    await within(Promise.all(survivors.map((r, i) => r.echoed(more[i]))), 20000, 'survivors to go on');
    for (const r of running) {
        r.stop = true;
    }
    await Promise.all(pumps);
    for (const r of survivors) {
        r.duplex.end();
    }
    await within(Promise.all(survivors.map(r => Promise.race([r.ended, r.failed]))), 20000, 'survivors to end');
    for (const r of survivors) {
        assert.equal(r.error, null, `survivor ${r.id} failed: ${r.error && r.error.message}`);
        assert.equal(r.mismatch, null, `survivor ${r.id}`);
        assert.equal(r.sent.length, 0, `survivor ${r.id}: every byte echoed`);
    }
    for (const r of doomed) {
        assert.equal(r.mismatch, null, `doomed ${r.id}: bytes before the kill`);
    }
    return {
        doomed: doomed.length,
        survivors: survivors.length,
        fail_ms_max: Math.round(Math.max(...fail_ms)),
        fail_ms_min: Math.round(Math.min(...fail_ms)),
        codes
    };
}

// One duplex echoing `mib` MiB through the Node client in 64 KiB writes as fast
// as flow control lets it: every byte checked. Rejects if it stalls for `ms`.
export async function long_echo(proxy, mib = 16, ms = 15000, transport = FETCH) {
    const duplex = await connect(proxy.url, { ca: CA, pool: new ConnectionPool(), ...transport });
    duplex.on('error', () => {});
    const data = randomBytes(mib * 1024 * 1024);
    let received = 0;
    const progress = () => `${received} of ${data.length} bytes echoed`;
    try {
        const echo = read_all(duplex);
        duplex.on('data', chunk => { received += chunk.length; });
        const [bytes] = await within(Promise.all([echo, write_all(duplex, data, 64 * 1024)]), ms,
            `a ${mib} MiB echo`);
        assert.equal(bytes.length, data.length);
        assert.ok(bytes.equals(data), 'every byte echoed');
    } catch (err) {
        err.message += ` (${progress()})`;
        throw err;
    } finally {
        duplex.destroy();
    }
}

// The Node client's WebSocket transport, forced: RFC 8441 where the proxy
// offers it, else an RFC 6455 upgrade (one connection per duplex).
export const WEBSOCKET = { transport: 'websocket' };

// 100 duplexes at once on one connection through the Node client with its
// default transport ('auto'): a WebSocket where the proxy carries one to the
// backends (RFC 8441, or else an RFC 6455 upgrade), else the fetch way after
// one refused attempt per connection (`refused`: the 501 the backend answers
// a WebSocket handshake it does not take with). Every byte comes back, spread
// over n1..n3. Resolves to the per-node counts.
export async function auto_node_client(proxy, backends, { transport, refused }) {
    const marks = backends.map(b => b.events.length);
    const pool = new ConnectionPool();
    const opened = [];
    const nodes = await all_or_cleanup(Array.from({ length: 100 }, async () => {
        const duplex = await connect(proxy.url, { ca: CA, pool });
        opened.push(duplex);
        duplex.on('error', () => {});
        assert.equal(duplex.transport, transport, `duplex ${duplex.id}: transport`);
        const data = randomBytes(16 * 1024 + Math.floor(Math.random() * 112 * 1024));
        const [echo] = await Promise.all([read_all(duplex), write_all(duplex, data)]);
        assert.ok(echo.equals(data), `duplex ${duplex.id}: every byte echoed`);
        return node_of(duplex.id);
    }), () => opened.forEach(d => d.destroy()));
    const warnings = backends.flatMap((b, i) => b.warnings(marks[i]).map(w => `${w.code} ${w.status}`));
    assert.deepEqual(warnings, refused ? ['ERR_HTTP2_DUPLEX_WS_NEEDS_HTTP2 501'] : [], 'backend warnings');
    const counts = Object.fromEntries(NODE_IDS.map(id => [id, nodes.filter(n => n === id).length]));
    for (const id of NODE_IDS) {
        assert.ok(counts[id] > 0, `node ${id} got duplexes: ${JSON.stringify(counts)}`);
    }
    return counts;
}

// 64 B ping-pong through the Node client: each message is written once the
// previous one came back, `rounds` times. Resolves to the p50 in ms; rejects
// if one does not come back within `ms`.
export async function ping_pong(proxy, rounds = 500, ms = 5000, transport = FETCH) {
    const duplex = await connect(proxy.url, { ca: CA, pool: new ConnectionPool(), ...transport });
    duplex.on('error', () => {});
    try {
        const times = await round_trips(duplex, { rounds, ms });
        return times[Math.floor(times.length / 2)];
    } finally {
        duplex.destroy();
    }
}

// Resolves to the backends' warnings since `marks` once there is one.
function warned(backends, marks) {
    return new Promise(resolve => {
        const check = () => {
            const warnings = backends.flatMap((b, i) => b.warnings(marks[i]));
            if (warnings.length > 0) {
                backends.forEach(b => b.child.off('message', check));
                resolve(warnings);
            }
        };
        backends.forEach(b => b.child.on('message', check));
        check();
    });
}

// One proxy configuration's suite: `start()` resolves to { backends, proxy };
// `name` labels the figures printed;
// `websocket`: the proxy carries WebSockets to the backends, RFC 8441 or RFC
// 6455 upgrades (else the Node client falls back, after `refused` 501s at the
// backends if the proxy passes the handshake on).
export function define_proxy_suite({ title, name, skip, start, websocket = false, refused = false }) {
    describe(title, { skip }, () => {
        let backends;
        let proxy;
        before(async () => {
            ({ backends, proxy } = await start());
        });
        after(async () => {
            await proxy?.stop();
            await Promise.all((backends || []).map(b => b.stop()));
        });

        it('Node client: 100 duplexes on one connection, spread over n1..n3, every byte echoed', { timeout: 30000 }, async () => {
            const counts = await hundred_node_client(proxy, backends);
            console.log(`# ${name}: duplexes per node ${JSON.stringify(counts)}`);
        });

        const auto = websocket ? 'websocket' : 'fetch';
        it(`Node client, default transport: 100 duplexes at once go ${websocket ? 'over WebSockets (carried to the backends)' : 'the fetch way (no WebSocket to the backends)'}, every byte echoed`, { timeout: 30000 }, async () => {
            const counts = await auto_node_client(proxy, backends, { transport: auto, refused });
            console.log(`# ${name}: default transport ${auto}, duplexes per node ${JSON.stringify(counts)}`);
        });

        it(`Node client, transport 'websocket' ${websocket ? 'opens' : 'fails with a code'}`, { timeout: 30000 }, async () => {
            const marks = backends.map(b => b.events.length);
            const opening = connect(proxy.url, { ca: CA, pool: new ConnectionPool(), ...WEBSOCKET });
            if (!websocket) {
                await assert.rejects(opening, { code: refused ? 'ERR_HTTP2_DUPLEX_WS_NEEDS_HTTP2' : 'ERR_HTTP2_DUPLEX_CONNECTION' });
                if (refused) {
                    const warnings = await within(warned(backends, marks), 5000, 'the backend\'s warning');
                    assert.deepEqual(warnings.map(w => [w.code, w.status]), [['ERR_HTTP2_DUPLEX_WS_NEEDS_HTTP2', 501]]);
                }
                return;
            }
            const duplex = await opening;
            duplex.on('error', () => {});
            assert.equal(duplex.transport, 'websocket');
            node_of(duplex.id);
            const data = randomBytes(200 * 1024);
            const [echo] = await Promise.all([read_all(duplex), write_all(duplex, data)]);
            assert.ok(echo.equals(data), 'every byte echoed');
        });

        it('raw http2: 60 duplexes whose POSTs never ride their GET\'s connection (streaming and per-write)', { timeout: 30000 }, async () => {
            await raw_across_connections(proxy, backends);
        });

        const transports = websocket ? [['fetch', FETCH], ['websocket', WEBSOCKET]] : [['fetch', FETCH]];
        for (const [label, transport] of transports) {
            it(`Node client (${label}): one duplex echoes 16 MiB at full speed`, { timeout: 30000 }, async () => {
                await long_echo(proxy, 16, 10000, transport);
            });

            it(`Node client (${label}): 500 rounds of 64 B ping-pong`, { timeout: 30000 }, async () => {
                const p50 = await ping_pong(proxy, 500, 5000, transport);
                console.log(`# ${name}: ${label} ping-pong p50 ${p50.toFixed(3)} ms`);
            });
        }

        for (const [label, transport] of transports) {
            it(`a node killed mid-transfer (${label}): its duplexes fail at the client, the others finish intact`, { timeout: 40000 }, async () => {
                try {
                    const figures = await kill_a_node(proxy, backends, { transport });
                    console.log(`# ${name}: ${label} node kill ${JSON.stringify(figures)}`);
                } finally {
                    await backends.find(b => b.node_id === 'n2').restart();
                }
            });
        }
    });
}
