// The stage of the resume browser suites: a browser, the echo server
// (resume-pages.mjs) and a fault proxy in front of it, opened before a
// describe()'s tests and closed after them.
import { before, after } from 'node:test';
import { start_echo_server } from './resume-pages.mjs';
import { start_fault_proxy } from '../fault-proxy.mjs';

// `launch()` starts the browser. Returns what the tests use, filled in
// before they run: { browser, server, target, proxy, origin }.
export function fault_stage(launch) {
    const s = {};
    before(async () => {
        [s.browser, s.server] = await Promise.all([launch(), start_echo_server()]);
        s.target = { host: '127.0.0.1', port: s.server.http2_server.address().port };
        s.proxy = await start_fault_proxy({ target: s.target });
        s.origin = `https://127.0.0.1:${s.proxy.port}`;
    });
    after(async () => {
        await s.browser?.close();
        await s.proxy?.close();
        await s.server?.close();
    });
    return s;
}
