'use strict';
// Load generator: N duplexes over M connections (M connection pools), each
// writing B bytes in S-byte writes and verifying every echoed byte.
//   npm run load -- --duplexes N --connections M --bytes B --size S [--url U]
// Without --url it starts bench/echo-server.js (our Http2DuplexServer piping
// each duplex into itself) in a child process and reports its RSS.
const path = require('path');
const fs = require('fs');
const crypto = require('crypto');
const { fork } = require('child_process');
const { once } = require('events');
const { parseArgs } = require('util');
const { connect, ConnectionPool } = require('../lib/connect');

const { values: args } = parseArgs({
    options: {
        duplexes: { type: 'string', default: '100' },
        connections: { type: 'string', default: '1' },
        bytes: { type: 'string', default: String(64 * 1024) },
        size: { type: 'string', default: String(4 * 1024) },
        url: { type: 'string' },
        ca: { type: 'string' },
        insecure: { type: 'boolean', default: false }
    }
});
const N = parseInt(args.duplexes, 10);
const M = parseInt(args.connections, 10);
const B = parseInt(args.bytes, 10);
const S = parseInt(args.size, 10);

const mib = n => (n / (1 << 20)).toFixed(1);

function percentile(sorted, p) {
    if (sorted.length === 0) {
        return NaN;
    }
    return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function start_server() {
    const child = fork(path.join(__dirname, 'echo-server.js'), [], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    let out = '';
    for await (const chunk of child.stdout) {
        out += chunk;
        if (out.includes('\n')) {
            break;
        }
    }
    const rss = async () => {
        child.send('rss');
        const [msg] = await once(child, 'message');
        return msg;
    };
    return { url: out.trim(), child, rss };
}

// One random source; duplex i sends source[i % 251 .. + B).
const source = crypto.randomBytes(B + 251);

async function run_duplex(duplex, i, latencies) {
    const offset = i % 251;
    const expected = source.subarray(offset, offset + B);
    let received = 0;
    let mismatch = false;
    const sent_at = []; // [end offset, time] per write, in order
    const started = process.hrtime.bigint();
    const done = new Promise((resolve, reject) => {
        duplex.on('data', chunk => {
            if (!mismatch && (received + chunk.length > B ||
                    expected.compare(chunk, 0, chunk.length, received, received + chunk.length) !== 0)) {
                mismatch = true;
            }
            received += chunk.length;
            const now = process.hrtime.bigint();
            while (sent_at.length > 0 && sent_at[0][0] <= received) {
                latencies.push(Number(now - sent_at.shift()[1]) / 1e6);
            }
        });
        duplex.on('end', resolve);
        duplex.on('error', reject);
    });
    for (let n = 0; n < B; n += S) {
        const end = Math.min(B, n + S);
        sent_at.push([end, process.hrtime.bigint()]);
        if (!duplex.write(expected.subarray(n, end))) {
            await once(duplex, 'drain');
        }
    }
    duplex.end();
    await done;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (mismatch || received !== B) {
        throw new Error(`duplex ${i}: echo differs (${received} of ${B} bytes, mismatch=${mismatch})`);
    }
    return seconds;
}

async function main() {
    const server = args.url ? null : await start_server();
    const url = args.url || server.url;
    const ca = args.ca ? fs.readFileSync(args.ca)
        : fs.readFileSync(path.join(__dirname, '..', 'support', 'certs', 'ca.pem'));
    const options = args.insecure ? { rejectUnauthorized: false } : { ca };
    const pools = Array.from({ length: M }, () => new ConnectionPool());
    const errors = [];
    const rss_before = server && (await server.rss()).rss;

    console.log(`load: ${N} duplexes over ${M} connections, ${B} bytes each in ${S}-byte writes → ${url}`);
    const t_open = process.hrtime.bigint();
    const opened = await Promise.all(Array.from({ length: N }, (_, i) =>
        connect(url, { ...options, pool: pools[i % M] }).catch(err => {
            errors.push(`open ${i}: ${err.message}`);
            return null;
        })));
    const duplexes = opened.filter(Boolean);
    const open_s = Number(process.hrtime.bigint() - t_open) / 1e9;
    const connections = pools.reduce((n, p) => n + p.connections, 0);
    const held = server && await server.rss();
    console.log(`opened ${duplexes.length} duplexes in ${open_s.toFixed(2)} s over ${connections} connections`);

    const latencies = [];
    const t0 = process.hrtime.bigint();
    const durations = await Promise.all(duplexes.map((d, i) =>
        run_duplex(d, i, latencies).catch(err => {
            errors.push(err.message);
            return null;
        })));
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const ok = durations.filter(d => d !== null);
    const after = server && await server.rss();

    latencies.sort((a, b) => a - b);
    const total = ok.length * B;
    const per = ok.map(d => B / d).sort((a, b) => a - b);
    const mean = per.reduce((a, b) => a + b, 0) / (per.length || 1);
    console.log(`duplexes held:        ${duplexes.length} concurrently${held ? ` (server saw ${held.peak})` : ''}`);
    console.log(`verified:             ${ok.length} duplexes, ${mib(total)} MiB echoed, every byte checked`);
    console.log(`total throughput:     ${mib(total / seconds)} MiB/s each way (${seconds.toFixed(2)} s)`);
    console.log(`per-duplex:           mean ${(mean / 1024).toFixed(1)} KiB/s, p50 ${(percentile(per, 0.5) / 1024).toFixed(1)} KiB/s, min ${((per[0] || 0) / 1024).toFixed(1)} KiB/s`);
    console.log(`round trip (${latencies.length} writes): p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p99 ${percentile(latencies, 0.99).toFixed(1)} ms`);
    console.log(`errors:               ${errors.length}`);
    for (const e of errors.slice(0, 10)) {
        console.log(`  ${e}`);
    }
    if (server) {
        console.log(`server RSS:           ${mib(rss_before)} MiB idle, ${mib(held.rss)} MiB with ${held.held} duplexes open, ${mib(after.rss)} MiB after`);
        server.child.disconnect();
    }
    console.log(`client RSS:           ${mib(process.memoryUsage().rss)} MiB`);
    process.exitCode = errors.length ? 1 : 0;
}

main().catch(err => {
    console.error(err);
    process.exit(1);
});
