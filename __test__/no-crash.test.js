'use strict';
// Nothing a client sends or does can end the server process.
//
// The app under test (support/pipe-app.js) is written like the README's
// example: `duplex.pipe(duplex)` and no 'error' listener on the duplex. It runs
// as a child process; for each misbehaviour below a raw Node http2 client does
// the bad thing, then the suite checks that
//   1. the child is still alive,
//   2. a new duplex works end to end (GET, write POST, echo, end POST),
//   3. the server emitted a 'warning' with the expected code (and status when
//      an HTTP status was answered, with the same code in `http2-duplex-error`),
//   4. with an 'error' listener (second variant), the duplex's 'error' carried it.
const { describe, test, after } = require('node:test');
const assert = require('node:assert/strict');
const http2 = require('http2');
const {
    DEADLINE, within, start_app, connect, send, post, open_duplex
} = require('../support/raw-h2');

const C = http2.constants;
// Client RST_STREAM codes.
const RESET_CODES = [
    ['NO_ERROR', C.NGHTTP2_NO_ERROR],
    ['CANCEL', C.NGHTTP2_CANCEL],
    ['INTERNAL_ERROR', C.NGHTTP2_INTERNAL_ERROR],
    ['STREAM_CLOSED', C.NGHTTP2_STREAM_CLOSED],
    ['PROTOCOL_ERROR', C.NGHTTP2_PROTOCOL_ERROR],
    ['REFUSED_STREAM', C.NGHTTP2_REFUSED_STREAM]
];
// How soon a duplex must close after its GET is reset.
const PROMPTLY = 2000;
// The app's default close_timeout plus the usual deadline.
const CLOSE_TIMEOUT = 1000;

const SESSION_CLOSED = 'ERR_HTTP2_DUPLEX_SESSION_CLOSED';
const CLIENT_RESET = 'ERR_HTTP2_DUPLEX_CLIENT_RESET';
const END = { 'http2-duplex-end': 'true' };
const SINGLE = { 'http2-duplex-single': 'true' };
const seq = n => ({ 'http2-duplex-seq': String(n) });

// One child per variant and configuration, started when first needed.
const CONFIGS = {
    default: {},
    limits: { options: { max_write_bytes: 1024, window_bytes: 512, max_duplexes_per_session: 2 } },
    idle: { options: { idle_timeout: 300 } },
    noread: { mode: 'noread' }
};

const VARIANTS = [
    { name: 'pipe only, no error listener', error_listener: false },
    { name: 'with an error listener', error_listener: true }
];

