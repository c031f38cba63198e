// Echo throughput and 64 B ping-pong latency through the Node client (Rust),
// directly to a Node backend (TLS + HTTP/2) and through the proxies of the
// test suites (HAProxy: h2c or HTTP/1.1 to three backends; nginx: HTTP/1.1 to
// three backends), all on loopback, for each transport a path carries: the
// streaming POST ('fetch') everywhere, the RFC 8441 WebSocket where every hop
// carries it (direct, HAProxy with h2c backends). Prints a table.
//
//   node bench/proxies.mjs [--mib 32] [--rounds 2000] [--runs 5]
//
// Targets (issue 11): through HAProxy at least 0.7× the direct throughput and
// at most 0.3 ms added to the ping-pong p50. An echo that stalls for 20 s is
// counted, not timed (HAProxy with h2 backends, see docs/deploying.md).
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { Backend, CA, DUPLEX_PATH, missing, start_backends, start_haproxy, start_nginx, within } from '../__test__/proxy/harness.mjs';

const require = createRequire(import.meta.url);
const { connect, ConnectionPool } = require('../index.js');

const { values: args } = parseArgs({
    options: {
        mib: { type: 'string', default: '32' },
        rounds: { type: 'string', default: '2000' },
        runs: { type: 'string', default: '5' }
    }
});
const MIB = Number(args.mib);
const ROUNDS = Number(args.rounds);
const RUNS = Number(args.runs);
const CHUNK = 64 * 1024;
const STALL_MS = 20000;

// A pool of its own: each measurement on a fresh connection.
function open(url, transport) {
    return connect(url, { ca: CA, pool: new ConnectionPool(), transport });
}

// MiB/s of one duplex echoing MIB MiB: from the first write to the echo's end.
async function echo_throughput(url, transport) {
    const duplex = await open(url, transport);
    const total = MIB * 1024 * 1024;
    const chunk = Buffer.alloc(CHUNK, 7);
    let received = 0;
    const closed = new Promise(resolve => duplex.once('close', resolve));
    const ended = new Promise((resolve, reject) => {
        duplex.on('data', data => { received += data.length; });
        duplex.once('end', resolve);
        duplex.once('error', reject);
    });
    ended.catch(() => {});      // awaited below; may fail while still writing
    const start = performance.now();
    for (let sent = 0; sent < total; sent += CHUNK) {
        if (!duplex.write(chunk)) {
            await Promise.race([new Promise(resolve => duplex.once('drain', resolve)), ended]);
        }
    }
    duplex.end();
    await ended;
    const seconds = (performance.now() - start) / 1000;
    await closed;
    if (received !== total) {
        throw new Error(`echoed ${received} of ${total} bytes`);
    }
    return MIB / seconds;
}

// Round-trip times (ms) of ROUNDS 64 B messages, each sent once the previous came back.
async function ping_pong(url, transport) {
    const duplex = await open(url, transport);
    const message = Buffer.alloc(64, 1);
    const closed = new Promise(resolve => duplex.once('close', resolve));
    const times = [];
    let waiting = null;
    let pending = 0;
    let failed = null;
    const error = new Promise((resolve, reject) => duplex.once('error', err => {
        failed = err;
        reject(err);
    }));
    error.catch(() => {});
    duplex.on('data', data => {
        pending -= data.length;
        if (pending <= 0 && waiting) {
            const resolve = waiting;
            waiting = null;
            resolve();
        }
    });
    const warmup = Math.min(200, ROUNDS);
    for (let i = 0; i < warmup + ROUNDS; i++) {
        const start = performance.now();
        pending += message.length;
        const back = new Promise(resolve => { waiting = resolve; });
        duplex.write(message);
        await Promise.race([back, error]);
        if (i >= warmup) {
            times.push(performance.now() - start);
        }
    }
    duplex.end();
    duplex.resume();
    await closed;
    if (failed) {
        throw failed;
    }
    times.sort((a, b) => a - b);
    return { p50: times[Math.floor(times.length / 2)], p99: times[Math.floor(times.length * 0.99)] };
}

