// The Node client (Rust, connect() from index.js) half of bench/proxies.mjs: one
// run of each workload over one path and transport ('fetch': the streaming
// POST; 'websocket': RFC 8441), each on a fresh connection.
import { createRequire } from 'node:module';
import { CA, round_trips, within } from '../support/proxy/harness.mjs';

const require = createRequire(import.meta.url);
const { connect, ConnectionPool } = require('../index.js');

const CHUNK = 64 * 1024;
const STALL_MS = 20000;

// Where the Node client goes: the fetch path everywhere, the WebSocket where
// every hop carries RFC 8441 (direct, HAProxy with h2c backends).
export function node_transports(path) {
    return ['direct', 'haproxy', 'haproxy-stick'].includes(path) ? ['fetch', 'websocket'] : ['fetch'];
}

// A pool of its own: each measurement on a fresh connection.
function open(url, transport) {
    return connect(url, { ca: CA, pool: new ConnectionPool(), transport });
}

// MiB/s of one duplex echoing `mib` MiB: from the first write to the echo's end.
// An echo not done within `stall_ms` (HAProxy with h2 backends, docs/deploying.md)
// fails as stalled.
export async function echo_throughput(url, transport, mib, stall_ms = STALL_MS) {
    const duplex = await open(url, transport);
    try {
        return await within(echo_on(duplex, mib), stall_ms, 'echo (stalled)');
    } catch (err) {
        duplex.destroy();
        throw err;
    }
}

async function echo_on(duplex, mib) {
    const total = mib * 1024 * 1024;
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
    return mib / seconds;
}

// p50 and p99 (ms) of `rounds` 64 B round trips, after 200 of warm-up.
async function ping_pong(url, transport, rounds) {
    const duplex = await open(url, transport);
    const closed = new Promise(resolve => duplex.once('close', resolve));
    duplex.on('error', () => {});      // round_trips reports one during the rounds
    let times;
    try {
        times = await round_trips(duplex, { rounds, warmup: Math.min(200, rounds), ms: STALL_MS });
    } catch (err) {
        duplex.destroy();
        throw err;
    }
    duplex.end();
    duplex.resume();
    await closed;
    return { p50: times[Math.floor(times.length / 2)], p99: times[Math.floor(times.length * 0.99)] };
}

// One run of both workloads; a workload that fails or stalls gives its Error.
export async function node_run(path, transport, sizes) {
    const echo = await echo_throughput(path.url, transport, sizes.mib).catch(err => err);
    const pp = await ping_pong(path.url, transport, sizes.rounds).catch(err => err);
    return { echo, pp };
}
