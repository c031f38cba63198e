// npm run bench:node [-- --quick | --repeat=n --rounds=n --duration=ms --messages=n --only=client,… --cases=id,…
//                        --lib=DIR]
// The Node clients against echo servers on loopback: this package's connect()
// (transport 'websocket' and 'fetch') against an Http2DuplexServer (HTTPS,
// HTTP/2), and the `ws` client against a `ws` WebSocketServer (wss, HTTP/1.1).
// Each server runs in its own child process, so this process measures only the
// clients. Workloads: 64 B ping-pong latency, echo throughput with 1 and 8
// duplexes (64 KiB writes, backpressure honoured, every byte checked), and
// pipelined 64 B messages. Runs are interleaved across clients; each figure is
// the median of the repeats. Prints a markdown table and writes
// bench/results/node-client.json (node-client-partial.json for partial runs).
//
// --lib=DIR measures connect() from DIR/lib/connect.js (e.g. an older
// checkout with its own build) instead of this checkout's, for before/after
// figures. (One process cannot load two builds of the addon.)
//
// `run(argv)` does the same and returns the report (for bench/run.mjs).
import { fork } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:https';
import { createSecureServer } from 'node:http2';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { WebSocket, WebSocketServer, createWebSocketStream } from 'ws';

const require = createRequire(import.meta.url);
const self = fileURLToPath(import.meta.url);
// support/certs: a CA and a server certificate it signed.
const certs = new URL('../support/certs/', import.meta.url);
const results_dir = new URL('results/', import.meta.url);
const DUPLEX_PATH = '/duplex';

// Who is measured. `ws-raw` is the `ws` WebSocket without a stream around it
// (ping-pong only): the floor of what a Node WebSocket client costs.
export const CLIENTS = ['websocket', 'fetch', 'ws', 'ws-raw'];
const BASELINE = 'ws';
// Issue 12 point 5: connect()'s ping-pong p50 at most 2× and p99 at most 3×
// the ws client's.
export const TARGETS = { p50: 2, p99: 3 };

export function parse_flags(argv) {
    const flags = Object.fromEntries(argv.filter(a => a.startsWith('--')).map(a => {
        const [name, value] = a.slice(2).split('=');
        return [name, value === undefined ? true : value];
    }));
    const quick = Boolean(flags.quick);
    return {
        quick,
        repeat: Number(flags.repeat || (quick ? 3 : 5)),
        rounds: Number(flags.rounds || (quick ? 2000 : 5000)),
        warmup: Number(flags.warmup || (quick ? 500 : 1000)),
        duration_ms: Number(flags.duration || (quick ? 500 : 2000)),
        messages: Number(flags.messages || (quick ? 20000 : 100000)),
        only: flags.only ? String(flags.only).split(',') : null,
        cases: flags.cases ? String(flags.cases).split(',') : null,
        lib: flags.lib ? String(flags.lib) : null
    };
}

// ---- the servers (child processes) ----

function echo(duplex) {
    duplex.on('error', () => {});
    duplex.pipe(duplex);
}

async function serve_ours() {
    const { Http2DuplexServer } = require('../index.js');
    const server = createSecureServer({
        key: readFileSync(new URL('key.pem', certs)),
        cert: readFileSync(new URL('cert.pem', certs))
    });
    const duplex_server = new Http2DuplexServer(server, DUPLEX_PATH);
    duplex_server.on('duplex', echo);
    duplex_server.on('warning', err => process.stderr.write(`server warning: ${err.message}\n`));
    server.on('stream', (stream, headers) => {
        if (headers[':path'] !== DUPLEX_PATH) {
            stream.respond({ ':status': 404 }, { endStream: true });
        }
    });
    await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
    return `https://127.0.0.1:${server.address().port}${DUPLEX_PATH}`;
}

async function serve_ws() {
    const server = createServer({
        key: readFileSync(new URL('key.pem', certs)),
        cert: readFileSync(new URL('cert.pem', certs))
    });
    const wss = new WebSocketServer({ server });
    wss.on('connection', ws => echo(createWebSocketStream(ws)));
    await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
    return `wss://127.0.0.1:${server.address().port}/`;
}

