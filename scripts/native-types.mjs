// Writes lib/native.d.ts, the types of the Rust addon's exports, from the
// bindings themselves: napi-derive writes what each #[napi] item declares
// (one JSON object a line) to NAPI_TYPE_DEF_TMP_FOLDER whenever the bindings
// crate is compiled. `npm run build` has it written as it compiles;
// `npm run native:types` compiles with `cargo check` when that is not fresh.
// Usage: node scripts/native-types.mjs [--check]
//   --check: write nothing; exit 1 when lib/native.d.ts is stale.
// Neither the install step nor the build needs this script.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const CRATE = 'http2-duplex-node';
// Where the build (scripts/build-addon.mjs) and `cargo check` below write the lines.
export const TYPE_DEF_DIR = join(root, 'target', 'napi-type-def');
const LINES = join(TYPE_DEF_DIR, CRATE);
export const DECLARATIONS = join(root, 'lib', 'native.d.ts');
// Its own target directory: the check neither waits for nor invalidates the release build.
const CHECK_TARGET_DIR = join(root, 'target', 'native-types');

const HEADER = '// Generated from the #[napi] items of src/*.rs by `npm run native:types`; do not edit.\n' +
    '// The exports of the Rust addon, as lib/native.js loads it.\n';

// The files whose change means the bindings crate compiles again.
function sources() {
    return [join(root, 'Cargo.toml'), ...readdirSync(join(root, 'src')).map(f => join(root, 'src', f))];
}

// The lines napi-derive wrote, if no source changed since.
function fresh_lines() {
    if (!existsSync(LINES)) {
        return null;
    }
    const written = statSync(LINES).mtimeMs;
    return sources().every(f => statSync(f).mtimeMs <= written) ? readFileSync(LINES, 'utf8') : null;
}

function cargo(args) {
    mkdirSync(TYPE_DEF_DIR, { recursive: true });
    const run = spawnSync('cargo', args, {
        cwd: root, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, NAPI_TYPE_DEF_TMP_FOLDER: TYPE_DEF_DIR, CARGO_TARGET_DIR: CHECK_TARGET_DIR }
    });
    if (run.error) {throw run.error;}
    if (run.status !== 0) {throw new Error(`cargo ${args.join(' ')} failed:\n${run.stderr}`);}
}

// The JSON lines of the bindings, compiling them (cargo check) unless fresh.
export function type_def_lines() {
    let lines = fresh_lines();
    if (lines === null) {
        cargo(['check', '-p', CRATE]);
        lines = fresh_lines();
    }
    if (lines === null) {
        // cargo found its check fresh, so the macros did not run: compile the crate again.
        cargo(['clean', '-p', CRATE]);
        cargo(['check', '-p', CRATE]);
        lines = fresh_lines();
    }
    if (lines === null) {throw new Error(`napi-derive wrote no ${LINES}`);}
    return lines;
}

// A definition's lines, indented by `indent` (doc comment continuations keep their space).
function indented(def, indent) {
    return def.split('\n').map(line => line.trim()).filter(line => line !== '')
        .map(line => indent + (line.startsWith('*') ? ' ' : '') + line).join('\n');
}

function doc(item, indent = '') {
    return item.js_doc ? indented(item.js_doc, indent) + '\n' : '';
}

// The declaration file for napi-derive's JSON lines, in name order.
export function declarations(lines) {
    const items = lines.split('\n').filter(line => line.trim() !== '').map(line => JSON.parse(line));
    const members = new Map();
    for (const item of items.filter(i => i.kind === 'impl')) {
        members.set(item.name, [...members.get(item.name) ?? [], item.def]);
    }
    const out = [];
    for (const item of items.filter(i => i.kind !== 'impl').sort((a, b) => (a.name < b.name ? -1 : 1))) {
        switch (item.kind) {
        case 'struct': {
            const body = [item.def, ...members.get(item.name) ?? []].filter(d => d.trim() !== '');
            out.push(`${doc(item)}export declare class ${item.name} {\n` +
                body.map(d => indented(d, '  ')).join('\n') + '\n}');
            break;
        }
        case 'interface':
            out.push(`${doc(item)}export interface ${item.name} {\n${indented(item.def, '  ')}\n}`);
            break;
        case 'type':
            out.push(`${doc(item)}export type ${item.name} =\n${indented(item.def, '  ')}`);
            break;
        case 'fn':
            out.push(`${doc(item)}export declare ${item.def.trim()}`);
            break;
        case 'const':
            out.push(doc(item) + item.def.trim().replace(/^export const /, 'export declare const '));
            break;
        case 'enum':
            out.push(`${doc(item)}export declare const enum ${item.name} {\n${indented(item.def, '  ')}\n}`);
            break;
        case 'string_enum':
            out.push(`${doc(item)}export declare enum ${item.name} {\n${indented(item.def, '  ')}\n}`);
            break;
        default:
            throw new Error(`napi type definition of an unknown kind: ${item.kind} (${item.name})`);
        }
    }
    return HEADER + '\n' + out.join('\n\n') + '\n';
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
    const text = declarations(type_def_lines());
    if (process.argv.includes('--check')) {
        if (readFileSync(DECLARATIONS, 'utf8') !== text) {
            console.error('lib/native.d.ts is stale: run `npm run native:types`');
            process.exit(1);
        }
    } else {
        writeFileSync(DECLARATIONS, text);
        console.log('wrote lib/native.d.ts');
    }
}
