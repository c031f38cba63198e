// The WebSocket and per-write cases in Firefox ESR (no fetch request streaming there), driven by
// puppeteer-core over WebDriver BiDi; v2 against our server, v1 against 6.0.3.
import { launch_firefox } from '../support/browser/browsers.mjs';
import { setup } from '../support/browser/setup.mjs';
import { define_cases } from '../support/browser/cases.mjs';

const { browser, ours, original } = setup(launch_firefox, { with_original: true });

// The 6.0.3 server resets the GET stream when the duplex is destroyed, even after a
// clean end; the RST_STREAM can overtake the last DATA frame and Firefox then fails
// the body ("Error in input stream"), now and then. Ours lets an ended GET finish.
const RST_RACE = '6.0.3 server: GET stream reset before its END_STREAM went out (flaky in Firefox)';

define_cases({
    browser,
    server: ours,
    name: 'firefox: websocket',
    options: { transport: 'websocket' },
    websocket: true
});
define_cases({
    browser,
    server: ours,
    name: 'firefox: per-write (v2)',
    options: { transport: 'per-write' },
    pipelined: true
});
define_cases({
    browser,
    server: original,
    // disable_request_streaming: 'auto' goes straight to the fetch paths (no WebSocket tried).
    name: 'firefox: disable_request_streaming → per-write (v1) against 6.0.3',
    options: { disable_request_streaming: true },
    todo: {
        '1 MiB in random-sized writes both ways at once, SHA-256 checked': RST_RACE,
        '2 duplex(es) at once, echoed': RST_RACE,
        '10 duplex(es) at once, echoed': RST_RACE,
        '10 duplexes at once, each echoing 1 MiB, close without an error': RST_RACE
    }
});
