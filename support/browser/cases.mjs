// The browser e2e cases, shared by every browser and client mode.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
    DUPLEX_PATH, OUR_CLIENT, STUB_NO_ID, STUB_REFUSE_POSTS, STUB_ERROR_CODE, STUB_FRAMED, STUB_FRAMED_DATA,
    STUB_WS_BREAK, STUB_WS_BREAKS, next_ws_break_close, our_server_class
} from './server.mjs';
import { read_all, read_bytes, send_random, first_event } from './streams.mjs';

const MiB = 1024 * 1024;
// A case that hangs fails on its own instead of stalling the file.
const TIMEOUT = 20000;
const TODO_TIMEOUT = 5000;
// 'end' came before 'finish' in about one run in three when the client waited for
// the end POST's body: enough runs that the old order cannot pass by luck.
const ORDER_RUNS = 40;

function posts_of(server, id) {
    return server.posts.filter(headers => headers['http2-duplex-id'] === id);
}

// What the WebSocket transport skips: cases about the fetch paths' requests.
const FETCH_ONLY = 'fetch transports only: no GET or POST requests on the WebSocket transport';

// env: { name, browser(), server(), options, streaming, websocket, client_url, pipelined,
//        todo: { [case name]: why it is known to fail } }
// websocket: 'http1' when the browser opens its WebSocket over HTTP/1.1 (WebKitGTK: no
// RFC 8441), else true.
export function define_cases(env) {
    const client_url = env.client_url || OUR_CLIENT;
    // fetch_only: the case is about the fetch paths (skipped on the WebSocket transport).
    const tc = (name, fn, { fetch_only = false } = {}) => {
        const todo = env.todo?.[name];
        const skip = fetch_only && env.websocket ? FETCH_ONLY : undefined;
        return test(name, { timeout: todo ? TODO_TIMEOUT : TIMEOUT, todo, skip }, fn);
    };

    describe(env.name, () => {
        let page;

        before(async () => {
            page = await env.browser().page(`${env.server().origin}/page.html`);
        });

        after(() => page && page.close());

        async function open(extra_options) {
            const { key, id, transport } = await page.call('open', client_url, DUPLEX_PATH,
                { ...env.options, ...extra_options });
            if (env.websocket) {
                assert.equal(transport, 'websocket');
            }
            return { key, id, transport, sd: await env.server().duplex(id) };
        }

        // Ends both sides and checks both close cleanly.
        async function close_both({ key, sd }) {
            sd.resume();
            const server_end = sd.readableEnded ? 'end' : first_event(sd, ['end', 'error']);
            await page.call('resume', key);
            await page.call('end', key);
            sd.end();
            assert.equal(await server_end, 'end');
            assert.equal(await page.call('first_event', key, ['close', 'error']), 'close');
        }

        function assert_mode(id) {
            if (env.websocket) {
                // No POST of a fetch path; open() checked duplex.transport, and the
                // server's duplex paired by this id (named in its first message).
                assert.equal(posts_of(env.server(), id).length, 0, 'no POST over a WebSocket');
                return;
            }
            const posts = posts_of(env.server(), id);
            const single = posts.filter(h => h['http2-duplex-single'] === 'true');
            if (env.streaming) {
                assert.equal(single.length, 1, 'one streaming POST');
            } else {
                assert.equal(single.length, 0, 'no streaming POST');
                const seqs = posts.filter(h => h['http2-duplex-seq'] !== undefined);
                assert.equal(seqs.length > 0, Boolean(env.pipelined), 'seq headers iff v2');
            }
        }

        tc('single byte each way', async () => {
            const duplex = await open();
            const server_got = read_bytes(duplex.sd, 1);
            assert.equal(await page.call('write', duplex.key, [42]), null);
            assert.deepEqual(await server_got, [42]);
            duplex.sd.write(Buffer.from([7]));
            assert.deepEqual(await page.call('read_bytes', duplex.key, 1), [7]);
            await close_both(duplex);
        });

        tc('1 MiB in random-sized writes both ways at once, SHA-256 checked', async () => {
            const { key, id, sd } = await open();
            const [server_got, client_got, client_sent, server_sent] = await Promise.all([
                read_all(sd),
                page.call('read_all', key),
                page.call('send_random', key, MiB, 32768, true),
                send_random(sd, MiB, 32768, true)
            ]);
            assert.deepEqual(server_got, client_sent);
            assert.deepEqual(client_got, server_sent);
            assert.equal(await page.call('first_event', key, ['close', 'error']), 'close');
            assert_mode(id);
        });

        for (const count of [1, 2, 10]) {
            tc(`${count} duplex(es) at once, echoed`, async () => {
                const duplexes = await Promise.all(Array.from({ length: count }, () => open()));
                for (const { sd } of duplexes) {
                    sd.pipe(sd);
                }
                // allSettled: one failure must not leave the others' rejections unhandled.
                const results = await Promise.allSettled(duplexes.map(async ({ key }) => {
                    const [echoed, sent] = await Promise.all([
                        page.call('read_all', key),
                        page.call('send_random', key, 64 * 1024, 4096, true)
                    ]);
                    assert.deepEqual(echoed, sent);
                }));
                for (const result of results) {
                    assert.equal(result.status, 'fulfilled', result.reason);
                }
            });
        }

        tc('client end → server end', async () => {
            const duplex = await open();
            duplex.sd.resume();
            const server_end = first_event(duplex.sd, ['end', 'error']);
            await page.call('end', duplex.key);
            assert.equal(await server_end, 'end');
            await close_both(duplex);
        });

        tc('server end → client end', async () => {
            const duplex = await open();
            await page.call('resume', duplex.key);
            const client_end = page.call('first_event', duplex.key, ['end', 'error']);
            duplex.sd.end();
            assert.equal(await client_end, 'end');
            await close_both(duplex);
        });

        tc('client destroy → server side ends', async () => {
            const { key, sd } = await open();
            sd.resume();
            const server_end = first_event(sd, ['end', 'close']);
            await page.call('destroy', key);
            assert.match(await server_end, /^(end|close)$/);
        });

        tc('server destroy → client ends or errors', async () => {
            const { key, sd } = await open();
            await page.call('resume', key);
            const client_end = page.call('first_event', key, ['end', 'error']);
            sd.destroy();
            assert.match(await client_end, /^(end|error: .*)$/);
        });

        tc('server ends first, client keeps writing: every byte arrives', async () => {
            const { key, sd } = await open();
            await page.call('resume', key);
            const client_end = page.call('first_event', key, ['end', 'error']);
            const server_got = read_all(sd);
            sd.end();
            assert.equal(await client_end, 'end');
            const sent = await page.call('send_random', key, 256 * 1024, 8192, true);
            assert.deepEqual(await server_got, sent);
            assert.equal(await page.call('first_event', key, ['close', 'error']), 'close');
        });

        tc('a failed write POST fails the write', async () => {
            assert.deepEqual(await page.call('failing_write', client_url, DUPLEX_PATH, env.options), {
                message: 'Unavailable',
                is_response_error: true,
                destroyed: true
            });
        }, { fetch_only: true });

        tc('other options reach fetch: headers on every POST', async () => {
            const duplex = await open({ headers: { 'x-test-header': 'passed' } });
            const server_got = read_bytes(duplex.sd, 1);
            assert.equal(await page.call('write', duplex.key, [1]), null);
            await server_got;
            await close_both(duplex);
            const posts = posts_of(env.server(), duplex.id);
            assert.ok(posts.length >= 1);
            for (const headers of posts) {
                assert.equal(headers['x-test-header'], 'passed');
            }
        }, { fetch_only: true });

        tc('make() on an unknown path rejects with ResponseError 404', async () => {
            const { message, ...shape } = await page.call('open_error', client_url, '/no-such-path',
                env.options);
            assert.deepEqual(shape, { is_response_error: true, status: 404 });
            // As in 6.x: the statusText (WebKit gives HTTP/2 answers one), else the status.
            assert.ok(['404', 'Not Found'].includes(message), message);
        }, { fetch_only: true });

        if (client_url === OUR_CLIENT) {
            const refused = {
                name: 'ResponseError',
                code: STUB_ERROR_CODE,
                status: 404,
                response_status: 404,
                is_response_error: true
            };
            // The stub announces version 2 where this env's client pipelines.
            const refuse_posts = `${STUB_REFUSE_POSTS}${env.pipelined ? '?version=2' : ''}`;

            tc('ResponseError: name, code ERR_HTTP2_DUPLEX_RESPONSE without the header, status', async () => {
                assert.deepEqual(await page.call('open_error_shape', client_url, '/no-such-path', env.options), {
                    name: 'ResponseError',
                    code: 'ERR_HTTP2_DUPLEX_RESPONSE',
                    status: 404,
                    response_status: 404,
                    is_response_error: true
                });
            }, { fetch_only: true });

            tc('ResponseError option: a subclass is constructed and its init() awaited', async () => {
                assert.deepEqual(await page.call('open_error_subclass', client_url, '/no-such-path', env.options), {
                    is_subclass: true,
                    is_response_error: true,
                    init_ran: true,
                    name: 'ResponseError',
                    code: 'ERR_HTTP2_DUPLEX_RESPONSE',
                    status: 404
                });
            }, { fetch_only: true });

            tc('make() on a GET answered without an id rejects with ERR_HTTP2_DUPLEX_NO_ID_IN_RESPONSE', async () => {
                const err = await page.call('open_error_shape', client_url, STUB_NO_ID, env.options);
                assert.ok(err, 'make() resolved');
                assert.equal(err.code, 'ERR_HTTP2_DUPLEX_NO_ID_IN_RESPONSE');
                assert.equal(err.status, 200);
                assert.equal(err.is_response_error, false);
            }, { fetch_only: true });

            tc('a write POST answered 404 destroys the duplex with a ResponseError', async () => {
                const { key } = await page.call('open', client_url, refuse_posts, env.options);
                const callback_error = await page.call('write_shape', key, [1]);
                if (!env.streaming) {
                    // v1 calls back after the answer; v2 once the window took the write.
                    assert.deepEqual(callback_error, env.pipelined ? null : refused);
                }
                const { order, error } = await page.call('closed', key);
                assert.deepEqual(error, refused);
                assert.ok(!order.includes('finish'), order.join());
            }, { fetch_only: true });

            tc('an end POST answered 404 destroys the duplex with a ResponseError, no finish', async () => {
                const { key } = await page.call('open', client_url, refuse_posts, env.options);
                const { order, error } = await page.call('end_and_close', key);
                assert.deepEqual(error, refused);
                assert.ok(!order.includes('finish'), order.join());
            }, { fetch_only: true });

            tc(`'finish' before the 'end' of a reply sent after the client's end (${ORDER_RUNS} runs)`, async () => {
                for (let run = 0; run < ORDER_RUNS; run++) {
                    const { key, sd } = await open();
                    // A request, then the client's end; the server replies once it has both.
                    const request = read_all(sd);
                    sd.once('end', () => sd.end(Buffer.from('reply')));
                    assert.equal(await page.call('write', key, [1, 2, 3]), null);
                    const { order, error } = await page.call('end_and_close', key);
                    assert.equal(error, null, `run ${run}`);
                    assert.deepEqual(order, ['finish', 'end', 'close'], `run ${run}`);
                    assert.equal((await request).length, 3);
                }
            });

            tc('framed GET: asked for same-origin (not cross-origin unless framing: true)', async () => {
                const ask = (url, extra) => page.call('framing_requested', client_url, url,
                    { ...env.options, ...extra });
                const same = `${env.server().origin}${DUPLEX_PATH}`;
                const cross = `https://localhost:1${DUPLEX_PATH}`;
                assert.equal(await ask(DUPLEX_PATH), '1');
                assert.equal(await ask(same), '1');
                assert.equal(await ask(cross), null);
                assert.equal(await ask(cross, { framing: true }), '1');
                assert.equal(await ask(same, { framing: false }), null);
            }, { fetch_only: true });

            tc('framed GET: our server frames the answer; data round-trips; server end → client end', async () => {
                const { key, id, asked, answered } = await page.call('open_framing', client_url,
                    DUPLEX_PATH, env.options);
                const sd = await env.server().duplex(id);
                const ours = env.server().duplex_server instanceof our_server_class();
                assert.equal(asked, '1');
                assert.equal(answered, ours ? '1' : null, 'a 6.x server answers raw');
                if (!ours) {
                    // The raw body against 6.x is what every other case checks.
                    await page.call('destroy', key);
                    return;
                }
                sd.pipe(sd);
                const [echoed, sent] = await Promise.all([
                    page.call('read_all', key),
                    page.call('send_random', key, 256 * 1024, 16384, true)
                ]);
                assert.deepEqual(echoed, sent);
                const { order, error } = await page.call('closed', key);
                assert.equal(error, null);
                assert.equal(order.at(-1), 'close');
            }, { fetch_only: true });

            tc('framed GET: a server-side destroy is ERR_HTTP2_DUPLEX_TRUNCATED_RESPONSE, never an end', async () => {
                const { key, id, answered } = await page.call('open_framing', client_url, DUPLEX_PATH, env.options);
                const sd = await env.server().duplex(id);
                sd.write(Buffer.from('before'));
                assert.deepEqual(await page.call('read_bytes', key, 6), [...Buffer.from('before')]);
                await page.call('resume', key);
                if (answered !== '1') {
                    // A 6.x server's reset reads as an end or an error, browser by browser.
                    const client_end = page.call('first_event', key, ['end', 'error']);
                    sd.destroy();
                    assert.match(await client_end, /^(end|error: .*)$/);
                    return;
                }
                sd.destroy();
                const { order, error } = await page.call('closed', key);
                assert.ok(!order.includes('end'), order.join());
                assert.equal(error?.code, 'ERR_HTTP2_DUPLEX_TRUNCATED_RESPONSE', order.join());
            }, { fetch_only: true });

            tc('framed GET: PING and unknown frames skipped, END ends the readable side', async () => {
                const { key } = await page.call('open', client_url, `${STUB_FRAMED}?end=1`, env.options);
                const { text, order, error } = await page.call('read_to_close', key, true);
                assert.equal(error, null);
                assert.equal(text, STUB_FRAMED_DATA);
                assert.ok(order.includes('end'), order.join());
            }, { fetch_only: true });

            tc('framed GET: a body ended without END destroys the duplex with ERR_HTTP2_DUPLEX_TRUNCATED_RESPONSE', async () => {
                const { key } = await page.call('open', client_url, STUB_FRAMED, env.options);
                const { text, order, error } = await page.call('read_to_close', key, false);
                assert.equal(text, STUB_FRAMED_DATA, 'the data before the cut is delivered');
                assert.ok(error, order.join());
                assert.equal(error.code, 'ERR_HTTP2_DUPLEX_TRUNCATED_RESPONSE');
                assert.ok(!order.includes('end'), order.join());
            }, { fetch_only: true });

            tc('10 duplexes at once, each echoing 1 MiB, close without an error', async () => {
                const duplexes = await Promise.all(Array.from({ length: 10 }, () => open()));
                for (const { sd } of duplexes) {
                    sd.pipe(sd);
                }
                const results = await Promise.allSettled(duplexes.map(async ({ key }) => {
                    const [echoed, sent] = await Promise.all([
                        page.call('read_all', key),
                        page.call('send_random', key, MiB, 32768, true)
                    ]);
                    assert.deepEqual(echoed, sent);
                    const { order, error } = await page.call('closed', key);
                    assert.equal(error, null);
                    assert.equal(order.at(-1), 'close');
                }));
                for (const result of results) {
                    assert.equal(result.status, 'fulfilled', result.reason);
                }
            });
        }

        if (env.websocket) {
            tc('websocket: 4 MiB each way at once, credit granted as the reader goes, SHA-256 checked', async () => {
                const { key, sd } = await open();
                const [server_got, client_got, client_sent, server_sent] = await Promise.all([
                    read_all(sd),
                    page.call('read_all', key),
                    page.call('send_random', key, 4 * MiB, 65536, true),
                    send_random(sd, 4 * MiB, 65536, true)
                ]);
                assert.deepEqual(server_got, client_sent);
                assert.deepEqual(client_got, server_sent);
                const { order, error } = await page.call('closed', key);
                assert.equal(error, null, order.join());
            });

            tc('websocket: a page that stops reading stops the server after 1 MiB (its credit)', async () => {
                const { key, sd } = await open();
                let written = false;
                sd.write(Buffer.alloc(4 * MiB, 5), () => {
                    written = true;
                });
                assert.equal(await page.call('buffered_at_least', key, MiB), MiB);
                // A round trip through the server: still no more than the credit.
                const server_got = read_bytes(sd, 1);
                assert.equal(await page.call('write', key, [1]), null);
                await server_got;
                // Over HTTP/2 a PING answered: what the server had sent is at the client.
                // Over HTTP/1.1 there is nothing to ping: the round trip above stands.
                if (sd.stream.session) {
                    await new Promise(resolve => sd.stream.session.ping(resolve));
                }
                assert.equal(await page.call('buffered', key), MiB);
                assert.equal(written, false);
                const client_got = page.call('read_all', key);
                sd.end();
                assert.equal((await client_got).length, 4 * MiB);
                assert.equal(written, true);
                await page.call('end', key);
                sd.resume();
                assert.equal(await page.call('first_event', key, ['close', 'error']), 'close');
            });

            tc('websocket: make() where no duplex answers the WebSocket rejects with ERR_HTTP2_DUPLEX_WS_CLOSED', async () => {
                const err = await page.call('open_error_shape', client_url, '/no-such-path', env.options);
                assert.equal(err?.code, 'ERR_HTTP2_DUPLEX_WS_CLOSED');
            });

            tc('websocket: a server destroy is ERR_HTTP2_DUPLEX_WS_CLOSED, never an end', async () => {
                const { key, sd } = await open();
                sd.write(Buffer.from('before'));
                assert.deepEqual(await page.call('read_bytes', key, 6), [...Buffer.from('before')]);
                await page.call('resume', key);
                sd.destroy();
                const { order, error } = await page.call('closed', key);
                assert.ok(!order.includes('end'), order.join());
                assert.equal(error?.code, 'ERR_HTTP2_DUPLEX_WS_CLOSED', order.join());
            });

            // The page cannot send 1002/1007/1008/1009 (a WebSocket may send only 1000 and
            // 3000-4999): it answers a violation with 4000 + the code the server would send.
            const BREAKS = {
                'unknown-text': 'ERR_HTTP2_DUPLEX_WS_MESSAGE',
                'bad-credit': 'ERR_HTTP2_DUPLEX_WS_MESSAGE',
                'data-after-end': 'ERR_HTTP2_DUPLEX_WS_MESSAGE',
                'late-id': 'ERR_HTTP2_DUPLEX_WS_MESSAGE',
                'over-credit': 'ERR_HTTP2_DUPLEX_WS_CREDIT'
            };
            assert.deepEqual(Object.keys(BREAKS), Object.keys(STUB_WS_BREAKS));
            // The breaking stub answers RFC 8441 CONNECTs only.
            const stub_skip = env.websocket === 'http1' ? 'the breaking stub speaks RFC 8441 only' : undefined;
            for (const [name, code] of Object.entries(BREAKS)) {
                test(`websocket: a server that breaks http2-duplex.1 (${name}) fails the duplex with ${code} and gets Close 4008`, { timeout: TIMEOUT, skip: stub_skip }, async () => {
                    const { key, id } = await page.call('open', client_url, `${STUB_WS_BREAK}?case=${name}`, env.options);
                    assert.match(id, /^stub-\d+$/);
                    if (name !== 'over-credit') {
                        await page.call('resume', key);
                    }
                    const close = next_ws_break_close();
                    const { error } = await page.call('closed', key);
                    assert.equal(error?.code, code);
                    assert.equal(await close, 4008);
                });
            }

            tc('auto picks the WebSocket where the server offers RFC 8441', async () => {
                const { key, sd } = await open({ transport: 'auto' });
                await close_both({ key, sd });
            });

            tc('fallback: without a WebSocket, auto opens on a fetch path unnoticed', async () => {
                const { key, id, transport } = await page.call('open_without_websocket', client_url,
                    DUPLEX_PATH, { ...env.options, transport: 'auto' });
                assert.ok(['streaming', 'per-write'].includes(transport), transport);
                const sd = await env.server().duplex(id);
                sd.pipe(sd);
                const [echoed, sent] = await Promise.all([
                    page.call('read_all', key),
                    page.call('send_random', key, 64 * 1024, 4096, true)
                ]);
                assert.deepEqual(echoed, sent);
            });
        }

        tc('backpressure: writes stall while the server does not read', async () => {
            const duplex = await open();
            // 'drain' not coming for a while is the only sign of a full pipeline.
            const { written, full } = await page.call('fill', duplex.key, 4096, 64 * MiB, 500);
            assert.ok(full, `writes never stalled (${written} bytes written)`);
            // The client may hold a whole v2 window of accepted writes, and the
            // server's HTTP/2 windows take up to a few MiB more.
            const window_bytes = env.server().duplex_server.limits?.windowBytes ?? 0;
            assert.ok(written < window_bytes + 4 * MiB, `${written} bytes written before writes stalled`);
            const server_got = read_all(duplex.sd);
            assert.equal(await page.call('drained', duplex.key), 'drain');
            await page.call('end', duplex.key);
            assert.equal((await server_got).length, written);
            await page.call('resume', duplex.key);
            duplex.sd.end();
            assert.equal(await page.call('first_event', duplex.key, ['close', 'error']), 'close');
        });

        if (env.pipelined && client_url === OUR_CLIENT) {
            tc('v2: writes the window accepts complete without a timer each', async () => {
                const { key, sd } = await open();
                const server_got = read_bytes(sd, 50 * 64 * 1024);
                assert.equal(await page.call('writes_before_next_task', key, 50, 64 * 1024), 50);
                await server_got;
            });
        }

        if (env.pipelined) {
            tc('v2: a burst of 1000 one-byte writes costs few POSTs and keeps order', async () => {
                const { key, id, sd } = await open();
                const server_got = read_bytes(sd, 1000);
                assert.equal(await page.call('burst', key, 1000), 'finish');
                assert.deepEqual(await server_got, Array.from({ length: 1000 }, (_, i) => i & 0xff));
                const writes = posts_of(env.server(), id).filter(h => h['http2-duplex-end'] !== 'true');
                assert.ok(writes.length <= 20, `${writes.length} write POSTs`);
                sd.resume();
                sd.end();
                await page.call('resume', key);
                assert.equal(await page.call('first_event', key, ['close', 'error']), 'close');
            });
        }
    });
}
