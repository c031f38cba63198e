'use strict';
// The Node entry's types (index.d.ts, lib/connect.d.ts) compile under
// tsc --strict, alone and against a use of every option and member
// (__test__/types/usage.ts, imported by the package's own name, and
// __test__/types/esm.mts, as an ES module); the declared members are those of
// a real server. Each import path resolves to the types it should: 6.x's deep
// imports, and the browser client by 'http2-duplex/client' or by the bare name
// under the README's tsconfig.
const { test } = require('node:test');
const assert = require('node:assert');
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

function run_tsc(args) {
    try {
        execFileSync(process.execPath, [tsc, ...args], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
        assert.fail(`tsc found errors:\n${err.stdout}${err.stderr}`);
    }
}

function compile(files, module_kind, resolution = module_kind, lib = []) {
    run_tsc(['--noEmit', '--strict', '--target', 'es2022',
        '--module', module_kind, '--moduleResolution', resolution, '--types', 'node',
        '--noUnusedLocals', '--forceConsistentCasingInFileNames', ...lib,
        ...files.map(f => path.join(root, f))]);
}

test('types: index.d.ts and lib/connect.d.ts compile (tsc --strict)', () => {
    compile(['index.d.ts', 'lib/connect.d.ts'], 'nodenext');
});

test('types: a use of every server option and member compiles (tsc --strict, CommonJS and ESM resolution)', () => {
    compile(['__test__/types/usage.ts', '__test__/types/esm.mts'], 'nodenext');
    compile(['__test__/types/usage.ts', '__test__/types/esm.mts'], 'node16');
});

test("types: 6.x's deep import 'http2-duplex/server.js' gives the Node entry's types", () => {
    compile(['__test__/types/deep-imports.ts'], 'nodenext');
    compile(['__test__/types/deep-imports.ts'], 'node16');
});

test("types: with the README's tsconfig (bundler, browser condition) the bare name, " +
     "'http2-duplex/client' and 'http2-duplex/client.js' give the browser client's types", () => {
    run_tsc(['-p', path.join(root, '__test__', 'types', 'tsconfig.browser.json')]);
});

test('types: under bundler resolution without the browser condition the bare name is the Node ' +
     "entry and 'http2-duplex/client' the browser client", () => {
    compile(['__test__/types/node-entries.ts'], 'esnext', 'bundler', ['--lib', 'es2022,dom']);
});

// Names declared by the members of an interface or class in a .d.ts file.
function declared_members(file, name) {
    const ts = require('typescript');
    const text = require('node:fs').readFileSync(path.join(root, file), 'utf8');
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    const found = source.statements.find(s =>
        (ts.isClassDeclaration(s) || ts.isInterfaceDeclaration(s)) && s.name?.text === name);
    assert.ok(found, `${name} is declared in ${file}`);
    return new Set(found.members.filter(m => m.name).map(m => m.name.getText(source)));
}

test('types: index.d.ts declares every public member of a real Http2DuplexServer, and no other', () => {
    const http2 = require('node:http2');
    const { EventEmitter } = require('node:events');
    const { Http2DuplexServer } = require('..');
    const server = new Http2DuplexServer(http2.createServer(), '/dx');
    try {
        const actual = new Set([
            ...Object.keys(server),
            ...Object.getOwnPropertyNames(Http2DuplexServer.prototype)
        ].filter(n => n !== 'constructor' && !n.startsWith('_')));
        const declared = new Set([...declared_members('index.d.ts', 'Http2DuplexServer')]
            .filter(n => !(n in EventEmitter.prototype)));
        assert.deepStrictEqual([...actual].sort(), [...declared].sort());
        assert.deepStrictEqual(Object.keys(server.limits).sort(),
            [...declared_members('index.d.ts', 'Http2DuplexLimits')].sort());
        assert.deepStrictEqual(Object.keys(server.stats()).sort(),
            [...declared_members('index.d.ts', 'Http2DuplexStats')].sort());
    } finally {
        server.detach();
    }
});

test('types: every option index.d.ts declares is accepted by the server', () => {
    const http2 = require('node:http2');
    const { Http2DuplexServer } = require('..');
    const declared = declared_members('index.d.ts', 'Http2DuplexServerOptions');
    const values = { autoDestroy: true, scope: 'server', node_id: 'n1', cors: { origins: [] }, check_origin: true, websocket: 'http1' };
    const options = {};
    for (const name of declared) {
        options[name] = name in values ? values[name] : 1000;
    }
    const server = new Http2DuplexServer(http2.createServer(), '/dx', options);
    try {
        for (const name of declared) {
            assert.strictEqual(server.options[name], options[name], name);
        }
        assert.strictEqual(server.limits.window, 1000);
        assert.strictEqual(server.limits.maxWriteBytes, 1000);
    } finally {
        server.detach();
    }
});
