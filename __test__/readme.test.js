'use strict';
// Every code block of the README runs as written: each program block is, byte
// for byte, a file of examples/ (example.browser.test.mjs runs the server, the
// page in Chromium and the Node client; types.test.js compiles with the
// tsconfig), and each shell block is a command this test checks. Relative links
// in the README and docs/ point at files (and headings) that exist.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { readFileSync, readdirSync, existsSync, statSync } = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const pkg = require('../package.json');

function code_blocks(markdown) {
    return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)]
        .map(([, lang, text]) => ({ lang, text }));
}

// examples/ files by their text (the certificates aside).
function example_files() {
    return new Map(readdirSync(path.join(root, 'examples'))
        .filter(name => statSync(path.join(root, 'examples', name)).isFile())
        .map(name => [readFileSync(path.join(root, 'examples', name), 'utf8'), name]));
}

test('README: each program block is a file of examples/, and each of those files is in the README', () => {
    const files = example_files();
    const shown = [];
    for (const { lang, text } of code_blocks(readme)) {
        if (lang === 'sh') {
            continue;
        }
        assert.ok(['js', 'html', 'json'].includes(lang), `a README block in ${lang || 'no language'}`);
        assert.ok(files.has(text), `this README ${lang} block is no examples/ file:\n${text}`);
        shown.push(files.get(text));
    }
    assert.deepEqual(shown.sort(), [...files.values()].sort());
    assert.deepEqual(shown.sort(), ['index.html', 'node-client.mjs', 'server.mjs', 'tsconfig.json']);
});

test('README: the shell blocks are the install command and the two contributor commands', () => {
    const shell = code_blocks(readme).filter(({ lang }) => lang === 'sh')
        .flatMap(({ text }) => text.trim().split('\n'))
        .map(line => line.replace(/\s+#.*$/, ''));
    assert.deepEqual(shell, [`npm install ${pkg.name}`, 'npm ci && npm run example', 'npm ci && npm test']);
    for (const script of ['example', 'test']) {
        assert.ok(pkg.scripts[script], `package.json has the script ${script}`);
    }
    assert.match(pkg.scripts.example, /node examples\/server\.mjs$/);
});

// GitHub's anchor for a heading.
function slug(heading) {
    return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
}

test('README and docs/: relative links point at files and headings that exist', () => {
    const documents = ['README.md', 'CHANGELOG.md',
        ...readdirSync(path.join(root, 'docs')).filter(n => n.endsWith('.md')).map(n => `docs/${n}`)];
    for (const document of documents) {
        const text = readFileSync(path.join(root, document), 'utf8').replace(/^```[\s\S]*?^```$/gm, '');
        for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
            if (/^[a-z]+:/.test(target)) {
                continue;
            }
            const [file, anchor] = target.split('#');
            const resolved = file ? path.join(root, path.dirname(document), file) : path.join(root, document);
            assert.ok(existsSync(resolved), `${document} links to ${target}, which does not exist`);
            if (anchor && resolved.endsWith('.md')) {
                const headings = [...readFileSync(resolved, 'utf8').matchAll(/^#+ (.*)$/gm)].map(([, h]) => slug(h));
                assert.ok(headings.includes(anchor), `${document} links to ${target}: no such heading`);
            }
        }
    }
});
