// npm run bench:resume-browser [-- --quick | --cuts=n --repeat=n --mib=n --transports=ws-h2,ws-h1,per-write,streaming]
// Resume (docs/protocol.md "Resume", and "Resume on the fetch paths: a WebSocket
// tunnel") with the browser client in headless Chromium, per transport: a WebSocket
// over HTTP/2 (RFC 8441), a WebSocket over HTTP/1.1 (a server with `websocket:
// 'http1'`), and a tunnel over 'per-write' and over 'streaming' (HTTP/2). The servers
// run in this process; pages are the bench's (bench/browser.mjs: no Playwright request
// tracking) and cross-origin isolated, for fine timers.
// - time to the first resumed byte, as bench/resume.mjs measures it: the page's
//   connections go through support/fault-proxy.mjs, which cuts them `--cuts` times,
//   each time with nothing in flight, and at once the page writes 64 B: from the cut
//   to its echo read back (the cut on this process's clock, the echo on the page's, the
//   two clocks' offset known to within half the fastest DevTools answer of 30), p50
//   and p99, against set-up + 2 round trips: the time make() takes in
//   the page on a new connection (the page's connections cut first, as a resume finds
//   them) plus two 64 B round trips' p50 (after untimed set-ups and cuts: a browser's
//   first ones are slower). Each cut is of a new duplex, opened once the
//   page has its HTTP/2 connection again: Chromium opens a WebSocket over HTTP/2 only
//   on a connection it has, so a resume after a cut opens its WebSocket over HTTP/1.1
//   (the server takes both); the table says what the resumes went over;
// - the cost of acknowledgements: an echo of `--mib` MiB in 64 KiB writes, resume on
//   and off, interleaved, direct (no proxy), median MiB/s of `--repeat` runs each, and
//   the ratio (target ≥ 0.95). For a tunnel, "off" is the plain fetch transport of the
//   same kind (a GET with one POST per write, or with a streaming POST).
// Prints a markdown table and, unless --quick or --transports, writes
// bench/results/resume-browser.json.
import { writeFileSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { start_server, DUPLEX_PATH, OUR_CLIENT } from '../support/browser/server.mjs';
import {
    open_in_page, round_trips_in_page, destroy_in_page, reconnect_page_in_page, setup_time_in_page,
    echo_rate_in_page, clock_in_page
} from '../support/browser/resume-pages.mjs';
import { start_fault_proxy } from '../support/fault-proxy.mjs';
import { launch_bench_browser } from './browser.mjs';
import { ISOLATED } from './cases.mjs';

const TRANSPORTS = [
    { key: 'ws-h2', name: 'WebSocket over HTTP/2 (RFC 8441)', server: 'h2', transport: 'websocket', websocket: 'h2',
        off: 'the same without resume' },
    { key: 'ws-h1', name: 'WebSocket over HTTP/1.1', server: 'h1', transport: 'websocket', websocket: 'h1',
        off: 'the same without resume' },
    { key: 'per-write', name: "tunnel over 'per-write' (HTTP/2)", server: 'h2', transport: 'per-write', tunnel: true,
        off: "plain 'per-write' (GET + a POST per write)" },
    { key: 'streaming', name: "tunnel over 'streaming' (HTTP/2)", server: 'h2', transport: 'streaming', tunnel: true,
        off: "plain 'streaming' (GET + a streaming POST)" }
];
// Fresh duplexes timed for the target's set-up term, per transport.
const SETUPS = 15;
// Untimed set-ups and cuts before the timed ones, per transport.
const WARM_UP = 3;
// Round trips before and after each cut (as bench/resume.mjs: after, on the resumed duplex).
const ROUND_TRIPS = 5;
// After a cut, before make() is timed on a new connection: the browser has seen its
// connections close (no event of the page tells; loopback FINs arrive in well under this).
const SETTLE_MS = 200;

function flags() {
    const given = Object.fromEntries(process.argv.slice(2).filter(a => a.startsWith('--'))
        .map(a => a.slice(2).split('=')).map(([k, v]) => [k, v === undefined ? true : v]));
    const quick = given.quick === true;
    const number = (name, normal, short) => (given[name] === undefined ? (quick ? short : normal) : Number(given[name]));
    const keys = given.transports?.split(',') ?? TRANSPORTS.map(t => t.key);
    const unknown = keys.filter(key => !TRANSPORTS.some(t => t.key === key));
    if (unknown.length > 0) {
        throw new Error(`--transports: unknown ${unknown.join(', ')} (known: ${TRANSPORTS.map(t => t.key).join(', ')})`);
    }
    return {
        quick, cuts: number('cuts', 30, 8), repeat: number('repeat', 5, 2), mib: number('mib', 16, 4),
        transports: TRANSPORTS.filter(t => keys.includes(t.key))
    };
}

const percentile = (values, p) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
};
const median = values => percentile(values, 0.5);
const delay = ms => new Promise(resolve => setTimeout(resolve, ms));

