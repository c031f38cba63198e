'use strict';
// The platform packages, from the one list of Rust target triples: package.json's
// napi.targets, as napi-rs keeps it. Each target names its npm package the napi-rs way:
// x86_64-unknown-linux-gnu → http2-duplex-linux-x64-gnu, aarch64-apple-darwin →
// http2-duplex-darwin-arm64, x86_64-pc-windows-msvc → http2-duplex-win32-x64-msvc.
const { napi } = require('../package.json');

// Rust's names → Node's process.arch and process.platform.
const CPU = { x86_64: 'x64', aarch64: 'arm64', i686: 'ia32', armv7: 'arm' };
const OS = { linux: 'linux', darwin: 'darwin', windows: 'win32', freebsd: 'freebsd' };

// { rust, triple, os, cpu, libc } of a Rust target triple; `triple` is the npm suffix.
function platform_of(rust) {
    const [arch, , system, abi] = rust.split('-');
    const cpu = CPU[arch];
    const os = OS[system];
    if (!cpu || !os) {
        throw new Error(`package.json napi.targets: no npm platform for the Rust target ${rust}`);
    }
    const libc = os === 'linux' ? (abi === 'musl' ? 'musl' : 'glibc') : undefined;
    const triple = [os, cpu, abi].filter(Boolean).join('-');
    return { rust, triple, os, cpu, ...(libc ? { libc } : {}) };
}

const PLATFORMS = Object.freeze(napi.targets.map(rust => Object.freeze(platform_of(rust))));

module.exports = { PLATFORMS, BINARY_NAME: napi.binaryName, platform_of };
