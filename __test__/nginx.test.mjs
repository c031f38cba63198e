// nginx 1.22 from apt on loopback: TLS + HTTP/2 from the clients, HTTP/1.1 to
// three Node processes n1..n3 (plain http.Server, node_id, scope 'server'),
// routing on the id's node prefix with a map, as docs/deploying.md gives it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { skip_unless, start_backends, start_nginx, template } from './proxy/harness.mjs';
import { hundred_node_client, raw_across_connections, kill_a_node, long_echo, auto_node_client, ping_pong } from './proxy/cases.mjs';

const skip = skip_unless('nginx');

describe('nginx, routing on the node prefix', { skip }, () => {
    let backends;
    let proxy;
    before(async () => {
        backends = await start_backends('http1');
        proxy = await start_nginx(backends);
    });
    after(async () => {
        await proxy?.stop();
        await Promise.all((backends || []).map(b => b.stop()));
    });

    it('Node client: 100 duplexes on one connection, spread over n1..n3, every byte echoed', { timeout: 30000 }, async () => {
        const counts = await hundred_node_client(proxy, backends);
        console.log(`# nginx: duplexes per node ${JSON.stringify(counts)}`);
    });

    it('Node client, default transport: 20 duplexes, every byte echoed', { timeout: 30000 }, async () => {
        const warnings = await auto_node_client(proxy, backends);
        console.log(`# ${proxy.name}: default transport, backend warnings: ${JSON.stringify(warnings)}`);
    });

    it('raw http2: 60 duplexes whose POSTs never ride their GET\'s connection (streaming and per-write)', { timeout: 30000 }, async () => {
        await raw_across_connections(proxy, backends);
    });

    it('Node client: one duplex echoes 16 MiB at full speed', { timeout: 30000 }, async () => {
        await long_echo(proxy, 16, 10000);
    });

    it('Node client: 500 rounds of 64 B ping-pong', { timeout: 30000 }, async () => {
        const p50 = await ping_pong(proxy);
        console.log(`# ${proxy.name}: ping-pong p50 ${p50.toFixed(3)} ms`);
    });

    it('a node killed mid-transfer: its duplexes fail at the client, the others finish intact', { timeout: 40000 }, async () => {
        const figures = await kill_a_node(proxy, backends);
        console.log(`# nginx: node kill ${JSON.stringify(figures)}`);
    });
});

describe('docs/deploying.md', () => {
    it('quotes the nginx configuration the tests run, word for word', () => {
        const doc = readFileSync(new URL('../docs/deploying.md', import.meta.url), 'utf8');
        assert.ok(doc.includes(template('nginx')), 'docs/deploying.md quotes __test__/proxy/nginx-duplex.conf');
    });
});