// An echo server (HTTP/2 with RFC 8441 and HTTP/1.1 upgrades, or HTTP/1.1 upgrades
// only) that counts the WebSockets opened to it each way, and a fault proxy to it.
async function start_echo(kind) {
    const server = await start_server({
        options: { keepalive_interval: 1000, ...(kind === 'h1' ? { websocket: 'http1' } : {}) },
        server_options: { allowHTTP1: true },
        page_headers: ISOLATED
    });
    const websockets = { h2: 0, h1: 0 };
    server.http2_server.on('stream', (stream, headers) => {
        if (headers[':method'] === 'CONNECT' && headers[':protocol'] === 'websocket') {
            websockets.h2 += 1;
        }
    });
    server.http2_server.on('upgrade', req => {
        if (/^websocket$/i.test(req.headers.upgrade ?? '')) {
            websockets.h1 += 1;
        }
    });
    server.duplex_server.on('duplex', duplex => {
        duplex.on('error', () => {});
        duplex.pipe(duplex);
    });
    server.duplex_server.on('warning', () => {});
    const proxy = await start_fault_proxy({ target: { host: '127.0.0.1', port: server.http2_server.address().port } });
    return {
        server,
        proxy,
        websockets: () => ({ ...websockets }),
        proxied: `https://127.0.0.1:${proxy.port}`,
        async close() {
            await proxy.close();
            await server.close();
        }
    };
}

const since = (before, after) => ({ h2: after.h2 - before.h2, h1: after.h1 - before.h1 });

// A page function (resume-pages.mjs) run in `page`, with JSON arguments.
async function call(page, fn, ...args) {
    const { result, exceptionDetails } = await page.cdp('Runtime.evaluate',
        { expression: `(${fn})(...${JSON.stringify(args)})`, awaitPromise: true, returnByValue: true });
    if (exceptionDetails) {
        throw new Error(`${fn.name}: ${exceptionDetails.exception?.description || exceptionDetails.text}`);
    }
    return result.value;
}

// What a duplex the bench opened must be, or it measured something else.
function check_carrier(t, what, got, resume) {
    const want = { transport: t.transport, tunnel: resume && t.tunnel ? true : undefined, resumable: resume || undefined };
    const have = { transport: got.transport, tunnel: got.tunnel || undefined, resumable: got.resumable || undefined };
    if (JSON.stringify(have) !== JSON.stringify(want)) {
        throw new Error(`${t.key} ${what}: opened ${JSON.stringify(have)}, not ${JSON.stringify(want)}`);
    }
}

function check_websockets(t, what, opened) {
    const want = t.websocket ? { h2: 0, h1: 0, [t.websocket]: 1 } : { h2: 0, h1: 0 };
    if (opened.h2 !== want.h2 || opened.h1 !== want.h1) {
        throw new Error(`${t.key} ${what}: the server saw ${JSON.stringify(opened)} WebSockets (h2, h1), not ${JSON.stringify(want)}`);
    }
}

// make() on a new connection, as a resume finds it: the page's connections cut first.
async function setup_time(t, echo, page, url) {
    echo.proxy.cut_all();
    await delay(SETTLE_MS);
    const opened = await call(page, setup_time_in_page, { client_url: OUR_CLIENT, url, options: { resume: true, transport: t.transport } });
    check_carrier(t, 'set-up', opened, true);
    return opened.ms;
}

// One cut of a new duplex with nothing in flight, then at once a 64 B write: from the
// cut to its echo (ms), the write to its echo (ms, the page's own), the round trips
// before and after, the WebSockets the resume opened, its downtime and attempts.
async function cut_once(t, echo, page, url, page_clock) {
    await call(page, reconnect_page_in_page);
    const before_open = echo.websockets();
    check_carrier(t, 'cut', await call(page, open_in_page, { client_url: OUR_CLIENT, url, options: { transport: t.transport } }), true);
    check_websockets(t, 'cut', since(before_open, echo.websockets()));
    const rtts = (await call(page, round_trips_in_page, ROUND_TRIPS)).times;
    const before_cut = { ...echo.websockets(), connections: echo.proxy.stats().accepted };
    const cut_at = clock();
    echo.proxy.cut_all();
    const echoed = await call(page, round_trips_in_page, 1);
    rtts.push(...(await call(page, round_trips_in_page, ROUND_TRIPS)).times);
    const resumed_over = { ...since(before_cut, echo.websockets()), connections: echo.proxy.stats().accepted - before_cut.connections };
    const events = await call(page, destroy_in_page);
    const failed = events.filter(e => e.error || e.end);
    if (failed.length > 0) {
        throw new Error(`${t.key}: a cut: ${JSON.stringify(failed)}`);
    }
    return {
        gap: echoed.echoed_at - page_clock.offset - cut_at, write_to_echo: echoed.times[0], rtts, resumed_over,
        downtimes: events.filter(e => e.resumed).map(e => e.resumed.downtime),
        attempts: events.filter(e => e.resumed).map(e => e.resumed.attempt)
    };
}

