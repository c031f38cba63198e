// The browser half of bench/proxies.mjs: headless Chromium or Firefox running the
// bench workloads of bench/page.mjs (64 KiB echo, 1 duplex; 64 B ping-pong) with our
// browser client over each transport, asked for explicitly, on a page loaded
// through the path itself (so same-origin: the WebSocket's CONNECT rides the
// page's HTTP/2 connection, as browser-testing-notes.md says it must).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { within, DUPLEX_PATH } from '../support/proxy/harness.mjs';
import { static_dir, CLIENT } from '../support/proxy/pages.mjs';
import { launch_bench_browser } from './browser.mjs';
import { BENCH_SCRIPT, TRANSPORTS, unsupported, workloads } from './cases.mjs';

export const BROWSER_PATHS = ['direct', 'haproxy', 'haproxy-stick', 'nginx'];
const TARGET = { kind: 'duplex', client_url: CLIENT, url: DUPLEX_PATH };
const SLACK_MS = 20000;     // a workload this long past its own deadline has stalled

// The files the backends serve: the proxy suites' page and client bundle, and
// the bench workloads. remove() deletes them.
export async function bench_pages() {
    const pages = await static_dir();
    writeFileSync(join(pages.dir, BENCH_SCRIPT.slice(1)), readFileSync(new URL('page.mjs', import.meta.url)));
    return pages;
}

// A browser with one page per path and transport (each its own browser context,
// so its own HTTP/2 connection), kept across runs and replaced after a failure.
export async function open_browser(name) {
    const browser = await launch_bench_browser(name);
    const pages = new Map();
    const page_of = (path, transport) => {
        const key = `${path.name}/${transport}`;
        if (!pages.has(key)) {
            pages.set(key, browser.page(`${path.origin}/page.html`, BENCH_SCRIPT));
        }
        return pages.get(key);
    };
    const drop = async (path, transport) => {
        const key = `${path.name}/${transport}`;
        const page = pages.get(key);
        pages.delete(key);
        await page?.then(p => p.close()).catch(() => {});
    };
    return {
        name,
        version: browser.version,
        // Firefox cannot stream request bodies.
        transports: () => TRANSPORTS.filter(transport => !unsupported(name, transport)),
        // One run of both workloads; a workload that fails, stalls or runs over
        // another transport gives an Error (and the page is replaced).
        async run(path, transport, sizes) {
            const by_name = Object.fromEntries(workloads({ ...sizes, messages: 0 }).map(w => [w.name, w]));
            const one = async (w, check) => {
                try {
                    const page = await page_of(path, transport);
                    const result = await within(page.run(w.workload, TARGET, { transport }, w.params),
                        w.params.duration_ms + SLACK_MS, `${w.workload} (stalled)`);
                    if (result.transport !== transport) {
                        throw new Error(`ran over ${result.transport}`);
                    }
                    if (!result.ok) {
                        throw new Error('the echo did not match what was sent');
                    }
                    check?.(result);
                    return result;
                } catch (err) {
                    await drop(path, transport);
                    return err;
                }
            };
            const echo = await one(by_name['throughput-1']);
            const pp = await one(by_name['ping-pong'], result => {
                if (!result.isolated) {
                    throw new Error('the page is not cross-origin isolated (bench/isolated-backend.mjs): timers are coarse');
                }
            });
            return { echo: echo instanceof Error ? echo : echo.value, pp };
        },
        // What transport 'auto' ends up with on this path (after 'websocket' failed there).
        async auto_transport(path) {
            try {
                const page = await page_of(path, 'auto');
                const params = { size: 64, rounds: 10, warmup: 0, duration_ms: 2000 };
                const result = await within(page.run('ping_pong', TARGET, { transport: 'auto' }, params),
                    SLACK_MS, 'auto probe');
                return result.transport;
            } finally {
                await drop(path, 'auto');
            }
        },
        async close() {
            for (const page of pages.values()) {
                await page.then(p => p.close()).catch(() => {});
            }
            await browser.close();
        }
    };
}
