// Issue 19 in real browsers (headless Chromium and Firefox ESR). Origins: a page on
// another origin (another port) is refused on every transport by a server without
// `cors` (403 ERR_HTTP2_DUPLEX_ORIGIN_NOT_ALLOWED, a 'warning', never a 'duplex'), and
// served by one whose `cors` lists it. Options: what make() is given is honoured on
// the transport 'auto' picks, or refused.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DUPLEX_PATH, OUR_CLIENT, start_server } from '../support/browser/server.mjs';
import { launch_chromium, launch_firefox } from '../support/browser/browsers.mjs';

const ORIGIN_NOT_ALLOWED = 'ERR_HTTP2_DUPLEX_ORIGIN_NOT_ALLOWED';
const INVALID_OPTION = 'ERR_HTTP2_DUPLEX_INVALID_OPTION';
const PAGE_MODULE = '/origin-and-options.mjs';
const TIMEOUT = 30000;

const routes = { [PAGE_MODULE]: readFileSync(new URL('../support/browser/origin-and-options-page.mjs', import.meta.url), 'utf8') };

// A test server whose duplexes echo, with what its 'duplex' and 'warning' events said.
async function start_echo_server(options) {
    const server = await start_server({ options, routes });
    server.opened = [];
    server.warnings = [];
    server.duplex_server.on('duplex', (duplex, id, headers) => {
        server.opened.push({ id, headers });
        duplex.pipe(duplex);
    });
    server.duplex_server.on('warning', err => server.warnings.push(err));
    return server;
}

// Resolves with the next `n` warnings of `server` coded `code`; rejects as soon as its
// app hears of a duplex instead.
function refused(server, code, n) {
    const seen = () => server.warnings.filter(err => err.code === code);
    const target = seen().length + n;
    return new Promise((resolve, reject) => {
        const stop = () => {
            server.duplex_server.off('warning', look);
            server.duplex_server.off('duplex', opened);
        };
        const look = () => {
            if (seen().length >= target) {
                stop();
                resolve(seen().slice(target - n, target));
            }
        };
        const opened = (duplex, id, headers) => {
            stop();
            reject(new Error(`the app got a duplex (${id}) for origin ${headers.origin}`));
        };
        // After the recording listener: the warning is in server.warnings by then.
        server.duplex_server.on('warning', look);
        server.duplex_server.on('duplex', opened);
    });
}

// Calls the page module's `name` in `page` (a page of browsers.mjs).
function in_page(page, name, ...args) {
    return page.page.evaluate(async ([module_url, fn, a]) => (await import(module_url))[fn](...a),
        [PAGE_MODULE, name, args]);
}

const servers = {};

before(async () => {
    // `home` serves the foreign page; `foreign` has no cors option; `allowing` lists
    // home's origin in cors; `same` serves its own page (the option cases).
    servers.home = await start_echo_server();
    [servers.foreign, servers.allowing, servers.same] = await Promise.all([
        start_echo_server(),
        start_echo_server({ cors: { origins: [servers.home.origin] } }),
        start_echo_server()
    ]);
});

after(async () => {
    await Promise.all(Object.values(servers).map(server => server.close()));
});

