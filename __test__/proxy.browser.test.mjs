// Real browsers through the real proxies: Chromium, Firefox and WebKitGTK on
// their WebSockets ('auto'), and the fetch transports forced, each on a page served
// through the proxy (same origin) and on a page of another origin (CORS), to
// three Node processes n1..n3 behind HAProxy (h2c, routing on the node prefix)
// and behind nginx (HTTP/1.1). Every byte is checked both ways by SHA-256.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { free_port, skip_unless, start_backends, start_haproxy, start_nginx, within, DUPLEX_PATH } from '../support/proxy/harness.mjs';
import { assert_spread } from '../support/proxy/cases.mjs';
import { static_dir, page_server, echo_in_page, CLIENT } from '../support/proxy/pages.mjs';
import { launch_chromium, launch_firefox, launch_webkit, webkit_missing } from '../support/browser/browsers.mjs';

const skip = skip_unless('haproxy', 'nginx') || (!process.env.CI && webkit_missing()) || false;
const DUPLEXES = 100;
const SIZE = 64 * 1024;
// Node kill: bytes echoed on every duplex before the kill, and again on the others after it.
const KILL_ECHOED = 64 * 1024;
// What each duplex may have written and not yet had back: Chromium's per-write
// transport, written as fast as its window allows on 12 duplexes, echoed
// nothing for about 30 s (see the commit message).
const KILL_UNECHOED = 256 * 1024;
// How soon after the kill the killed node's duplexes must have failed.
const PROMPT_MS = 5000;

// In the page, `n` duplexes write and check their echo; once each has had
// KILL_ECHOED bytes back, node n2 is killed (SIGKILL). Its duplexes must fail
// with an error, promptly, never end; the others go on, end, and get every byte
// back. Resolves to figures for the report.
async function kill_n2_under_page(page, backends, url, n, options) {
    const opened = await within(page.call('pump_many', CLIENT, url, n, KILL_ECHOED, KILL_UNECHOED, options), 30000,
        `${KILL_ECHOED} bytes echoed on each duplex`);
    for (const { id, received } of opened) {
        assert.ok(received >= KILL_ECHOED, `duplex ${id}: ${received} bytes echoed before the kill`);
    }
    const doomed = opened.filter(d => d.id.startsWith('n2.'));
    const kept = opened.filter(d => !d.id.startsWith('n2.'));
    assert.ok(doomed.length > 0 && kept.length > 0, `duplexes on n2 and elsewhere: ${opened.map(d => d.id)}`);
    const killed_at = Date.now();
    await backends.find(b => b.node_id === 'n2').kill();

    const failed = await within(page.call('closed_pumps', doomed.map(d => d.key)), 3 * PROMPT_MS,
        'the killed node\'s duplexes to close');
    const fail_ms = failed.map(d => d.failed_at - killed_at);
    const errors = new Set();
    for (const d of failed) {
        assert.ok(d.error, `duplex ${d.id} of the killed node: an error (events ${d.order})`);
        assert.ok(!d.order.includes('end'), `duplex ${d.id} of the killed node: no clean end (events ${d.order})`);
        assert.equal(d.mismatch, null, `duplex ${d.id} of the killed node: bytes before the kill`);
        errors.add(`${d.error.name} ${d.error.code}: ${d.order.find(e => e.startsWith('error: ')).slice(7)}`);
    }
    assert.ok(Math.max(...fail_ms) < PROMPT_MS, `the killed node's duplexes failed ${fail_ms} ms after the kill`);

    const finished = await within(page.call('finish_pumps', kept.map(d => d.key), KILL_ECHOED), 30000,
        'the others to go on and end');
    for (const d of finished) {
        assert.equal(d.error, null, `duplex ${d.id}: no error (events ${d.order})`);
        assert.ok(d.order.includes('end'), `duplex ${d.id}: ended (events ${d.order})`);
        assert.equal(d.mismatch, null, `duplex ${d.id}: echo`);
        assert.equal(d.unechoed, 0, `duplex ${d.id}: every byte echoed`);
    }
    return {
        transports: [...new Set(opened.map(d => d.transport))],
        killed: doomed.length,
        kept: kept.length,
        fail_ms_min: Math.min(...fail_ms),
        fail_ms_max: Math.max(...fail_ms),
        errors: [...errors]
    };
}

