// The bench's browsers: launch_bench_browser('chromium' | 'firefox').
//
// Chromium is launched by playwright-core. Pages are made over a second, raw CDP
// connection that enables only the DevTools domains a case needs: Playwright's own
// pages track every request, and that alone caps Chromium's non-streaming request
// bodies at ~10-19 MB/s (docs/benchmarks.md), which would measure DevTools instead
// of the client.
//
// Firefox ESR is launched by puppeteer-core over WebDriver BiDi with
// `networkEnabled: false`: puppeteer then subscribes to no network events, so no
// request is reported to the driver (with them a small POST took about 2x as long,
// browser-testing-notes.md). Pages only navigate and evaluate.
import net from 'node:net';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { browser_cpu_reader } from './browser-cpu.mjs';
import { firefox_launch_options } from '../support/browser/browsers.mjs';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--ignore-certificate-errors'];

function free_port() {
    return new Promise(resolve => {
        const server = net.createServer().listen(0, '127.0.0.1', () => {
            const { port } = server.address();
            server.close(() => resolve(port));
        });
    });
}

// A minimal CDP client over the browser's WebSocket endpoint (flattened sessions).
async function cdp_connect(url) {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
    await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
    });
    let next_id = 0;
    const pending = new Map();
    ws.on('message', data => {
        const msg = JSON.parse(data);
        const waiting = pending.get(msg.id);
        if (waiting) {
            pending.delete(msg.id);
            msg.error ? waiting.reject(new Error(msg.error.message)) : waiting.resolve(msg.result);
        }
    });
    return {
        send: (method, params = {}, sessionId) => new Promise((resolve, reject) => {
            const id = ++next_id;
            pending.set(id, { resolve, reject });
            ws.send(JSON.stringify({ id, method, params, sessionId }));
        }),
        close: () => ws.close()
    };
}

// Evaluates an async expression in a page session; throws what the page threw.
async function evaluate(cdp, session, expression) {
    const { result, exceptionDetails } = await cdp.send('Runtime.evaluate',
        { expression, awaitPromise: true, returnByValue: true }, session);
    if (exceptionDetails) {
        throw new Error(exceptionDetails.exception?.description || exceptionDetails.text);
    }
    return result.value;
}

async function launch_chromium() {
    const port = await free_port();
    const port_flag = `--remote-debugging-port=${port}`;
    const browser = await chromium.launch({
        executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
        args: [...ARGS, port_flag]
    });
    const version = await (await fetch(`http://127.0.0.1:${port}/json/version`)).json();
    const cdp = await cdp_connect(version.webSocketDebuggerUrl);

    return {
        name: 'chromium',
        version: `Chromium ${browser.version()}`,
        // A CPU sample of every browser process; compare two with cpu_between().
        cpu_sample: browser_cpu_reader(port_flag),
        // A new browser context each: its own HTTP/2 connection to the server.
        // With `latency`, DevTools network emulation starts every request that
        // many ms late (the Network domain is then on for this page only).
        async page(url, script, latency = 0) {
            const { browserContextId } = await cdp.send('Target.createBrowserContext');
            const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank', browserContextId });
            const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
            if (latency) {
                await cdp.send('Network.enable', {}, sessionId);
                await cdp.send('Network.emulateNetworkConditions',
                    { offline: false, latency, downloadThroughput: -1, uploadThroughput: -1 }, sessionId);
            }
            await cdp.send('Page.navigate', { url }, sessionId);
            await evaluate(cdp, sessionId, `new Promise(resolve => document.readyState === 'complete' ?
                resolve() : addEventListener('load', () => resolve()))`);
            await evaluate(cdp, sessionId, `import(${JSON.stringify(script)}).then(m => { window.bench = m; })`);
            return {
                run: (name, ...args) => evaluate(cdp, sessionId,
                    `window.bench[${JSON.stringify(name)}](...${JSON.stringify(args)})`),
                // A DevTools command to this page (diagnostics, e.g. Profiler.*).
                cdp: (method, params) => cdp.send(method, params, sessionId),
                close: () => cdp.send('Target.disposeBrowserContext', { browserContextId })
            };
        },
        async close() {
            cdp.close();
            await browser.close();
        }
    };
}

async function launch_firefox() {
    const { default: puppeteer } = await import('puppeteer-core');
    const browser = await puppeteer.launch(firefox_launch_options());
    return {
        name: 'firefox',
        version: `Firefox ${(await browser.version()).replace(/^firefox\//, '')}`,
        cpu_sample: browser_cpu_reader(browser.process().pid),
        // A new browser context (user context) each. No latency emulation here.
        async page(url, script, latency = 0) {
            if (latency) {
                throw new Error('latency emulation is Chromium only');
            }
            const context = await browser.createBrowserContext();
            const page = await context.newPage();
            await page.goto(url, { waitUntil: 'load' });
            await page.evaluate(src => import(src).then(m => { window.bench = m; }), script);
            return {
                // Only the front tab of the window runs at full speed (a background
                // tab's timers are throttled).
                run: async (name, ...args) => {
                    await page.bringToFront();
                    return page.evaluate((n, a) => window.bench[n](...a), name, args);
                },
                close: () => context.close()
            };
        },
        close: () => browser.close()
    };
}

export function launch_bench_browser(name) {
    return name === 'firefox' ? launch_firefox() : launch_chromium();
}
