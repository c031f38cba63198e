// The printed table and the targets, from a report's measured cases.
import { LABELS } from './cases.mjs';

// Issue 4's targets: ours against 6.0.3 (or the WebSocket) in the same run.
const TARGETS = [
    { label: 'per-write small-message rate ≥ 40× 6.0.3', case: 'messages-per-write', key: 'value', op: '>=', bound: 40 },
    { label: 'per-write 64 KiB throughput (1 duplex) ≥ 4×', case: 'throughput-1-per-write', key: 'value', op: '>=', bound: 4 },
    { label: 'per-write 64 KiB throughput (8 duplexes) ≥ 4×', case: 'throughput-8-per-write', key: 'value', op: '>=', bound: 4 },
    { label: 'per-write throughput at 50 ms RTT ≥ 10×', case: 'throughput-1-per-write-latency', key: 'value', op: '>=', bound: 10 },
    { label: 'streaming echo throughput (1 duplex) ≥ 1.5×', case: 'throughput-1-streaming', key: 'value', op: '>=', bound: 1.5 },
    { label: 'streaming echo throughput (8 duplexes) ≥ 1.5×', case: 'throughput-8-streaming', key: 'value', op: '>=', bound: 1.5 },
    { label: 'streaming echo throughput (1 duplex) ≥ ws', case: 'throughput-1-streaming', key: 'value', op: '>=', bound: 1, against: 'ws' },
    { label: 'streaming echo throughput (8 duplexes) ≥ ws', case: 'throughput-8-streaming', key: 'value', op: '>=', bound: 1, against: 'ws' },
    { label: 'streaming ping-pong p50 ≤ 0.6×', case: 'ping-pong-streaming', key: 'p50', op: '<=', bound: 0.6 },
    { label: 'per-write ping-pong p50 ≤ 0.6×', case: 'ping-pong-per-write', key: 'p50', op: '<=', bound: 0.6 },
    { label: 'per-write server CPU per MB ≤ 0.5×', case: 'throughput-1-per-write', key: 'cpu_ms_per_mb', op: '<=', bound: 0.5 },
    { label: 'streaming server CPU per MB ≤ 1×', case: 'throughput-1-streaming', key: 'cpu_ms_per_mb', op: '<=', bound: 1 }
];

export function check_targets(report) {
    return TARGETS.flatMap(target => {
        const found = report.cases.find(c => c.id === target.case);
        const against = found?.results[target.against || 'original'];
        if (!found || !against) {
            return [];
        }
        const ratio = found.results.ours[target.key] / against[target.key];
        const met = target.op === '>=' ? ratio >= target.bound : ratio <= target.bound;
        return [{ ...target, ratio, met }];
    });
}

function num(x) {
    if (x === undefined || !Number.isFinite(x)) {
        return '—';
    }
    return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function ratio(a, b) {
    return a && b ? `${num(a[1] / b[1])}×` : '—';
}

// One line per row of each case: values, ratios to 6.0.3, server CPU per MB echoed.
export function table_rows(report) {
    return report.cases.flatMap(c => c.rows.map(row => {
        const value = impl => c.results[impl] && [impl, c.results[impl][row.key]];
        const cpu = impl => c.results[impl] && [impl, c.results[impl].cpu_ms_per_mb];
        return [
            row.name, c.mode, row.unit,
            num(value('ours')?.[1]), num(value('original')?.[1]), num(value('ws')?.[1]),
            ratio(value('ours'), value('original')), ratio(value('ws'), value('original')),
            num(cpu('ours')?.[1]), num(cpu('original')?.[1]), num(cpu('ws')?.[1]),
            ratio(cpu('ours'), cpu('original'))
        ];
    }));
}

const HEADER = ['case', 'mode', 'unit', LABELS.ours, LABELS.original, LABELS.ws,
    'ours/6.0.3', 'ws/6.0.3', 'cpu ours', 'cpu 6.0.3', 'cpu ws', 'cpu ratio'];

// A Markdown table, readable as plain text too.
export function format_table(report) {
    const rows = [HEADER, ...table_rows(report)];
    const widths = HEADER.map((_, i) => Math.max(...rows.map(r => r[i].length)));
    const line = r => `| ${r.map((cell, i) => i < 3 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join(' | ')} |`;
    const rule = `|${widths.map((w, i) => i < 3 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`).join('|')}|`;
    return [line(rows[0]), rule, ...rows.slice(1).map(line),
        '', 'cpu: server process CPU time (user + system) per MB echoed, ms/MB'].join('\n');
}

// Where each MB of the bulk (64 KiB) cases goes, CPU ms by process: the server
// child, then the browser's renderer, network service and browser process.
const CPU_PARTS = ['renderer', 'network', 'browser'];

export function format_cpu_table(report) {
    const lines = ['', 'cpu per MB echoed by process, ms/MB (64 KiB cases):',
        `  ${'case'.padEnd(40)} ${'impl'.padEnd(6)} ${['server', ...CPU_PARTS, 'total'].map(h => h.padStart(8)).join(' ')}`];
    for (const c of report.cases.filter(c => c.params.chunk_size)) {
        for (const [impl, result] of Object.entries(c.results)) {
            const browser = result.browser_cpu_ms_per_mb || {};
            const parts = [result.cpu_ms_per_mb, ...CPU_PARTS.map(type => browser[type] || 0)];
            const total = result.cpu_ms_per_mb + Object.values(browser).reduce((a, b) => a + b, 0);
            lines.push(`  ${`${c.rows[0].name}, ${c.mode}`.padEnd(40)} ${LABELS[impl].padEnd(6)} ${[...parts, total].map(x => num(x).padStart(8)).join(' ')}`);
        }
    }
    return lines.join('\n');
}

export function format_targets(targets) {
    return ['', 'targets:', ...targets.map(t =>
        `  ${t.met ? 'met   ' : 'MISSED'} ${t.label}: ${num(t.ratio)}×`)].join('\n');
}
