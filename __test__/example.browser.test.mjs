// The echo example and zero-config bundling, in headless Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { build_dist } from '../scripts/build-client.mjs';
import { start_server, DUPLEX_PATH } from './browser/server.mjs';
import { launch_chromium } from './browser/browsers.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
let browser;

before(async () => {
    browser = await launch_chromium();
});

after(() => browser?.close());

// Starts examples/server.js on a free port; resolves with its URL and the child.
async function start_example() {
    const child = spawn(process.execPath, [join(root, 'examples', 'server.js'), '0'],
        { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    for await (const data of child.stdout) {
        output += data;
        const match = /https:\/\/localhost:\d+\/client\.html/.exec(output);
        if (match) {
            return { url: match[0], child };
        }
    }
    throw new Error(`example server exited: ${output}`);
}

test('example: keys typed into client.html come back as the echo', async () => {
    await build_dist();
    const { url, child } = await start_example();
    try {
        const { page, close } = await browser.page(url, { harness: false });
        await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Connected'));
        await page.keyboard.type('hello, duplex');
        await page.waitForFunction(() => document.getElementById('echo').textContent === 'hello, duplex');
        await close();
    } finally {
        child.kill();
        await once(child, 'exit');
    }
});

// An app that depends on the package, bundled by esbuild with no options beyond the entry point.
const APP = `
import make from 'http2-duplex';
export async function run(url) {
    const duplex = await make(url, { disable_request_streaming: true });
    const echoed = new Promise(resolve => duplex.once('data', data => resolve(data.toString())));
    duplex.write('bundled hello');
    const text = await echoed;
    duplex.end();
    return text;
}
`;

test('bundling: esbuild (platform browser, no config) bundles the client and it echoes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'http2-duplex-app-'));
    try {
        mkdirSync(join(dir, 'node_modules'));
        symlinkSync(root, join(dir, 'node_modules', 'http2-duplex'));
        writeFileSync(join(dir, 'app.js'), APP);
        const result = await build({
            entryPoints: [join(dir, 'app.js')],
            bundle: true,
            platform: 'browser',
            format: 'esm',
            write: false,
            logLevel: 'silent'
        });
        assert.deepEqual(result.warnings, []);
        const server = await start_server({ routes: { '/app.js': result.outputFiles[0].text } });
        server.duplex_server.on('duplex', duplex => duplex.pipe(duplex));
        try {
            const { page, close } = await browser.page(`${server.origin}/page.html`);
            const text = await page.evaluate(async path => (await import('/app.js')).run(path), DUPLEX_PATH);
            assert.equal(text, 'bundled hello');
            await close();
        } finally {
            await server.close();
        }
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
});

test('types: client.d.ts compiles against a typical use (tsc --strict)', () => {
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'es2020',
        '--module', 'esnext', '--moduleResolution', 'bundler', '--lib', 'es2020,dom,dom.iterable',
        '--types', 'node', join(root, '__test__', 'browser', 'types-check.ts')], { stdio: 'inherit' });
});
