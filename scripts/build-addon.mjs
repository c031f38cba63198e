// Builds the Rust addon and puts it where lib/native.js loads it (http2-duplex.node next to
// package.json). Plain cargo: napi_build (build.rs) sets the link flags a Node addon needs.
// Usage: node scripts/build-addon.mjs [--debug] [--target <rust triple>] [--zig] [--out <file>]
//   --target, --zig (cargo zigbuild) and --out are for CI's per-platform builds
//   (.github/workflows/release.yml), e.g. --zig --target aarch64-unknown-linux-musl
//   --out http2-duplex.linux-arm64-musl.node.
// Also used by scripts/install.mjs (the source fallback of an installed package). In a checkout
// the compile also leaves the bindings' type definitions for lib/native.d.ts
// (scripts/native-types.mjs), at no cost: napi-derive writes them as it expands.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, renameSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

// Runs cargo in `cwd` and copies the cdylib to `out` (default `${cwd}/http2-duplex.node`). The
// artifact's path comes from cargo's own report, so CARGO_TARGET_DIR and a configured build
// target are honoured. Returns the path of the copied .node; throws when cargo fails.
export function buildAddon({
    cwd = root, debug = false, locked = false, target, zig = false, out, stdio = 'inherit', typeDefDir
} = {}) {
    const args = [zig ? 'zigbuild' : 'build', '-p', 'http2-duplex-node', '--message-format=json-render-diagnostics'];
    if (!debug) {args.push('--release');}
    if (locked) {args.push('--locked');}
    if (target) {args.push('--target', target);}
    // musl targets link the C runtime statically by default, and then rustc drops the cdylib:
    // a Node addon on musl (Alpine) links it dynamically, as napi-rs's template configures it.
    const env = { ...process.env };
    if (typeDefDir) {
        mkdirSync(typeDefDir, { recursive: true });
        env.NAPI_TYPE_DEF_TMP_FOLDER = typeDefDir;
    }
    for (const arch of ['X86_64', 'AARCH64']) {
        env[`CARGO_TARGET_${arch}_UNKNOWN_LINUX_MUSL_RUSTFLAGS`] ??= '-C target-feature=-crt-static';
    }
    const run = spawnSync('cargo', args, {
        cwd, env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024,
        stdio: ['ignore', 'pipe', stdio === 'inherit' ? 'inherit' : 'pipe']
    });
    if (run.error) {throw run.error;}
    if (run.status !== 0) {
        const err = new Error(`cargo ${args.join(' ')} exited with ${run.status ?? run.signal}`);
        err.stderr = run.stderr ?? '';
        throw err;
    }
    let built;
    for (const line of run.stdout.split('\n')) {
        if (!line.startsWith('{')) {continue;}
        const msg = JSON.parse(line);
        if (msg.reason === 'compiler-artifact' && msg.target?.kind?.includes('cdylib') &&
            msg.target.name === 'http2_duplex_node') {
            built = msg.filenames.find(f => /\.(so|dylib|dll)$/.test(f));
        }
    }
    if (!built) {throw new Error('cargo reported no cdylib for http2-duplex-node');}
    const dest = out ?? join(cwd, 'http2-duplex.node');
    // A new file renamed into place: a process that has the old one loaded
    // keeps its mapping (copying over it in place crashes such a process).
    const fresh = `${dest}.${process.pid}.tmp`;
    copyFileSync(built, fresh);
    renameSync(fresh, dest);
    return dest;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
    const argv = process.argv.slice(2);
    const value = name => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
    const debug = argv.includes('--debug');
    let dest;
    try {
        dest = buildAddon({
            debug, target: value('--target'), zig: argv.includes('--zig'), out: value('--out'),
            typeDefDir: join(root, 'target', 'napi-type-def')
        });
    } catch (err) {
        console.error(err.message);
        process.exit(1);
    }
    console.log(`built ${relative(root, dest)} (${debug ? 'debug' : 'release'})`);
}
