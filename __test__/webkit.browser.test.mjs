// WebKitGTK (MiniBrowser under Xvfb, plain WebDriver HTTP) as the third engine: the
// WebSocket cases and the per-write cases (WebKit has no fetch request streaming), our
// client (v2) and the 6.0.3 client (v1) against our server. WebKit sends every fetch
// POST on a new connection, even over HTTP/2, so the server pairs across connections:
// scope 'server'. It has no RFC 8441: its WebSocket is an HTTP/1.1 upgrade on a
// connection of its own, which an HTTP/2 server takes only with allowHTTP1 (without
// it the TLS handshake offering http/1.1 is refused and 'auto' falls back to per-write).
import { test, before, after } from 'node:test';
import { DUPLEX_PATH, ORIGINAL_CLIENT, start_server } from '../support/browser/server.mjs';
import { launch_webkit, webkit_missing } from '../support/browser/browsers.mjs';
import { define_cases } from '../support/browser/cases.mjs';

const missing = webkit_missing();

if (missing && !process.env.CI) {
    console.log(`# WebKitGTK suite skipped: ${missing}`);
    test('WebKitGTK suite', { skip: missing }, () => {});
} else if (missing) {
    test('WebKitGTK is installed (CI is set: a missing browser fails)', () => {
        throw new Error(missing);
    });
} else {
    const started = {};
    before(async () => {
        [started.browser, started.ours] = await Promise.all([
            launch_webkit(),
            start_server({ options: { scope: 'server' }, server_options: { allowHTTP1: true } })
        ]);
        // HTTP/1.1 requests to other paths (an upgrade there comes as one) get a 404,
        // as their HTTP/2 twins get from the test server.
        started.ours.http2_server.on('request', (req, res) => {
            if (req.httpVersionMajor === 1 && req.url.split('?')[0] !== DUPLEX_PATH) {
                res.writeHead(404).end();
            }
        });
    });
    after(async () => {
        await started.browser?.close();
        await started.ours?.close();
    });
    const browser = () => started.browser;
    // Measured: after RST_STREAM (any code) on a response whose body is being read,
    // WebKitGTK 2.50's reader neither ends nor errors. Our client asks for a framed
    // GET, which a destroyed duplex ends without its END frame (reported); the 6.0.3
    // client does not, so a server's destroy() can only reset its GET.
    const original_todo = {
        'server destroy → client ends or errors':
            'WebKit never reports an RST_STREAM on a fetch response body: read() stays pending'
    };
    const ours = () => started.ours;

    define_cases({
        browser,
        server: ours,
        name: 'webkit: websocket (HTTP/1.1)',
        options: { transport: 'websocket' },
        websocket: 'http1'
    });
    define_cases({ browser, server: ours, name: 'webkit: per-write (v2)', options: { transport: 'per-write' }, pipelined: true });
    define_cases({
        browser,
        server: ours,
        client_url: ORIGINAL_CLIENT,
        name: 'webkit: 6.0.3 client → our server: per-write',
        options: { disable_request_streaming: true },
        todo: original_todo
    });
}
