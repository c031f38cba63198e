// The browser side of the proxy suites: the test page, the browser harness and
// the client bundle as files (the backends serve them on every other path, so
// a page loaded through a proxy is same-origin with its duplexes), and a
// separate HTTPS server for the cross-origin page.
import { build } from 'esbuild';
import https from 'node:https';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { client_build_options } from '../../scripts/build-client.mjs';

const certs = new URL('../certs/', import.meta.url);
export const CLIENT = '/client.mjs';
const PAGE = `<!DOCTYPE html><meta charset="utf-8"><title>http2-duplex proxy test</title>
<script type="module">import * as harness from '/harness.mjs'; window.harness = harness;</script>`;

// A directory with page.html, harness.mjs and client.mjs; remove() deletes it.
export async function static_dir() {
    const dir = mkdtempSync(join(tmpdir(), 'http2-duplex-pages-'));
    const result = await build({ ...client_build_options(), write: false, logLevel: 'error' });
    writeFileSync(join(dir, 'client.mjs'), result.outputFiles[0].text);
    writeFileSync(join(dir, 'harness.mjs'), readFileSync(new URL('../browser/harness.mjs', import.meta.url)));
    writeFileSync(join(dir, 'page.html'), PAGE);
    return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

const TYPES = { html: 'text/html; charset=utf-8', mjs: 'text/javascript' };

// An HTTPS server for the same files on another origin.
export async function page_server(dir) {
    const server = https.createServer({
        key: readFileSync(new URL('key.pem', certs)),
        cert: readFileSync(new URL('cert.pem', certs))
    }, (req, res) => {
        const name = req.url.split('?')[0].slice(1);
        if (!['page.html', 'harness.mjs', 'client.mjs'].includes(name)) {
            return res.writeHead(404).end();
        }
        res.writeHead(200, { 'content-type': TYPES[name.split('.').pop()] }).end(readFileSync(join(dir, name)));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return {
        origin: `https://127.0.0.1:${server.address().port}`,
        close: () => new Promise(resolve => {
            server.closeAllConnections();
            server.close(resolve);
        })
    };
}

// Runs in the page: opens `n` duplexes on `url`, sends `size` random bytes on
// each in writes of up to 16 KiB, ends, and reads the echo: [{ id, transport,
// sent: { length, sha256 }, read: { length, sha256 } }].
export function echo_in_page(page, url, n, size, options) {
    return page.evaluate(args => window.harness.echo_many(...args), [CLIENT, url, n, size, options]);
}
