// An HTTPS HTTP/2 test server: an Http2DuplexServer on DUPLEX_PATH, and on other
// paths (unhandled_stream) the test page, the harness and the client bundles, so
// the client runs same-origin in a secure context.
import assert from 'node:assert/strict';
import { createSecureServer, constants } from 'node:http2';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { build } from 'esbuild';
import { client_build_options } from '../../scripts/build-client.mjs';
import { ws_frame, close_code } from '../ws-frames.js';

const require = createRequire(import.meta.url);
const root = new URL('../../', import.meta.url);
const file = path => new URL(path, root);

export const DUPLEX_PATH = '/duplex';
export const OUR_CLIENT = '/client.mjs';
export const ORIGINAL_CLIENT = '/client6.mjs';

export function our_server_class() {
    return require('../../index.js').Http2DuplexServer;
}

export async function original_server_class() {
    return (await import('http2-duplex-6')).Http2DuplexServer;
}

async function bundle(options) {
    const result = await build({ ...options, write: false, logLevel: 'error' });
    return result.outputFiles[0].text;
}

let bundles;
// Our client as built for dist/, and the original 6.0.3 client with the aliases it needs.
async function client_bundles() {
    bundles = bundles || Promise.all([
        bundle(client_build_options()),
        bundle({
            entryPoints: [require.resolve('http2-duplex-6/client.js')],
            bundle: true,
            format: 'esm',
            platform: 'browser',
            alias: { stream: 'readable-stream' }
        })
    ]);
    const [ours, original] = await bundles;
    return { [OUR_CLIENT]: ours, [ORIGINAL_CLIENT]: original };
}

const PAGE = `<!DOCTYPE html><meta charset="utf-8"><title>http2-duplex test</title>
<script type="module">import * as harness from '/harness.mjs'; window.harness = harness;</script>`;

// Every write POST's headers, so tests can check what went over the wire.
function record_posts(http2_server, posts) {
    http2_server.on('stream', (stream, headers) => {
        if (headers[':method'] === 'POST' && headers[':path'] === DUPLEX_PATH) {
            posts.push(headers);
        }
    });
}

// Raw HTTP/2 stand-ins for a duplex endpoint, on the test server's other paths:
//   GET  STUB_NO_ID         200 without an http2-duplex-id (not a duplex endpoint);
//   GET  STUB_REFUSE_POSTS  200 with an id (and `http2-duplex-version: 2` if the query
//        has version=2); every POST to it is answered 404 with an http2-duplex-error
//        header, as a server that no longer knows the id does.
export const STUB_NO_ID = '/stub/no-id';
export const STUB_REFUSE_POSTS = '/stub/refuse-posts';
export const STUB_ERROR_CODE = 'ERR_HTTP2_DUPLEX_UNKNOWN_ID';

let stub_ids = 0;

// GET STUB_FRAMED: 200 with an id and `http2-duplex-framing: 1`; the body is the preamble,
// DATA frames carrying STUB_FRAMED_DATA (with a PING and an unknown frame between them),
// then END only if the query has end=1; then the body ends cleanly, as a proxy ends the
// GET of a server that died. POSTs to it are answered 200 once their body has ended.
export const STUB_FRAMED = '/stub/framed';
export const STUB_FRAMED_DATA = 'hello, framed world';

function frame(type, payload = '') {
    const body = Buffer.from(payload);
    const header = Buffer.alloc(5);
    header[0] = type;
    header.writeUInt32BE(body.length, 1);
    return Buffer.concat([header, body]);
}

function stub_framed(stream, method, query) {
    if (method !== 'GET') {
        stream.on('end', () => stream.respond({ ':status': 200 }, { endStream: true }));
        stream.resume();
        return;
    }
    stream.respond({
        ':status': 200,
        'content-type': 'application/octet-stream',
        'http2-duplex-id': `stub-${++stub_ids}`,
        'http2-duplex-framing': '1'
    });
    const [first, second] = [STUB_FRAMED_DATA.slice(0, 7), STUB_FRAMED_DATA.slice(7)];
    stream.write('a');
    stream.write(Buffer.concat([frame(0x00, first), frame(0x01), frame(0x7f, 'skip me')]));
    setTimeout(() => {
        stream.write(frame(0x00, second));
        stream.end(new URLSearchParams(query).get('end') === '1' ? frame(0x02) : undefined);
    }, 50);
}

// CONNECT STUB_WS_BREAK?case=NAME: a WebSocket server (http2-duplex.1) that names
// its id, then breaks the protocol as STUB_WS_BREAKS[NAME] says. next_ws_break_close()
// resolves to the code of the next Close a client answers with.
export const STUB_WS_BREAK = '/stub/ws-break';
export const STUB_WS_BREAKS = {
    'unknown-text': ws_frame(1, 'hello'),
    'bad-credit': ws_frame(1, 'credit 0'),
    'data-after-end': Buffer.concat([ws_frame(1, 'end'), ws_frame(2, 'x')]),
    'late-id': Buffer.concat([ws_frame(1, 'credit 5'), ws_frame(1, 'id again')]),
    'over-credit': Buffer.concat(Array.from({ length: 17 }, () => ws_frame(2, Buffer.alloc(65535))))
};
const ws_break_closes = [];
const ws_break_waiting = [];
export function next_ws_break_close() {
    return ws_break_closes.length > 0 ? Promise.resolve(ws_break_closes.shift()) :
        new Promise(resolve => ws_break_waiting.push(resolve));
}