function define_browser_cases(name, launch) {
    describe(name, () => {
        let browser;

        before(async () => {
            browser = await launch();
        });

        after(() => browser?.close());

        describe('a page on another origin (another port)', () => {
            let page;

            before(async () => {
                page = await browser.page(`${servers.home.origin}/page.html`, { harness: false });
            });

            after(() => page?.close());

            test('without cors: its fetch GET, WebSocket and make() are refused 403, never a duplex', { timeout: TIMEOUT }, async () => {
                const { foreign } = servers;
                const url = `${foreign.origin}${DUPLEX_PATH}`;
                const ws_url = url.replace(/^https:/, 'wss:');
                await in_page(page, 'open_session', foreign.origin);

                const client_url = `${servers.home.origin}${OUR_CLIENT}`;
                // Each attempt with the refusals it must cause (and no duplex meanwhile).
                const attempt = (n, name, ...args) => Promise.all([in_page(page, name, ...args),
                    refused(foreign, ORIGIN_NOT_ALLOWED, n)]);

                const [get, get_refusals] = await attempt(1, 'try_get', url);
                assert.deepEqual(get, { failed: 'TypeError' });
                const [ws, ws_refusals] = await attempt(1, 'try_websocket', ws_url);
                assert.equal(ws.opened, false);
                // 'auto': the WebSocket is refused, then the GET.
                const [err, make_refusals] = await attempt(2, 'make_error', client_url, url, {});
                assert.ok(err, 'make() rejects');
                const [forced, forced_refusals] = await attempt(1, 'make_error', client_url, url,
                    { transport: 'websocket' });
                assert.equal(forced?.code, 'ERR_HTTP2_DUPLEX_WS_CLOSED');

                for (const warning of [...get_refusals, ...ws_refusals, ...make_refusals, ...forced_refusals]) {
                    assert.equal(warning.status, 403);
                }
                assert.deepEqual(foreign.opened, [], 'the app never heard of a duplex');
            });

            test('with cors listing its origin: make() opens and echoes, on the WebSocket and per write', { timeout: TIMEOUT }, async () => {
                const { allowing } = servers;
                const url = `${allowing.origin}${DUPLEX_PATH}`;
                const client_url = `${servers.home.origin}${OUR_CLIENT}`;
                await in_page(page, 'open_session', allowing.origin);
                for (const transport of ['auto', 'per-write']) {
                    const before_warnings = allowing.warnings.length;
                    const result = await in_page(page, 'echo', client_url, url, { transport });
                    assert.equal(result.transport, transport === 'auto' ? 'websocket' : 'per-write');
                    assert.ok(result.sent.length > 0);
                    assert.deepEqual(result.echoed, result.sent, 'every byte echoed');
                    assert.ok(!result.events.some(e => e.startsWith('error')), result.events.join());
                    assert.ok(allowing.opened.some(o => o.id === result.id), `the app got duplex ${result.id}`);
                    assert.deepEqual(allowing.warnings.slice(before_warnings).map(w => w.code), []);
                }
            });
        });

        describe("make()'s options are honoured on the transport 'auto' picks, or refused", () => {
            let page;
            const client = () => `${servers.same.origin}${OUR_CLIENT}`;
            const url = () => `${servers.same.origin}${DUPLEX_PATH}`;

            before(async () => {
                page = await browser.page(`${servers.same.origin}/page.html`, { harness: false });
            });

            after(() => page?.close());

            test('auto with no option uses the WebSocket here (the default the cases below depart from)', { timeout: TIMEOUT }, async () => {
                const result = await in_page(page, 'echo', client(), url(), {});
                assert.equal(result.transport, 'websocket');
                assert.deepEqual(result.echoed, result.sent);
            });

            test('auto with a custom fetch: that fetch carries the duplex', { timeout: TIMEOUT }, async () => {
                const result = await in_page(page, 'echo', client(), url(), {}, { count_fetch: true });
                assert.notEqual(result.transport, 'websocket');
                // The GET, and at least one POST.
                assert.ok(result.fetch_calls >= 2, `${result.fetch_calls} fetch calls`);
                assert.deepEqual(result.echoed, result.sent);
            });

            test('auto with disable_request_streaming: one POST per write', { timeout: TIMEOUT }, async () => {
                const writes = 5;
                const result = await in_page(page, 'echo', client(), url(), { disable_request_streaming: true }, { writes });
                assert.equal(result.transport, 'per-write');
                assert.deepEqual(result.echoed, result.sent);
                const posts = servers.same.posts.filter(h => h['http2-duplex-id'] === result.id);
                assert.equal(posts.filter(h => h['http2-duplex-single'] === 'true').length, 0, 'no streaming POST');
                const write_posts = posts.filter(h => h['http2-duplex-end'] !== 'true');
                assert.equal(write_posts.length, writes, 'a POST per write');
            });

            test("auto with headers: the server's 'duplex' event sees them", { timeout: TIMEOUT }, async () => {
                const result = await in_page(page, 'echo', client(), url(), { headers: { authorization: 'Bearer x' } });
                assert.notEqual(result.transport, 'websocket');
                assert.deepEqual(result.echoed, result.sent);
                const opened = servers.same.opened.find(o => o.id === result.id);
                assert.equal(opened?.headers.authorization, 'Bearer x');
            });

            test("transport 'websocket' with fetch is refused: TypeError ERR_HTTP2_DUPLEX_INVALID_OPTION naming fetch", { timeout: TIMEOUT }, async () => {
                const opened = servers.same.opened.length;
                const err = await in_page(page, 'make_error', client(), url(), { transport: 'websocket' },
                    { with_fetch: true });
                assert.equal(err?.name, 'TypeError');
                assert.equal(err.code, INVALID_OPTION);
                assert.match(err.message, /\bfetch\b/);
                assert.equal(servers.same.opened.length, opened, 'no duplex opened');
            });
        });
    });
}

define_browser_cases('chromium', launch_chromium);
define_browser_cases('firefox', launch_firefox);
