// Real browsers through the real proxies: Chromium (request streaming and one
// POST per write) and Firefox (one POST per write), each on a page served
// through the proxy (same origin) and on a page of another origin (CORS), to
// three Node processes n1..n3 behind HAProxy (h2c, routing on the node prefix)
// and behind nginx (HTTP/1.1). Every byte is checked both ways by SHA-256.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { free_port, skip_unless, start_backends, start_haproxy, start_nginx, DUPLEX_PATH } from './proxy/harness.mjs';
import { assert_spread } from './proxy/cases.mjs';
import { static_dir, page_server, echo_in_page, CLIENT } from './proxy/pages.mjs';
import { launch_chromium, launch_firefox, launch_webkit, webkit_missing } from './browser/browsers.mjs';

const skip = skip_unless('haproxy', 'nginx') || (!process.env.CI && webkit_missing()) || false;
const DUPLEXES = 100;
const SIZE = 64 * 1024;

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

    // 'auto': a WebSocket (RFC 8441) through HAProxy, which carries it to the
    // h2c backends; through nginx, which offers no RFC 8441, the fetch path.
    const cases = [
        { browser: 'chromium', transport: 'auto', expect: { haproxy: 'websocket', nginx: 'streaming' } },
        { browser: 'firefox', transport: 'auto', expect: { haproxy: 'websocket', nginx: 'per-write' } },
        // WebKitGTK has no RFC 8441: its WebSocket goes over HTTP/1.1, which HAProxy
        // carries on to the h2c backends as an extended CONNECT.
        { browser: 'webkit', transport: 'auto', expect: { haproxy: 'websocket', nginx: 'per-write' } },
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
                        const wanted = expect?.[name] ?? transport;
                        assert.ok(used.has(wanted), `${wanted} in use: ${[...used]}`);
                        assert.deepEqual([...used], [wanted], 'transports in use');
                        // A page cannot read a WebSocket's answer headers: the backends say
                        // where each duplex opened.
                        const nodes = backends[name].flatMap((b, i) =>
                            b.events.slice(marks[i]).filter(e => e.event === 'duplex').map(() => b.node_id));
                        assert.equal(nodes.length, results.length, 'one duplex opened per duplex made');
                        // Through nginx the page's first WebSocket is refused (501), once.
                        const refused = transport === 'auto' && name === 'nginx' ? 1 : 0;
                        assert_spread(nodes, backends[name], marks, refused);
                    } finally {
                        await page.close();
                    }
                });
            }
        }
    }
});