for (const variant of VARIANTS) {
    describe(variant.name, () => {
        const apps = new Map();
        after(async () => {
            for (const app of apps.values()) {
                await app.stop();
            }
        });

        // A running child for `config`; a new one if the last crashed.
        async function app_for(config) {
            let app = apps.get(config);
            if (!app || !app.alive()) {
                app = await start_app({ ...CONFIGS[config], error_listener: variant.error_listener });
                apps.set(config, app);
            }
            return app;
        }

        // Runs one case on the child of `config`, then checks that the child
        // is alive and that a new duplex works.
        function run(name, config, body) {
            test(name, async () => {
                const app = await app_for(config);
                app.current = name;
                const sessions = [];
                const ctx = make_context(app, variant, config, sessions);
                try {
                    await body(ctx);
                    assert.ok(app.alive(), app.describe_exit());
                    await probe(ctx);
                    assert.ok(app.alive(), app.describe_exit());
                } catch (err) {
                    if (!await app.settle_exit()) {
                        throw new Error(app.describe_exit(), { cause: err });
                    }
                    throw err;
                } finally {
                    for (const session of sessions) {
                        session.destroy();
                    }
                }
            });
        }

        // --- the client resets its GET -------------------------------------
        for (const [name, code] of RESET_CODES) {
            run(`client resets its GET with ${name}: the duplex closes promptly`, 'default', async ctx => {
                const session = ctx.connect();
                const d = await ctx.open(session);
                assert.equal((await post(session, d.id, 'hello')).status, 200);
                await d.wait_echo(5);
                d.stream.close(code);
                if (code === C.NGHTTP2_NO_ERROR) {
                    // May count as a normal close (the duplex's writable side
                    // ends); if the server reports it, it is a reset.
                    for (const e of ctx.events(e => e.event === 'warning' || e.event === 'error')) {
                        assert.equal(e.code, 'ERR_HTTP2_DUPLEX_CLIENT_RESET', JSON.stringify(e));
                    }
                    return;
                }
                await ctx.expect_close(d.id, PROMPTLY);
                await ctx.expect_warning('ERR_HTTP2_DUPLEX_CLIENT_RESET');
                await ctx.expect_error(d.id, 'ERR_HTTP2_DUPLEX_CLIENT_RESET');
            });
        }

        // --- the client resets a write POST or a streaming POST mid-body ----
        for (const [name, code] of RESET_CODES) {
            run(`client resets a write POST mid-body with ${name}`, 'default', async ctx => {
                const session = ctx.connect();
                const d = await ctx.open(session);
                const upload = send(session, { ':method': 'POST', 'http2-duplex-id': d.id },
                    'partial', { open: true, abortable: true });
                await d.wait_echo(7);
                upload.stream.close(code);
                await ctx.expect_warning('ERR_HTTP2_DUPLEX_CLIENT_RESET');
                await ctx.expect_error(d.id, 'ERR_HTTP2_DUPLEX_CLIENT_RESET');
            });
        }

        run('write POST body shorter than its content-length: truncated', 'default', async ctx => {
            const session = ctx.connect();
            const d = await ctx.open(session);
            const upload = send(session, {
                ':method': 'POST', 'http2-duplex-id': d.id, 'content-length': '100'
            }, Buffer.alloc(10, 't'));
            const answer = await within(upload.settled, DEADLINE, 'the truncated POST to close');
            const warning = await ctx.expect_warning('ERR_HTTP2_DUPLEX_TRUNCATED_BODY');
            if (answer.status !== null) {
                // (nghttp2 usually resets such a stream before it can be answered.)
                ctx.assert_refused(answer, 400, 'ERR_HTTP2_DUPLEX_TRUNCATED_BODY');
                assert.equal(warning.status, 400);
            }
            await ctx.expect_error(d.id, 'ERR_HTTP2_DUPLEX_TRUNCATED_BODY');
        });

        for (const [name, code] of RESET_CODES) {
            run(`client resets a streaming POST mid-body with ${name}`, 'default', async ctx => {
                const session = ctx.connect();
                const d = await ctx.open(session);
                const upload = send(session, { ':method': 'POST', 'http2-duplex-id': d.id, ...SINGLE },
                    'streamed', { open: true, abortable: true });
                await d.wait_echo(8);
                upload.stream.close(code);
                await ctx.expect_warning('ERR_HTTP2_DUPLEX_CLIENT_RESET');
                await ctx.expect_error(d.id, 'ERR_HTTP2_DUPLEX_CLIENT_RESET');
            });
        }

        // --- every 4xx row of docs/hardening.md -----------------------------
        run('POST without an id: 404', 'default', async ctx => {
            const session = ctx.connect();
            ctx.assert_refused(await post(session, undefined, 'x'), 404, 'ERR_HTTP2_DUPLEX_MISSING_ID');
            await ctx.expect_warning('ERR_HTTP2_DUPLEX_MISSING_ID', 404);
        });

        run('POST with an unknown id: 404', 'default', async ctx => {
            const session = ctx.connect();
            const answer = await post(session, '00000000-0000-4000-8000-000000000000', 'x');
            ctx.assert_refused(answer, 404, 'ERR_HTTP2_DUPLEX_UNKNOWN_ID');
            await ctx.expect_warning('ERR_HTTP2_DUPLEX_UNKNOWN_ID', 404);
        });

        run('malformed http2-duplex-seq: 400', 'default', async ctx => {
            const session = ctx.connect();
            const d = await ctx.open(session);
            ctx.assert_refused(await post(session, d.id, 'x', seq('1x')), 400,
                'ERR_HTTP2_DUPLEX_SEQ_MALFORMED');
            await ctx.expect_fatal(d.id, 'ERR_HTTP2_DUPLEX_SEQ_MALFORMED', 400);
        });

        run('repeated seq: 409', 'default', async ctx => {
            const session = ctx.connect();
            const d = await ctx.open(session);
            assert.equal((await post(session, d.id, 'a', seq(0))).status, 200);
            ctx.assert_refused(await post(session, d.id, 'b', seq(0)), 409,
                'ERR_HTTP2_DUPLEX_SEQ_REPEATED');
            await ctx.expect_fatal(d.id, 'ERR_HTTP2_DUPLEX_SEQ_REPEATED', 409);
        });

        run('seq outside the window: 429', 'default', async ctx => {
            const session = ctx.connect();
            const d = await ctx.open(session);
            const window = Number(d.headers['http2-duplex-window']);
            assert.equal(window, 16);
            ctx.assert_refused(await post(session, d.id, 'x', seq(window)), 429,
                'ERR_HTTP2_DUPLEX_SEQ_OUTSIDE_WINDOW');
            await ctx.expect_fatal(d.id, 'ERR_HTTP2_DUPLEX_SEQ_OUTSIDE_WINDOW', 429);
        });

        run('seq on some writes and not on others: 400', 'default', async ctx => {
            const session = ctx.connect();
            const d = await ctx.open(session);
            assert.equal((await post(session, d.id, 'a', seq(0))).status, 200);
            ctx.assert_refused(await post(session, d.id, 'b'), 400, 'ERR_HTTP2_DUPLEX_SEQ_MIXED');
            await ctx.expect_fatal(d.id, 'ERR_HTTP2_DUPLEX_SEQ_MIXED', 400);
        });

        run('write POST numbered at the end POST\'s count: 400', 'default', async ctx => {
            const session = ctx.connect();
            const d = await ctx.open(session);
            // The end POST counts one write (seq 0), so it waits for it.
            send(session, { ':method': 'POST', 'http2-duplex-id': d.id, ...END, ...seq(1) });
            ctx.assert_refused(await post(session, d.id, 'late', seq(1)), 400,
                'ERR_HTTP2_DUPLEX_WRITE_AFTER_END');
            await ctx.expect_fatal(d.id, 'ERR_HTTP2_DUPLEX_WRITE_AFTER_END', 400);
        });

        run('a second streaming POST while one is open: 409', 'default', async ctx => {
            const session = ctx.connect();
            const d = await ctx.open(session);
            send(session, { ':method': 'POST', 'http2-duplex-id': d.id, ...SINGLE }, 'one', { open: true });
            await d.wait_echo(3);
            ctx.assert_refused(await post(session, d.id, 'two', SINGLE), 409,
                'ERR_HTTP2_DUPLEX_STREAMING_ALREADY_OPEN');
            await ctx.expect_fatal(d.id, 'ERR_HTTP2_DUPLEX_STREAMING_ALREADY_OPEN', 409);
        });

        run('a second end POST while the first waits for pipelined writes: 409', 'default', async ctx => {
            const session = ctx.connect();
            const d = await ctx.open(session);
            send(session, { ':method': 'POST', 'http2-duplex-id': d.id, ...END, ...seq(1) });
            ctx.assert_refused(await post(session, d.id, undefined, { ...END, ...seq(1) }), 409,
                'ERR_HTTP2_DUPLEX_ALREADY_ENDING');
            await ctx.expect_fatal(d.id, 'ERR_HTTP2_DUPLEX_ALREADY_ENDING', 409);
        });

        run('write POST larger than max_write_bytes: 413', 'limits', async ctx => {
            const session = ctx.connect();
            const d = await ctx.open(session);
            ctx.assert_refused(await post(session, d.id, Buffer.alloc(4096)), 413,
                'ERR_HTTP2_DUPLEX_WRITE_TOO_LARGE');
            await ctx.expect_fatal(d.id, 'ERR_HTTP2_DUPLEX_WRITE_TOO_LARGE', 413);
        });

        run('bytes held out of order over window_bytes: 413', 'limits', async ctx => {
            const session = ctx.connect();
            const d = await ctx.open(session);
            assert.equal(d.headers['http2-duplex-window-bytes'], '512');
            // Seq 0 never comes, so all of seq 1 is held.
            ctx.assert_refused(await post(session, d.id, Buffer.alloc(1000), seq(1)), 413,
                'ERR_HTTP2_DUPLEX_WINDOW_BYTES');
            await ctx.expect_fatal(d.id, 'ERR_HTTP2_DUPLEX_WINDOW_BYTES', 413);
        });

        run('too many duplexes in one session: the GET gets 429', 'limits', async ctx => {
            const session = ctx.connect();
            await ctx.open(session);
            await ctx.open(session);
            const refused = await send(session, {}).settled;
            ctx.assert_refused(refused, 429, 'ERR_HTTP2_DUPLEX_TOO_MANY_DUPLEXES');
            await ctx.expect_warning('ERR_HTTP2_DUPLEX_TOO_MANY_DUPLEXES', 429);
        });

        for (const method of ['PUT', 'DELETE', 'HEAD', 'OPTIONS']) {
            run(`${method} on the duplex path: 405`, 'default', async ctx => {
                const session = ctx.connect();
                const answer = await send(session, { ':method': method }).settled;
                ctx.assert_refused(answer, 405, 'ERR_HTTP2_DUPLEX_METHOD_NOT_ALLOWED');
                await ctx.expect_warning('ERR_HTTP2_DUPLEX_METHOD_NOT_ALLOWED', 405);
            });
        }

        run('idle timeout: 408, the GET is reset', 'idle', async ctx => {
            const session = ctx.connect();
            const d = await ctx.open(session);
            await ctx.expect_fatal(d.id, 'ERR_HTTP2_DUPLEX_IDLE_TIMEOUT', 408);
            await within(d.closed, DEADLINE, 'the GET to close');
        });

        // --- the connection goes away with POSTs open -----------------------
        // `codes`: what a cut duplex may report. Node's session.destroy(code)
        // sends RST_STREAM on the session's first stream before its GOAWAY, so
        // that duplex may rightly see a client reset first.
        const cut_with_posts_open = (name, cut, options, codes = [SESSION_CLOSED]) => run(name, 'default', async ctx => {
            const session = ctx.connect(options);
            const writer = await ctx.open(session);
            const streamer = await ctx.open(session);
            send(session, { ':method': 'POST', 'http2-duplex-id': writer.id }, 'write-part',
                { open: true });
            await writer.wait_echo(10);
            send(session, { ':method': 'POST', 'http2-duplex-id': streamer.id, ...SINGLE },
                'stream-part', { open: true });
            await streamer.wait_echo(11);
            cut(session);
            const cut_warnings = () => ctx.events(e => e.event === 'warning' && codes.includes(e.code));
            await ctx.app.wait(ctx.mark, () => cut_warnings().length >= 2,
                `two warnings ${codes.join(' or ')}`);
            assert.ok(cut_warnings().some(e => e.code === SESSION_CLOSED),
                JSON.stringify(cut_warnings()));
            for (const d of [writer, streamer]) {
                const error = await ctx.expect_error(d.id, codes);
                assert.ok(!error || codes.includes(error.code), JSON.stringify(error));
            }
        });

        cut_with_posts_open('GOAWAY(PROTOCOL_ERROR) then destroy, with a write and a streaming POST open',
            session => {
                session.goaway(C.NGHTTP2_PROTOCOL_ERROR);
                session.destroy();
            });

        cut_with_posts_open('session destroyed with PROTOCOL_ERROR, with a write and a streaming POST open',
            session => session.destroy(C.NGHTTP2_PROTOCOL_ERROR), {}, [SESSION_CLOSED, CLIENT_RESET]);

        cut_with_posts_open('TCP connection cut with a write and a streaming POST open',
            session => session.raw_socket.destroy(), { capture_socket: true });

        // --- 200 means taken -----------------------------------------------
        run('a streaming POST is not answered 200 when its duplex is destroyed', 'noread', async ctx => {
            const session = ctx.connect();
            const d = await ctx.open(session);
            const a = send(session, { ':method': 'POST', 'http2-duplex-id': d.id, ...SINGLE },
                Buffer.alloc(1024, 'a'), { open: true });
            // The app does not read: wait until 1 KiB sits in its duplex.
            await within((async () => {
                while ((await ctx.app.state(d.id)).readableLength < 1024) {
                    assert.ok(ctx.app.alive(), ctx.app.describe_exit());
                }
            })(), DEADLINE, '1 KiB in the duplex');
            ctx.assert_refused(await post(session, d.id, 'b', SINGLE), 409,
                'ERR_HTTP2_DUPLEX_STREAMING_ALREADY_OPEN');
            await ctx.expect_fatal(d.id, 'ERR_HTTP2_DUPLEX_STREAMING_ALREADY_OPEN', 409);
            const answer = await within(a.answered, CLOSE_TIMEOUT + DEADLINE, 'streaming POST A to be answered or closed');
            assert.ok(answer.status === null || answer.status >= 300,
                `streaming POST A was answered ${answer.status} though its bytes were never taken`);
        });

        // --- well-behaved clients stay quiet --------------------------------
        run('6.0.3\'s second end POST after an auto-destroy: 404 and no warning', 'default', async ctx => {
            const session = ctx.connect();
            const d = await ctx.open(session);
            assert.equal((await post(session, d.id, 'bye')).status, 200);
            await d.wait_echo(3);
            // As 6.0.3's client: end() sends an end POST ...
            const ended = await post(session, d.id, undefined, {
                ...END, 'http2-duplex-destroyed': 'false'
            });
            assert.equal(ended.status, 200);
            await within(d.ended, DEADLINE, 'the GET body to end');
            // ... and once ended and finished it auto-destroys and sends another.
            const again = await post(session, d.id, undefined, {
                ...END, 'http2-duplex-destroyed': 'true'
            });
            assert.equal(again.status, 404);
            // A full round trip after it (the probe, below, waits for its
            // duplex's close event, which the app reports after any warning).
            await probe(ctx);
            assert.deepEqual(ctx.events(e => e.event === 'warning' || e.event === 'error'), []);
        });
    });
}

