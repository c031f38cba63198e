'use strict';
// The published tarball carries the built addon and works from a plain install.
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('child_process');
const { mkdirSync, mkdtempSync, writeFileSync, rmSync } = require('fs');
const { tmpdir } = require('os');
const { join } = require('path');

const root = join(__dirname, '..');
const npm = (args, cwd) => execFileSync('npm', args, {
    cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']
});

// Run from the installed package: serve a duplex over h2c and echo one write.
const SMOKE = `
import http2 from 'http2';
import { once } from 'events';
import { createRequire } from 'module';
import { Http2DuplexServer, connect } from 'http2-duplex';
const cjs = createRequire(import.meta.url)('http2-duplex');
if (cjs.Http2DuplexServer !== Http2DuplexServer || typeof connect !== 'function') {
    throw new Error('ESM and CJS entries differ');
}
const server = http2.createServer();
new Http2DuplexServer(server, '/dx').on('duplex', d => d.pipe(d));
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const session = http2.connect('http://127.0.0.1:' + server.address().port);
const get = session.request({ ':path': '/dx' });
const [headers] = await once(get, 'response');
const post = session.request({ ':method': 'POST', ':path': '/dx',
    'http2-duplex-id': headers['http2-duplex-id'] });
post.end('ping');
let body = '';
for await (const chunk of get) {
    body += chunk;
    if (body === 'aping') break;
}
console.log(body);
session.destroy();
server.close();
`;

test('npm pack yields a tarball that installs into an empty folder and serves a duplex', t => {
    const dir = mkdtempSync(join(tmpdir(), 'http2-duplex-pack-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // The build ran before the tests (npm run build, npm run build:client).
    const [packed] = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', dir], root));
    const files = packed.files.map(f => f.path);
    for (const wanted of ['http2-duplex.node', 'index.js', 'index.mjs', 'index.d.ts',
        'client.js', 'client.d.ts', 'dist/client.mjs', 'lib/server.js']) {
        assert.ok(files.includes(wanted), `${wanted} missing from the tarball`);
    }
    assert.ok(!files.some(f => f.startsWith('__test__/') || f.startsWith('target/')));
    const app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), '{"name":"app","private":true}');
    npm(['install', '--no-audit', '--no-fund', join(dir, packed.filename)], app);
    writeFileSync(join(app, 'smoke.mjs'), SMOKE);
    const out = execFileSync('node', ['smoke.mjs'], { cwd: app, encoding: 'utf8', timeout: 30000 });
    assert.equal(out.trim(), 'aping');
});
