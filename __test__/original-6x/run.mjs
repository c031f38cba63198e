// Runs http2-duplex 6.0.3's own Mocha suite (its test/runner.cjs, loaded from
// node_modules/http2-duplex-6 as it ships) against this package. Its authors ran it
// inside NW.js, where one JavaScript context has Node and a browser's fetch; here the
// suite runs in Node with:
// - the server from `http2-duplex/server.js`, the deep import of 6.x apps, resolved
//   through this package's "exports" as an installed package would be;
// - the client from the built browser bundle dist/client.mjs, on the fetch transport
//   the suite's run names (its only transport in 6.x), with the fetch of a headless
//   Chromium page (fetch-bridge.mjs).
// Cases whose difference is deliberate are skipped (pending), each with its reason.
//
//   npm run build:client && node __test__/original-6x/run.mjs \
//       [--transport per-write|streaming] [--n 1|2|5|10] [--grep PATTERN] [--bail]
//
// Prints the suite's own (spec) report, then one line: RESULT {"passed":…} .
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const RUNNER = join(root, 'node_modules/http2-duplex-6/test/runner.cjs');
const CLIENT_BUNDLE = join(root, 'dist/client.mjs');
export const RESULT_PREFIX = 'RESULT ';
// Set in the process that runs the suite, with `http2-duplex` on NODE_PATH.
const ALIAS_ENV = 'HTTP2_DUPLEX_ORIGINAL_SUITE_ALIAS';

// Deliberate differences: the case's title (without its " (xN)"), the runs it
// differs in (the suite runs once per value of disable_request_streaming), and why.
export const DELIBERATE = [
    {
        title: 'read backpressure',
        runs: [true],
        reason: 'per-write writes are pipelined (protocol v2): a write\'s callback fires once ' +
            'the write is accepted into the window of POSTs in flight, not once the server has ' +
            'taken it, so the second write reaches the server with the first, as the case ' +
            'expects of request streaming (151 bytes in one read, not 101 then 50).'
    },
    {
        title: 'emit client write error',
        runs: [true],
        reason: 'for the same reason (pipelined writes), the write\'s callback has fired before ' +
            'its POST is answered 404; the failed POST destroys the duplex with the ResponseError ' +
            "(the duplex's 'error') instead of failing the write's callback."
    },
    {
        title: 'emit client end error',
        runs: [true],
        reason: "the end POST's 404 destroys the client's duplex (autoDestroy); the case then " +
            'calls the private `_final` again, which fails at once on the destroyed upload, and ' +
            "waits for an 'end' that a destroyed duplex (readable-stream 4) never emits."
    },
    {
        title: 'close event',
        runs: [true],
        reason: "the case destroys the server's duplex and expects the client's first error to be " +
            "the end POST's 404. The 7.x client asks for a framed GET body (same origin), so it first " +
            "learns that the server's side ended without its END frame: ERR_HTTP2_DUPLEX_TRUNCATED_RESPONSE " +
            '(docs/migrating-from-6.md, "Framed GET body"; `framing: false` turns it off).'
    },
    {
        title: 'session close',
        runs: [true],
        reason: "for the same reason (framed GET body), the client's error when the server " +
            'destroys the session is ERR_HTTP2_DUPLEX_TRUNCATED_RESPONSE (its `cause` is the ' +
            "browser's 'network error'), not the 'network error' itself."
    },
    {
        title: 'end when server-side destroyed',
        runs: [true, false],
        reason: 'for the same reason (framed GET body), when the server destroys its duplex the ' +
            "client's error is ERR_HTTP2_DUPLEX_TRUNCATED_RESPONSE (streaming: when the GET's end " +
            "is read before the POST fails), where the case accepts only the write POST's 404 or " +
            "'Failed to fetch'."
    },
    {
        title: 'should not error if respond called when already closed',
        runs: [false],
        reason: "the case counts the streams passed to `own_stream` by 6.x's marker " +
            '`stream.http2_duplex_owned`, which 7.x does not set, so the stream it destroys is the ' +
            'GET again, not the streaming POST; the client learns of it from its framed GET ' +
            "(ERR_HTTP2_DUPLEX_TRUNCATED_RESPONSE, not 'Failed to fetch'). With the marker set it " +
            'destroys the streaming POST, and the outcome is the same: a streaming POST cut before ' +
            'its end breaks the duplex.'
    },
    {
        title: 'should not error if _final called twice',
        runs: [true, false],
        reason: "it calls the client's private `_final` again once the duplex has ended. Per " +
            'write, the duplex has closed by then and aborted its requests, so no second end POST ' +
            'goes out and `_final` fails with an AbortError (6.x sent one without a signal and got ' +
            "its 404); streaming, the upload has already ended and `_final` succeeds (6.x's failed " +
            "with its WritableStream's 'Cannot close a CLOSED writable stream')."
    },
    {
        title: 'close active POST request when duplex closes',
        runs: [true, false],
        reason: 'a write POST still open when its duplex is destroyed is answered 410 ' +
            'ERR_HTTP2_DUPLEX_DESTROYED, not 200: 200 always means the bytes were taken.'
    },
    {
        title: 'end when client-side destroyed',
        runs: [true, false],
        reason: "the client's destroy() cancels its GET before its destroyed end POST goes out; a " +
            'GET the client resets closes the server duplex at once, with an error (code ' +
            "ERR_HTTP2_DUPLEX_CLIENT_RESET, only where the app listens) and a 'warning', where the case " +
            "expects the duplex to end and then fail a write with 'write after end'."
    },
    {
        title: 'emit client read error',
        runs: [true, false],
        reason: "it replaces the client's GET body reader, 6.x's `reader` property; 7.x keeps " +
            "it private (`_reader`). A failed read still destroys the duplex with the read's error."
    },
    {
        title: 'should drain messages when duplex ends',
        runs: [true, false],
        reason: "it wraps 6.x's server-side queue `duplex.chunks`; 7.x has none (the Rust core " +
            'holds only out-of-order chunks and delivers the rest straight into the duplex).'
    }
];

