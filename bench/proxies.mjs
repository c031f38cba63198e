// Echo throughput and 64 B ping-pong latency, directly to a Node backend (TLS +
// HTTP/2) and through the proxies of the test suites (bench/proxy-paths.mjs),
// all on loopback, in one run:
//   1. the Node client (Rust): the streaming POST ('fetch') on every path, the
//      RFC 8441 WebSocket where every hop carries it (bench/proxy-node.mjs);
//   2. headless Chromium, then Firefox, with the browser client, each transport
//      asked for explicitly: websocket, streaming (Chromium only), per-write
//      (bench/proxy-browser.mjs);
//      where a WebSocket cannot open (nginx) the row says what 'auto' falls back to.
// Every path is started once; runs go round the paths and transports in turn, so
// each ratio to direct compares runs from the same minutes of a loaded machine.
// Prints a table per client with × direct, added p50 and the HAProxy target
// verdicts, and writes bench/results/proxies.json (partial.proxies.json for a
// --quick or one-part run).
//
//   npm run bench:proxies [-- --quick | --runs=n --mib=n --rounds=n --browser-rounds=n
//                          --duration=ms --parts=node,browser --browsers=chromium,firefox]
//
// Targets (issue 11): through HAProxy at least 0.7× the direct throughput and at
// most 0.3 ms added to the ping-pong p50. A run that fails or stalls is counted
// in the table, not timed, and fails the throughput (or p50) target of its row.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PATHS, PATH_LABELS, path_missing, start_path } from './proxy-paths.mjs';
import { node_run, node_transports } from './proxy-node.mjs';
import { BROWSER_PATHS, bench_pages, open_browser } from './proxy-browser.mjs';
import { new_row, record, summarize, format_rows } from './proxy-report.mjs';

const DEFAULTS = { runs: 5, mib: 128, rounds: 2000, 'browser-rounds': 1000, duration: 2000 };
const QUICK = { runs: 1, mib: 8, rounds: 300, 'browser-rounds': 200, duration: 1000 };
const { values: flags } = parseArgs({
    options: {
        quick: { type: 'boolean', default: false },
        parts: { type: 'string', default: 'node,browser' },
        browsers: { type: 'string', default: 'chromium,firefox' },
        ...Object.fromEntries(Object.keys(DEFAULTS).map(name => [name, { type: 'string' }]))
    }
});
const sizes = Object.fromEntries(Object.entries(flags.quick ? QUICK : DEFAULTS)
    .map(([name, value]) => [name, Number(flags[name] ?? value)]));
const parts = flags.parts.split(',');
const browsers = flags.browsers.split(',').filter(Boolean);
const log = process.env.BENCH_DEBUG ? console.error : () => {};
const load = () => loadavg().map(n => n.toFixed(2)).join(' ');

const started_at = Date.now();
const load_before = load();
console.log(`load average before: ${load_before}`);

// The backends serve the bench pages cross-origin isolated (fine timers).
process.env.HTTP2_DUPLEX_BACKEND ||= fileURLToPath(new URL('isolated-backend.mjs', import.meta.url));
const pages = await bench_pages();
const paths = {};
for (const name of PATHS) {
    const why_not = path_missing(name);
    if (why_not) {
        console.log(`${name}: skipped, ${why_not}`);
        continue;
    }
    paths[name] = await start_path(name, pages.dir);
}

// Runs `client` (run(path, transport, sizes)) over each of its paths and
// transports, `sizes.runs` times round; rows in path order.
async function measure(name, client, path_names, transports_of, run_sizes) {
    const rows = [];
    for (const path of path_names.filter(p => paths[p])) {
        for (const transport of transports_of(path)) {
            rows.push(new_row(name, path, transport));
        }
    }
    for (let run = 0; run < sizes.runs; run++) {
        for (const row of rows.filter(r => !r.na)) {
            log(name, row.path, row.transport, `run ${run + 1}`);
            const result = await client.run(paths[row.path], row.transport, run_sizes);
            // A WebSocket that cannot open on this path is not measured: the
            // row says what transport 'auto' uses there instead.
            if (run === 0 && row.transport === 'websocket' && result.echo instanceof Error && result.pp instanceof Error &&
                client.auto_transport) {
                const fallback = await client.auto_transport(paths[row.path]).catch(() => null);
                if (fallback && fallback !== 'websocket') {
                    row.na = `n/a, falls back (to ${fallback})`;
                    row.errors.push(`not measured, 'auto' uses ${fallback}: ${String(result.echo.message).split('\n')[0]}`);
                    continue;
                }
            }
            record(row, result);
        }
    }
    return rows;
}

const results = { sizes, load: { before: load_before }, browsers: {}, tables: {} };
try {
    if (parts.includes('node')) {
        const rows = await measure('node', { run: node_run }, PATHS, node_transports,
            { mib: sizes.mib, rounds: sizes.rounds });
        results.tables.node = summarize(rows);
        console.log(`\n${format_rows(`Node client, one duplex; median of ${sizes.runs} runs; echo of ${sizes.mib} MiB in ` +
            `64 KiB writes; ping-pong ${sizes.rounds} × 64 B (load average now ${load()})`, 'MiB/s', results.tables.node)}`);
    }
    for (const name of parts.includes('browser') ? browsers : []) {
        const browser = await open_browser(name);
        try {
            results.browsers[name] = browser.version;
            const rows = await measure(name, browser, BROWSER_PATHS, () => browser.transports(),
                { duration: sizes.duration, rounds: sizes['browser-rounds'] });
            results.tables[name] = summarize(rows);
        } finally {
            await browser.close();
        }
        console.log(`\n${format_rows(`${browser.version}, browser client, one duplex; median of ${sizes.runs} runs; ` +
            `echo of 64 KiB writes for ${sizes.duration} ms; ping-pong ≤ ${sizes['browser-rounds']} × 64 B ` +
            `(load average now ${load()})`, 'MB/s', results.tables[name])}`);
    }
} finally {
    for (const path of Object.values(paths)) {
        await path.stop();
    }
    pages.remove();
}

results.load.after = load();
results.seconds = Math.round((Date.now() - started_at) / 1000);
console.log(`\nload average after: ${results.load.after}; ${results.seconds} s; paths: ` +
    Object.keys(paths).map(p => PATH_LABELS[p]).join(', '));
mkdirSync(new URL('results/', import.meta.url), { recursive: true });
// A quick or partial run does not replace the recorded full run.
const full = !flags.quick && parts.includes('node') && parts.includes('browser');
const file = new URL(`results/${full ? 'proxies' : 'partial.proxies'}.json`, import.meta.url);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(`wrote ${fileURLToPath(file)}`);
