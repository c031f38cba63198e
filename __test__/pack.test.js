'use strict';
// Install anywhere (issue 13): the published packages, installed the way a user installs them.
// The main tarball (no .node; Rust sources for the fallback) plus the linux-x64-gnu package install
// into an empty folder and serve a duplex from ESM and CJS; without the platform package
// the install step builds the addon with cargo; with neither, install succeeds and require()
// throws ERR_HTTP2_DUPLEX_NO_NATIVE_BINDING.
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('child_process');
const {
    copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync,
    writeFileSync
} = require('fs');
const { tmpdir } = require('os');
const { delimiter, join } = require('path');

const root = join(__dirname, '..');
const main = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const HOST = 'linux-x64-gnu'; // the one platform package this machine can build and load
// From package.json's napi.targets, the one list.
const { PLATFORMS, platform_of } = require('../lib/targets');
const TRIPLES = PLATFORMS.map(p => p.triple);
const npm = (args, cwd, env = process.env) => execFileSync('npm', args, {
    cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']
});
const packJson = (cwd, extra = []) =>
    JSON.parse(npm(['pack', '--json', '--ignore-scripts', ...extra], cwd))[0];

// Run from the installed package: serve a duplex over h2c and echo one write.
const SMOKE = `
import http2 from 'http2';
import { once } from 'events';
import { createRequire } from 'module';
import { Http2DuplexServer, connect } from 'http2-duplex';
const cjs = createRequire(import.meta.url)('http2-duplex');
if (cjs.Http2DuplexServer !== Http2DuplexServer || typeof connect !== 'function') {
    throw new Error('ESM and CJS entries differ');
}
const server = http2.createServer();
new Http2DuplexServer(server, '/dx').on('duplex', d => d.pipe(d));
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const session = http2.connect('http://127.0.0.1:' + server.address().port);
const get = session.request({ ':path': '/dx' });
const [headers] = await once(get, 'response');
const post = session.request({ ':method': 'POST', ':path': '/dx',
    'http2-duplex-id': headers['http2-duplex-id'] });
post.end('ping');
let body = '';
for await (const chunk of get) {
    body += chunk;
    if (body === 'aping') break;
}
console.log(body);
session.destroy();
server.close();
`;

// What require() of the installed package throws, as JSON.
const LOAD_ERROR = `
try { require('http2-duplex'); } catch (e) {
    console.log(JSON.stringify({ code: e.code, message: e.message, target: e.target, supported: e.supported }));
}
`;

const dir = mkdtempSync(join(tmpdir(), 'http2-duplex-pack-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
let mainTarball, hostTarball;

// An empty app folder; installs the given tarballs as a user would: dependencies come from the
// registry, through an npm cache of this install's own, so nothing rests on what an earlier
// command (npm ci, another install) happened to cache.
function install(name, tarballs, env = process.env) {
    const app = join(dir, name);
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), '{"name":"app","private":true}');
    const cache = mkdtempSync(join(dir, 'npm-cache-'));
    const run = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--foreground-scripts', ...tarballs],
        { cwd: app, env: { ...env, npm_config_cache: cache }, encoding: 'utf8' });
    assert.equal(run.status, 0, `npm install failed:\n${run.stdout}\n${run.stderr}`);
    return { app, log: run.stdout + run.stderr };
}
const smoke = app => {
    writeFileSync(join(app, 'smoke.mjs'), SMOKE);
    return execFileSync('node', ['smoke.mjs'], { cwd: app, encoding: 'utf8', timeout: 30000 }).trim();
};

test('one package per target triple, the napi-rs way', () => {
    assert.deepEqual(readdirSync(join(root, 'npm')).sort(), [...TRIPLES].sort());
    for (const triple of TRIPLES) {
        const pkg = JSON.parse(readFileSync(join(root, 'npm', triple, 'package.json'), 'utf8'));
        const [os, cpu, abi] = triple.split('-');
        assert.equal(pkg.name, `http2-duplex-${triple}`);
        assert.equal(pkg.version, main.version, `npm/${triple} is at another version`);
        assert.deepEqual(pkg.os, [os]);
        assert.deepEqual(pkg.cpu, [cpu]);
        assert.deepEqual(pkg.libc, os === 'linux' ? [abi === 'musl' ? 'musl' : 'glibc'] : undefined);
        assert.equal(pkg.main, `http2-duplex.${triple}.node`);
        assert.deepEqual(pkg.files, [pkg.main]);
    }
    assert.equal(main.scripts.install, 'node scripts/install.mjs');
});

