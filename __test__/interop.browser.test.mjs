// Interop with http2-duplex 6.0.3 in headless Chromium: the original client against
// our server, and our client against the original server.
import { before, after } from 'node:test';
import { start_server, original_server_class, ORIGINAL_CLIENT } from './browser/server.mjs';
import { launch_chromium } from './browser/browsers.mjs';
import { define_cases } from './browser/cases.mjs';

let browser, ours, original;

before(async () => {
    [browser, ours, original] = await Promise.all([
        launch_chromium(),
        start_server(),
        start_server({ Server: await original_server_class() })
    ]);
});

after(async () => {
    await browser?.close();
    await ours?.close();
    await original?.close();
});

const old_client = { browser: () => browser, server: () => ours, client_url: ORIGINAL_CLIENT };
const old_server = { browser: () => browser, server: () => original };

define_cases({
    ...old_client,
    name: '6.0.3 client → our server: request streaming',
    options: {},
    streaming: true,
    todo: {
        // Server bug: after Chromium resets the streaming POST (the 6.0.3 client's
        // writer.abort()), the end+destroyed POST is never answered and the server
        // duplex only ends when the HTTP/2 session closes.
        'client destroy → server side ends': 'server: end+destroyed POST unanswered after a reset streaming POST'
    }
});
define_cases({
    ...old_client,
    name: '6.0.3 client → our server: per-write',
    options: { disable_request_streaming: true }
});
define_cases({ ...old_server, name: 'our client → 6.0.3 server: request streaming', options: {}, streaming: true });
define_cases({
    ...old_server,
    name: 'our client → 6.0.3 server: per-write (v1)',
    options: { disable_request_streaming: true }
});
