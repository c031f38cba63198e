// Writes a full run's tables and targets into docs/benchmarks.md, between the
// markers below (false when they are missing), so the page always shows the recorded run (bench/results/latest.json).
// npm run bench does it after a full run; `node bench/docs-results.mjs` does it again
// from latest.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { results_markdown } from './report.mjs';

const DOC = new URL('../docs/benchmarks.md', import.meta.url);
const START = '<!-- bench results: written by npm run bench (bench/docs-results.mjs) -->';
const END = '<!-- end of bench results -->';

export function update_docs(report) {
    const doc = readFileSync(DOC, 'utf8');
    const from = doc.indexOf(START);
    const to = doc.indexOf(END);
    if (from < 0 || to < from) {
        return false;
    }
    writeFileSync(DOC, `${doc.slice(0, from + START.length)}\n${results_markdown(report)}\n\n${doc.slice(to)}`);
    return true;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
    if (!update_docs(JSON.parse(readFileSync(new URL('results/latest.json', import.meta.url), 'utf8')))) {
        throw new Error(`docs/benchmarks.md lacks the markers ${START} … ${END}`);
    }
}
