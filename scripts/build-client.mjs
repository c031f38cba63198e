// Builds dist/client.mjs: the browser client as one ES module, for pages without a bundler.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export function client_build_options(extra) {
    return {
        entryPoints: [fileURLToPath(new URL('../client.js', import.meta.url))],
        bundle: true,
        format: 'esm',
        platform: 'browser',
        target: 'es2020',
        logLevel: 'warning',
        ...extra
    };
}

export const DIST_CLIENT = `${root}dist/client.mjs`;

export function build_dist({ minify = false } = {}) {
    return build(client_build_options({ outfile: DIST_CLIENT, sourcemap: true, minify }));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
    await build_dist({ minify: process.argv.includes('--minify') });
}
