// Builds the Rust addon and puts it where lib/native.js loads it.
// Plain cargo: napi_build (build.rs) sets the link flags a Node addon needs.
// Usage: node scripts/build-addon.mjs [--debug]
import { execFileSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const debug = process.argv.includes('--debug');
execFileSync('cargo', ['build', '-p', 'http2-duplex-node', ...(debug ? [] : ['--release'])],
    { cwd: root, stdio: 'inherit' });
const library = { darwin: 'libhttp2_duplex_node.dylib', win32: 'http2_duplex_node.dll' }[process.platform] ??
    'libhttp2_duplex_node.so';
const built = `${root}target/${debug ? 'debug' : 'release'}/${library}`;
copyFileSync(built, `${root}http2-duplex.node`);
console.log(`built http2-duplex.node (${debug ? 'debug' : 'release'})`);
