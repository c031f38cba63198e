// npm run bench [-- --quick | --duration=ms --repeat=n --messages=n --rounds=n --latency=ms --only=id --cpu-prof]
// Runs our server + client, http2-duplex 6.0.3's server + client and a ws
// WebSocket echo side by side in one headless Chromium; prints a table with
// ratios to 6.0.3 and writes bench/results/latest.{json,svg}.
import { fork } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { IMPLS, parse_flags, define_cases } from './cases.mjs';
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

async function run_once(bench_case, impl, pages, servers) {
    const page = await pages(impl, bench_case.latency);
    const cpu_before = await servers[impl].cpu();
    const browser_before = browser.cpu_sample();
    const result = await page.run(bench_case.workload, bench_case.options, bench_case.params);
    const browser_after = browser.cpu_sample();
    const cpu_ms = (await servers[impl].cpu() - cpu_before) / 1000;
    if (!result.ok) {
        throw new Error(`${bench_case.id} ${impl}: the echo did not match what was sent`);
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
async function run_case(bench_case, repeat, pages, servers) {
    const runs = Object.fromEntries(bench_case.impls.map(impl => [impl, []]));
    for (let r = 0; r < repeat; r++) {
        for (const impl of bench_case.impls) {
            runs[impl].push(await run_once(bench_case, impl, pages, servers));
        }
    }
    const key = bench_case.rows[0].key;
    const measured = {};
    for (const [impl, list] of Object.entries(runs)) {
        const sorted = [...list].sort((a, b) => a[key] - b[key]);
        const mb = list.reduce((n, run) => n + run.bytes, 0) / 1e6;
        measured[impl] = {
            ...sorted[Math.floor((sorted.length - 1) / 2)],
            cpu_ms_per_mb: list.reduce((n, run) => n + run.cpu_ms, 0) / mb,
            browser_cpu_ms_per_mb: browser_cpu_per_mb(list, mb),
            runs: list.map(run => run[key])
        };
        process.stderr.write(`  ${bench_case.id} ${impl}: ${measured[impl].runs.map(x => x.toPrecision(3)).join(' ')}\n`);
    }
    return measured;
}

const sizes = parse_flags(process.argv.slice(2));
const cases = define_cases(sizes);
const servers = Object.fromEntries(await Promise.all(IMPLS.map(async impl => [impl, await start_child(impl, sizes)])));
const browser = await launch_bench_browser();
const open_pages = new Map();
const pages = (impl, latency = 0) => {
    const key = `${impl}/${latency}`;
    if (!open_pages.has(key)) {
        open_pages.set(key, open_page(browser, servers[impl], latency));
    }
    return open_pages.get(key);
};

try {
    // Warm up every server's JIT and connection before anything is measured.
    for (const impl of IMPLS) {
        await (await pages(impl)).run('throughput', {}, { duplexes: 1, chunk_size: 65536, duration_ms: 500 });
    }
    const started = Date.now();
    const measured = [];
    for (const bench_case of cases) {
        measured.push({ ...bench_case, results: await run_case(bench_case, sizes.repeat, pages, servers) });
    }
    const report = {
        date: new Date().toISOString(),
        node: process.version,
        browser: browser.version,
        sizes,
        seconds: (Date.now() - started) / 1000,
        cases: measured.map(({ id, mode, workload, params, latency, rows, results }) =>
            ({ id, mode, workload, params, latency, rows, results }))
    };
    report.targets = check_targets(report);
    console.log(format_table(report));
    console.log(format_cpu_table(report));
    console.log(format_targets(report.targets));
    // Partial or tuned runs must not replace the committed results.
    const name = sizes.quick || sizes.only || sizes.ours_options ? 'partial' : 'latest';
    mkdirSync(results_dir, { recursive: true });
    writeFileSync(new URL(`${name}.json`, results_dir), JSON.stringify(report, null, 2) + '\n');
    writeFileSync(new URL(`${name}.svg`, results_dir), draw_chart(report));
    console.log(`\nwrote bench/results/${name}.json and ${name}.svg`);
} finally {
    for (const page of open_pages.values()) {
        await (await page).close();
    }
    await browser.close();
    await Promise.all(Object.values(servers).map(server => server.stop()));
}
