// The per-platform npm packages (napi-rs convention): npm/<triple>/ holds package.json and,
// once built, http2-duplex.<triple>.node. The main package lists them all as
// optionalDependencies at its own version; they are added when packing or publishing, as
// `napi prepublish` does, so that the checked-in package.json and lockfile stay installable
// (`npm ci` refuses optionalDependencies missing from the lockfile, and a version of them is
// only in the registry once published).
//
//   node scripts/packages.mjs dirs              (re)write npm/*/package.json at the main version
//   node scripts/packages.mjs local [triple]    copy ./http2-duplex.node into npm/<host triple>/
//   node scripts/packages.mjs artifacts <dir>   move CI artifacts (http2-duplex.<triple>.node,
//                                               anywhere under <dir>) into npm/<triple>/
//   node scripts/packages.mjs pack <dest> [main|<triple>...]
//                                               npm pack every platform package that has its
//                                               .node, and the main package (or those named),
//                                               into <dest>; prints their paths as JSON
//   node scripts/packages.mjs publish [--dry-run]   npm publish all seven, then the main package
//   node scripts/packages.mjs guard             (prepublishOnly) refuse a plain `npm publish`
import { execFileSync } from 'node:child_process';
import {
    copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync,
    rmSync, writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import targets from '../lib/targets.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const main = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

// triple (npm suffix, as lib/native.js computes it) → Rust target, os, cpu, libc; from
// package.json's napi.targets.
export const TARGETS = Object.fromEntries(targets.PLATFORMS.map(({ triple, ...t }) => [triple, t]));
export const binaryName = triple => `${targets.BINARY_NAME}.${triple}.node`;
const dirOf = triple => join(root, 'npm', triple);
const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

function hostTriple() {
    const { platform, arch } = process;
    if (platform === 'win32') {return `win32-${arch}-msvc`;}
    if (platform !== 'linux') {return `${platform}-${arch}`;}
    const glibc = process.report?.getReport().header.glibcVersionRuntime;
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`;
}

function dirs() {
    for (const [triple, t] of Object.entries(TARGETS)) {
        const pkg = {
            name: `${main.name}-${triple}`,
            version: main.version,
            description: `The ${t.rust} binary of ${main.name}'s Rust core`,
            license: main.license,
            os: [t.os],
            cpu: [t.cpu],
            ...(t.libc ? { libc: [t.libc] } : {}),
            main: binaryName(triple),
            files: [binaryName(triple)],
            engines: main.engines
        };
        mkdirSync(dirOf(triple), { recursive: true });
        writeFileSync(join(dirOf(triple), 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
        writeFileSync(join(dirOf(triple), 'README.md'),
            `# \`${pkg.name}\`\n\nThe **${t.rust}** binary of [\`${main.name}\`](../../README.md)'s native core. ` +
            `Do not install it directly: \`${main.name}\` lists it as an optional dependency and ` +
            'loads it where it fits.\n');
    }
}

// The main package.json as published: the checked-in one plus the optionalDependencies.
export function publishedManifest() {
    const optionalDependencies = {};
    for (const triple of Object.keys(TARGETS)) {optionalDependencies[`${main.name}-${triple}`] = main.version;}
    return { ...main, optionalDependencies };
}

// A copy of what `npm pack` would put in the main tarball, with the published package.json.
function stageMain() {
    const [{ files }] = JSON.parse(npm(['pack', '--dry-run', '--json', '--ignore-scripts'], root));
    const stage = mkdtempSync(join(tmpdir(), 'http2-duplex-stage-'));
    for (const { path } of files) {
        mkdirSync(dirname(join(stage, path)), { recursive: true });
        copyFileSync(join(root, path), join(stage, path));
    }
    writeFileSync(join(stage, 'package.json'), `${JSON.stringify(publishedManifest(), null, 2)}\n`);
    return stage;
}

function checkVersions() {
    for (const triple of Object.keys(TARGETS)) {
        const pkg = JSON.parse(readFileSync(join(dirOf(triple), 'package.json'), 'utf8'));
        if (pkg.version !== main.version) {
            throw new Error(`npm/${triple} is at ${pkg.version}, the main package at ${main.version}: ` +
                'run node scripts/packages.mjs dirs');
        }
    }
}

// `only`: 'main' and/or triples; by default every platform package that has its .node, and main.
function pack(dest, only = []) {
    checkVersions();
    mkdirSync(dest, { recursive: true });
    const out = [];
    const wanted = name => only.length === 0 || only.includes(name);
    for (const triple of Object.keys(TARGETS)) {
        if (!wanted(triple)) {continue;}
        if (!existsSync(join(dirOf(triple), binaryName(triple)))) {
            if (only.includes(triple)) {throw new Error(`npm/${triple}/${binaryName(triple)} is missing`);}
            continue;
        }
        const [p] = JSON.parse(npm(['pack', '--json', '--pack-destination', dest], dirOf(triple)));
        out.push(join(dest, p.filename));
    }
    if (!wanted('main')) {return out;}
    const stage = stageMain();
    try {
        const [p] = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', dest], stage));
        out.push(join(dest, p.filename));
    } finally {
        rmSync(stage, { recursive: true, force: true });
    }
    return out;
}

function publish(dryRun) {
    checkVersions();
    const missing = Object.keys(TARGETS).filter(t => !existsSync(join(dirOf(t), binaryName(t))));
    if (missing.length) {throw new Error(`no .node for ${missing.join(', ')}: run the artifacts step first`);}
    const flags = ['--access', 'public', ...(dryRun ? ['--dry-run'] : [])];
    for (const triple of Object.keys(TARGETS)) {npm(['publish', ...flags], dirOf(triple));}
    const stage = stageMain();
    try {
        npm(['publish', '--ignore-scripts', ...flags], stage);
    } finally {
        rmSync(stage, { recursive: true, force: true });
    }
}

function artifacts(from) {
    const walk = dir => readdirSync(dir, { withFileTypes: true }).flatMap(e =>
        e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]);
    for (const file of walk(from)) {
        const triple = Object.keys(TARGETS).find(t => file.endsWith(binaryName(t)));
        if (!triple) {continue;}
        renameSync(file, join(dirOf(triple), binaryName(triple)));
        console.log(`npm/${triple}/${binaryName(triple)}`);
    }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
    const [cmd, arg, ...rest] = process.argv.slice(2);
    if (cmd === 'dirs') {
        dirs();
    } else if (cmd === 'local') {
        const triple = arg ?? hostTriple();
        if (!TARGETS[triple]) {throw new Error(`no npm package for ${triple}`);}
        cpSync(join(root, 'http2-duplex.node'), join(dirOf(triple), binaryName(triple)));
        console.log(`npm/${triple}/${binaryName(triple)}`);
    } else if (cmd === 'artifacts') {
        artifacts(arg ?? join(root, 'artifacts'));
    } else if (cmd === 'pack') {
        console.log(JSON.stringify(pack(arg ?? root, rest), null, 2));
    } else if (cmd === 'publish') {
        publish(process.argv.includes('--dry-run'));
    } else if (cmd === 'guard') {
        // prepublishOnly: a plain `npm publish` of the checkout would leave out the platform packages.
        if (!main.optionalDependencies) {
            console.error('publish with `npm run npm:publish` (node scripts/packages.mjs publish): it ' +
                'publishes npm/*/ and the main package with its optionalDependencies');
            process.exit(1);
        }
    } else {
        console.error('usage: node scripts/packages.mjs dirs | local [triple] | artifacts <dir> | ' +
            'pack <dest> [main|<triple>...] | publish [--dry-run] | guard');
        process.exit(2);
    }
}
