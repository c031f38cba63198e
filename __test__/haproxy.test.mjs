// HAProxy 2.6 from apt on loopback: TLS + HTTP/2 from the clients, h2c to three
// Node processes n1..n3 (node_id, scope 'server'). Two configurations, as
// docs/deploying.md gives them: routing on the id's node prefix, and a stick table.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { skip_unless, start_backends, start_haproxy, template } from './proxy/harness.mjs';
import { hundred_node_client, raw_across_connections, kill_a_node } from './proxy/cases.mjs';

const skip = skip_unless('haproxy');

for (const variant of ['haproxy', 'haproxy-stick']) {
    describe(`${variant === 'haproxy' ? 'HAProxy, routing on the node prefix' : 'HAProxy, stick table'}`, { skip }, () => {
        let backends;
        let proxy;
        before(async () => {
            backends = await start_backends('h2c');
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

        it('raw http2: 60 duplexes whose POSTs never ride their GET\'s connection (streaming and per-write)', { timeout: 30000 }, async () => {
            await raw_across_connections(proxy, backends);
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
        for (const name of ['haproxy', 'haproxy-stick']) {
            assert.ok(doc.includes(template(name)), `docs/deploying.md quotes __test__/proxy/${name}.cfg`);
        }
    });
});