function start_server(kind) {
    const child = fork(self, ['--serve', kind], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new Promise((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', code => reject(new Error(`${kind} server exited with ${code}`)));
        child.once('message', msg => resolve({
            url: msg.url,
            stop: () => {
                const exited = once(child, 'exit');
                child.disconnect();
                return exited;
            }
        }));
    });
}

// ---- the clients: each opens a Node Duplex ----

async function opener(client, urls, sizes) {
    const ca = readFileSync(new URL('ca.pem', certs));
    const transport = client;
    if (transport === 'websocket' || transport === 'fetch') {
        const { connect, ConnectionPool } = require(sizes.lib ? `${sizes.lib}/lib/connect.js` : '../lib/connect.js');
        const pool = new ConnectionPool();
        return async () => {
            const duplex = await connect(urls.ours, { ca, transport, pool });
            // 'fetch' is 7.0.0's name of the transport now called 'streaming'.
            if (duplex.transport !== transport && !(transport === 'fetch' && duplex.transport === 'streaming')) {
                throw new Error(`asked for ${transport}, got ${duplex.transport}`);
            }
            return duplex;
        };
    }
    return async () => {
        const ws = new WebSocket(urls.ws, { ca });
        await once(ws, 'open');
        if (client === 'ws-raw') {
            return ws;
        }
        return createWebSocketStream(ws);
    };
}

async function close(duplex) {
    if (duplex instanceof WebSocket) {
        duplex.close();
        await once(duplex, 'close');
        return;
    }
    duplex.on('error', () => {});
    duplex.end();
    if (!duplex.destroyed) {
        duplex.resume();
        await Promise.race([once(duplex, 'close'), new Promise(resolve => setTimeout(resolve, 2000))]);
    }
    duplex.destroy();
}

function quantile(sorted, q) {
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

// 64 B out, wait for the 64 B echo, `rounds` times after `warmup` rounds.
async function ping_pong(open, { rounds, warmup }) {
    const duplex = await open();
    const message = randomBytes(64);
    const raw = duplex instanceof WebSocket;
    const times = new Float64Array(rounds);
    let got = 0;
    let wake = null;
    const on_data = data => {
        got += data.length;
        if (got >= 64 && wake) {
            const w = wake;
            wake = null;
            w();
        }
    };
    if (raw) {
        duplex.on('message', on_data);
    } else {
        duplex.on('data', on_data);
    }
    const failed = new Promise((resolve, reject) => duplex.once('error', reject));
    failed.catch(() => {});
    let cpu = null;
    for (let i = -warmup; i < rounds; i++) {
        if (i === 0) {
            cpu = process.cpuUsage();
        }
        const start = process.hrtime.bigint();
        const back = new Promise(resolve => { wake = resolve; });
        if (raw) {
            duplex.send(message);
        } else {
            duplex.write(message);
        }
        await Promise.race([back, failed]);
        if (got !== 64) {
            throw new Error(`ping-pong: ${got} bytes came back, not 64`);
        }
        got = 0;
        if (i >= 0) {
            times[i] = Number(process.hrtime.bigint() - start) / 1e6;
        }
    }
    const used = process.cpuUsage(cpu);
    await close(duplex);
    times.sort();
    return {
        p50_ms: quantile(times, 0.5), p99_ms: quantile(times, 0.99), mean_ms: times.reduce((a, b) => a + b) / rounds,
        // This process, all threads (the addon's runtime too).
        cpu_us: (used.user + used.system) / rounds
    };
}

// The bytes every duplex sends: a random pattern, repeated.
const PATTERN = randomBytes((1 << 20) + 13);

function pattern_at(offset, length) {
    const start = offset % PATTERN.length;
    if (start + length <= PATTERN.length) {
        return PATTERN.subarray(start, start + length);
    }
    const first = PATTERN.subarray(start);
    return Buffer.concat([first, PATTERN.subarray(0, length - first.length)]);
}

// Writes `next(sent)`-sized chunks while `more()` (waiting for 'drain' when
// write() says so), checks every byte of the echo, resolves with the byte
// count once all of it came back.
function pump(duplex, chunk_size, more) {
    return new Promise((resolve, reject) => {
        let sent = 0;
        let received = 0;
        let writing_done = false;
        duplex.on('error', reject);
        duplex.on('data', data => {
            if (!data.equals(pattern_at(received, data.length))) {
                reject(new Error(`echo mismatch at byte ${received}`));
                return;
            }
            received += data.length;
            if (writing_done && received === sent) {
                resolve(received);
            }
        });
        const write = () => {
            while (more(sent)) {
                const ok = duplex.write(pattern_at(sent, chunk_size));
                sent += chunk_size;
                if (!ok) {
                    duplex.once('drain', write);
                    return;
                }
            }
            writing_done = true;
            if (received === sent) {
                resolve(received);
            }
        };
        write();
    });
}

async function throughput(open, { duplexes, duration_ms }) {
    const opened = await Promise.all(Array.from({ length: duplexes }, open));
    const start = process.hrtime.bigint();
    const until = performance.now() + duration_ms;
    const bytes = await Promise.all(opened.map(d => pump(d, 65536, () => performance.now() < until)));
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    await Promise.all(opened.map(close));
    const total = bytes.reduce((a, b) => a + b, 0);
    return { mb_per_s: total / 1e6 / seconds, bytes: total };
}

async function pipelined(open, { messages }) {
    const duplex = await open();
    const start = process.hrtime.bigint();
    await pump(duplex, 64, sent => sent < messages * 64);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    await close(duplex);
    return { messages_per_s: messages / seconds };
}

// ---- the cases ----

function define_cases(sizes) {
    return [
        { id: 'ping-pong', key: 'p50_ms', run: open => ping_pong(open, sizes), clients: CLIENTS,
            rows: [{ key: 'p50_ms', label: '64 B ping-pong p50 (ms)', lower: true },
                { key: 'p99_ms', label: '64 B ping-pong p99 (ms)', lower: true },
                { key: 'cpu_us', label: '64 B ping-pong, client CPU per round (µs)', lower: true }] },
        { id: 'echo-1', key: 'mb_per_s', run: open => throughput(open, { ...sizes, duplexes: 1 }),
            clients: CLIENTS.filter(c => c !== 'ws-raw'),
            rows: [{ key: 'mb_per_s', label: 'echo, 1 duplex (MB/s)' }] },
        { id: 'echo-8', key: 'mb_per_s', run: open => throughput(open, { ...sizes, duplexes: 8 }),
            clients: CLIENTS.filter(c => c !== 'ws-raw'),
            rows: [{ key: 'mb_per_s', label: 'echo, 8 duplexes (MB/s)' }] },
        { id: 'pipelined', key: 'messages_per_s', run: open => pipelined(open, sizes),
            clients: CLIENTS.filter(c => c !== 'ws-raw'),
            rows: [{ key: 'messages_per_s', label: 'pipelined 64 B (messages/s)' }] }
    ];
}

function median(values) {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor((sorted.length - 1) / 2)];
}

function format_number(x) {
    if (x === undefined) {
        return '–';
    }
    return x >= 1000 ? String(Math.round(x)) : x.toPrecision(3);
}

function format_table(report) {
    const clients = report.clients;
    const names = { websocket: "connect() 'websocket'", fetch: "connect() 'fetch'", ws: 'ws (stream)', 'ws-raw': 'ws (raw)' };
    const lines = [
        `| metric | ${clients.map(c => names[c]).join(' | ')} | ${['websocket', 'fetch'].map(c => `${c} ÷ ws`).join(' | ')} |`,
        `|---|${clients.map(() => '---:').join('|')}|---:|---:|`
    ];
    for (const bench_case of report.cases) {
        for (const row of bench_case.rows) {
            const value = c => bench_case.results[c]?.[row.key];
            const ratio = c => (value(c) && value(BASELINE) ? `${(value(c) / value(BASELINE)).toFixed(2)}×` : '–');
            lines.push(`| ${row.label} | ${clients.map(c => format_number(value(c))).join(' | ')} | ${ratio('websocket')} | ${ratio('fetch')} |`);
        }
    }
    return lines.join('\n');
}

function check_targets(report) {
    const pp = report.cases.find(c => c.id === 'ping-pong')?.results;
    if (!pp || !pp[BASELINE]) {
        return [];
    }
    const out = [];
    for (const client of ['websocket', 'fetch']) {
        for (const [key, factor] of Object.entries(TARGETS)) {
            const value = pp[client]?.[`${key}_ms`];
            if (value === undefined) {
                continue;
            }
            const limit = factor * pp[BASELINE][`${key}_ms`];
            // Also against the raw ws client, the stricter floor.
            const raw = pp['ws-raw']?.[`${key}_ms`];
            out.push({
                client, metric: key, factor, value_ms: value, limit_ms: limit, met: value <= limit,
                met_vs_raw: raw === undefined ? undefined : value <= factor * raw
            });
        }
    }
    return out;
}

function format_targets(targets) {
    return targets.map(t => `- connect() '${t.client}' ping-pong ${t.metric} ${t.value_ms.toFixed(3)} ms ≤ ${t.factor}× ws (${t.limit_ms.toFixed(3)} ms): ` +
        `**${t.met ? 'met' : 'missed'}**${t.met_vs_raw === undefined ? '' : ` (against ws raw: ${t.met_vs_raw ? 'met' : 'missed'})`}`).join('\n');
}

export async function run(argv = []) {
    const sizes = parse_flags(argv);
    const clients = sizes.only ? CLIENTS.filter(c => sizes.only.includes(c)) : CLIENTS;
    const [ours, ws] = await Promise.all([start_server('ours'), start_server('ws')]);
    const urls = { ours: ours.url, ws: ws.url };
    try {
        const openers = Object.fromEntries(await Promise.all(clients.map(async c => [c, await opener(c, urls, sizes)])));
        const cases = define_cases(sizes).filter(c => !sizes.cases || sizes.cases.includes(c.id));
        // Warm up every client and both servers.
        const warm = { ...sizes, rounds: sizes.warmup, warmup: 0, duration_ms: 300, messages: 5000 };
        for (const c of clients) {
            await ping_pong(openers[c], warm);
            if (c !== 'ws-raw') {
                await throughput(openers[c], { ...warm, duplexes: 2 });
            }
        }
        const started = Date.now();
        const load_before = loadavg();
        const runs = cases.map(bench_case => Object.fromEntries(
            bench_case.clients.filter(c => clients.includes(c)).map(c => [c, []])));
        // Interleaved: every repeat runs every case for every client.
        for (let r = 0; r < sizes.repeat; r++) {
            for (const [i, bench_case] of cases.entries()) {
                for (const c of Object.keys(runs[i])) {
                    runs[i][c].push(await bench_case.run(openers[c]));
                }
            }
        }
        const measured = cases.map((bench_case, i) => {
            const results = {};
            for (const [c, list] of Object.entries(runs[i])) {
                results[c] = Object.fromEntries(bench_case.rows.map(row => [row.key, median(list.map(run => run[row.key]))]));
                results[c].runs = Object.fromEntries(bench_case.rows.map(row => [row.key, list.map(run => run[row.key])]));
                process.stderr.write(`  ${bench_case.id} ${c}: ${bench_case.rows.map(row => `${row.key} ${results[c].runs[row.key].map(format_number).join(' ')}`).join('; ')}\n`);
            }
            return { id: bench_case.id, rows: bench_case.rows, results };
        });
        const report = {
            date: new Date().toISOString(),
            node: process.version,
            cpus: cpus().length,
            cpu_model: cpus()[0]?.model,
            loadavg_before: load_before,
            loadavg_after: loadavg(),
            sizes,
            lib: sizes.lib || 'this checkout',
            clients,
            seconds: (Date.now() - started) / 1000,
            cases: measured
        };
        report.targets = check_targets(report);
        return report;
    } finally {
        await Promise.all([ours.stop(), ws.stop()]);
    }
}

// Prints the report's table and targets; writes bench/results/node-client.json
// (node-client-partial.json for a partial run, which must not replace it).
export function print_and_save(report, partial) {
    console.log(format_table(report));
    console.log();
    console.log(format_targets(report.targets));
    const load = report.loadavg_before.map(x => x.toFixed(2)).join(', ');
    console.log(`\n${report.cpus} × ${report.cpu_model}, Node ${report.node}, load average before: ${load}; ${report.seconds.toFixed(0)} s`);
    const name = partial ? 'node-client-partial' : 'node-client';
    mkdirSync(results_dir, { recursive: true });
    writeFileSync(new URL(`${name}.json`, results_dir), JSON.stringify(report, null, 2) + '\n');
    console.log(`wrote bench/results/${name}.json`);
}

if (process.argv[1] === self) {
    const argv = process.argv.slice(2);
    if (argv[0] === '--serve') {
        const url = await (argv[1] === 'ws' ? serve_ws() : serve_ours());
        process.on('disconnect', () => process.exit(0));
        process.send({ url });
    } else {
        const report = await run(argv);
        print_and_save(report, report.sizes.quick || report.sizes.only || argv.some(a => !a.startsWith('--quick')));
    }
}
