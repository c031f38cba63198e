// Our client against our server in headless Chromium: WebSocket, streaming and per-write.
import { launch_chromium } from '../support/browser/browsers.mjs';
import { setup } from '../support/browser/setup.mjs';
import { define_cases } from '../support/browser/cases.mjs';

const { browser, ours } = setup(launch_chromium);
const common = { browser, server: ours };

define_cases({ ...common, name: 'chromium: websocket', options: { transport: 'websocket' }, websocket: true });
define_cases({ ...common, name: 'chromium: request streaming', options: { transport: 'streaming' }, streaming: true });
define_cases({
    ...common,
    name: 'chromium: per-write (v2)',
    options: { transport: 'per-write' },
    pipelined: true
});