async function time_to_resumed_byte(t, echo, page, cuts) {
    const page_clock = await clock_offset(page);
    const url = `${echo.proxied}${DUPLEX_PATH}`;
    // Untimed first: a browser's first connections and resumes are slower.
    for (let i = 0; i < WARM_UP; i++) {
        await setup_time(t, echo, page, url);
        await cut_once(t, echo, page, url, page_clock);
    }
    const before_setups = { ...echo.websockets(), connections: echo.proxy.stats().accepted };
    const setups = [];
    for (let i = 0; i < SETUPS; i++) {
        setups.push(await setup_time(t, echo, page, url));
    }
    const setups_over = { ...since(before_setups, echo.websockets()), connections: echo.proxy.stats().accepted - before_setups.connections };
    const samples = [];
    for (let i = 0; i < cuts; i++) {
        samples.push(await cut_once(t, echo, page, url, page_clock));
    }
    const gaps = samples.map(sample => sample.gap);
    const write_to_echo = samples.map(sample => sample.write_to_echo);
    const downtimes = samples.flatMap(sample => sample.downtimes);
    // Resumes that took more than one attempt (each failed one costs a back-off).
    const retried = samples.flatMap(sample => sample.attempts).filter(attempt => attempt > 1).length;
    const resumed_over = { h2: 0, h1: 0, connections: 0 };
    for (const sample of samples) {
        for (const key of Object.keys(resumed_over)) {
            resumed_over[key] += sample.resumed_over[key];
        }
    }
    const rtt = median(samples.flatMap(sample => sample.rtts));
    return {
        cuts, resumes: downtimes.length, retried, resumed_over, setups_over, page_clock, runs: { gaps, setups },
        p50: median(gaps), p99: percentile(gaps, 0.99), write_to_echo: { p50: median(write_to_echo), p99: percentile(write_to_echo, 0.99) },
        downtime_p50: median(downtimes), setup: median(setups), rtt, target: median(setups) + 2 * rtt
    };
}

async function echo_rate(t, echo, page, resume, bytes) {
    const before = echo.websockets();
    const run = await call(page, echo_rate_in_page, {
        client_url: OUR_CLIENT, url: `${echo.server.origin}${DUPLEX_PATH}`, bytes,
        options: { resume, transport: t.transport }
    });
    if (run.error || !run.same) {
        throw new Error(`${t.key} echo with resume ${resume}: ${run.error || `${run.got} bytes back, not what was sent`}`);
    }
    check_carrier(t, `echo with resume ${resume}`, run, resume);
    check_websockets(t, `echo with resume ${resume}`, since(before, echo.websockets()));
    return bytes / 2 ** 20 / (run.ms / 1000);
}

async function ack_cost(t, echo, page, repeat, mib) {
    const bytes = mib * 2 ** 20;
    await echo_rate(t, echo, page, false, 2 ** 20);
    await echo_rate(t, echo, page, true, 2 ** 20);
    const runs = { on: [], off: [] };
    for (let i = 0; i < repeat; i++) {
        runs.off.push(await echo_rate(t, echo, page, false, bytes));
        runs.on.push(await echo_rate(t, echo, page, true, bytes));
    }
    const [on, off] = [median(runs.on), median(runs.off)];
    return { on, off, ratio: on / off, runs };
}

const clock = () => performance.timeOrigin + performance.now();

// How far the page's clock (clock_in_page) is ahead of this process's: from the
// fastest of 30 DevTools answers, taking the page's reading as made halfway through
// (so within half that answer); and the median answer.
async function clock_offset(page) {
    const samples = [];
    for (let i = 0; i < 30; i++) {
        const sent = clock();
        const read = await call(page, clock_in_page);
        const answered = clock();
        samples.push({ answer: answered - sent, offset: read - (sent + answered) / 2 });
    }
    const fastest = samples.reduce((a, b) => (b.answer < a.answer ? b : a));
    return { offset: fastest.offset, within: fastest.answer / 2, devtools_p50: median(samples.map(s => s.answer)) };
}

