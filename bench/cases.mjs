// The bench cases, the variants each one measures, and the flags that size them.
//
// A case is one workload in one browser. Every variant of it runs in the same
// minutes (runs interleaved), so ratios between variants hold even on a machine
// whose load moves: each transport of ours, forced through make()'s `transport`
// option, the browser's bare WebSocket against our server, the `ws` WebSocket
// baseline, and 6.0.3's two modes.

// The server children (bench/server.mjs): ours as the README sets it up (RFC 8441
// offered on every HTTP/2 session), ours on an allowHTTP1 server with `websocket:
// 'http1'` (no RFC 8441: browsers open their WebSockets over HTTP/1.1), 6.0.3, ws.
export const SERVERS = ['ours', 'ours-h1', 'original', 'ws'];
export const BROWSERS = ['chromium', 'firefox'];
export const BROWSER_LABELS = { chromium: 'Chromium', firefox: 'Firefox' };
// What make()'s `transport` option forces (bench/proxy-browser.mjs runs them too).
export const TRANSPORTS = ['websocket', 'streaming', 'per-write'];
// Where the pages serve bench/page.mjs.
export const BENCH_SCRIPT = '/bench.mjs';
// Response headers that make a page cross-origin isolated: performance.now() is
// coarsened to 100 µs in Chromium (1 ms in Firefox) otherwise, too coarse for a
// ping-pong of a few hundred µs. Everything the page loads must be same-origin.
export const ISOLATED = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

// What the bench measures side by side. `server`: the child it talks to; `options`:
// what the page's open() gets (make()'s options, or raw_ws for the page's own
// WebSocket); `transport`: what the page must report it ran over; `websocket`: the
// HTTP version every connection's WebSocket must have used, as the server counted
// them ('h2': RFC 8441 CONNECT, 'h1': RFC 6455 upgrade; none: no WebSocket at all).
export const VARIANTS = {
    'ws-h2': { label: 'ours, WebSocket over HTTP/2', server: 'ours', options: { transport: 'websocket' }, transport: 'websocket', websocket: 'h2' },
    'ws-h1': { label: 'ours, WebSocket over HTTP/1.1', server: 'ours-h1', options: { transport: 'websocket' }, transport: 'websocket', websocket: 'h1' },
    streaming: { label: 'ours, streaming POST', server: 'ours', options: { transport: 'streaming' }, transport: 'streaming' },
    'per-write': { label: 'ours, POST per write', server: 'ours', options: { transport: 'per-write' }, transport: 'per-write' },
    'bare-h2': { label: 'bare WebSocket/HTTP/2 to ours', server: 'ours', options: { raw_ws: true }, transport: 'websocket', websocket: 'h2' },
    'bare-h1': { label: 'bare WebSocket/HTTP/1.1 to ours', server: 'ours-h1', options: { raw_ws: true }, transport: 'websocket', websocket: 'h1' },
    ws: { label: 'ws (WebSocket/HTTP/1.1)', server: 'ws', options: {}, transport: 'websocket', websocket: 'h1' },
    // 6.0.3 picks streaming by its own feature test unless told not to.
    '6-streaming': { label: '6.0.3, streaming POST', server: 'original', options: {}, transport: 'streaming' },
    '6-per-write': { label: '6.0.3, POST per write', server: 'original', options: { disable_request_streaming: true }, transport: 'per-write' }
};
// The variant every ratio in the tables is taken against.
export const BASELINE = 'ws';

// Firefox cannot stream request bodies (no fetch upload streaming).
export function unsupported(browser, transport) {
    return browser === 'firefox' && transport === 'streaming' ? 'Firefox cannot stream request bodies' : undefined;
}

const DEFAULTS = { duration: 2000, repeat: 3, messages: 20000, rounds: 1000, latency: 50 };
const QUICK = { duration: 1000, repeat: 1, messages: 2000, rounds: 200, latency: 50 };
const FLAGS = [...Object.keys(DEFAULTS), 'quick', 'only', 'variants', 'browsers', 'cpu-prof', 'browser-prof', 'ours-options', 'no-node'];

