'use strict';
// 6.x's deep imports, 'http2-duplex/server.js' (6.x's own test suite requires
// it) and 'http2-duplex/client.js' (6.x apps bundle it), resolve through the
// package's "exports": by the package's own name, and from an app whose
// node_modules holds the package, with require, import and a bundler.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { mkdtempSync, mkdirSync, symlinkSync, writeFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');

test("self-reference: require and import of 'http2-duplex/server.js' give the package's Http2DuplexServer", async () => {
    const { Http2DuplexServer } = require('..');
    assert.equal(require('http2-duplex/server.js').Http2DuplexServer, Http2DuplexServer);
    assert.equal((await import('http2-duplex/server.js')).Http2DuplexServer, Http2DuplexServer);
    assert.equal(require.resolve('http2-duplex/client.js'), path.join(root, 'client.js'));
});

// Runs `script` (an ES module) in an app directory whose node_modules/http2-duplex
// is this package; returns what it printed, parsed as JSON.
function run_in_app(script) {
    const dir = mkdtempSync(path.join(tmpdir(), 'http2-duplex-deep-'));
    try {
        mkdirSync(path.join(dir, 'node_modules'));
        symlinkSync(root, path.join(dir, 'node_modules', 'http2-duplex'));
        writeFileSync(path.join(dir, 'package.json'), '{ "name": "app", "private": true }\n');
        writeFileSync(path.join(dir, 'app.mjs'), script);
        return JSON.parse(execFileSync(process.execPath, ['app.mjs'], { cwd: dir, encoding: 'utf8' }));
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

test("an installed package: 'http2-duplex/server.js' by require and import, 'http2-duplex/client.js' resolved", () => {
    const result = run_in_app(`
import { createRequire } from 'node:module';
import { Http2DuplexServer as imported } from 'http2-duplex/server.js';
import * as main from 'http2-duplex';
const require = createRequire(import.meta.url);
const required = require('http2-duplex/server.js').Http2DuplexServer;
console.log(JSON.stringify({
    imported: imported === main.Http2DuplexServer,
    required: required === require('http2-duplex').Http2DuplexServer,
    client_js: require.resolve('http2-duplex/client.js'),
    client: require.resolve('http2-duplex/client')
}));
`);
    assert.deepEqual(result, {
        imported: true,
        required: true,
        client_js: path.join(root, 'client.js'),
        client: path.join(root, 'client.js')
    });
});

test("an installed package: a bundler takes 'http2-duplex/client.js' as the browser client", async () => {
    const { build } = await import('esbuild');
    const dir = mkdtempSync(path.join(tmpdir(), 'http2-duplex-deep-'));
    try {
        mkdirSync(path.join(dir, 'node_modules'));
        symlinkSync(root, path.join(dir, 'node_modules', 'http2-duplex'));
        writeFileSync(path.join(dir, 'app.js'),
            "import make, { ResponseError } from 'http2-duplex/client.js';\nglobalThis.app = { make, ResponseError };\n");
        const result = await build({
            entryPoints: [path.join(dir, 'app.js')],
            absWorkingDir: dir,
            bundle: true,
            platform: 'browser',
            write: false,
            metafile: true,
            logLevel: 'silent'
        });
        assert.deepEqual(result.warnings, []);
        const inputs = Object.keys(result.metafile.inputs).map(input => path.resolve(dir, input));
        assert.ok(inputs.includes(path.join(root, 'client.js')), inputs.join('\n'));
        assert.ok(!inputs.includes(path.join(root, 'index.js')), 'the Node entry stays out of the bundle');
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
});