function format(report) {
    const ms = v => v.toFixed(1);
    const over = r => Object.entries(r.resumed_over).filter(([version, n]) => version !== 'connections' && n > 0)
        .map(([version, n]) => `${n} ${version === 'h2' ? 'HTTP/2' : 'HTTP/1.1'} WebSocket${n === 1 ? '' : 's'}`).join(', ') ||
        'the tunnel';
    const lines = [
        `Resume in ${report.browser} (load ${report.load_before.join(' ')} → ${report.load_after.join(' ')}; ` +
            `${report.cuts} cuts, the page's clock within ${ms(Math.max(...Object.values(report.resumed).map(r => r.page_clock.within)))} ms; ` +
            `${report.mib} MiB echo × ${report.repeat})`,
        '',
        '| transport | cut → first resumed byte p50 / p99 (ms) | target: set-up + 2 RTT (ms) | resumed over | echo resume on / off (MiB/s) | "off" is | on ÷ off (≥ 0.95) |',
        '|---|---|---|---|---|---|---|'
    ];
    for (const t of TRANSPORTS.filter(({ key }) => report.resumed[key])) {
        const r = report.resumed[t.key];
        const c = report.cost[t.key];
        lines.push(`| ${t.name} | ${ms(r.p50)} / ${ms(r.p99)} ${r.p50 <= r.target ? 'met' : 'missed'} | ` +
            `${ms(r.target)} (${ms(r.setup)} + 2 × ${ms(r.rtt)}) | ${over(r)} (${r.resumes} resumes, ${r.retried} on a later attempt; ${r.resumed_over.connections} connections) | ` +
            `${c.on.toFixed(1)} / ${c.off.toFixed(1)} | ${t.off} | ${c.ratio.toFixed(2)} ${c.ratio >= 0.95 ? 'met' : 'missed'} |`);
    }
    return lines.join('\n');
}

async function main() {
    const { quick, cuts, repeat, mib, transports } = flags();
    const load = () => loadavg().map(x => Number(x.toFixed(2)));
    const load_before = load();
    const started = performance.now();
    const echoes = {};
    let browser;
    try {
        echoes.h2 = await start_echo('h2');
        echoes.h1 = await start_echo('h1');
        browser = await launch_bench_browser('chromium');
        const pages = {};
        for (const [kind, echo] of Object.entries(echoes)) {
            pages[kind] = {
                proxied: await browser.page(`${echo.proxied}/page.html`, OUR_CLIENT),
                direct: await browser.page(`${echo.server.origin}/page.html`, OUR_CLIENT)
            };
        }
        const resumed = {};
        const cost = {};
        for (const t of transports) {
            const echo = echoes[t.server];
            resumed[t.key] = await time_to_resumed_byte(t, echo, pages[t.server].proxied, cuts);
            cost[t.key] = await ack_cost(t, echo, pages[t.server].direct, repeat, mib);
            const runs = list => list.map(x => x.toFixed(1)).join(' ');
            process.stderr.write(`  ${t.key}: cut → byte ms ${runs(resumed[t.key].runs.gaps)}; set-up ms ${runs(resumed[t.key].runs.setups)}; ` +
                `echo MiB/s on ${runs(cost[t.key].runs.on)}, off ${runs(cost[t.key].runs.off)}\n`);
        }
        const report = {
            date: new Date().toISOString(), browser: browser.version, node: process.version, quick, cuts, repeat, mib,
            load_before, load_after: load(), seconds: (performance.now() - started) / 1000,
            transports: Object.fromEntries(transports.map(({ key, ...t }) => [key, t])), resumed, cost
        };
        console.log(format(report));
        // A quick run, or some transports only: not the results.
        if (quick || transports.length < TRANSPORTS.length) {
            console.log(`\n${report.seconds.toFixed(0)} s; ${quick ? '--quick' : '--transports'}: bench/results/resume-browser.json not written`);
            return;
        }
        mkdirSync(new URL('results/', import.meta.url), { recursive: true });
        writeFileSync(new URL('results/resume-browser.json', import.meta.url), JSON.stringify(report, null, 2) + '\n');
        console.log(`\nwrote bench/results/resume-browser.json (${report.seconds.toFixed(0)} s)`);
    } finally {
        await browser?.close();
        await Promise.all(Object.values(echoes).map(echo => echo.close()));
    }
}

await main();
