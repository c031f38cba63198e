'use strict';
// docs/api.md against the type declarations: each "## … (`file.d.ts`)" section
// has one "### `Name`" per export of that file, and under a declaration with
// members one table whose first column lists exactly those members; the
// "## Error codes" table lists every code the package uses, with its status.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { readFileSync, readdirSync } = require('node:fs');
const path = require('node:path');
const { EventEmitter } = require('node:events');
const ts = require('typescript');

const root = path.join(__dirname, '..');
const api = readFileSync(path.join(root, 'docs', 'api.md'), 'utf8');

// The name a heading or table cell documents: `new X(…)` is a constructor,
// `name(…)` or `name` a member.
function documented_name(cell) {
    const code = /`([^`]+)`/.exec(cell);
    if (!code) {
        return undefined;
    }
    if (code[1].startsWith('new ')) {
        return 'constructor';
    }
    return /^[A-Za-z_$][\w$]*/.exec(code[1])?.[0];
}

// docs/api.md as { file → { declaration → Set of member names, or null without a table } }
// plus the rows of the error code table.
function parse_api(markdown) {
    const files = new Map();
    const code_rows = [];
    let declarations = null;
    let members = null;
    let in_codes = false;
    for (const line of markdown.split('\n')) {
        const h2 = /^## (.*)$/.exec(line);
        if (h2) {
            const file = /`([^`]+\.d\.ts)`/.exec(h2[1]);
            declarations = file ? new Map() : null;
            if (file) {
                files.set(file[1], declarations);
            }
            in_codes = h2[1] === 'Error codes';
            members = null;
            continue;
        }
        const h3 = /^### (.*)$/.exec(line);
        if (h3 && declarations) {
            const name = documented_name(h3[1]);
            assert.ok(name, `a declaration heading names its declaration: ${line}`);
            assert.ok(!declarations.has(name), `${name} is documented once per file`);
            declarations.set(name, null);
            members = name;
            continue;
        }
        const row = /^\| (.*) \|$/.exec(line);
        if (!row || /^\|[-| ]+\|$/.test(line)) {
            continue;
        }
        const cells = row[1].split(' | ');
        if (in_codes) {
            code_rows.push(cells);
        } else if (declarations && members) {
            const name = documented_name(cells[0]);
            if (name === undefined) {
                continue;   // the table's header
            }
            const set = declarations.get(members) ?? new Set();
            assert.ok(!set.has(name), `${members}.${name} is documented once`);
            set.add(name);
            declarations.set(members, set);
        }
    }
    return { files, code_rows: code_rows.filter(cells => cells[0].startsWith('`')) };
}

function has_export(node) {
    return ts.getCombinedModifierFlags(node) & ts.ModifierFlags.Export;
}

// The exports a .d.ts file declares itself, each with its members (null for a
// function, constant or type alias), and the names it re-exports.
function declared(file) {
    const text = readFileSync(path.join(root, file), 'utf8');
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    const exports = new Map();
    const re_exported = [];
    for (const statement of source.statements) {
        if (ts.isExportDeclaration(statement)) {
            for (const element of statement.exportClause.elements) {
                re_exported.push(element.name.text);
            }
        } else if ((ts.isClassDeclaration(statement) || ts.isInterfaceDeclaration(statement)) &&
                   has_export(statement)) {
            const names = new Set();
            for (const member of statement.members) {
                if (ts.isConstructorDeclaration(member)) {
                    names.add('constructor');
                } else if (member.name) {
                    names.add(member.name.getText(source));
                }
            }
            exports.set(statement.name.text, names);
        } else if ((ts.isFunctionDeclaration(statement) || ts.isTypeAliasDeclaration(statement)) &&
                   has_export(statement)) {
            exports.set(statement.name.text, null);
        } else if (ts.isVariableStatement(statement) && has_export(statement)) {
            for (const declaration of statement.declarationList.declarations) {
                exports.set(declaration.name.text, null);
            }
        }
    }
    return { exports, re_exported };
}

// EventEmitter's methods, which Http2DuplexServer declares only to type its events.
function without_emitter_methods(names) {
    return new Set([...names].filter(name => name === 'constructor' || !(name in EventEmitter.prototype)));
}

const { files, code_rows } = parse_api(api);
const DECLARATION_FILES = ['index.d.ts', 'client.d.ts', 'lib/connect.d.ts'];

test('api.md: one section per declaration file', () => {
    assert.deepEqual([...files.keys()].sort(), [...DECLARATION_FILES].sort());
});

for (const file of DECLARATION_FILES) {
    test(`api.md: every export of ${file}, and every member of each, is documented, and nothing else`, () => {
        const documented = files.get(file);
        const { exports } = declared(file);
        assert.deepEqual([...documented.keys()].sort(), [...exports.keys()].sort(),
            `the exports of ${file}`);
        for (const [name, members] of exports) {
            const expected = members && without_emitter_methods(members);
            const listed = documented.get(name);
            if (expected === null || expected.size === 0) {
                assert.equal(listed, null, `${name} has no members to list`);
            } else {
                assert.deepEqual([...(listed ?? [])].sort(), [...expected].sort(), `the members of ${name}`);
            }
        }
    });
}

test('index.d.ts re-exports every export of lib/connect.d.ts (the Node client)', () => {
    assert.deepEqual(declared('index.d.ts').re_exported.sort(),
        [...declared('lib/connect.d.ts').exports.keys()].sort());
});

// Codes the JS side uses outside the core's table (e.g. loading the addon).
function codes_in_sources() {
    const found = new Set();
    const files = ['index.js', 'client.js', ...readdirSync(path.join(root, 'lib'), { recursive: true })
        .filter(name => /\.m?js$/.test(name) && name !== 'error-codes.js')
        .map(name => path.join('lib', name))];
    for (const file of files) {
        for (const [code] of readFileSync(path.join(root, file), 'utf8').matchAll(/ERR_HTTP2_DUPLEX_[A-Z0-9_]+/g)) {
            found.add(code);
        }
    }
    return found;
}

test('api.md: the error code table lists every code with its status, and no other', () => {
    const codes = require('../lib/error-codes');
    const expected = new Set([...Object.keys(codes), ...codes_in_sources()]);
    const listed = new Map(code_rows.map(([code, status]) => [code.replace(/`/g, ''), status]));
    assert.deepEqual([...listed.keys()].sort(), [...expected].sort());
    for (const [code, { status }] of Object.entries(codes)) {
        assert.equal(listed.get(code), status === null ? '—' : String(status), `the status of ${code}`);
    }
});
