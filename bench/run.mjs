// npm run bench [-- --quick | --browsers=chromium,firefox | --duration=ms --repeat=n --messages=n
//                  --rounds=n --latency=ms --only=text --cpu-prof --ours-options=JSON --no-node]
// Runs our server + client over each of its transports (websocket, streaming,
// per-write), http2-duplex 6.0.3's server + client (streaming, per-write) and a ws
// WebSocket echo side by side, in headless Chromium and then Firefox; prints a table
// per browser with ratios to each transport's baseline and writes
// bench/results/latest.{json,svg}. Then the Node clients (bench/node-client.mjs:
// connect() over each transport against the ws client), unless --no-node.
import { fork } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { SERVERS, SERVER_OF, parse_flags, define_cases } from './cases.mjs';
import { format_table, format_cpu_table, check_targets, format_targets } from './report.mjs';
import { draw_chart } from './chart.mjs';
import { launch_bench_browser } from './browser.mjs';
import { cpu_between } from './browser-cpu.mjs';

const results_dir = new URL('results/', import.meta.url);

// A server child per implementation, so its cpuUsage() is its own.
function start_child(impl, { cpu_prof, ours_options }) {
    const exec_argv = cpu_prof ? ['--cpu-prof', `--cpu-prof-dir=${new URL('profiles/', results_dir).pathname}`,
        `--cpu-prof-name=${impl}-${process.pid}.cpuprofile`] : [];
    const child = fork(new URL('server.mjs', import.meta.url), [impl, ours_options || '{}'], { execArgv: exec_argv });
    const replies = [];
    child.on('message', msg => replies.shift()?.(msg));
    const next = () => new Promise(resolve => replies.push(resolve));
    return next().then(ready => ({
        ...ready,
        cpu: () => {
            const reply = next();
            child.send('cpu');
            return reply.then(msg => msg.cpu);
        },
        stop: () => new Promise(resolve => {
            child.once('exit', resolve);
            child.send('exit');
        })
    }));
}

// A page on the implementation's own origin with the bench workloads loaded.
async function open_page(browser, server, latency) {
    const page = await browser.page(server.page, server.bench_script, latency);
    return {
        run: (workload, options, params) => page.run(workload, server.target, options, params),
        close: page.close
    };
}

// One browser and its pages: one per implementation and transport (and latency),
// each its own browser context, so its own HTTP/2 connection.
async function open_browser(name, servers) {
    const browser = await launch_bench_browser(name);
    const open_pages = new Map();
    const key_of = (impl, transport, latency) => `${impl}/${transport}/${latency}`;
    return {
        browser,
        pages: (impl, transport, latency = 0) => {
            const key = key_of(impl, transport, latency);
            if (!open_pages.has(key)) {
                open_pages.set(key, open_page(browser, servers[SERVER_OF[impl]], latency));
            }
            return open_pages.get(key);
        },
        // After a failed run: the next run gets a new page (and connection).
        async drop(impl, transport, latency = 0) {
            const key = key_of(impl, transport, latency);
            const page = open_pages.get(key);
            open_pages.delete(key);
            await (await page)?.close().catch(() => {});
        },
        async close() {
            for (const page of open_pages.values()) {
                await (await page).close().catch(() => {});
            }
            await browser.close();
        }
    };
}

// One run. A run whose echo does not match, or that used another transport, stops
// the bench; one that failed with an error (the client's or the server's) is
// recorded as failed and reported with the table.
async function run_once(bench_case, impl, session, all_servers) {
    const server = all_servers[SERVER_OF[impl]];
    const page = await session.pages(impl, bench_case.transport, bench_case.latency);
    const cpu_before = await server.cpu();
    const browser_before = session.browser.cpu_sample();
    let result;
    try {
        result = await page.run(bench_case.workload, bench_case.impls[impl], bench_case.params);
    } catch (err) {
        const error = String(err.message).split('\n')[0];
        process.stderr.write(`  ${bench_case.key} ${impl}: run failed: ${error}\n`);
        await session.drop(impl, bench_case.transport, bench_case.latency);
        return { error };
    }
    const browser_after = session.browser.cpu_sample();
    const cpu_ms = (await server.cpu() - cpu_before) / 1000;
    if (!result.ok) {
        throw new Error(`${bench_case.key} ${impl}: the echo did not match what was sent`);
    }
    if (result.transport !== bench_case.transport) {
        throw new Error(`${bench_case.key} ${impl}: ran over ${result.transport}, not ${bench_case.transport}`);
    }
    const browser_cpu_ms = cpu_between(browser_before, browser_after);
    return { ...result, cpu_ms, browser_cpu_ms };
}

// Over all runs, per MB: { renderer: ms, network: ms, … } of the browser's processes.
function browser_cpu_per_mb(runs, mb) {
    const totals = {};
    for (const run of runs) {
        for (const [type, ms] of Object.entries(run.browser_cpu_ms)) {
            totals[type] = (totals[type] || 0) + ms;
        }
    }
    return Object.fromEntries(Object.entries(totals).map(([type, ms]) => [type, ms / mb]));
}

