// The bench cases and the flags that size them.
//
// A case is one workload over one transport in one browser. Each names what every
// implementation runs in it: `ours` with that transport asked for explicitly (the
// page checks `duplex.transport`), 6.0.3 where it has the transport (streaming,
// per-write), and the `ws` WebSocket as the baseline of the websocket transport.
export const SERVERS = ['ours', 'original', 'ws'];
export const LABELS = { ours: 'ours', original: '6.0.3', ws: 'ws', raw: 'raw' };
// The server child each implementation talks to ('raw': --raw-ws, the page's own
// http2-duplex.1 over a browser WebSocket, against our server).
export const SERVER_OF = { ours: 'ours', original: 'original', ws: 'ws', raw: 'ours' };
export const BROWSERS = ['chromium', 'firefox'];
export const BROWSER_LABELS = { chromium: 'Chromium', firefox: 'Firefox' };
export const TRANSPORTS = ['websocket', 'streaming', 'per-write'];
// Where the pages serve bench/page.mjs.
export const BENCH_SCRIPT = '/bench.mjs';
// Response headers that make a page cross-origin isolated: performance.now() is
// coarsened to 100 µs in Chromium (1 ms in Firefox) otherwise, too coarse for a
// ping-pong of a few hundred µs. Everything the page loads must be same-origin.
export const ISOLATED = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

// What each implementation is asked for, per transport (undefined: it has none such).
// 6.0.3 picks streaming by its own feature test unless told not to.
const IMPL_OPTIONS = {
    websocket: { ours: { transport: 'websocket' }, ws: {} },
    streaming: { ours: { transport: 'streaming' }, original: {} },
    'per-write': { ours: { transport: 'per-write' }, original: { disable_request_streaming: true } }
};

// The baseline each transport's ours is compared with.
export const BASELINE = { websocket: 'ws', streaming: 'original', 'per-write': 'original' };

// Firefox cannot stream request bodies (no fetch upload streaming): its streaming rows show '—'.
export function unsupported(browser, transport) {
    return browser === 'firefox' && transport === 'streaming' ? 'Firefox cannot stream request bodies' : undefined;
}

const DEFAULTS = { duration: 2000, repeat: 3, messages: 20000, rounds: 1000, latency: 50 };
const QUICK = { duration: 1000, repeat: 1, messages: 2000, rounds: 200, latency: 50 };

// --quick, --duration=ms, --repeat=n, --messages=n, --rounds=n, --latency=ms, --only=text,
// --browsers=chromium,firefox, --cpu-prof, --ours-options=JSON (extra Http2DuplexServer
// options for ours, to try a tuning)
export function parse_flags(argv) {
    const flags = Object.fromEntries(argv.map(arg => {
        const [name, ...value] = arg.replace(/^--/, '').split('=');
        return [name, value.length === 0 ? true : value.join('=')];
    }));
    const known = new Set([...Object.keys(DEFAULTS), 'quick', 'only', 'browsers', 'cpu-prof', 'ours-options', 'raw-ws', 'no-node']);
    const unknown = Object.keys(flags).filter(name => !known.has(name));
    if (unknown.length > 0) {
        throw new Error(`unknown flag(s): ${unknown.map(name => `--${name}`).join(' ')}`);
    }
    const sizes = { ...(flags.quick ? QUICK : DEFAULTS) };
    for (const name of Object.keys(sizes)) {
        if (flags[name] !== undefined) {
            sizes[name] = Number(flags[name]);
        }
    }
    const browsers = flags.browsers === undefined ? BROWSERS : String(flags.browsers).split(',').filter(Boolean);
    const bad = browsers.filter(b => !BROWSERS.includes(b));
    if (bad.length > 0 || browsers.length === 0) {
        throw new Error(`--browsers: pick from ${BROWSERS.join(',')}`);
    }
    return {
        ...sizes, quick: Boolean(flags.quick), only: flags.only, browsers,
        raw_ws: Boolean(flags['raw-ws']), no_node: Boolean(flags['no-node']), cpu_prof: Boolean(flags['cpu-prof']), ours_options: flags['ours-options']
    };
}

// The workloads of one transport; rows are what the table shows.
export function workloads(sizes) {
    const echo = duplexes => ({
        name: `throughput-${duplexes}`,
        workload: 'throughput',
        params: { duplexes, chunk_size: 65536, duration_ms: sizes.duration },
        rows: [{ name: `echo 64 KiB writes, ${duplexes} duplex${duplexes > 1 ? 'es' : ''}`, key: 'value', unit: 'MB/s', better: 'higher' }]
    });
    return [
        {
            name: 'ping-pong',
            workload: 'ping_pong',
            params: { size: 64, rounds: sizes.rounds, warmup: 20, duration_ms: sizes.duration * 2 },
            rows: [
                { name: '64 B ping-pong p50', key: 'p50', unit: 'ms', better: 'lower' },
                { name: '64 B ping-pong p99', key: 'p99', unit: 'ms', better: 'lower' }
            ]
        },
        echo(1),
        echo(8),
        {
            name: 'messages',
            workload: 'messages',
            // A slow implementation stops early: the rate is what counts.
            params: { count: sizes.messages, size: 64, duration_ms: sizes.duration * 2 },
            rows: [{ name: `≤ ${sizes.messages} pipelined 64 B writes`, key: 'value', unit: 'msg/s', better: 'higher' }]
        }
    ];
}

function make_case(browser, transport, w, latency, sizes) {
    const id = `${w.name}-${transport}${latency ? '-latency' : ''}`;
    const why_not = unsupported(browser, transport);
    return {
        id, browser, key: `${browser}/${id}`, transport, workload: w.workload, params: w.params, rows: w.rows,
        latency, baseline: BASELINE[transport],
        // impl → the client options it runs with; empty when the browser lacks the transport.
        impls: why_not ? {} : transport === 'websocket' && sizes.raw_ws ?
            { ...IMPL_OPTIONS[transport], raw: { raw_ws: true } } : IMPL_OPTIONS[transport],
        unsupported: why_not
    };
}

// Every case, browser by browser, transport by transport. `--only` keeps the cases
// whose `browser/id` contains its text (e.g. ping-pong, websocket, firefox/messages).
export function define_cases(sizes) {
    const cases = [];
    for (const browser of sizes.browsers) {
        for (const transport of TRANSPORTS) {
            for (const w of workloads(sizes)) {
                cases.push(make_case(browser, transport, w, 0, sizes));
            }
        }
        if (browser !== 'chromium') {
            continue;   // latency emulation is a Chromium DevTools feature
        }
        // The per-write echo again, each request started `latency` ms late.
        const [, echo1] = workloads(sizes);
        cases.push(make_case(browser, 'per-write', {
            ...echo1, rows: [{ ...echo1.rows[0], name: `echo 64 KiB writes, ${sizes.latency} ms RTT` }]
        }, sizes.latency, sizes));
    }
    return sizes.only ? cases.filter(c => c.key.includes(sizes.only)) : cases;
}
