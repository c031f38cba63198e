'use strict';
// The boundary between the server's JS and the Rust addon is typed:
// lib/native.d.ts is generated from the #[napi] items of src/*.rs
// (scripts/native-types.mjs, `npm run native:types`) and must match them, and
// the server's JS, `// @ts-check` with JSDoc types, compiles against it
// under tsc --strict (__test__/types/tsconfig.server-js.json).
const { test } = require('node:test');
const assert = require('node:assert');
const { execFileSync } = require('node:child_process');
const { readFileSync } = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const config = path.join(__dirname, 'types', 'tsconfig.server-js.json');

test('native types: lib/native.d.ts is what the bindings declare', async () => {
    // Fresh after `npm run build`; otherwise `cargo check` compiles the bindings.
    const { declarations, type_def_lines, DECLARATIONS } = await import('../scripts/native-types.mjs');
    assert.equal(readFileSync(DECLARATIONS, 'utf8'), declarations(type_def_lines()),
        'lib/native.d.ts is stale: run `npm run native:types`');
});

test("native types: the server's JS type-checks against them (tsc --noEmit, // @ts-check)", () => {
    const { files } = JSON.parse(readFileSync(config, 'utf8'));
    assert.ok(files.length >= 10);
    for (const file of files) {
        // Without it first in the file, tsc would skip the file (checkJs is off).
        assert.match(readFileSync(path.join(path.dirname(config), file), 'utf8'), /^\/\/ @ts-check\n/,
            `${file} starts with // @ts-check`);
    }
    try {
        execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
            '-p', config], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
        assert.fail(`tsc found errors:\n${err.stdout}${err.stderr}`);
    }
});
