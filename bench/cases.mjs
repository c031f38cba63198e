// The bench cases and the flags that size them.
export const IMPLS = ['ours', 'original', 'ws'];
export const LABELS = { ours: 'ours', original: '6.0.3', ws: 'ws' };

const MODES = [
    { mode: 'streaming', options: {} },
    { mode: 'per-write', options: { disable_request_streaming: true } }
];

const DEFAULTS = { duration: 3000, repeat: 3, messages: 20000, rounds: 1000, latency: 50 };
const QUICK = { duration: 1000, repeat: 1, messages: 2000, rounds: 200, latency: 50 };

// --quick, --duration=ms, --repeat=n, --messages=n, --rounds=n, --latency=ms, --only=text, --cpu-prof,
// --ours-options=JSON (extra Http2DuplexServer options for ours, to try a tuning)
export function parse_flags(argv) {
    const flags = Object.fromEntries(argv.map(arg => {
        const [name, value] = arg.replace(/^--/, '').split('=');
        return [name, value === undefined ? true : value];
    }));
    const sizes = { ...(flags.quick ? QUICK : DEFAULTS) };
    for (const name of Object.keys(sizes)) {
        if (flags[name] !== undefined) {
            sizes[name] = Number(flags[name]);
        }
    }
    return { ...sizes, quick: Boolean(flags.quick), only: flags.only, cpu_prof: Boolean(flags['cpu-prof']), ours_options: flags['ours-options'] };
}

// Each case runs one page workload per implementation; rows are what the table shows.
export function define_cases(sizes) {
    const cases = [];
    for (const { mode, options } of MODES) {
        // WebSockets have no modes: they run with the streaming cases only.
        const impls = mode === 'streaming' ? IMPLS : ['ours', 'original'];
        for (const duplexes of [1, 8]) {
            cases.push({
                id: `throughput-${duplexes}-${mode}`, mode, options, impls,
                workload: 'throughput',
                params: { duplexes, chunk_size: 65536, duration_ms: sizes.duration },
                rows: [{ name: `echo 64 KiB writes, ${duplexes} duplex${duplexes > 1 ? 'es' : ''}`, key: 'value', unit: 'MB/s', better: 'higher' }]
            });
        }
        cases.push({
            id: `ping-pong-${mode}`, mode, options, impls,
            workload: 'ping_pong',
            params: { size: 64, rounds: sizes.rounds, warmup: 20, duration_ms: sizes.duration * 2 },
            rows: [
                { name: '64 B ping-pong p50', key: 'p50', unit: 'ms', better: 'lower' },
                { name: '64 B ping-pong p99', key: 'p99', unit: 'ms', better: 'lower' }
            ]
        });
        cases.push({
            id: `messages-${mode}`, mode, options, impls,
            workload: 'messages',
            // A slow implementation stops early: the rate is what counts.
            params: { count: sizes.messages, size: 64, duration_ms: sizes.duration * 2 },
            rows: [{ name: `≤ ${sizes.messages} pipelined 64 B writes`, key: 'value', unit: 'msg/s', better: 'higher' }]
        });
    }
    cases.push({
        id: 'throughput-1-per-write-latency', mode: 'per-write', options: MODES[1].options,
        impls: ['ours', 'original'], latency: sizes.latency,
        workload: 'throughput',
        params: { duplexes: 1, chunk_size: 65536, duration_ms: sizes.duration },
        rows: [{ name: `echo 64 KiB writes, ${sizes.latency} ms RTT`, key: 'value', unit: 'MB/s', better: 'higher' }]
    });
    return sizes.only ? cases.filter(c => c.id.includes(sizes.only)) : cases;
}