// Runs are interleaved across implementations; each keeps its median run (by the
// case's first row) and the CPU time per MB over all its runs.
async function run_case(bench_case, repeat, session, servers) {
    const impls = Object.keys(bench_case.impls);
    const runs = Object.fromEntries(impls.map(impl => [impl, []]));
    for (let r = 0; r < repeat; r++) {
        for (const impl of impls) {
            runs[impl].push(await run_once(bench_case, impl, session, servers));
        }
    }
    const key = bench_case.rows[0].key;
    const measured = {};
    for (const [impl, all] of Object.entries(runs)) {
        const errors = all.filter(run => run.error).map(run => run.error);
        const list = all.filter(run => !run.error);
        if (list.length === 0) {
            measured[impl] = { errors, runs: [] };
            continue;
        }
        const sorted = [...list].sort((a, b) => a[key] - b[key]);
        const mb = list.reduce((n, run) => n + run.bytes, 0) / 1e6;
        const { browser_cpu_ms, ...median } = sorted[Math.floor((sorted.length - 1) / 2)];
        measured[impl] = {
            ...median,
            cpu_ms_per_mb: list.reduce((n, run) => n + run.cpu_ms, 0) / mb,
            browser_cpu_ms_per_mb: browser_cpu_per_mb(list, mb),
            runs: list.map(run => run[key]),
            ...(errors.length > 0 ? { errors } : {})
        };
        process.stderr.write(`  ${bench_case.key} ${impl}: ${measured[impl].runs.map(x => x.toPrecision(3)).join(' ')}\n`);
    }
    return measured;
}

const load = () => loadavg().map(x => Number(x.toFixed(2)));

// Every case of one browser; a warm-up run of each implementation and transport first.
async function run_browser(name, cases, servers, repeat) {
    const session = await open_browser(name, servers);
    const load_before = load();
    const started = Date.now();
    try {
        process.stderr.write(`${session.browser.version} (load ${load_before.join(' ')})\n`);
        const warmed = new Set();
        for (const bench_case of cases.filter(c => !c.latency)) {
            for (const [impl, options] of Object.entries(bench_case.impls)) {
                const key = `${impl} ${bench_case.transport}`;
                if (!warmed.has(key)) {
                    warmed.add(key);
                    await (await session.pages(impl, bench_case.transport)).run('throughput', options, { duplexes: 1, chunk_size: 65536, duration_ms: 300 });
                }
            }
        }
        const measured = [];
        for (const bench_case of cases) {
            const results = bench_case.unsupported ? {} : await run_case(bench_case, repeat, session, servers);
            measured.push({ ...bench_case, results });
        }
        return {
            info: { version: session.browser.version, seconds: (Date.now() - started) / 1000, load_before, load_after: load() },
            measured
        };
    } finally {
        await session.close();
    }
}

const sizes = parse_flags(process.argv.slice(2));
const cases = define_cases(sizes);
const servers = Object.fromEntries(await Promise.all(SERVERS.map(async impl => [impl, await start_child(impl, sizes)])));

try {
    const started = Date.now();
    const browsers = {};
    const measured = [];
    for (const name of sizes.browsers) {
        const mine = cases.filter(c => c.browser === name);
        if (mine.length > 0) {
            const ran = await run_browser(name, mine, servers, sizes.repeat);
            browsers[name] = ran.info;
            measured.push(...ran.measured);
        }
    }
    const report = {
        date: new Date().toISOString(),
        node: process.version,
        browsers,
        sizes,
        seconds: (Date.now() - started) / 1000,
        cases: measured.map(({ id, key, browser, transport, baseline, workload, params, latency, rows, unsupported, results }) =>
            ({ id, key, browser, transport, baseline, workload, params, latency, rows, unsupported, results }))
    };
    report.targets = check_targets(report);
    for (const name of Object.keys(browsers)) {
        console.log(format_table(report, name));
        console.log(format_cpu_table(report, name));
    }
    console.log(format_targets(report.targets));
    // Partial or tuned runs must not replace the committed results.
    const partial = sizes.quick || sizes.only || sizes.ours_options || sizes.browsers.length < 2;
    const name = partial ? 'partial' : 'latest';
    mkdirSync(results_dir, { recursive: true });
    writeFileSync(new URL(`${name}.json`, results_dir), JSON.stringify(report, null, 2) + '\n');
    writeFileSync(new URL(`${name}.svg`, results_dir), draw_chart(report));
    console.log(`\nwrote bench/results/${name}.json and ${name}.svg (${report.seconds.toFixed(0)} s)`);
} finally {
    await Promise.all(Object.values(servers).map(server => server.stop()));
}

if (!sizes.no_node) {
    const node_client = await import('./node-client.mjs');
    const node_argv = sizes.quick ? ['--quick'] : [];
    console.log('\nNode clients (bench/node-client.mjs)');
    node_client.print_and_save(await node_client.run(node_argv), sizes.quick);
}
