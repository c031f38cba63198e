// HAProxy 2.6 from apt on loopback: TLS + HTTP/2 from the clients to three Node
// processes n1..n3 (node_id, scope 'server'). Three configurations, as
// docs/deploying.md gives them: h2c to the backends with routing on the id's
// node prefix, the same with a stick table, and HTTP/1.1 to the backends.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { skip_unless, start_backends, start_haproxy, template } from '../support/proxy/harness.mjs';
import { define_proxy_suite } from '../support/proxy/cases.mjs';

const skip = skip_unless('haproxy');

// A single duplex echoing MiBs as fast as flow control allows through h2c
// backends stalled for good in about half the runs with HAProxy's default 16 KiB
// buffers (its h2 backend connection carries the duplex's GET and its POST), in
// 1 of 58 with tune.bufsize 131072, and in 0 of 260 with the configurations'
// 128 KiB stream window in 256 KiB buffers (docs/deploying.md): tested as any
// other case.

const VARIANTS = [
    { variant: 'haproxy', transport: 'h2c', title: 'HAProxy, h2c backends, routing on the node prefix' },
    { variant: 'haproxy-stick', transport: 'h2c', title: 'HAProxy, h2c backends, stick table' },
    { variant: 'haproxy-h1', transport: 'http1', title: 'HAProxy, HTTP/1.1 backends, routing on the node prefix' }
];

for (const { variant, transport, title } of VARIANTS) {
    define_proxy_suite({
        title,
        name: variant,
        skip,
        // HAProxy offers RFC 8441 to clients; to h2c backends it carries it,
        // to HTTP/1.1 ones it sends an RFC 6455 upgrade, which they take.
        websocket: true,
        start: async () => {
            const backends = await start_backends(transport);
            return { backends, proxy: await start_haproxy(backends, variant) };
        }
    });
}

describe('docs/deploying.md', () => {
    it('quotes the HAProxy configurations the tests run, word for word', () => {
        const doc = readFileSync(new URL('../docs/deploying.md', import.meta.url), 'utf8');
        for (const { variant } of VARIANTS) {
            assert.ok(doc.includes(template(variant)), `docs/deploying.md quotes support/proxy/${variant}.cfg`);
        }
    });
});