// A case's place: its run (disable_request_streaming) and its N. The suite
// defines its cases per N in order, and a few without " (xN)": those take the
// N of the case before them.
function places(root) {
    const placed = [];
    for (const suite of root.suites) {
        const run = /disable_request_streaming=true/.test(suite.fullTitle());
        let n = 1;
        for (const test of suite.tests) {
            const numbered = / \(x(\d+)\)$/.exec(test.title);
            n = numbered ? Number(numbered[1]) : n;
            placed.push({ suite, test, run, n, title: test.title.replace(/ \(x\d+\)$/, '') });
        }
    }
    return placed;
}

// The process that runs the suite: `http2-duplex` resolves (from the 6.x test
// folder, as from any app) to this repository through a NODE_PATH entry.
async function run_in_child() {
    const alias_dir = await mkdtemp(join(tmpdir(), 'http2-duplex-alias-'));
    try {
        await symlink(root, join(alias_dir, 'http2-duplex'), 'dir');
        const node_path = [alias_dir, process.env.NODE_PATH].filter(Boolean).join(':');
        const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
            env: { ...process.env, NODE_PATH: node_path, [ALIAS_ENV]: '1' },
            stdio: 'inherit'
        });
        return await new Promise(resolve => child.on('exit', (code, signal) => resolve(code ?? 1)));
    } finally {
        await rm(alias_dir, { recursive: true, force: true });
    }
}

// What the suite's tests get as the browser side (6.x's webpack bundle exported
// these): our client's make() and ResponseError, and the crypto and stream
// helpers its cases call on the client's duplexes.
async function client_bundle(fetch) {
    if (!existsSync(CLIENT_BUNDLE)) {
        throw new Error(`${CLIENT_BUNDLE} missing: run npm run build:client first`);
    }
    const { default: make, ResponseError } = await import(pathToFileURL(CLIENT_BUNDLE).href);
    const { randomBytes, createHash } = await import('node:crypto');
    const { PassThrough } = await import('readable-stream');
    return {
        make(url, options) {
            // The client runs as on a page of the server's origin: its feature test
            // for request streaming builds a Request with a relative URL.
            globalThis[Symbol.for('undici.globalOrigin.1')] = new URL(url).origin;
            return make(url, {
                ...options,
                fetch,
                transport: options.disable_request_streaming ? 'per-write' : 'streaming'
            });
        },
        ResponseError,
        crypto: { randomBytes, createHash },
        PassThrough,
        window: {}
    };
}

