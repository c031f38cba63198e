// nginx 1.22 from apt on loopback: TLS + HTTP/2 from the clients, HTTP/1.1 to
// three Node processes n1..n3 (plain http.Server, node_id, scope 'server'),
// routing on the id's node prefix with a map, as docs/deploying.md gives it.
// nginx offers no RFC 8441 but passes RFC 6455 upgrades on: the Node client's
// WebSockets go over HTTP/1.1, one connection each.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { skip_unless, start_backends, start_nginx, template } from '../support/proxy/harness.mjs';
import { define_proxy_suite } from '../support/proxy/cases.mjs';

const skip = skip_unless('nginx');

define_proxy_suite({
    title: 'nginx, routing on the node prefix',
    name: 'nginx',
    skip,
    websocket: true,
    start: async () => {
        const backends = await start_backends('http1');
        return { backends, proxy: await start_nginx(backends) };
    }
});

describe('docs/deploying.md', () => {
    it('quotes the nginx configuration the tests run, word for word', () => {
        const doc = readFileSync(new URL('../docs/deploying.md', import.meta.url), 'utf8');
        assert.ok(doc.includes(template('nginx')), 'docs/deploying.md quotes support/proxy/nginx-duplex.conf');
    });
});
