// npm run bench:resume [-- --quick | --cuts=n --repeat=n --mib=n]
// Resume (docs/protocol.md "Resume") with the Node client, per transport
// (a WebSocket: RFC 8441 over HTTP/2, the RFC 6455 upgrade over HTTP/1.1; a
// tunnel over the GET and streaming POST, against the plain streaming
// transport for "off"), the server in a child process:
// - time to the first resumed byte: through support/fault-proxy.mjs, which
//   cuts every connection `--cuts` times, each time with nothing in flight and
//   at once a 64 B write: from the cut to its echo read back (p50, p99; the
//   client notices the cut, reconnects, resumes, resends), against the target
//   of issue 23: a fresh duplex's set-up (TCP, TLS, WebSocket: the time
//   connect() takes on a new connection) plus two round trips (a 64 B
//   round trip's p50);
// - the cost of acknowledgements: an echo of `--mib` MiB (64 KiB writes,
//   backpressure honoured, every byte checked) with resume on and off,
//   interleaved, direct (no proxy); the ratio of the medians (target ≥ 0.95),
//   and the CPU time per MiB of the server (its child process) and of the
//   client (this process: the client's threads), which load moves less.
// Prints a markdown table and writes bench/results/resume.json.
import { fork } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createSecureServer } from 'node:http2';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { start_fault_proxy } from '../support/fault-proxy.mjs';

const require = createRequire(import.meta.url);
const self = fileURLToPath(import.meta.url);
const certs = new URL('../support/certs/', import.meta.url);
const { Http2DuplexServer, connect, ConnectionPool } = require('../index.js');

function flags() {
    const given = Object.fromEntries(process.argv.slice(2).filter(a => a.startsWith('--'))
        .map(a => a.slice(2).split('=')).map(([k, v]) => [k, v === undefined ? true : Number(v)]));
    const quick = given.quick === true;
    return { cuts: given.cuts ?? (quick ? 10 : 50), repeat: given.repeat ?? (quick ? 2 : 5), mib: given.mib ?? (quick ? 16 : 64) };
}

const percentile = (values, p) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
};
const median = values => percentile(values, 0.5);

async function start_server(websocket) {
    const child = fork(self, ['server', websocket]);
    const [port] = await once(child, 'message');
    // The server's CPU time so far (ms), user and system.
    const cpu = async () => {
        child.send('cpu');
        const [usage] = await once(child, 'message');
        return (usage.user + usage.system) / 1000;
    };
    return { port, cpu, stop: () => child.kill() };
}

const ca = readFileSync(new URL('ca.pem', certs));

// One 64 B round trip: the time until its echo came back whole.
async function round_trip(duplex) {
    const start = performance.now();
    let pending = 64;
    const echoed = new Promise(resolve => {
        const on_data = chunk => {
            pending -= chunk.length;
            if (pending <= 0) {
                duplex.off('data', on_data);
                resolve(performance.now() - start);
            }
        };
        duplex.on('data', on_data);
    });
    duplex.write(Buffer.alloc(64, 1));
    return echoed;
}

async function time_to_resumed_byte({ websocket, transport }, cuts) {
    const server = await start_server(websocket);
    const proxy = await start_fault_proxy({ target: { host: '127.0.0.1', port: server.port } });
    const url = `https://localhost:${proxy.port}/duplex`;
    try {
        // A fresh duplex's set-up, each on a new connection.
        const setups = [];
        for (let i = 0; i < 10; i++) {
            const pool = new ConnectionPool();
            const start = performance.now();
            const duplex = await connect(url, { resume: true, transport, ca, pool });
            setups.push(performance.now() - start);
            duplex.destroy();
        }
        const duplex = await connect(url, { resume: true, transport, ca, pool: new ConnectionPool() });
        let resumes = 0;
        duplex.on('resumed', () => resumes++);
        duplex.on('error', err => { throw err; });
        const rtts = [];
        for (let i = 0; i < 50; i++) {
            rtts.push(await round_trip(duplex));
        }
        // Each cut with nothing in flight, then at once a 64 B write: from
        // the cut to its echo read back on the resumed duplex.
        const gaps = [];
        for (let i = 0; i < cuts; i++) {
            const cut_at = performance.now();
            proxy.cut_all();
            await round_trip(duplex);
            gaps.push(performance.now() - cut_at);
            for (let j = 0; j < 5; j++) {
                rtts.push(await round_trip(duplex));
            }
        }
        const rtt = median(rtts);
        duplex.destroy();
        return {
            transport: duplex.transport, tunnel: duplex.tunnel, websocket, cuts, resumes,
            p50: median(gaps), p99: percentile(gaps, 0.99), setup: median(setups), rtt,
            target: median(setups) + 2 * rtt
        };
    } finally {
        await proxy.close();
        server.stop();
    }
}

