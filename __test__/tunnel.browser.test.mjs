// Resume on the fetch paths in the browser (docs/protocol.md "Resume on the fetch
// paths: a WebSocket tunnel"): a page's make(url, { resume: true, transport }) carries
// http2-duplex.2 over a GET and POST duplex, and through support/fault-proxy.mjs (page
// → proxy → server) its duplex outlives cuts of its connection, byte-exact both ways.
// A duplex opened on a WebSocket resumes on a tunnel once the server takes no more
// WebSockets. A page on another origin gets nothing from a tunnel unless the server's
// cors grants its origin. A server without resume answers the carrier as a plain duplex.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { DUPLEX_PATH, OUR_CLIENT, start_server } from '../support/browser/server.mjs';
import {
    start_echo_server, echo_in_page, open_in_page, echo_once_in_page, events_in_page, carried_in_page,
    make_in_page
} from '../support/browser/resume-pages.mjs';
import { fault_stage } from '../support/browser/fault-stage.mjs';
import { launch_chromium, launch_firefox } from '../support/browser/browsers.mjs';
import { fault_plan } from '../support/fault-proxy.mjs';

const TOTAL = Number(process.env.TUNNEL_TEST_BYTES || 16 * 1024 * 1024);
// Cuts per echo: each costs a resend of up to the resume buffer (4 MiB) each way, and
// one POST per write is the slow transport (Chromium ~5 MiB/s on this machine uncut).
const CUTS = { 'per-write': 4, streaming: 6 };

// The server takes no more HTTP/1.1 WebSockets (403) until the returned function is called.
function refuse_websockets(http2_server) {
    const listeners = http2_server.listeners('upgrade');
    http2_server.removeAllListeners('upgrade');
    const refuse = (req, socket) => socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    http2_server.on('upgrade', refuse);
    return () => {
        http2_server.off('upgrade', refuse);
        listeners.forEach(listener => http2_server.on('upgrade', listener));
    };
}

