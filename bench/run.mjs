// npm run bench [-- --quick | --browsers=chromium,firefox | --variants=ws-h2,ws,... | --duration=ms
//                  --repeat=n --messages=n --rounds=n --latency=ms --only=text --cpu-prof
//                  --browser-prof --ours-options=JSON --no-node]
// In headless Chromium and then Firefox, side by side in the same minutes: our
// browser client with each transport forced through make()'s `transport` option
// (WebSocket over HTTP/2 and over HTTP/1.1, streaming POST, POST per write), the
// page's own WebSocket to our server over HTTP/2 and HTTP/1.1 (no client library),
// a `ws` WebSocket echo (the baseline of every ratio) and http2-duplex 6.0.3. Prints
// one table per browser, the targets met or missed, and writes
// bench/results/latest.{json,svg}. Then the Node clients (bench/node-client.mjs:
// connect() over each transport against the ws client) and resume
// (bench/resume.mjs), unless --no-node.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { SERVERS, VARIANTS, parse_flags, define_cases } from './cases.mjs';
import { format_browser, check_targets, format_targets } from './report.mjs';
import { update_docs } from './docs-results.mjs';
import { draw_chart } from './chart.mjs';
import { launch_bench_browser } from './browser.mjs';
import { cpu_between } from './browser-cpu.mjs';

const results_dir = new URL('results/', import.meta.url);

// A child per server, so its cpuUsage() is its own.
function start_child(kind, { cpu_prof, ours_options }) {
    const exec_argv = cpu_prof ? ['--cpu-prof', `--cpu-prof-dir=${new URL('profiles/', results_dir).pathname}`,
        `--cpu-prof-name=${kind}-${process.pid}.cpuprofile`] : [];
    const child = fork(new URL('server.mjs', import.meta.url), [kind, ours_options || '{}'], { execArgv: exec_argv });
    const replies = [];
    let stopping = false;
    let died = null;
    child.on('message', msg => replies.shift()?.resolve(msg));
    // A child that dies (a crash; or SIGBUS: a build copied a new addon over the one
    // it had loaded) must stop the bench, not leave it waiting for a reply.
    child.on('exit', (code, signal) => {
        if (!stopping) {
            died = new Error(`bench/server.mjs ${kind} exited (${signal || `code ${code}`})`);
            replies.splice(0).forEach(reply => reply.reject(died));
        }
    });
    const next = () => died ? Promise.reject(died) : new Promise((resolve, reject) => replies.push({ resolve, reject }));
    return next().then(ready => ({
        ...ready,
        // { cpu: µs so far, websockets: { h2, h1 } opened so far }
        sample: () => {
            const reply = next();
            // A send to a child that just died fails here; its 'exit' rejects the reply.
            child.send('cpu', () => {});
            return reply;
        },
        stop: () => new Promise(resolve => {
            stopping = true;
            if (died) {
                resolve();
                return;
            }
            child.once('exit', resolve);
            child.send('exit', () => {});
        })
    }));
}

// A page on the variant's server's origin with the bench workloads loaded.
async function open_page(browser, server, latency) {
    const page = await browser.page(server.page, server.bench_script, latency);
    return {
        run: (workload, options, params) => page.run(workload, server.target, options, params),
        cdp: page.cdp,
        close: page.close
    };
}