async function echo(server, url, { resume, transport }, data) {
    const duplex = await connect(url, { resume, transport, ca });
    const hash = createHash('sha256');
    let received = 0;
    duplex.on('data', chunk => {
        hash.update(chunk);
        received += chunk.length;
    });
    const ended = once(duplex, 'end');
    const server_cpu = await server.cpu();
    const client_cpu = process.cpuUsage();
    const start = performance.now();
    for (let i = 0; i < data.length; i += 65536) {
        if (!duplex.write(data.subarray(i, i + 65536))) {
            await once(duplex, 'drain');
        }
    }
    duplex.end();
    await ended;
    const seconds = (performance.now() - start) / 1000;
    const mib = data.length / 2 ** 20;
    const client = process.cpuUsage(client_cpu);
    const cpu = {
        server: (await server.cpu() - server_cpu) / mib,
        client: (client.user + client.system) / 1000 / mib
    };
    if (received !== data.length || hash.digest('hex') !== createHash('sha256').update(data).digest('hex')) {
        throw new Error(`echo with resume ${resume} lost bytes`);
    }
    return { rate: mib / seconds, cpu };
}

async function ack_cost({ websocket, transport }, repeat, mib) {
    const server = await start_server(websocket);
    const url = `https://localhost:${server.port}/duplex`;
    const data = randomBytes(mib * 2 ** 20);
    const on = [];
    const off = [];
    try {
        await echo(server, url, { resume: true, transport }, data.subarray(0, 2 ** 20));
        for (let i = 0; i < repeat; i++) {
            off.push(await echo(server, url, { resume: false, transport }, data));
            on.push(await echo(server, url, { resume: true, transport }, data));
        }
    } finally {
        server.stop();
    }
    const rates = runs => runs.map(run => run.rate);
    const cpu = (runs, side) => median(runs.map(run => run.cpu[side]));
    return {
        on: median(rates(on)), off: median(rates(off)), ratio: median(rates(on)) / median(rates(off)),
        cpu: {
            on: { server: cpu(on, 'server'), client: cpu(on, 'client') },
            off: { server: cpu(off, 'server'), client: cpu(off, 'client') }
        },
        runs: { on: rates(on), off: rates(off) }
    };
}

async function main() {
    const { cuts, repeat, mib } = flags();
    const load_before = loadavg()[0];
    const resumed = [];
    const cost = [];
    const kinds = [
        { name: 'WebSocket over HTTP/2 (RFC 8441)', websocket: 'http2', transport: 'auto' },
        { name: 'WebSocket over HTTP/1.1', websocket: 'http1', transport: 'auto' },
        { name: 'tunnel (GET + streaming POST; off: streaming)', websocket: 'http2', transport: 'streaming' }
    ];
    for (const kind of kinds) {
        resumed.push({ name: kind.name, ...await time_to_resumed_byte(kind, cuts) });
        cost.push(await ack_cost(kind, repeat, mib));
    }
    const ms = v => v.toFixed(1);
    const lines = [
        `Resume, Node client (load ${load_before.toFixed(2)} → ${loadavg()[0].toFixed(2)}; ${cuts} cuts, ${mib} MiB echo × ${repeat})`,
        '',
        '| transport | cut → first resumed byte p50 / p99 (ms) | target: set-up + 2 RTT (ms) | echo resume on / off (MiB/s) | on ÷ off (≥ 0.95) | CPU ms/MiB on / off: server, client |',
        '|---|---|---|---|---|---|'
    ];
    for (let i = 0; i < resumed.length; i++) {
        const r = resumed[i];
        const c = cost[i];
        lines.push(`| ${r.name} | ${ms(r.p50)} / ${ms(r.p99)} ${r.p50 <= r.target ? 'met' : 'missed'} | ` +
            `${ms(r.target)} (${ms(r.setup)} + 2 × ${ms(r.rtt)}) | ${c.on.toFixed(0)} / ${c.off.toFixed(0)} | ` +
            `${c.ratio.toFixed(2)} ${c.ratio >= 0.95 ? 'met' : 'missed'} | ` +
            `${c.cpu.on.server.toFixed(2)} / ${c.cpu.off.server.toFixed(2)}, ` +
            `${c.cpu.on.client.toFixed(2)} / ${c.cpu.off.client.toFixed(2)} |`);
    }
    console.log(lines.join('\n'));
    mkdirSync(new URL('results/', import.meta.url), { recursive: true });
    writeFileSync(new URL('results/resume.json', import.meta.url),
        JSON.stringify({ date: new Date().toISOString(), cuts, repeat, mib, resumed, cost }, null, 2));
    process.exit(0);
}

// The child: an echo server, HTTP/2 with RFC 8441, or WebSockets over HTTP/1.1 only.
if (process.argv[2] === 'server') {
    const websocket = process.argv[3];
    const server = createSecureServer({
        key: readFileSync(new URL('key.pem', certs)), cert: readFileSync(new URL('cert.pem', certs)),
        allowHTTP1: websocket === 'http1'
    });
    const duplexes = new Http2DuplexServer(server, '/duplex', { websocket, keepalive_interval: 1000 });
    duplexes.on('duplex', duplex => duplex.pipe(duplex));
    duplexes.on('warning', () => {});
    server.listen(0, '127.0.0.1', () => process.send(server.address().port));
    process.on('message', () => process.send(process.cpuUsage()));
} else {
    await main();
}