function suite(name, path, launch, { streaming = false } = {}) {
    if (!existsSync(path) && !process.env.CI) {
        console.log(`# ${name} tunnel suite skipped: ${path} not found`);
        test(`${name}: tunnel`, { skip: `${path} not found` }, () => {});
        return;
    }
    describe(`${name}: resume through a WebSocket tunnel over the fetch paths`, () => {
        const s = fault_stage(launch);

        async function echo_under_cuts(transport) {
            const cuts = CUTS[transport];
            const plan = fault_plan({ bytes: TOTAL, cuts });
            const page = await s.browser.page(`${s.origin}/page.html`);
            try {
                s.proxy.follow(plan);
                const before = s.proxy.stats();
                const result = await page.page.evaluate(echo_in_page, {
                    client_url: OUR_CLIENT, url: `${s.origin}${DUPLEX_PATH}`, total: TOTAL, chunk: 65536,
                    options: { transport }
                });
                const stats = s.proxy.stats();
                console.log(`# ${name} ${transport}: ${TOTAL} bytes echoed in ${result.ms} ms, ` +
                    `${result.resumed.length} resumes (downtime ms: ${result.resumed.map(r => r.downtime).join(' ')}), ` +
                    `proxy: ${stats.cuts - before.cuts} cuts, ${stats.accepted - before.accepted} connections, seed ${plan.seed}`);
                assert.equal(result.error, null, `no error (seed ${plan.seed})`);
                assert.deepEqual([result.resumable, result.tunnel, result.transport], [true, true, transport]);
                assert.equal(result.got, TOTAL);
                assert.equal(result.received_hash, result.sent_hash, 'the echo is what was sent');
                const server_side = s.server.received.get(result.id);
                assert.equal(await server_side.done, result.sent_hash, 'the server received what was sent');
                assert.deepEqual(server_side.errors, []);
                assert.equal(s.proxy.pending_faults, 0, 'every planned fault happened');
                assert.equal(stats.cuts - before.cuts, cuts);
                // A cut that lands on a resume attempt only makes that attempt fail.
                assert.ok(result.resumed.length >= cuts / 2, `resumed ${result.resumed.length} times`);
            } finally {
                await page.close();
            }
        }

        test(`'per-write': ${TOTAL / 1048576} MiB echo under ${CUTS['per-write']} cuts, byte-exact both ways, resumed`, { timeout: 60000 }, async () => {
            await echo_under_cuts('per-write');
        });

        test(`'streaming' (HTTP/2): ${TOTAL / 1048576} MiB echo under ${CUTS.streaming} cuts, byte-exact both ways, resumed`, {
            skip: !streaming && 'this browser cannot stream request bodies', timeout: 60000
        }, async () => {
            await echo_under_cuts('streaming');
        });

        test('a duplex opened on a WebSocket resumes on a tunnel once the server refuses WebSockets', { timeout: 60000 }, async () => {
            const page = await s.browser.page(`${s.origin}/page.html`);
            let restore;
            try {
                const opened = await page.page.evaluate(open_in_page, { client_url: OUR_CLIENT, url: `${s.origin}${DUPLEX_PATH}` });
                assert.deepEqual([opened.resumable, opened.transport, opened.tunnel], [true, 'websocket', false]);
                assert.deepEqual(await page.page.evaluate(echo_once_in_page, 65536), { got: 65536, same: true });
                restore = refuse_websockets(s.server.http2_server);
                s.proxy.cut_all();
                assert.deepEqual(await page.page.evaluate(echo_once_in_page, 4 * 1048576), { got: 4 * 1048576, same: true });
                const carried = await page.page.evaluate(carried_in_page);
                const events = await page.page.evaluate(events_in_page);
                console.log(`# ${name}: from a WebSocket to ${JSON.stringify(carried)}: ${JSON.stringify(events.map(e => e.resumed))}`);
                assert.equal(carried.tunnel, true);
                assert.notEqual(carried.transport, 'websocket');
                assert.deepEqual(events.filter(e => e.error || e.end), []);
                assert.ok(events.some(e => e.resumed), 'resumed');
            } finally {
                restore?.();
                await page.close();
            }
        });

        test("'auto' tunnels where no WebSocket opens, and with an option only fetch honours", { timeout: 60000 }, async () => {
            const url = `${s.origin}${DUPLEX_PATH}`;
            const headers = new Map();      // id → the request headers the server saw
            const on_duplex = (duplex, id, request_headers) => headers.set(id, request_headers);
            s.server.duplex_server.on('duplex', on_duplex);
            try {
                for (const [why, options] of [['no WebSocket', {}], ['headers', { headers: { 'x-tunnel-test': '1' } }]]) {
                    const page = await s.browser.page(`${s.origin}/page.html`);
                    const restore = why === 'no WebSocket' ? refuse_websockets(s.server.http2_server) : undefined;
                    try {
                        const opened = await page.page.evaluate(open_in_page, { client_url: OUR_CLIENT, url, options });
                        assert.deepEqual([opened.resumable, opened.tunnel], [true, true], why);
                        assert.notEqual(opened.transport, 'websocket');
                        assert.equal(headers.get(opened.id)['x-tunnel-test'], options.headers?.['x-tunnel-test'],
                            'the carrier carries the fetch options');
                        assert.deepEqual(await page.page.evaluate(echo_once_in_page, 1048576), { got: 1048576, same: true });
                    } finally {
                        restore?.();
                        await page.close();
                    }
                }
            } finally {
                s.server.duplex_server.off('duplex', on_duplex);
            }
        });

        test('a server without resume answers the carrier as a plain duplex: used as one, not resumable', { timeout: 60000 }, async () => {
            const plain = await start_echo_server({ options: { resume_buffer: 0 } });
            const page = await s.browser.page(`${plain.origin}/page.html`);
            try {
                const result = await page.page.evaluate(echo_in_page, {
                    client_url: OUR_CLIENT, url: `${plain.origin}${DUPLEX_PATH}`, total: 1048576, chunk: 65536,
                    options: { transport: 'per-write' }
                });
                assert.equal(result.error, null);
                assert.deepEqual([result.resumable, result.tunnel, result.transport], [false, false, 'per-write']);
                assert.equal(result.received_hash, result.sent_hash);
                assert.equal(await plain.received.get(result.id).done, result.sent_hash);
            } finally {
                await page.close();
                await plain.close();
            }
        });

        test('a page on another origin gets no tunnel without cors, and one with cors granting its origin', { timeout: 60000 }, async () => {
            const home = await start_server();
            const granting = await start_echo_server({ options: { cors: { origins: [home.origin] } } });
            const page = await s.browser.page(`${home.origin}/page.html`);
            const opened = [];
            const warnings = [];
            const on_duplex = (duplex, id) => opened.push(id);
            const on_warning = err => warnings.push(err.code);
            s.server.duplex_server.on('duplex', on_duplex);
            s.server.duplex_server.on('warning', on_warning);
            try {
                const refused = await page.page.evaluate(make_in_page, {
                    client_url: OUR_CLIENT, url: `${s.origin}${DUPLEX_PATH}`, options: { resume: true, transport: 'per-write' }
                });
                console.log(`# ${name}: another origin, no cors: ${JSON.stringify(refused)}`);
                assert.ok(refused.error, 'make() failed');
                assert.deepEqual(opened, [], 'the server opened nothing for it');
                assert.ok(warnings.includes('ERR_HTTP2_DUPLEX_ORIGIN_NOT_ALLOWED'), `warned: ${warnings}`);
                const result = await page.page.evaluate(echo_in_page, {
                    client_url: OUR_CLIENT, url: `${granting.origin}${DUPLEX_PATH}`, total: 1048576, chunk: 65536,
                    options: { transport: 'per-write' }
                });
                assert.equal(result.error, null);
                assert.deepEqual([result.resumable, result.tunnel, result.transport], [true, true, 'per-write']);
                assert.equal(result.received_hash, result.sent_hash);
            } finally {
                s.server.duplex_server.off('duplex', on_duplex);
                s.server.duplex_server.off('warning', on_warning);
                await page.close();
                await granting.close();
                await home.close();
            }
        });
    });
}

suite('chromium', process.env.CHROMIUM_PATH || '/usr/bin/chromium', launch_chromium, { streaming: true });
suite('firefox', process.env.FIREFOX_PATH || '/usr/bin/firefox-esr', launch_firefox);
