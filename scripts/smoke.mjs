// CI smoke test of one platform package (.github/workflows/release.yml): links npm/<triple> as
// node_modules/http2-duplex-<triple>, so that lib/native.js must pick it by platform, arch and
// libc, then serves a duplex over h2c and echoes one write through it.
// Usage: node scripts/smoke.mjs <triple>   (after `node scripts/packages.mjs artifacts <dir>`)
import http2 from 'node:http2';
import { once } from 'node:events';
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const triple = process.argv[2];
if (existsSync(join(root, 'http2-duplex.node'))) {throw new Error('remove the local build first');}
mkdirSync(join(root, 'node_modules'), { recursive: true });
const link = join(root, 'node_modules', `http2-duplex-${triple}`);
rmSync(link, { recursive: true, force: true });
symlinkSync(join(root, 'npm', triple), link, 'junction');

const { Http2DuplexServer } = createRequire(import.meta.url)('../index.js');
const server = http2.createServer();
new Http2DuplexServer(server, '/dx').on('duplex', d => d.pipe(d));
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const session = http2.connect(`http://127.0.0.1:${server.address().port}`);
const get = session.request({ ':path': '/dx' });
const [headers] = await once(get, 'response');
session.request({ ':method': 'POST', ':path': '/dx', 'http2-duplex-id': headers['http2-duplex-id'] }).end('ping');
let body = '';
for await (const chunk of get) {
    body += chunk;
    if (body === 'aping') {break;}
}
session.destroy();
server.close();
if (body !== 'aping') {throw new Error(`echo gave ${JSON.stringify(body)}`);}
console.log(`http2-duplex-${triple}: ok`);
