// Where the CPU goes when one duplex echoes at full speed, directly and through
// a proxy, everything on this machine: the Node client (this process), the
// proxy and the Node backends, in cores used during the echo and in CPU ms per
// MiB echoed, with how busy the whole machine was. It shows what bounds the
// proxied rows of `npm run bench:proxies` (docs/benchmarks.md).
//
//   node bench/proxy-cpu.mjs [--paths=direct,haproxy] [--runs=3] [--mib=128]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { path_missing, start_path, PATH_LABELS } from './proxy-paths.mjs';
import { echo_throughput, node_transports } from './proxy-node.mjs';
import { process_tree } from './browser-cpu.mjs';
import { median } from './proxy-report.mjs';

const { values: flags } = parseArgs({
    options: {
        paths: { type: 'string', default: 'direct,haproxy' },
        runs: { type: 'string', default: '3' },
        mib: { type: 'string', default: '128' }
    }
});

// CPU seconds of a process and those it started (nginx's workers under its master).
const cpu_seconds = pid => process_tree(pid).reduce((sum, p) => sum + p.cpu_ms, 0) / 1000;

// [busy, total] jiffies of the whole machine.
function machine() {
    const [, ...times] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
    const total = times.slice(0, 8).reduce((a, b) => a + b, 0);
    return [total - times[3] - times[4], total];
}

const rows = [];
for (const name of flags.paths.split(',')) {
    const why_not = path_missing(name);
    if (why_not) {
        console.log(`${name}: skipped, ${why_not}`);
        continue;
    }
    const path = await start_path(name);
    for (const transport of node_transports(name)) {
        const runs = [];
        for (let run = 0; run < Number(flags.runs); run++) {
            const pids_before = Object.fromEntries(Object.entries(path.pids).map(([k, pid]) => [k, cpu_seconds(pid)]));
            const [busy_before, total_before] = machine();
            const client_before = process.cpuUsage();
            const start = performance.now();
            const mibs = await echo_throughput(path.url, transport, Number(flags.mib));
            const seconds = (performance.now() - start) / 1000;
            const client = process.cpuUsage(client_before);
            const [busy_after, total_after] = machine();
            const used = Object.fromEntries(Object.entries(path.pids).map(([k, pid]) => [k, cpu_seconds(pid) - pids_before[k]]));
            const nodes = Object.entries(used).filter(([k]) => k !== 'proxy').reduce((sum, [, s]) => sum + s, 0);
            runs.push({
                mibs,
                client: (client.user + client.system) / 1e6 / seconds,
                proxy: (used.proxy ?? 0) / seconds,
                nodes: nodes / seconds,
                busy: (busy_after - busy_before) / (total_after - total_before)
            });
        }
        const row = { path: PATH_LABELS[name], transport };
        for (const key of ['mibs', 'client', 'proxy', 'nodes', 'busy']) {
            row[key] = median(runs.map(r => r[key]));
        }
        rows.push(row);
    }
    await path.stop();
}

const per_mib = (cores, mibs) => (cores * 1000 / mibs).toFixed(1);
console.log(`\nOne duplex echoing ${flags.mib} MiB (Node client), median of ${flags.runs} runs; cores used during the echo, (CPU ms per MiB)\n`);
console.log('| path | transport | MiB/s | client | proxy | nodes | all three | machine busy |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
    const all = r.client + r.proxy + r.nodes;
    console.log(`| ${r.path} | ${r.transport} | ${r.mibs.toFixed(1)} | ${r.client.toFixed(2)} (${per_mib(r.client, r.mibs)}) | ` +
        `${r.proxy ? `${r.proxy.toFixed(2)} (${per_mib(r.proxy, r.mibs)})` : '—'} | ${r.nodes.toFixed(2)} (${per_mib(r.nodes, r.mibs)}) | ` +
        `${all.toFixed(2)} (${per_mib(all, r.mibs)}) | ${(r.busy * 100).toFixed(0)} % |`);
}
process.exit(0);
