// The package's "install" script: the source fallback.
// Does nothing where the native core already loads (the prebuilt http2-duplex-<triple> package
// fitted, or a local build exists) and nothing in the repository's own checkout (`npm run build`
// builds there). Otherwise builds the addon with cargo from the Rust sources the package carries,
// if cargo is on PATH. It never fails the installation: where nothing could be built,
// require('http2-duplex') throws ERR_HTTP2_DUPLEX_NO_NATIVE_BINDING, which says what to do.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAddon } from './build-addon.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const say = line => console.log(`http2-duplex: ${line}`);
const log = join(root, 'http2-duplex.build-error.log');

function main() {
    // A development checkout (npm ci runs this script there too): leave it to `npm run build`.
    if (existsSync(join(root, '.git')) || existsSync(join(root, '__test__'))) {return;}
    let target;
    try {
        createRequire(import.meta.url)('../lib/native.js');
        return; // a prebuilt package or a local build loads: nothing to do
    } catch (err) {
        if (err.code !== 'ERR_HTTP2_DUPLEX_NO_NATIVE_BINDING') {throw err;}
        target = err.target;
    }
    if (!existsSync(join(root, 'Cargo.toml'))) {return;}
    const cargo = spawnSync('cargo', ['--version'], { encoding: 'utf8' });
    if (cargo.error || cargo.status !== 0) {
        say(`no prebuilt binary installed for ${target} and no cargo on PATH to build one; ` +
            'require(\'http2-duplex\') will throw ERR_HTTP2_DUPLEX_NO_NATIVE_BINDING until you ' +
            'install Rust (https://rustup.rs) and run `npm rebuild http2-duplex`.');
        return;
    }
    say(`no prebuilt binary installed for ${target}: building the native core from source ` +
        `with ${cargo.stdout.trim()} (a minute or two)`);
    // cargo's own target/ in the package unless the user points CARGO_TARGET_DIR elsewhere;
    // only the .node is kept.
    const ownTarget = !process.env.CARGO_TARGET_DIR;
    try {
        if (existsSync(log)) {unlinkSync(log);}
        buildAddon({ cwd: root, locked: true, stdio: 'pipe' });
        say(`built ${join(root, 'http2-duplex.node')}`);
    } catch (err) {
        writeFileSync(log, `${err.message}\n${err.stderr ?? err.stack}\n`);
        say(`the source build failed (${err.message}); see ${log}. ` +
            'require(\'http2-duplex\') will throw ERR_HTTP2_DUPLEX_NO_NATIVE_BINDING.');
    } finally {
        if (ownTarget) {rmSync(join(root, 'target'), { recursive: true, force: true });}
    }
}

try {
    main();
} catch (err) {
    say(`install step skipped: ${err.message}`);
}
