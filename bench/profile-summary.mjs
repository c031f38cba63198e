// Where a CPU profile's time went: node bench/profile-summary.mjs FILE.cpuprofile [more…]
// [--top=n]. For the page profiles of --browser-prof and the server profiles of
// --cpu-prof alike: self time by function (name, file:line) and by script, in ms
// and as a share of the samples that ran JS or native code (idle excluded).
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const top = Number(args.find(a => a.startsWith('--top='))?.split('=')[1] || 25);
const files = args.filter(a => !a.startsWith('--'));

function summarize(file) {
    const profile = JSON.parse(readFileSync(file, 'utf8'));
    const nodes = new Map(profile.nodes.map(node => [node.id, node]));
    const self_ms = new Map();
    // timeDeltas[i] is the time before sample i: charge it to that sample's node.
    profile.samples.forEach((id, i) => self_ms.set(id, (self_ms.get(id) || 0) + (profile.timeDeltas[i] || 0) / 1000));
    const by_function = new Map();
    const by_script = new Map();
    let busy = 0;
    for (const [id, ms] of self_ms) {
        const { functionName, url, lineNumber } = nodes.get(id).callFrame;
        if (functionName === '(idle)' || functionName === '(program)' && !url) {
            if (functionName === '(program)') {
                by_function.set('(program)', (by_function.get('(program)') || 0) + ms);
                busy += ms;
            }
            continue;
        }
        busy += ms;
        const script = url ? url.replace(/^.*\//, '') : '(native)';
        const name = `${functionName || '(anonymous)'} ${script}:${lineNumber + 1}`;
        by_function.set(name, (by_function.get(name) || 0) + ms);
        by_script.set(script, (by_script.get(script) || 0) + ms);
    }
    const print = (title, map, n) => {
        console.log(`  ${title}`);
        for (const [name, ms] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
            console.log(`    ${ms.toFixed(1).padStart(8)} ms ${(100 * ms / busy).toFixed(1).padStart(5)} %  ${name}`);
        }
    };
    const span = (profile.endTime - profile.startTime) / 1000;
    console.log(`${file}: ${span.toFixed(0)} ms profiled, ${busy.toFixed(0)} ms busy`);
    print('by script', by_script, 10);
    print('by function (self time)', by_function, top);
}

for (const file of files) {
    summarize(file);
}