// The code of the client's first Close on `stream` goes to next_ws_break_close().
function report_close(stream) {
    close_code(stream).then(code => {
        const waiting = ws_break_waiting.shift();
        waiting ? waiting(code) : ws_break_closes.push(code);
        stream.end();
    }, () => {});
}

function stub(stream, headers) {
    const [path, query = ''] = headers[':path'].split('?');
    const method = headers[':method'];
    if (path === STUB_WS_BREAK && method === 'CONNECT') {
        stream.respond({ ':status': 200, 'sec-websocket-protocol': 'http2-duplex.1' });
        report_close(stream);
        stream.write(Buffer.concat([ws_frame(1, `id stub-${++stub_ids}`),
            STUB_WS_BREAKS[new URLSearchParams(query).get('case')]]));
        return true;
    }
    if (path === STUB_FRAMED) {
        stub_framed(stream, method, query);
        return true;
    }
    if (path === STUB_NO_ID && method === 'GET') {
        stream.respond({ ':status': 200, 'content-type': 'text/plain' });
        stream.end('not a duplex');
        return true;
    }
    if (path !== STUB_REFUSE_POSTS) {
        return false;
    }
    if (method === 'GET') {
        stream.respond({
            ':status': 200,
            'content-type': 'application/octet-stream',
            'http2-duplex-id': `stub-${++stub_ids}`,
            ...(new URLSearchParams(query).get('version') === '2' ? { 'http2-duplex-version': '2' } : {})
        });
        // The preamble byte; the body stays open until the client cancels it.
        stream.write('a');
    } else {
        // As the server refuses: a final answer, then the upload stopped (RST_STREAM NO_ERROR).
        stream.respond({ ':status': 404, 'http2-duplex-error': STUB_ERROR_CODE }, { endStream: true });
        stream.close(constants.NGHTTP2_NO_ERROR);
    }
    return true;
}

// `page_headers`: extra response headers of /page.html (the bench makes it cross-origin
// isolated, for fine-grained timers). `server_options`: more createSecureServer options
// (the bench's `allowHTTP1`, for WebSockets over HTTP/1.1).
export async function start_server({ Server, options, routes = {}, page_headers = {}, server_options = {} } = {}) {
    const ServerClass = Server || our_server_class();
    const http2_server = createSecureServer({
        key: readFileSync(file('examples/certs/server.key')),
        cert: readFileSync(file('examples/certs/server.crt')),
        ...server_options
    });
    const scripts = { ...await client_bundles(), '/harness.mjs': readFileSync(new URL('harness.mjs', import.meta.url), 'utf8'), ...routes };
    const duplex_server = new ServerClass(http2_server, DUPLEX_PATH, options);
    const waiting = new Map();      // id → resolve, or the duplex that came first
    const posts = [];
    record_posts(http2_server, posts);

    // Every transport's duplex pairs by id (over a WebSocket the server names it
    // in its first message).
    duplex_server.on('duplex', (duplex, id) => {
        const resolve = waiting.get(id);
        if (resolve) {
            waiting.delete(id);
            resolve(duplex);
        } else {
            waiting.set(id, duplex);
        }
    });

    duplex_server.on('unhandled_stream', (stream, headers) => {
        const path = headers[':path'];
        stream.on('error', () => {});   // a page closed mid-response
        if (stub(stream, headers)) {
            return;
        }
        if (path === '/page.html') {
            stream.respond({ ':status': 200, 'content-type': 'text/html; charset=utf-8', ...page_headers });
            return stream.end(PAGE);
        }
        if (scripts[path] !== undefined) {
            stream.respond({ ':status': 200, 'content-type': 'text/javascript' });
            return stream.end(scripts[path]);
        }
        stream.respond({ ':status': 404 }, { endStream: true });
    });

    await new Promise(resolve => http2_server.listen(0, '127.0.0.1', resolve));
    const origin = `https://127.0.0.1:${http2_server.address().port}`;

    return {
        origin,
        posts,
        http2_server,
        duplex_server,
        // The server side of the duplex the client knows as `id`.
        duplex(id) {
            assert.ok(typeof id === 'string' && id.length > 0, `the client knows its duplex id (${id})`);
            const duplex = waiting.get(id);
            if (duplex) {
                waiting.delete(id);
                return Promise.resolve(duplex);
            }
            return new Promise(resolve => waiting.set(id, resolve));
        },
        async close() {
            duplex_server.detach();
            await new Promise(resolve => http2_server.close(resolve));
        }
    };
}
