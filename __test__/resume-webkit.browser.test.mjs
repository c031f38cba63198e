// Resume in WebKitGTK (docs/protocol.md "Resume"), as resume.browser.test.mjs does it in
// Chromium and Firefox: a page's make(url, { resume: true }) through support/fault-proxy.mjs
// (page → proxy → server) keeps its duplex through cuts and a stall, byte-exact both ways,
// and fails with the server's refusal once a restarted server no longer knows it. WebKit
// has no RFC 8441: each WebSocket is an HTTP/1.1 upgrade on a connection of its own
// (allowHTTP1), which the proxy can cut or stall. The page runs under plain WebDriver, so
// its functions cross as source text (execute/async), not as playwright/puppeteer calls.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { DUPLEX_PATH, OUR_CLIENT } from '../support/browser/server.mjs';
import {
    start_echo_server, echo_in_page, open_in_page, first_error_in_page
} from '../support/browser/resume-pages.mjs';
import { fault_stage } from '../support/browser/fault-stage.mjs';
import { launch_webkit, webkit_missing } from '../support/browser/browsers.mjs';
import { fault_plan } from '../support/fault-proxy.mjs';

const TOTAL = Number(process.env.RESUME_TEST_BYTES || 64 * 1024 * 1024);
const CUTS = 8;
const STALLS = 1;

// A new echo server on the port of `server`, which stops listening; `server.closed`
// settles once its connections have ended.
async function restart(server) {
    const { port } = server.http2_server.address();
    const next = await start_echo_server();
    server.closed = server.close();
    await new Promise(resolve => next.http2_server.close(resolve));
    await new Promise((resolve, reject) => {
        next.http2_server.once('error', reject);
        next.http2_server.listen(port, '127.0.0.1', resolve);
    });
    return next;
}

// Runs `fn(arg)` in the page as an async WebDriver script; its value crosses as JSON.
async function evaluate(page, fn, arg) {
    const result = await page.execute(`const [arg, done] = arguments;
Promise.resolve().then(() => (${fn})(arg)).then(value => done({ value }),
    err => done({ error: String(err) + (err && err.stack ? '\\n' + err.stack : '') }));`, [arg ?? null]);
    if (result.error !== undefined) {
        throw new Error(`page: ${result.error}`);
    }
    return result.value;
}

const missing = webkit_missing();

if (missing && !process.env.CI) {
    console.log(`# WebKitGTK resume suite skipped: ${missing}`);
    test('webkit: resume', { skip: missing }, () => {});
} else if (missing) {
    test('WebKitGTK is installed (CI is set: a missing browser fails)', () => {
        throw new Error(missing);
    });
} else {
    describe('webkit: resume over HTTP/1.1 WebSockets through a fault proxy', () => {
        const s = fault_stage(launch_webkit);

        test(`${TOTAL / 1048576} MiB echo under ${CUTS} cuts and ${STALLS} stall: byte-exact both ways, no error, resumed`, { timeout: 120000 }, async () => {
            const plan = fault_plan({ bytes: TOTAL, cuts: CUTS, stalls: STALLS });
            const page = await s.browser.page(`${s.origin}/page.html`);
            try {
                s.proxy.follow(plan);
                const before = s.proxy.stats();
                const result = await evaluate(page, echo_in_page,
                    { client_url: OUR_CLIENT, url: `${s.origin}${DUPLEX_PATH}`, total: TOTAL, chunk: 65536 });
                const stats = s.proxy.stats();
                const [cuts, stalls] = [stats.cuts - before.cuts, stats.stalls - before.stalls];
                console.log(`# webkit: ${TOTAL} bytes echoed in ${result.ms} ms, ${result.resumed.length} resumes ` +
                    `(downtime ms: ${result.resumed.map(r => r.downtime).join(' ')}), proxy: ${cuts} cuts, ` +
                    `${stalls} stalls, ${stats.accepted - before.accepted} connections, seed ${plan.seed}`);
                assert.equal(result.error, null, `no error (seed ${plan.seed}): ${JSON.stringify({ ...result, sent_hash: undefined, received_hash: undefined })}`);
                // (A resume attempt cut before its answer may move it to a tunnel for a while.)
                assert.ok(['websocket', 'per-write', 'streaming'].includes(result.transport), result.transport);
                assert.equal(result.resumable, true);
                assert.equal(result.got, TOTAL);
                assert.equal(result.received_hash, result.sent_hash, 'the echo is what was sent');
                const server_side = s.server.received.get(result.id);
                assert.equal(await server_side.done, result.sent_hash, 'the server received what was sent');
                assert.deepEqual(server_side.errors, []);
                assert.equal(s.proxy.pending_faults, 0, 'every planned fault happened');
                assert.deepEqual([cuts, stalls], [CUTS, STALLS]);
                // Most faults land on the WebSocket mid-transfer, each a resume; one that
                // lands on a resume attempt's handshake only makes that attempt fail.
                assert.ok(result.resumed.length >= (CUTS + STALLS) / 2, `resumed ${result.resumed.length} times`);
            } finally {
                await page.close();
            }
        });

        test('a server that no longer knows the duplex (restarted) fails it with ERR_HTTP2_DUPLEX_RESUME_UNKNOWN', { timeout: 60000 }, async () => {
            const page = await s.browser.page(`${s.origin}/page.html`);
            try {
                const opened = await evaluate(page, open_in_page,
                    { client_url: OUR_CLIENT, url: `${s.origin}${DUPLEX_PATH}` });
                assert.equal(opened.resumable, true);
                // The server restarts on its port, then the duplex's connection is cut.
                const old = s.server;
                s.server = await restart(old);
                const cut_at = Date.now();
                s.proxy.cut_all();
                await old.closed;
                const first = await evaluate(page, first_error_in_page);
                first.after_ms = first.at - cut_at;
                console.log(`# webkit: refused ${first.after_ms} ms after the cut`);
                assert.equal(first.error, 'ERR_HTTP2_DUPLEX_RESUME_UNKNOWN', JSON.stringify(first.events));
                assert.ok(first.after_ms < 1000, `within 1 s (${first.after_ms} ms)`);
            } finally {
                await page.close();
            }
        });
    });
}