// One browser and its pages: one per variant (and latency), each its own browser
// context, so its own HTTP/2 connection.
async function open_browser(name, servers) {
    const browser = await launch_bench_browser(name);
    const open_pages = new Map();
    const key_of = (variant, latency) => `${variant}/${latency}`;
    return {
        browser,
        pages: (variant, latency = 0) => {
            const key = key_of(variant, latency);
            if (!open_pages.has(key)) {
                open_pages.set(key, open_page(browser, servers[VARIANTS[variant].server], latency));
            }
            return open_pages.get(key);
        },
        // After a failed run: the next run gets a new page (and connection).
        async drop(variant, latency = 0) {
            const key = key_of(variant, latency);
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

// What a run must have used, or the bench measured something else: the transport
// the page reports and, counted by the server, one WebSocket per connection over
// the variant's HTTP version (none for the fetch transports). 'auto' would fall
// back silently; a forced transport must not be measured over another.
function check_run(bench_case, variant, result, websockets) {
    const where = `${bench_case.key} ${variant}`;
    const expected = VARIANTS[variant];
    if (!result.ok) {
        throw new Error(`${where}: the echo did not match what was sent`);
    }
    if (result.transport !== expected.transport) {
        throw new Error(`${where}: ran over ${result.transport}, not ${expected.transport}`);
    }
    const want = { h2: 0, h1: 0, ...(expected.websocket ? { [expected.websocket]: result.connections } : {}) };
    if (websockets.h2 !== want.h2 || websockets.h1 !== want.h1) {
        throw new Error(`${where}: the server saw ${websockets.h2} WebSocket(s) over HTTP/2 and ${websockets.h1} over HTTP/1.1` +
            ` for ${result.connections} connection(s); expected ${want.h2} and ${want.h1}`);
    }
    if (result.isolated === false) {
        throw new Error(`${where}: the page is not cross-origin isolated: its timers are too coarse for a ping-pong`);
    }
}

// --browser-prof (Chromium): the page's JS profile of a run, sampled every 100 µs,
// into bench/results/profiles/ (open in DevTools, or bench/profile-summary.mjs).
async function profiled(page, name, run) {
    await page.cdp('Profiler.enable');
    await page.cdp('Profiler.setSamplingInterval', { interval: 100 });
    await page.cdp('Profiler.start');
    try {
        return await run();
    } finally {
        const { profile } = await page.cdp('Profiler.stop');
        const dir = new URL('profiles/', results_dir);
        mkdirSync(dir, { recursive: true });
        writeFileSync(new URL(`${name}.cpuprofile`, dir), JSON.stringify(profile));
    }
}

let run_count = 0;

// One run. A run that fails check_run stops the bench; one that failed with an
// error (the client's or the server's) is recorded as failed and reported with the table.
async function run_once(bench_case, variant, session, servers, browser_prof) {
    const server = servers[VARIANTS[variant].server];
    const page = await session.pages(variant, bench_case.latency);
    const before = await server.sample();
    const browser_before = session.browser.cpu_sample();
    const run = () => page.run(bench_case.workload, VARIANTS[variant].options, bench_case.params);
    let result;
    try {
        result = await (browser_prof && page.cdp ?
            profiled(page, `${bench_case.key.replace('/', '-')}-${variant}-${++run_count}`, run) : run());
    } catch (err) {
        const error = String(err.message).split('\n')[0];
        process.stderr.write(`  ${bench_case.key} ${variant}: run failed: ${error}\n`);
        await session.drop(variant, bench_case.latency);
        return { error };
    }
    const browser_after = session.browser.cpu_sample();
    const after = await server.sample();
    const websockets = { h2: after.websockets.h2 - before.websockets.h2, h1: after.websockets.h1 - before.websockets.h1 };
    check_run(bench_case, variant, result, websockets);
    return { ...result, websockets, cpu_ms: (after.cpu - before.cpu) / 1000, browser_cpu_ms: cpu_between(browser_before, browser_after) };
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

// Runs are interleaved across variants; each keeps its median run (by the case's
// first row) and the CPU time per MB over all its runs.
async function run_case(bench_case, { repeat, browser_prof }, session, servers) {
    const runs = Object.fromEntries(bench_case.variants.map(variant => [variant, []]));
    for (let r = 0; r < repeat; r++) {
        for (const variant of bench_case.variants) {
            runs[variant].push(await run_once(bench_case, variant, session, servers, browser_prof));
        }
    }
    const key = bench_case.rows[0].key;
    const measured = {};
    for (const [variant, all] of Object.entries(runs)) {
        const errors = all.filter(run => run.error).map(run => run.error);
        const list = all.filter(run => !run.error);
        if (list.length === 0) {
            measured[variant] = { errors, runs: [] };
            continue;
        }
        const sorted = [...list].sort((a, b) => a[key] - b[key]);
        const mb = list.reduce((n, run) => n + run.bytes, 0) / 1e6;
        const { browser_cpu_ms, ...median } = sorted[Math.floor((sorted.length - 1) / 2)];
        measured[variant] = {
            ...median,
            cpu_ms_per_mb: list.reduce((n, run) => n + run.cpu_ms, 0) / mb,
            browser_cpu_ms_per_mb: browser_cpu_per_mb(list, mb),
            runs: list.map(run => run[key]),
            ...(errors.length > 0 ? { errors } : {})
        };
        process.stderr.write(`  ${bench_case.key} ${variant}: ${measured[variant].runs.map(x => x.toPrecision(3)).join(' ')}\n`);
    }
    return measured;
}

const load = () => loadavg().map(x => Number(x.toFixed(2)));

// Every case of one browser; a warm-up run of each variant first.
async function run_browser(name, cases, servers, sizes) {
    const session = await open_browser(name, servers);
    const load_before = load();
    const started = Date.now();
    try {
        process.stderr.write(`${session.browser.version} (load ${load_before.join(' ')})\n`);
        const variants = new Set(cases.filter(c => !c.latency).flatMap(c => c.variants));
        for (const variant of variants) {
            await (await session.pages(variant)).run('throughput', VARIANTS[variant].options, { duplexes: 1, chunk_size: 65536, duration_ms: 300 });
        }
        const measured = [];
        for (const bench_case of cases) {
            measured.push({ ...bench_case, results: await run_case(bench_case, sizes, session, servers) });
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
const needed = SERVERS.filter(kind => sizes.variants.some(variant => VARIANTS[variant].server === kind));
const servers = Object.fromEntries(await Promise.all(needed.map(async kind => [kind, await start_child(kind, sizes)])));

try {
    const started = Date.now();
    const browsers = {};
    const measured = [];
    for (const name of sizes.browsers) {
        const mine = cases.filter(c => c.browser === name);
        if (mine.length > 0) {
            const ran = await run_browser(name, mine, servers, sizes);
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
        variants: Object.fromEntries(sizes.variants.map(name => [name, VARIANTS[name]])),
        cases: measured.map(({ id, key, browser, workload, params, latency, rows, variants, results }) =>
            ({ id, key, browser, workload, params, latency, rows, variants, results }))
    };
    report.targets = check_targets(report);
    for (const name of Object.keys(browsers)) {
        console.log(format_browser(report, name));
    }
    console.log(`\n${format_targets(report.targets)}`);
    // Partial or tuned runs must not replace the committed results.
    const partial = sizes.quick || sizes.only || sizes.ours_options || sizes.cpu_prof || sizes.browser_prof || sizes.browsers.length < 2 ||
        sizes.variants.length < Object.keys(VARIANTS).length;
    const name = partial ? 'partial' : 'latest';
    mkdirSync(results_dir, { recursive: true });
    writeFileSync(new URL(`${name}.json`, results_dir), JSON.stringify(report, null, 2) + '\n');
    writeFileSync(new URL(`${name}.svg`, results_dir), draw_chart(report));
    console.log(`\nwrote bench/results/${name}.json and ${name}.svg (${report.seconds.toFixed(0)} s)`);
    if (!partial) {
        console.log(update_docs(report) ? 'wrote the results section of docs/benchmarks.md' :
            'docs/benchmarks.md has no results markers: not updated');
    }
} finally {
    await Promise.all(Object.values(servers).map(server => server.stop()));
}

if (!sizes.no_node) {
    const node_client = await import('./node-client.mjs');
    const node_argv = sizes.quick ? ['--quick'] : [];
    console.log('\nNode clients (bench/node-client.mjs)');
    node_client.print_and_save(await node_client.run(node_argv), sizes.quick);
    // Resume's figures (bench/resume.mjs): a process of its own, which forks its servers.
    console.log('\nResume (bench/resume.mjs)');
    const resume = fork(new URL('resume.mjs', import.meta.url), node_argv);
    const [code] = await once(resume, 'exit');
    if (code !== 0) {
        throw new Error(`bench/resume.mjs exited with code ${code}`);
    }
}

// Resume in Chromium (bench/resume-browser.mjs): a process of its own, with its servers and browser.
if (sizes.browsers.includes('chromium')) {
    console.log('\nResume in Chromium (bench/resume-browser.mjs)');
    const [code] = await once(fork(new URL('resume-browser.mjs', import.meta.url), sizes.quick ? ['--quick'] : []), 'exit');
    if (code !== 0) {
        throw new Error(`bench/resume-browser.mjs exited with code ${code}`);
    }
}
