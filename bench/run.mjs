// npm run bench [-- --quick | --duration=ms --messages=n --rounds=n --latency=ms --only=id --cpu-prof]
// Runs our server + client, http2-duplex 6.0.3's server + client and a ws
// WebSocket echo side by side in one headless Chromium; prints a table with
// ratios to 6.0.3 and writes bench/results/latest.{json,svg}.
import { fork } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { launch_chromium } from '../__test__/browser/browsers.mjs';
import { IMPLS, parse_flags, define_cases } from './cases.mjs';
import { format_table, check_targets, format_targets } from './report.mjs';
import { draw_chart } from './chart.mjs';

const results_dir = new URL('results/', import.meta.url);

// A server child per implementation, so its cpuUsage() is its own.
function start_child(impl, cpu_prof) {
    const exec_argv = cpu_prof ? ['--cpu-prof', `--cpu-prof-dir=${new URL('profiles/', results_dir).pathname}`,
        `--cpu-prof-name=${impl}-${process.pid}.cpuprofile`] : [];
    const child = fork(new URL('server.mjs', import.meta.url), [impl], { execArgv: exec_argv });
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
    const opened = await browser.page(server.page, { harness: false });
    if (latency) {
        // DevTools emulation delays the start of every request by about `latency`.
        const cdp = await opened.page.context().newCDPSession(opened.page);
        await cdp.send('Network.enable');
        await cdp.send('Network.emulateNetworkConditions', {
            offline: false, latency, downloadThroughput: -1, uploadThroughput: -1
        });
    }
    await opened.page.evaluate(url => import(url).then(m => { window.bench = m; }), server.bench_script);
    return {
        run: (workload, options, params) => opened.page.evaluate(([w, t, o, p]) => window.bench[w](t, o, p),
            [workload, server.target, options, params]),
        close: opened.close
    };
}

async function run_case(bench_case, pages, servers) {
    const measured = {};
    for (const impl of bench_case.impls) {
        const page = await pages(impl, bench_case.latency);
        const cpu_before = await servers[impl].cpu();
        const result = await page.run(bench_case.workload, bench_case.options, bench_case.params);
        const cpu_ms = (await servers[impl].cpu() - cpu_before) / 1000;
        if (!result.ok) {
            throw new Error(`${bench_case.id} ${impl}: the echo did not match what was sent`);
        }
        measured[impl] = { ...result, cpu_ms, cpu_ms_per_mb: cpu_ms / (result.bytes / 1e6) };
        process.stderr.write(`  ${bench_case.id} ${impl}: ${JSON.stringify(measured[impl])}\n`);
    }
    return measured;
}

const sizes = parse_flags(process.argv.slice(2));
const cases = define_cases(sizes);
const servers = Object.fromEntries(await Promise.all(IMPLS.map(async impl => [impl, await start_child(impl, sizes.cpu_prof)])));
const browser = await launch_chromium();
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
        measured.push({ ...bench_case, results: await run_case(bench_case, pages, servers) });
    }
    const report = {
        date: new Date().toISOString(),
        node: process.version,
        browser: browser.version?.(),
        sizes,
        seconds: (Date.now() - started) / 1000,
        cases: measured.map(({ id, mode, workload, params, latency, rows, results }) =>
            ({ id, mode, workload, params, latency, rows, results }))
    };
    report.targets = check_targets(report);
    console.log(format_table(report));
    console.log(format_targets(report.targets));
    mkdirSync(results_dir, { recursive: true });
    writeFileSync(new URL('latest.json', results_dir), JSON.stringify(report, null, 2) + '\n');
    writeFileSync(new URL('latest.svg', results_dir), draw_chart(report));
} finally {
    for (const page of open_pages.values()) {
        await (await page).close();
    }
    await browser.close();
    await Promise.all(Object.values(servers).map(server => server.stop()));
}
