// Interop with http2-duplex 6.0.3 in headless Chromium: the original client against
// our server, and our client against the original server.
import { ORIGINAL_CLIENT } from '../support/browser/server.mjs';
import { launch_chromium } from '../support/browser/browsers.mjs';
import { setup } from '../support/browser/setup.mjs';
import { define_cases } from '../support/browser/cases.mjs';

const { browser, ours, original } = setup(launch_chromium, { with_original: true });

const old_client = { browser, server: ours, client_url: ORIGINAL_CLIENT };
const old_server = { browser, server: original };

define_cases({
    ...old_client,
    name: '6.0.3 client → our server: request streaming',
    options: {},
    streaming: true
});
define_cases({
    ...old_client,
    name: '6.0.3 client → our server: per-write',
    options: { disable_request_streaming: true }
});
// 'auto' against a server without RFC 8441: the WebSocket cannot open, the client falls back.
define_cases({
    ...old_server,
    name: 'our client → 6.0.3 server: auto → request streaming (falls back)',
    options: {},
    streaming: true
});
define_cases({
    ...old_server,
    // disable_request_streaming: 'auto' goes straight to the fetch paths (no WebSocket tried).
    name: 'our client → 6.0.3 server: disable_request_streaming → per-write (v1)',
    options: { disable_request_streaming: true }
});