test('a Rust target names its platform package the napi-rs way', () => {
    const named = rust => {
        const { triple, os, cpu, libc } = platform_of(rust);
        return [triple, os, cpu, libc];
    };
    assert.deepEqual(named('x86_64-unknown-linux-gnu'), ['linux-x64-gnu', 'linux', 'x64', 'glibc']);
    assert.deepEqual(named('aarch64-unknown-linux-musl'), ['linux-arm64-musl', 'linux', 'arm64', 'musl']);
    assert.deepEqual(named('aarch64-apple-darwin'), ['darwin-arm64', 'darwin', 'arm64', undefined]);
    assert.deepEqual(named('x86_64-pc-windows-msvc'), ['win32-x64-msvc', 'win32', 'x64', undefined]);
    assert.throws(() => platform_of('riscv64gc-unknown-linux-gnu'), /no npm platform/);
    assert.equal(new Set(TRIPLES).size, main.napi.targets.length);
});

// The release workflow's two matrices, read line by line (a build entry is `- triple: X`
// followed by its `target:`; the test matrix lists `triple: [...]` and one include each).
function release_matrices() {
    const lines = readFileSync(join(root, '.github', 'workflows', 'release.yml'), 'utf8').split('\n');
    const build = [];
    let test_triples = null;
    const test_hosts = [];
    for (const line of lines) {
        let m;
        if ((m = /^\s+- triple: (\S+)$/.exec(line))) {
            build.push({ triple: m[1] });
        } else if ((m = /^\s+target: (\S+)$/.exec(line))) {
            build.at(-1).target = m[1];
        } else if ((m = /^\s+build: (.+)$/.exec(line))) {
            build.at(-1).build = m[1];
        } else if ((m = /^\s+triple: \[(.+)\]$/.exec(line))) {
            test_triples = m[1].split(',').map(t => t.trim());
        } else if ((m = /^\s+- \{ triple: ([^,]+),/.exec(line))) {
            test_hosts.push(m[1]);
        }
    }
    return { build, test_triples, test_hosts };
}

test('the release workflow builds and tests every target of napi.targets, and no other', () => {
    const { build, test_triples, test_hosts } = release_matrices();
    assert.deepEqual(build.map(b => b.target), main.napi.targets);
    for (const { triple, target, build: flags } of build) {
        assert.equal(triple, platform_of(target).triple, `${target} is packaged as npm/${triple}`);
        // cargo-zigbuild takes a glibc version after a -gnu target; nothing else may differ.
        assert.match(flags, new RegExp(`--target ${target}(\\.2\\.17)?$`), flags);
    }
    assert.deepEqual(test_triples, TRIPLES);
    assert.deepEqual(test_hosts, TRIPLES);
});

// The build ran before the tests (npm run build, npm run build:client).
test.before(() => {
    [mainTarball] = JSON.parse(execFileSync('node',
        [join(root, 'scripts', 'packages.mjs'), 'pack', dir, 'main'], { encoding: 'utf8' }));
    // The linux-x64-gnu package: npm/linux-x64-gnu with a copy of the release build.
    const stage = join(dir, 'stage-host');
    mkdirSync(stage);
    copyFileSync(join(root, 'npm', HOST, 'package.json'), join(stage, 'package.json'));
    copyFileSync(join(root, 'http2-duplex.node'), join(stage, `http2-duplex.${HOST}.node`));
    const packed = packJson(stage, ['--pack-destination', dir]);
    assert.deepEqual(packed.files.map(f => f.path).sort(), [`http2-duplex.${HOST}.node`, 'package.json']);
    hostTarball = join(dir, packed.filename);
});

test('packing: the main tarball carries the sources and lists every platform package', () => {
    const listing = execFileSync('tar', ['tzf', mainTarball], { encoding: 'utf8' }).split('\n')
        .map(f => f.replace(/^package\//, ''));
    for (const wanted of ['index.js', 'index.mjs', 'index.d.ts', 'client.js', 'client.d.ts',
        'dist/client.mjs', 'lib/server.js', 'lib/native.js', 'scripts/install.mjs', 'scripts/build-addon.mjs',
        'Cargo.toml', 'Cargo.lock', 'build.rs', 'src/lib.rs', 'crates/core/Cargo.toml', 'crates/core/src/lib.rs',
        'crates/client/Cargo.toml', 'crates/client/src/lib.rs']) {
        assert.ok(listing.includes(wanted), `${wanted} missing from the main tarball`);
    }
    for (const f of listing) {
        assert.ok(!/\.node$|^__test__\/|^support\/|^target\/|^npm\/|\/tests\/|^\.git/.test(f), `${f} should not be packed`);
    }
    const manifest = JSON.parse(execFileSync('tar', ['xzf', mainTarball, '-O', 'package/package.json'],
        { encoding: 'utf8' }));
    assert.deepEqual(manifest.optionalDependencies,
        Object.fromEntries(TRIPLES.map(t => [`http2-duplex-${t}`, main.version])));
    assert.equal(manifest.scripts.install, 'node scripts/install.mjs');
});

test('main + linux-x64-gnu packages install and serve a duplex (ESM and CJS)', () => {
    const { app } = install('app-prebuilt', [mainTarball, hostTarball]);
    const pkg = join(app, 'node_modules', 'http2-duplex');
    assert.ok(existsSync(join(app, 'node_modules', `http2-duplex-${HOST}`, `http2-duplex.${HOST}.node`)));
    assert.ok(!existsSync(join(pkg, 'http2-duplex.node')), 'built from source although the prebuilt fitted');
    assert.equal(smoke(app), 'aping');
});

test('without the platform package, the install builds the addon from source', () => {
    // Offline cargo, reusing the compiled dependencies of a copy of the repo's target/release
    // (a copy: the installed crates are other packages to cargo, and their cdylib would
    // overwrite the repo's own target/release/libhttp2_duplex_node.so).
    const targetDir = join(dir, 'target');
    mkdirSync(targetDir);
    if (existsSync(join(root, 'target', 'release'))) {
        execFileSync('cp', ['-a', join(root, 'target', 'release'), targetDir]);
    }
    const env = { ...process.env, CARGO_NET_OFFLINE: 'true', CARGO_TARGET_DIR: targetDir };
    const { app, log } = install('app-source', [mainTarball], env);
    const pkg = join(app, 'node_modules', 'http2-duplex');
    assert.match(log, /building the native core from source/);
    assert.ok(existsSync(join(pkg, 'http2-duplex.node')), `no http2-duplex.node after the install:\n${log}`);
    assert.ok(!existsSync(join(app, 'node_modules', `http2-duplex-${HOST}`)));
    assert.ok(!existsSync(join(pkg, 'target')), 'cargo output left in the package');
    assert.equal(smoke(app), 'aping');
});

test('with neither, the install succeeds and loading throws the documented error', () => {
    // PATH without cargo: node and npm through links in a folder of their own.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    const onPath = name => process.env.PATH.split(delimiter).map(d => join(d, name)).find(existsSync);
    for (const name of ['node', 'npm']) {symlinkSync(onPath(name), join(bin, name));}
    const PATH = [bin, ...process.env.PATH.split(delimiter).filter(d => !existsSync(join(d, 'cargo')))]
        .join(delimiter);
    const env = { ...process.env, PATH };
    assert.equal(spawnSync('cargo', ['--version'], { env }).error?.code, 'ENOENT');
    const { app, log } = install('app-none', [mainTarball], env);
    assert.match(log, /no cargo on PATH/);
    assert.ok(!existsSync(join(app, 'node_modules', 'http2-duplex', 'http2-duplex.node')));
    const err = JSON.parse(execFileSync('node', ['-e', LOAD_ERROR], { cwd: app, env, encoding: 'utf8' }));
    assert.equal(err.code, 'ERR_HTTP2_DUPLEX_NO_NATIVE_BINDING');
    assert.equal(err.target, HOST);
    assert.deepEqual([...err.supported].sort(), [...TRIPLES].sort());
    assert.match(err.message, new RegExp(`no native core for ${HOST}`));
    assert.ok(err.message.includes(`npm install http2-duplex-${HOST}@${main.version}`), err.message);
    assert.match(err.message, /rustup\.rs/);
    assert.match(err.message, /npm rebuild http2-duplex/);
    // ESM: a static import fails the program with the same error.
    writeFileSync(join(app, 'esm.mjs'), "import 'http2-duplex';\n");
    const esm = spawnSync('node', ['esm.mjs'], { cwd: app, env, encoding: 'utf8' });
    assert.notEqual(esm.status, 0);
    assert.match(esm.stderr, /code: 'ERR_HTTP2_DUPLEX_NO_NATIVE_BINDING'/);
    assert.ok(esm.stderr.includes(err.message));
});

test('in the repository checkout the install step does nothing (npm ci stays fast)', () => {
    const run = spawnSync('node', [join(root, 'scripts', 'install.mjs')], { cwd: root, encoding: 'utf8', timeout: 10000 });
    assert.equal(run.status, 0);
    assert.equal(run.stdout + run.stderr, '');
});
