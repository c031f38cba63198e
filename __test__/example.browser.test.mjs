// The echo example and zero-config bundling, in headless Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { build_dist } from '../scripts/build-client.mjs';
import { start_server, DUPLEX_PATH } from '../support/browser/server.mjs';
import { launch_chromium } from '../support/browser/browsers.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
let browser;

before(async () => {
    browser = await launch_chromium();
});

after(() => browser?.close());

// Starts the README's server (examples/server.mjs) on a free port; resolves with
// its origin and the child.
async function start_example() {
    const child = spawn(process.execPath, [join(root, 'examples', 'server.mjs'), '0'],
        { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    for await (const data of child.stdout) {
        output += data;
        const match = /open (https:\/\/localhost:\d+)\//.exec(output);
        if (match) {
            return { origin: match[1], child };
        }
    }
    throw new Error(`example server exited: ${output}`);
}

async function stop(child) {
    child.kill();
    await once(child, 'exit');
}

test('example: keys typed into the README\'s page come back as the echo, over a WebSocket', async () => {
    await build_dist();
    const { origin, child } = await start_example();
    try {
        const { page, close } = await browser.page(`${origin}/`, { harness: false });
        await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Connected'));
        assert.match(await page.textContent('#status'),
            /^Connected: duplex [0-9a-f-]{36} over websocket$/);
        await page.keyboard.type('hello, duplex');
        await page.waitForFunction(() => document.getElementById('echo').textContent === 'hello, duplex');
        await close();
    } finally {
        await stop(child);
    }
});

test('example: the README\'s Node client gets its echo, trusting the server by examples/certs/ca.pem', async () => {
    const { origin, child } = await start_example();
    try {
        const client = spawn(process.execPath, [join(root, 'examples', 'node-client.mjs'), `${origin}/example`],
            { stdio: ['ignore', 'pipe', 'inherit'] });
        let output = '';
        client.stdout.on('data', data => { output += data; });
        const [code] = await once(client, 'exit');
        assert.equal(code, 0, output);
        assert.match(output, /^duplex [0-9a-f-]{36} over websocket\nechoed: hello from Node\n$/);
    } finally {
        await stop(child);
    }
});

// An app that depends on the package.
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

// The app in a temporary project that depends on this package (a symlink in node_modules).
function make_app_dir() {
    const dir = mkdtempSync(join(tmpdir(), 'http2-duplex-app-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'http2-duplex'));
    writeFileSync(join(dir, 'app.js'), APP);
    writeFileSync(join(dir, 'global.js'), "import { run } from './app.js';\nglobalThis.run_app = run;\n");
    return dir;
}

async function esbuild_bundle(dir) {
    const result = await build({
        entryPoints: [join(dir, 'global.js')],
        bundle: true,
        platform: 'browser',
        write: false,
        logLevel: 'silent'
    });
    assert.deepEqual(result.warnings, []);
    return result.outputFiles[0].text;
}

async function webpack_bundle(dir) {
    const { default: webpack } = await import('webpack');
    const stats = await new Promise((resolve, reject) => webpack({
        mode: 'production',
        context: dir,
        entry: './global.js',
        output: { path: join(dir, 'dist'), filename: 'bundle.js' }
    }, (err, result) => (err ? reject(err) : resolve(result))));
    const { errors, warnings } = stats.toJson({ all: false, errors: true, warnings: true });
    assert.deepEqual(errors, []);
    assert.deepEqual(warnings, []);
    return readFileSync(join(dir, 'dist', 'bundle.js'), 'utf8');
}

// Bundlers given nothing but the entry point: no polyfills, aliases or fallbacks.
for (const [name, bundle] of [['esbuild (platform browser)', esbuild_bundle], ['webpack 5', webpack_bundle]]) {
    test(`bundling: ${name} with no config bundles the client and it echoes`, async () => {
        const dir = make_app_dir();
        try {
            const script = await bundle(dir);
            const server = await start_server({ routes: { '/app.js': script } });
            server.duplex_server.on('duplex', duplex => duplex.pipe(duplex));
            try {
                const { page, close } = await browser.page(`${server.origin}/page.html`);
                await page.addScriptTag({ url: '/app.js' });
                assert.equal(await page.evaluate(path => window.run_app(path), DUPLEX_PATH), 'bundled hello');
                await close();
            } finally {
                await server.close();
            }
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
}

test('types: client.d.ts compiles against a typical use (tsc --strict)', () => {
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'es2020',
        '--module', 'esnext', '--moduleResolution', 'bundler', '--lib', 'es2020,dom,dom.iterable',
        '--types', 'node', join(root, 'support', 'browser', 'types-check.ts')], { stdio: 'inherit' });
});
