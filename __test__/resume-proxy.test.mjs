// Resume through HAProxy and nginx (docs/deploying.md "Resume through a proxy"):
// the Node client behind support/fault-proxy.mjs, which cuts its connections to
// the proxy; the proxy in front of three nodes n1..n3. A resume reaches its
// duplex's node by ?resume=<node prefix> (a balanced resume would find the
// duplex on one node in three, and fail RESUME_UNKNOWN); a node killed and
// restarted knows none of its old duplexes: RESUME_UNKNOWN.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { CA, DUPLEX_PATH, skip_unless, start_backends, start_haproxy, start_nginx } from '../support/proxy/harness.mjs';
import { start_fault_proxy } from '../support/fault-proxy.mjs';

const require = createRequire(import.meta.url);
const { connect, ConnectionPool } = require('../index.js');

const sha256 = data => createHash('sha256').update(data).digest('hex');

const PROXIES = [
    { name: 'HAProxy, h2c backends', tools: ['haproxy'], transport: 'h2c', start: b => start_haproxy(b, 'haproxy') },
    { name: 'HAProxy, HTTP/1.1 backends', tools: ['haproxy'], transport: 'http1', start: b => start_haproxy(b, 'haproxy-h1') },
    { name: 'nginx', tools: ['nginx'], transport: 'http1', start: b => start_nginx(b) }
];

async function setup(t, { transport, start }) {
    const backends = await start_backends(transport, { options: { keepalive_interval: 500 } });
    t.after(() => Promise.all(backends.map(b => b.stop())));
    const proxy = await start(backends);
    t.after(() => proxy.stop());
    const faults = await start_fault_proxy({ target: { host: '127.0.0.1', port: proxy.port } });
    t.after(() => faults.close());
    const url = `https://localhost:${faults.port}${DUPLEX_PATH}`;
    return { backends, proxy, faults, url };
}

// The node whose backend opened the duplex `id`.
const node_of = (backends, id) => backends.find(b => b.duplex_ids().includes(id));

for (const proxy of PROXIES) {
    describe(`resume through ${proxy.name}`, { skip: skip_unless(...proxy.tools) }, () => {
        it('a 16 MiB echo under 8 cuts reaches the same node each time and arrives whole both ways', async t => {
            const { backends, faults, url } = await setup(t, proxy);
            const duplex = await connect(url, { resume: true, ca: CA, pool: new ConnectionPool() });
            assert.equal(duplex.resumable, true);
            let resumes = 0;
            duplex.on('resumed', () => resumes++);
            const errors = [];
            duplex.on('error', err => errors.push(err));
            const data = randomBytes(16 << 20);
            const hash = createHash('sha256');
            let received = 0;
            const cut_every = data.length / 9;
            let next_cut = cut_every;
            duplex.on('data', chunk => {
                hash.update(chunk);
                received += chunk.length;
                if (received >= next_cut) {
                    next_cut += cut_every;
                    faults.cut_all();
                }
            });
            const ended = once(duplex, 'end');
            for (let i = 0; i < data.length; i += 65536) {
                if (!duplex.write(data.subarray(i, i + 65536))) {
                    await once(duplex, 'drain');
                }
            }
            duplex.end();
            await ended;
            assert.deepEqual(errors, []);
            assert.equal(received, data.length);
            assert.equal(hash.digest('hex'), sha256(data));
            // Two cuts close together make one resume, and the last 'resumed'
            // may come after the duplex ended: at least one, and every byte.
            assert.ok(resumes >= 1, `${resumes} resumes`);
            t.diagnostic(`${resumes} resumes`);
            // One node served it; no node saw a resume it did not know.
            const node = node_of(backends, duplex.id);
            assert.ok(node, 'a node opened the duplex');
            assert.ok(duplex.id.startsWith(`${node.node_id}.`));
            for (const backend of backends) {
                const codes = backend.warnings().map(w => w.code);
                assert.ok(!codes.includes('ERR_HTTP2_DUPLEX_RESUME_UNKNOWN'), `${backend.node_id}: ${codes}`);
            }
        });

        it('a node killed and restarted: its duplexes fail with RESUME_UNKNOWN, the others go on', async t => {
            const { backends, url } = await setup(t, proxy);
            const pool = new ConnectionPool();
            const duplexes = [];
            for (let i = 0; i < 6; i++) {
                const duplex = await connect(url, { resume: true, ca: CA, pool });
                duplex.failure = new Promise(resolve => duplex.on('error', resolve));
                duplexes.push(duplex);
            }
            t.after(() => duplexes.forEach(duplex => duplex.destroy()));
            const node = node_of(backends, duplexes[0].id);
            const killed = duplexes.filter(duplex => node_of(backends, duplex.id) === node);
            const killed_at = performance.now();
            await node.restart();
            const restarted_at = performance.now();
            for (const duplex of killed) {
                const err = await duplex.failure;
                assert.equal(err.code, 'ERR_HTTP2_DUPLEX_RESUME_UNKNOWN');
            }
            const after = performance.now();
            // The client's next attempt after the node is back: at most the
            // longest wait between attempts (RESUME.MAX_RECONNECT_DELAY_MS).
            assert.ok(after - restarted_at < 2500, `${after - restarted_at} ms after the node was back`);
            t.diagnostic(`${killed.length} duplexes: RESUME_UNKNOWN ${(after - killed_at).toFixed(0)} ms ` +
                `after the kill, ${(after - restarted_at).toFixed(0)} ms after the node was back`);
            // The duplexes of the other nodes still echo.
            for (const duplex of duplexes.filter(d => !killed.includes(d))) {
                const echoed = once(duplex, 'data');
                duplex.write('still here');
                assert.equal(String((await echoed)[0]), 'still here');
            }
        });
    });
}