// Helpers bound to one case: its app, the events since it began, its sessions.
function make_context(app, variant, config, sessions) {
    const mark = app.mark();
    const ctx = {
        app,
        mark,
        mode: CONFIGS[config].mode || 'pipe',
        events: (predicate = () => true) => app.since(mark, predicate),
        connect(options) {
            const session = connect(app, options);
            sessions.push(session);
            return session;
        },
        // Opens a duplex and waits until the app has it.
        async open(session) {
            const d = await open_duplex(session);
            await app.wait(mark, e => e.event === 'duplex' && e.id === d.id, `duplex event for ${d.id}`);
            return d;
        },
        assert_refused(answer, status, code) {
            assert.equal(answer.status, status,
                `expected ${status} ${code}, got ${answer.status === null
                    ? `no answer (RST_STREAM ${answer.rstCode})` : answer.status}`);
            assert.equal(answer.headers['http2-duplex-error'], code);
        },
        async expect_warning(code, status) {
            const warning = await app.wait(mark, e => e.event === 'warning' && e.code === code,
                `warning ${code}`);
            if (status !== undefined) {
                assert.equal(warning.status, status, JSON.stringify(warning));
            }
            return warning;
        },
        // Only the error-listener variant can see a duplex's 'error'.
        async expect_error(id, code) {
            if (!variant.error_listener) {
                return null;
            }
            const codes = [code].flat();
            const error = await app.wait(mark, e => e.event === 'error' && e.id === id,
                `'error' ${codes.join(' or ')} on duplex ${id}`);
            assert.ok(codes.includes(error.code), JSON.stringify(error));
            return error;
        },
        expect_close(id, ms = DEADLINE) {
            return app.wait(mark, e => e.event === 'close' && e.id === id, `close of duplex ${id}`, ms);
        },
        // A fatal rejection: a warning, the duplex's error, and the duplex closes.
        async expect_fatal(id, code, status) {
            await ctx.expect_warning(code, status);
            const error = await ctx.expect_error(id, code);
            if (error && status !== undefined) {
                assert.equal(error.status, status, JSON.stringify(error));
            }
            await ctx.expect_close(id);
        }
    };
    return ctx;
}

// A new duplex works end to end: GET, a write POST, its echo, the end POST.
async function probe(ctx) {
    const session = ctx.connect();
    const mark = ctx.app.mark();
    const d = await ctx.open(session);
    const answer = await post(session, d.id, 'probe');
    assert.equal(answer.status, 200, `probe write POST answered ${answer.status}`);
    if (ctx.mode !== 'noread') {
        await d.wait_echo(5);
        assert.equal(d.received().toString(), 'probe');
    }
    assert.equal((await post(session, d.id, undefined, END)).status, 200);
    if (ctx.mode !== 'noread') {
        await within(d.ended, DEADLINE, 'the probe GET to end');
        await ctx.app.wait(mark, e => e.event === 'close' && e.id === d.id, 'the probe duplex to close');
    }
    session.close();
}
