// @ts-check
'use strict';
// Loads the Rust addon, the napi-rs way. In order:
//   1. a local build next to package.json (http2-duplex.node): a source checkout after
//      `npm run build`, or the install step's source build (scripts/install.mjs);
//   2. the prebuilt package for this platform (http2-duplex-<triple>, an optionalDependency
//      that npm installs only where its os / cpu / libc fit).
// Where neither loads, throws an Error with code ERR_HTTP2_DUPLEX_NO_NATIVE_BINDING that
// names the triple and says what to do.
const { existsSync, readFileSync } = require('fs');
const { join } = require('path');

const CODE = 'ERR_HTTP2_DUPLEX_NO_NATIVE_BINDING';
const root = join(__dirname, '..');
const { version } = require('../package.json');
const { PLATFORMS } = require('./targets');
// One npm package per target of package.json's napi.targets, in npm/<triple>/.
const PREBUILT = PLATFORMS.map(/** @param {{ triple: string }} p */ p => p.triple);

// musl or glibc, as napi-rs's generated loader decides it.
function isMusl() {
    try {
        return readFileSync('/usr/bin/ldd', 'utf8').includes('musl');
    } catch {
        // no /usr/bin/ldd: ask the process report
    }
    try {
        if (typeof process.report?.getReport !== 'function') {return false;}
        /** @type {any} */ (process.report).excludeNetwork = true;
        /** @type {{ header?: { glibcVersionRuntime?: string }, sharedObjects?: string[] }} */
        const report = /** @type {any} */ (process.report.getReport());
        if (report.header?.glibcVersionRuntime) {return false;}
        return Array.isArray(report.sharedObjects) &&
            report.sharedObjects.some(/** @param {string} f */ f => f.includes('libc.musl-') || f.includes('ld-musl-'));
    } catch {
        return false;
    }
}

// The napi-rs name of the running platform: linux-x64-gnu, darwin-arm64, win32-x64-msvc, …
function triple(platform = process.platform, arch = process.arch) {
    if (platform === 'linux') {return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`;}
    if (platform === 'win32') {return `win32-${arch}-msvc`;}
    return `${platform}-${arch}`;
}

/**
 * The addon's exports: their types are lib/native.d.ts, generated from the
 * bindings (src/*.rs) by `npm run native:types`.
 * @returns {typeof import('./native')}
 */
function load() {
    const target = triple();
    const pkg = `http2-duplex-${target}`;
    const failures = [];
    const local = join(root, 'http2-duplex.node');
    if (existsSync(local)) {
        try {
            return require(local);
        } catch (err) {
            failures.push(`${local}: ${/** @type {Error} */ (err).message}`);
        }
    }
    if (PREBUILT.includes(target)) {
        try {
            const found = require(`${pkg}/package.json`).version;
            if (found !== version) {
                failures.push(`${pkg}@${found} is installed, but http2-duplex@${version} needs ${pkg}@${version}`);
            } else {
                return require(pkg);
            }
        } catch (caught) {
            const err = /** @type {Error & { code?: string }} */ (caught);
            if (err.code !== 'MODULE_NOT_FOUND') {failures.push(`${pkg}: ${err.message}`);}
        }
    }
    const buildLog = join(root, 'http2-duplex.build-error.log');
    const steps = [];
    if (PREBUILT.includes(target)) {
        steps.push(`install the prebuilt binary: npm install ${pkg}@${version} (npm installs it ` +
            'as an optional dependency unless optional dependencies were omitted, ' +
            'e.g. --omit=optional, or the lockfile was made with them left out)');
    }
    steps.push('or build it from source: install Rust >= 1.89 (https://rustup.rs) and a C compiler, ' +
        'then run `npm rebuild http2-duplex` (in a source checkout: `npm run build`)' +
        (existsSync(buildLog) ? `; the source build at install failed, see ${buildLog}` : ''));
    const err = /** @type {Error & { code?: string, target?: string, supported?: string[] }} */ (new Error(
        `http2-duplex: no native core for ${target} (${process.platform} ${process.arch}). ` +
        (!PREBUILT.includes(target) ? `No prebuilt binary is published for ${target}. ` :
            `The prebuilt package ${pkg} is ${failures.length ? 'not usable' : 'not installed'}. `) +
        `To fix: ${steps.join('; ')}. ` +
        `Prebuilt binaries: ${PREBUILT.join(', ')}.` +
        (failures.length ? ` Load errors: ${failures.join('; ')}` : '')));
    err.code = CODE;
    err.target = target;
    err.supported = PREBUILT.slice();
    throw err;
}

module.exports = load();