// The Mocha instance the runner creates: only the cases of the part asked for
// run (run: true/false for disable_request_streaming, n: the suite's xN; either
// may be left out), the deliberate differences are marked pending, --bail is
// honoured (the runner asks for bail; without --bail every case runs, so the
// report counts them all), and the outcomes are counted.
function watch_mocha(Mocha, { bail, grep, part }, counts) {
    const run = Mocha.prototype.run;
    Mocha.prototype.run = function (fn) {
        if (grep) {
            this.grep(new RegExp(grep));
        }
        const placed = places(this.suite);
        counts.suite_total = placed.length;
        // A listed difference that names no case of the suite is a stale entry.
        counts.unmatched = DELIBERATE.flatMap(({ title, runs }) => runs
            .filter(r => !placed.some(p => p.title === title && p.run === r))
            .map(r => `${title} (disable_request_streaming=${r})`));
        for (const suite of this.suite.suites) {
            // Each suite took its bail from its parent when the runner defined it.
            suite.bail(bail);
            suite.tests = [];
        }
        for (const { suite, test, run: in_run, n, title } of placed) {
            if ((part.run !== undefined && part.run !== in_run) || (part.n !== undefined && part.n !== n)) {
                continue;
            }
            suite.tests.push(test);
            counts.total += 1;
            const difference = DELIBERATE.find(d => d.title === title && d.runs.includes(in_run));
            if (difference) {
                counts.marked += 1;
                test.pending = true;
                test.title += ` [deliberate difference: ${difference.reason}]`;
            }
        }
        const runner = run.call(this, fn);
        runner.on('pass', () => { counts.passed += 1; });
        runner.on('pending', () => { counts.pending += 1; });
        runner.on('fail', (runnable, err) => {
            if (runnable.type === 'hook') {
                counts.failed_hooks.push(`${runnable.fullTitle()}: ${err.message}`);
            } else {
                counts.failed += 1;
            }
        });
        return runner;
    };
}

async function run_suite() {
    const args = process.argv.slice(2);
    const bail = args.includes('--bail');
    const value = name => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
    const grep = value('--grep');
    const transport = value('--transport');
    const part = {
        run: transport === undefined ? undefined : transport === 'per-write',
        n: value('--n') === undefined ? undefined : Number(value('--n'))
    };
    const { launch_chromium } = await import('../../support/browser/browsers.mjs');
    const { open_fetch_bridge } = await import('./fetch-bridge.mjs');
    const browser = await launch_chromium();
    const counts = {
        suite_total: 0, total: 0, marked: 0, passed: 0, failed: 0, pending: 0, failed_hooks: [], unmatched: []
    };
    try {
        const { page, close } = await browser.page('about:blank', { harness: false });
        const bridge = await open_fetch_bridge(page.context());
        // As the suite's own loader: an unhandled rejection (an assertion in a
        // callback the client calls from a promise) fails the run, here the case.
        process.on('unhandledRejection', err => {
            throw err;
        });
        const require = createRequire(RUNNER);
        watch_mocha(require('mocha'), { bail, grep, part }, counts);
        const runner = require(RUNNER);
        const bundle = await client_bundle(bridge.fetch);
        const err = await new Promise(resolve => runner(bundle, resolve));
        await close();
        console.log(RESULT_PREFIX + JSON.stringify({ ...counts, ok: !err }));
        return err ? 1 : 0;
    } finally {
        await browser.close();
    }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
    // Exits rather than waits: after a failed "after all" hook the suite's
    // server may still be listening.
    process.exit(process.env[ALIAS_ENV] ? await run_suite() : await run_in_child());
}
