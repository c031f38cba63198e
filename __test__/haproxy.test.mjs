// HAProxy 2.6 from apt on loopback: TLS + HTTP/2 from the clients to three Node
// processes n1..n3 (node_id, scope 'server'). Three configurations, as
// docs/deploying.md gives them: h2c to the backends with routing on the id's
// node prefix, the same with a stick table, and HTTP/1.1 to the backends.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { skip_unless, start_backends, start_haproxy, template } from './proxy/harness.mjs';
import { hundred_node_client, raw_across_connections, kill_a_node, long_echo, auto_node_client, ping_pong } from './proxy/cases.mjs';

const skip = skip_unless('haproxy');

// Measured here: with HTTP/2 to the backends a single duplex echoing MiBs as fast
// as flow control allows stalled for good in about half the runs (HAProxy's h2
// backend connection carries the duplex's GET and its POST; see docs/deploying.md).
const H2_BACKEND_STALL = 'HAProxy 2.6 with h2 backends: a fast MiB-scale echo stalls in about half the runs';

const VARIANTS = [
    { variant: 'haproxy', transport: 'h2c', title: 'HAProxy, h2c backends, routing on the node prefix' },
    { variant: 'haproxy-stick', transport: 'h2c', title: 'HAProxy, h2c backends, stick table' },
    { variant: 'haproxy-h1', transport: 'http1', title: 'HAProxy, HTTP/1.1 backends, routing on the node prefix' }
];

for (const { variant, transport, title } of VARIANTS) {
    describe(title, { skip }, () => {
        let backends;
        let proxy;
        before(async () => {
            backends = await start_backends(transport);
            proxy = await start_haproxy(backends, variant);
        });
        after(async () => {
            await proxy?.stop();
            await Promise.all((backends || []).map(b => b.stop()));
        });

        it('Node client: 100 duplexes on one connection, spread over n1..n3, every byte echoed', { timeout: 30000 }, async () => {
            const counts = await hundred_node_client(proxy, backends);
            console.log(`# ${variant}: duplexes per node ${JSON.stringify(counts)}`);
        });

        it('Node client, default transport: 20 duplexes, every byte echoed', { timeout: 30000 }, async () => {
            const warnings = await auto_node_client(proxy, backends);
            console.log(`# ${proxy.name}: default transport, backend warnings: ${JSON.stringify(warnings)}`);
        });

        it('raw http2: 60 duplexes whose POSTs never ride their GET\'s connection (streaming and per-write)', { timeout: 30000 }, async () => {
            await raw_across_connections(proxy, backends);
        });

        it('Node client: one duplex echoes 16 MiB at full speed', {
            timeout: 30000,
            todo: transport === 'h2c' ? H2_BACKEND_STALL : false
        }, async () => {
            await long_echo(proxy, 16, 10000);
        });

        it('Node client: 500 rounds of 64 B ping-pong', { timeout: 30000 }, async () => {
            const p50 = await ping_pong(proxy);
            console.log(`# ${proxy.name}: ping-pong p50 ${p50.toFixed(3)} ms`);
        });

        it('a node killed mid-transfer: its duplexes fail at the client, the others finish intact', { timeout: 40000 }, async () => {
            const figures = await kill_a_node(proxy, backends);
            console.log(`# ${variant}: node kill ${JSON.stringify(figures)}`);
        });
    });
}

describe('docs/deploying.md', () => {
    it('quotes the HAProxy configurations the tests run, word for word', () => {
        const doc = readFileSync(new URL('../docs/deploying.md', import.meta.url), 'utf8');
        for (const { variant } of VARIANTS) {
            assert.ok(doc.includes(template(variant)), `docs/deploying.md quotes __test__/proxy/${variant}.cfg`);
        }
    });
});