// --quick, --duration=ms, --repeat=n, --messages=n, --rounds=n, --latency=ms, --only=text,
// --variants=ws-h2,ws,..., --browsers=chromium,firefox, --cpu-prof (the server children),
// --browser-prof (the page, Chromium), --ours-options=JSON
// (extra Http2DuplexServer options for ours, to try a tuning), --no-node
export function parse_flags(argv) {
    const flags = Object.fromEntries(argv.map(arg => {
        const [name, ...value] = arg.replace(/^--/, '').split('=');
        return [name, value.length === 0 ? true : value.join('=')];
    }));
    const unknown = Object.keys(flags).filter(name => !FLAGS.includes(name));
    if (unknown.length > 0) {
        throw new Error(`unknown flag(s): ${unknown.map(name => `--${name}`).join(' ')}`);
    }
    const sizes = { ...(flags.quick ? QUICK : DEFAULTS) };
    for (const name of Object.keys(sizes)) {
        if (flags[name] !== undefined) {
            sizes[name] = Number(flags[name]);
        }
    }
    const list = (flag, all) => {
        const picked = flags[flag] === undefined ? all : String(flags[flag]).split(',').filter(Boolean);
        if (picked.length === 0 || picked.some(name => !all.includes(name))) {
            throw new Error(`--${flag}: pick from ${all.join(',')}`);
        }
        return picked;
    };
    return {
        ...sizes, quick: Boolean(flags.quick), only: flags.only,
        browsers: list('browsers', BROWSERS), variants: list('variants', Object.keys(VARIANTS)),
        no_node: Boolean(flags['no-node']), cpu_prof: Boolean(flags['cpu-prof']), browser_prof: Boolean(flags['browser-prof']), ours_options: flags['ours-options']
    };
}

// The workloads; rows are what a table shows of each (`head`: its column's title).
export function workloads(sizes) {
    const echo = duplexes => ({
        name: `throughput-${duplexes}`,
        workload: 'throughput',
        params: { duplexes, chunk_size: 65536, duration_ms: sizes.duration },
        rows: [{ name: `echo ${duplexes} duplex${duplexes > 1 ? 'es' : ''}`, head: `echo ×${duplexes}`, key: 'value', unit: 'MB/s', better: 'higher' }]
    });
    return [
        {
            name: 'ping-pong',
            workload: 'ping_pong',
            params: { size: 64, rounds: sizes.rounds, warmup: 20, duration_ms: sizes.duration * 2 },
            rows: [
                { name: '64 B ping-pong p50', head: 'p50', key: 'p50', unit: 'ms', better: 'lower' },
                { name: '64 B ping-pong p99', head: 'p99', key: 'p99', unit: 'ms', better: 'lower' }
            ]
        },
        echo(1),
        echo(8),
        {
            name: 'messages',
            workload: 'messages',
            // A slow variant stops early: the rate is what counts.
            params: { count: sizes.messages, size: 64, duration_ms: sizes.duration * 2 },
            rows: [{ name: `≤ ${sizes.messages} pipelined 64 B writes`, head: '64 B writes', key: 'value', unit: 'msg/s', better: 'higher' }]
        }
    ];
}

function make_case(browser, w, variants, latency) {
    const id = `${w.name}${latency ? '-latency' : ''}`;
    return {
        id, browser, key: `${browser}/${id}`, workload: w.workload, params: w.params, rows: w.rows, latency,
        variants: variants.filter(name => !unsupported(browser, VARIANTS[name].transport))
    };
}

// Every case, browser by browser. `--only` keeps the cases whose `browser/id`
// contains its text (e.g. ping-pong, firefox/throughput-8); `--variants` picks
// what runs in each.
export function define_cases(sizes) {
    const cases = [];
    for (const browser of sizes.browsers) {
        for (const w of workloads(sizes)) {
            cases.push(make_case(browser, w, sizes.variants, 0));
        }
        if (browser !== 'chromium') {
            continue;   // latency emulation is a Chromium DevTools feature
        }
        // The per-write echo again, each request started `latency` ms late.
        const [, echo1] = workloads(sizes);
        cases.push(make_case(browser, {
            ...echo1, rows: [{ ...echo1.rows[0], name: `echo 1 duplex, ${sizes.latency} ms RTT`, head: `echo ×1, ${sizes.latency} ms RTT` }]
        }, sizes.variants.filter(name => VARIANTS[name].transport === 'per-write'), sizes.latency));
    }
    return (sizes.only ? cases.filter(c => c.key.includes(sizes.only)) : cases).filter(c => c.variants.length > 0);
}
