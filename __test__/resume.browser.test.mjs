// Resume in the browser (docs/protocol.md "Resume"): a page's make(url, { resume: true })
// through support/fault-proxy.mjs (page → proxy → server) keeps its duplex through cuts
// and stalls, byte-exact both ways, and fails with the server's refusal once the server
// no longer knows it. The server takes HTTP/1.1 WebSockets only (websocket 'http1'), so
// each WebSocket is a connection of its own that the proxy can cut or stall; a hang is
// seen after 2 × keepalive_interval + 1 s.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { DUPLEX_PATH, OUR_CLIENT } from '../support/browser/server.mjs';
import {
    KEEPALIVE_MS, start_echo_server, echo_in_page, open_in_page, echo_once_in_page, events_in_page,
    first_error_in_page
} from '../support/browser/resume-pages.mjs';
import { fault_stage } from '../support/browser/fault-stage.mjs';
import { launch_chromium, launch_firefox } from '../support/browser/browsers.mjs';
import { fault_plan } from '../support/fault-proxy.mjs';

const TOTAL = Number(process.env.RESUME_TEST_BYTES || 64 * 1024 * 1024);

function browser_missing(path) {
    return existsSync(path) ? null : `${path} not found`;
}

function suite(name, path, launch, { offline = false } = {}) {
    const missing = browser_missing(path);
    if (missing && !process.env.CI) {
        console.log(`# ${name} resume suite skipped: ${missing}`);
        test(`${name}: resume`, { skip: missing }, () => {});
        return;
    }
    describe(`${name}: resume over WebSocket (http2-duplex.2) through a fault proxy`, () => {
        const s = fault_stage(launch);

        // Each WebSocket of its own connection: cuts and stalls.
        test(`${TOTAL / 1048576} MiB echo under 20 cuts and 3 stalls: byte-exact both ways, no error, resumed`, { timeout: 120000 }, async () => {
            await echo_under_faults({ cuts: 20, stalls: 3 });
        });

        // The first WebSocket over HTTP/2 on the page's connection (RFC 8441); once that
        // is cut, the browser opens the next over HTTP/1.1 (it opens a WebSocket over
        // HTTP/2 only on an HTTP/2 connection it has). Cuts only: a stalled HTTP/2
        // connection keeps the browser's next WebSockets too (see the report).
        test(`${TOTAL / 1048576} MiB echo from a WebSocket over HTTP/2, under 20 cuts`, { timeout: 120000 }, async () => {
            const h2 = await start_echo_server({ http2: true });
            s.target.port = h2.http2_server.address().port;
            try {
                await echo_under_faults({ cuts: 20, stalls: 0, server: h2 });
            } finally {
                s.target.port = s.server.http2_server.address().port;
                await h2.close();
            }
        });

        async function echo_under_faults({ cuts, stalls, server = s.server }) {
            const plan = fault_plan({ bytes: TOTAL, cuts, stalls });
            const page = await s.browser.page(`${s.origin}/page.html`);
            try {
                s.proxy.follow(plan);
                const before = s.proxy.stats();
                const result = await page.page.evaluate(echo_in_page,
                    { client_url: OUR_CLIENT, url: `${s.origin}${DUPLEX_PATH}`, total: TOTAL, chunk: 65536 });
                const stats = s.proxy.stats();
                const [done_cuts, done_stalls] = [stats.cuts - before.cuts, stats.stalls - before.stalls];
                console.log(`# ${name}: ${TOTAL} bytes echoed in ${result.ms} ms, ${result.resumed.length} resumes ` +
                    `(downtime ms: ${result.resumed.map(r => r.downtime).join(' ')}), proxy: ${done_cuts} cuts, ` +
                    `${done_stalls} stalls, ${stats.accepted - before.accepted} connections, seed ${plan.seed}`);
                assert.equal(result.error, null, `no error (seed ${plan.seed})`);
                assert.equal(result.resumable, true);
                assert.equal(result.got, TOTAL);
                assert.equal(result.received_hash, result.sent_hash, 'the echo is what was sent');
                const server_side = server.received.get(result.id);
                assert.equal(await server_side.done, result.sent_hash, 'the server received what was sent');
                assert.deepEqual(server_side.errors, []);
                assert.equal(s.proxy.pending_faults, 0, 'every planned fault happened');
                assert.deepEqual([done_cuts, done_stalls], [cuts, stalls]);
                // Most faults land on the WebSocket mid-transfer, each a resume; one that
                // lands on a resume attempt's handshake only makes that attempt fail.
                assert.ok(result.resumed.length >= (cuts + stalls) / 2, `resumed ${result.resumed.length} times`);
            } finally {
                await page.close();
            }
        }

        test('a server that no longer knows the duplex (restarted) fails it with ERR_HTTP2_DUPLEX_RESUME_UNKNOWN within 1 s', { timeout: 60000 }, async () => {
            const page = await s.browser.page(`${s.origin}/page.html`);
            const restarted = await start_echo_server();
            try {
                const opened = await page.page.evaluate(open_in_page,
                    { client_url: OUR_CLIENT, url: `${s.origin}${DUPLEX_PATH}` });
                assert.equal(opened.resumable, true);
                // The proxy now leads to a new server, and the duplex's connection is cut.
                s.target.port = restarted.http2_server.address().port;
                const cut_at = Date.now();
                s.proxy.cut_all();
                const first = await page.page.evaluate(first_error_in_page);
                first.after_ms = first.at - cut_at;
                console.log(`# ${name}: refused ${first.after_ms} ms after the cut`);
                assert.equal(first.error, 'ERR_HTTP2_DUPLEX_RESUME_UNKNOWN', JSON.stringify(first.events));
                assert.ok(first.after_ms < 1000, `within 1 s (${first.after_ms} ms)`);
            } finally {
                s.target.port = s.server.http2_server.address().port;
                await page.close();
                await restarted.close();
            }
        });

        test(`an idle duplex hears the server's keep-alives: no resume in 3 s (hang timeout ${2 * KEEPALIVE_MS + 1000} ms)`, { timeout: 60000 }, async () => {
            const page = await s.browser.page(`${s.origin}/page.html`);
            try {
                const url = `${s.origin}${DUPLEX_PATH}`;
                const before = s.proxy.stats().accepted;
                assert.equal((await page.page.evaluate(open_in_page, { client_url: OUR_CLIENT, url })).resumable, true);
                await new Promise(resolve => setTimeout(resolve, 3000));
                assert.deepEqual(await page.page.evaluate(echo_once_in_page, 65536), { got: 65536, same: true });
                assert.deepEqual(await page.page.evaluate(events_in_page), []);
                // The page and its WebSocket: no new connection for a resume.
                assert.ok(s.proxy.stats().accepted - before <= 2, `${s.proxy.stats().accepted - before} connections`);
            } finally {
                await page.close();
            }
        });

        test('offline for 3 s (DevTools network emulation), then online: the duplex resumes and echoes', { skip: !offline && 'Chromium only (playwright context.setOffline)', timeout: 60000 }, async () => {
            const page = await s.browser.page(`${s.origin}/page.html`);
            try {
                const url = `${s.origin}${DUPLEX_PATH}`;
                assert.equal((await page.page.evaluate(open_in_page, { client_url: OUR_CLIENT, url })).resumable, true);
                assert.deepEqual(await page.page.evaluate(echo_once_in_page, 65536), { got: 65536, same: true });
                const context = page.page.context();
                await context.setOffline(true);
                await new Promise(resolve => setTimeout(resolve, 3000));
                const online_at = Date.now();
                await context.setOffline(false);
                assert.deepEqual(await page.page.evaluate(echo_once_in_page, 65536), { got: 65536, same: true });
                const events = await page.page.evaluate(events_in_page);
                const resumed = events.filter(e => e.resumed);
                console.log(`# ${name}: offline 3 s: ${JSON.stringify(resumed.map(e => ({ ...e.resumed, after_online_ms: e.at - online_at })))}`);
                assert.deepEqual(events.filter(e => e.error || e.end), []);
                assert.ok(resumed.length >= 1, 'resumed');
            } finally {
                await page.close();
            }
        });
    });
}

suite('chromium', process.env.CHROMIUM_PATH || '/usr/bin/chromium', launch_chromium, { offline: true });
suite('firefox', process.env.FIREFOX_PATH || '/usr/bin/firefox-esr', launch_firefox);