describe('browsers through HAProxy and nginx', { skip }, () => {
    const started = {};
    const proxies = {};
    const backends = {};
    before(async () => {
        started.pages = await static_dir();
        started.page_server = await page_server(started.pages.dir);
        const ports = { haproxy: await free_port(), nginx: await free_port() };
        const cors = {
            origins: [...Object.values(ports).map(port => `https://127.0.0.1:${port}`), started.page_server.origin],
            credentials: false
        };
        const options = { static_dir: started.pages.dir, options: { cors } };
        [backends.haproxy, backends.nginx, started.chromium, started.firefox, started.webkit] = await Promise.all([
            start_backends('h2c', options),
            start_backends('http1', options),
            launch_chromium(),
            launch_firefox(),
            launch_webkit()
        ]);
        proxies.haproxy = await start_haproxy(backends.haproxy, 'haproxy', ports.haproxy);
        proxies.nginx = await start_nginx(backends.nginx, ports.nginx);
    });
    after(async () => {
        await started.chromium?.close();
        await started.firefox?.close();
        await started.webkit?.close();
        for (const proxy of Object.values(proxies)) {
            await proxy.stop();
        }
        await Promise.all(Object.values(backends).flat().map(b => b.stop()));
        await started.page_server?.close();
        started.pages?.remove();
    });

    // 'auto': a WebSocket everywhere. Through HAProxy over HTTP/2 (RFC 8441), which
    // it carries to the h2c backends; through nginx, which offers no RFC 8441, over
    // HTTP/1.1 (RFC 6455), which it passes on as an upgrade.
    const cases = [
        { browser: 'chromium', transport: 'auto', expect: 'websocket' },
        { browser: 'firefox', transport: 'auto', expect: 'websocket' },
        // WebKitGTK has no RFC 8441: its WebSocket goes over HTTP/1.1 through both
        // (HAProxy carries it on to the h2c backends as an extended CONNECT).
        { browser: 'webkit', transport: 'auto', expect: 'websocket' },
        { browser: 'chromium', transport: 'streaming' },
        { browser: 'chromium', transport: 'per-write' },
        { browser: 'firefox', transport: 'per-write' },
        // WebKitGTK: no request streaming, no RFC 8441, a new connection per POST.
        { browser: 'webkit', transport: 'per-write' }
    ];
    for (const name of ['haproxy', 'nginx']) {
        for (const { browser, transport, expect } of cases) {
            // WebKit: a new connection per POST, at most 6 per host, and a
            // preflight per cross-origin POST: fewer duplexes.
            for (const cross_origin of [false, true]) {
                const where = cross_origin ? 'a page of another origin' : 'a page served through the proxy';
                const duplexes = browser === 'webkit' ? 6 : DUPLEXES;
                it(`${name}: ${browser}, ${transport}, ${where}: ${duplexes} duplexes over n1..n3, every byte echoed`, { timeout: 60000 }, async () => {
                    const proxy = proxies[name];
                    const origin = cross_origin ? started.page_server.origin : proxy.origin;
                    const marks = backends[name].map(b => b.events.length);
                    const page = await started[browser].page(`${origin}/page.html`);
                    try {
                        const url = `${proxy.origin}${DUPLEX_PATH}`;
                        const results = browser === 'webkit' ?
                            await page.call('echo_many', CLIENT, url, duplexes, SIZE, { transport }) :
                            await echo_in_page(page.page, url, DUPLEXES, SIZE, { transport });
                        for (const { id, sent, read } of results) {
                            assert.equal(sent.length, SIZE, `duplex ${id}: sent`);
                            assert.deepEqual(read, sent, `duplex ${id}: echo`);
                        }
                        const used = new Set(results.map(r => r.transport));
                        const wanted = expect ?? transport;
                        assert.ok(used.has(wanted), `${wanted} in use: ${[...used]}`);
                        assert.deepEqual([...used], [wanted], 'transports in use');
                        // A page cannot read a WebSocket's answer headers: the backends say
                        // where each duplex opened.
                        const nodes = backends[name].flatMap((b, i) =>
                            b.events.slice(marks[i]).filter(e => e.event === 'duplex').map(() => b.node_id));
                        assert.equal(nodes.length, results.length, 'one duplex opened per duplex made');
                        assert_spread(nodes, backends[name], marks);
                    } finally {
                        await page.close();
                    }
                });
            }
        }
    }

    // Node kill, last (n2 restarts after each, on the same port): Chromium both
    // ways, Firefox and WebKitGTK as 'auto' picks, on a page served through the proxy.
    const kill_cases = cases.filter(c => c.transport === 'auto' || (c.browser === 'chromium' && c.transport === 'per-write'));
    for (const name of ['haproxy', 'nginx']) {
        for (const { browser, transport, expect } of kill_cases) {
            const duplexes = browser === 'webkit' ? 6 : 12;
            it(`${name}: ${browser}, ${transport}: n2 killed under ${duplexes} duplexes: its duplexes fail at the client, the others finish intact`, { timeout: 90000 }, async () => {
                const proxy = proxies[name];
                const page = await started[browser].page(`${proxy.origin}/page.html`);
                try {
                    const figures = await kill_n2_under_page(page, backends[name], `${proxy.origin}${DUPLEX_PATH}`, duplexes, { transport });
                    assert.deepEqual(figures.transports, [expect ?? transport], 'transports in use');
                    console.log(`# ${name}: ${browser} ${transport} node kill ${JSON.stringify(figures)}`);
                } finally {
                    await page.close();
                    await backends[name].find(b => b.node_id === 'n2').restart();
                }
            });
        }
    }
});