function median(values) {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
}

async function measure(name, url, transport) {
    const log = process.env.BENCH_DEBUG ? console.error : () => {};
    const mbs = [];
    const p50 = [];
    const p99 = [];
    let stalls = 0;
    for (let run = 0; run < RUNS; run++) {
        log(name, 'echo');
        // An echo that stalls (HAProxy with h2 backends, see docs/deploying.md)
        // is counted, not measured.
        try {
            mbs.push(await within(echo_throughput(url, transport), STALL_MS, `${name}: echo`));
        } catch (err) {
            stalls += 1;
            log(name, err.message);
        }
        log(name, 'ping-pong');
        const pp = await within(ping_pong(url, transport), 120000, `${name}: ping-pong`);
        p50.push(pp.p50);
        p99.push(pp.p99);
    }
    return { name, transport, mbs: mbs.length ? median(mbs) : NaN, p50: median(p50), p99: median(p99), stalls, runs: RUNS };
}

async function setup(name) {
    if (name === 'direct') {
        const backend = await new Backend('n1', 'h2').start();
        return { url: `https://127.0.0.1:${backend.port}${DUPLEX_PATH}`, stop: () => backend.stop() };
    }
    const backends = await start_backends(name === 'nginx' || name === 'haproxy-h1' ? 'http1' : 'h2c');
    const proxy = name === 'nginx' ? await start_nginx(backends) : await start_haproxy(backends, name);
    return {
        url: proxy.url,
        stop: async () => {
            await proxy.stop();
            await Promise.all(backends.map(b => b.stop()));
        }
    };
}

const rows = [];
for (const name of ['direct', 'haproxy', 'haproxy-stick', 'haproxy-h1', 'nginx']) {
    const tool = name === 'direct' ? null : name.split('-')[0];
    if (tool && missing(tool)) {
        console.log(`${name}: skipped, ${missing(tool)}`);
        continue;
    }
    const target = await setup(name);
    const transports = ['direct', 'haproxy', 'haproxy-stick'].includes(name) ? ['fetch', 'websocket'] : ['fetch'];
    try {
        for (const transport of transports) {
            rows.push(await measure(name, target.url, transport));
        }
    } finally {
        await target.stop();
    }
}

// Each row compares with the direct row of its transport.
const direct_of = row => rows.find(r => r.name === 'direct' && r.transport === row.transport);
const fmt = (n, d = 2) => n.toFixed(d);
console.log(`\nNode client, one duplex; median of ${RUNS} runs; echo of ${MIB} MiB; ping-pong ${ROUNDS} × 64 B`);
console.log('| path | transport | echo MiB/s | × direct | echoes stalled | ping-pong p50 ms | added p50 ms | p99 ms |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
    const direct = direct_of(r);
    console.log(`| ${r.name} | ${r.transport} | ${fmt(r.mbs, 1)} | ${fmt(r.mbs / direct.mbs)} | ${r.stalls} of ${r.runs} | ` +
        `${fmt(r.p50, 3)} | ${fmt(r.p50 - direct.p50, 3)} | ${fmt(r.p99, 3)} |`);
}
for (const haproxy of rows.filter(r => r.name.startsWith('haproxy'))) {
    const direct = direct_of(haproxy);
    console.log(`${haproxy.name} (${haproxy.transport}):`);
    const ok_mbs = haproxy.mbs >= 0.7 * direct.mbs;
    const ok_p50 = haproxy.p50 - direct.p50 <= 0.3;
    console.log(`  target: throughput ≥ 0.7× direct: ${ok_mbs ? 'met' : 'NOT met'} (${fmt(haproxy.mbs / direct.mbs)}×); ` +
        `added p50 ≤ 0.3 ms: ${ok_p50 ? 'met' : 'NOT met'} (${fmt(haproxy.p50 - direct.p50, 3)} ms)` +
        (haproxy.stalls ? `; but ${haproxy.stalls} of ${haproxy.runs} echoes stalled` : ''));
}
