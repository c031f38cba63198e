// Our client against our server in headless Chromium, streaming and per-write.
import { before, after } from 'node:test';
import { start_server } from './browser/server.mjs';
import { launch_chromium } from './browser/browsers.mjs';
import { define_cases } from './browser/cases.mjs';

let browser, server;

before(async () => {
    [browser, server] = await Promise.all([launch_chromium(), start_server()]);
});

after(async () => {
    await browser?.close();
    await server?.close();
});

const common = { browser: () => browser, server: () => server };

define_cases({ ...common, name: 'chromium: request streaming', options: {}, streaming: true });
define_cases({
    ...common,
    name: 'chromium: per-write (v2)',
    options: { disable_request_streaming: true },
    pipelined: true
});
