// How often one fast duplex stalls through HAProxy with h2c backends, the case
// docs/deploying.md sizes `tune.h2.initial-window-size` and `tune.bufsize` for:
// the Node client echoes 16 MiB in 64 KiB writes as fast as flow control
// allows, each run on a fresh connection, `--runs` times through each
// configuration of the proxy suites; an echo not done within 10 s counts as
// stalled. Prints the count and the median MiB/s of the others.
//
//   node bench/proxy-stall.mjs [--runs=100] [--transport=fetch|websocket]
//                              [--configs=haproxy,haproxy-stick]
import { parseArgs } from 'node:util';
import { start_path } from './proxy-paths.mjs';
import { echo_throughput } from './proxy-node.mjs';
import { median } from './proxy-report.mjs';

const { values: flags } = parseArgs({
    options: {
        runs: { type: 'string', default: '100' },
        transport: { type: 'string', default: 'fetch' },
        configs: { type: 'string', default: 'haproxy,haproxy-stick' }
    }
});
const MIB = 16;
const STALL_MS = 10000;

for (const name of flags.configs.split(',')) {
    const path = await start_path(name);
    const speeds = [];
    const failures = [];
    for (let run = 0; run < Number(flags.runs); run++) {
        try {
            speeds.push(await echo_throughput(path.url, flags.transport, MIB, STALL_MS));
        } catch (err) {
            failures.push(err.message);
        }
    }
    await path.stop();
    console.log(`${name}, ${flags.transport}: ${failures.length} of ${flags.runs} stalled or failed; ` +
        `median ${speeds.length ? median(speeds).toFixed(1) : '—'} MiB/s`);
    for (const message of new Set(failures)) {
        console.log(`  ${message}`);
    }
}
process.exit(0);
