// The printed tables and the targets, from a report's measured cases.
import { LABELS, BROWSER_LABELS } from './cases.mjs';

// Issue 4's targets (Chromium; ours against 6.0.3 in the same case unless `against`
// names another implementation, and `against_case` another case), then issue 12's:
// the websocket transport against the ws WebSocket, in each browser.
const TARGETS = [
    { label: 'per-write small-message rate ≥ 40× 6.0.3', case: 'chromium/messages-per-write', key: 'value', op: '>=', bound: 40 },
    { label: 'per-write 64 KiB throughput (1 duplex) ≥ 4×', case: 'chromium/throughput-1-per-write', key: 'value', op: '>=', bound: 4 },
    { label: 'per-write 64 KiB throughput (8 duplexes) ≥ 4×', case: 'chromium/throughput-8-per-write', key: 'value', op: '>=', bound: 4 },
    { label: 'per-write throughput at 50 ms RTT ≥ 10×', case: 'chromium/throughput-1-per-write-latency', key: 'value', op: '>=', bound: 10 },
    { label: 'streaming echo throughput (1 duplex) ≥ 1.5×', case: 'chromium/throughput-1-streaming', key: 'value', op: '>=', bound: 1.5 },
    { label: 'streaming echo throughput (8 duplexes) ≥ 1.5×', case: 'chromium/throughput-8-streaming', key: 'value', op: '>=', bound: 1.5 },
    { label: 'streaming echo throughput (1 duplex) ≥ ws', case: 'chromium/throughput-1-streaming', key: 'value', op: '>=', bound: 1, against: 'ws', against_case: 'chromium/throughput-1-websocket' },
    { label: 'streaming echo throughput (8 duplexes) ≥ ws', case: 'chromium/throughput-8-streaming', key: 'value', op: '>=', bound: 1, against: 'ws', against_case: 'chromium/throughput-8-websocket' },
    { label: 'streaming ping-pong p50 ≤ 0.6×', case: 'chromium/ping-pong-streaming', key: 'p50', op: '<=', bound: 0.6 },
    { label: 'per-write ping-pong p50 ≤ 0.6×', case: 'chromium/ping-pong-per-write', key: 'p50', op: '<=', bound: 0.6 },
    { label: 'per-write server CPU per MB ≤ 0.5×', case: 'chromium/throughput-1-per-write', key: 'cpu_ms_per_mb', op: '<=', bound: 0.5 },
    { label: 'streaming server CPU per MB ≤ 1×', case: 'chromium/throughput-1-streaming', key: 'cpu_ms_per_mb', op: '<=', bound: 1 },
    ...['chromium', 'firefox'].flatMap(browser => [
        { label: `${BROWSER_LABELS[browser]}: websocket ping-pong p50 ≤ 1.2× ws`, case: `${browser}/ping-pong-websocket`, key: 'p50', op: '<=', bound: 1.2, against: 'ws' },
        { label: `${BROWSER_LABELS[browser]}: websocket echo (1 duplex) ≥ ws`, case: `${browser}/throughput-1-websocket`, key: 'value', op: '>=', bound: 1, against: 'ws' },
        { label: `${BROWSER_LABELS[browser]}: websocket echo (8 duplexes) ≥ ws`, case: `${browser}/throughput-8-websocket`, key: 'value', op: '>=', bound: 1, against: 'ws' }
    ])
];

export function check_targets(report) {
    const find = key => report.cases.find(c => c.key === key);
    return TARGETS.flatMap(target => {
        const ours = find(target.case)?.results.ours;
        const against = find(target.against_case || target.case)?.results[target.against || 'original'];
        if (!ours || !against) {
            return [];
        }
        const ratio = ours[target.key] / against[target.key];
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
    return a !== undefined && b ? `${num(a / b)}×` : '—';
}

// One line per row of each case of a browser: values, ours against 6.0.3 and against
// ws (whichever the case has), server CPU per MB echoed.
export function table_rows(report, browser) {
    return report.cases.filter(c => c.browser === browser).flatMap(c => c.rows.map(row => {
        const value = impl => c.results[impl]?.[row.key];
        const cpu = impl => c.results[impl]?.cpu_ms_per_mb;
        return [
            row.name, c.transport, row.unit,
            num(value('ours')), num(value('original')), num(value('ws')),
            ratio(value('ours'), value('original')), ratio(value('ours'), value('ws')),
            num(cpu('ours')), num(cpu('original')), num(cpu('ws')),
            ratio(cpu('ours'), cpu(c.baseline))
        ];
    }));
}

const HEADER = ['case', 'transport', 'unit', LABELS.ours, LABELS.original, LABELS.ws,
    'ours/6.0.3', 'ours/ws', 'cpu ours', 'cpu 6.0.3', 'cpu ws', 'cpu ratio'];

// Runs that failed with an error: the table's figure is the median of the others.
function failures(report, browser) {
    return report.cases.filter(c => c.browser === browser).flatMap(c =>
        Object.entries(c.results).filter(([, r]) => r.errors).map(([impl, r]) =>
            `! ${c.rows[0].name}, ${c.transport}, ${LABELS[impl]}: ${r.errors.length} of ${r.errors.length + r.runs.length} runs failed (${[...new Set(r.errors)].join('; ')})`));
}

// A Markdown table, readable as plain text too.
export function format_table(report, browser) {
    const rows = [HEADER, ...table_rows(report, browser)];
    const widths = HEADER.map((_, i) => Math.max(...rows.map(r => r[i].length)));
    const line = r => `| ${r.map((cell, i) => i < 3 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join(' | ')} |`;
    const rule = `|${widths.map((w, i) => i < 3 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`).join('|')}|`;
    const info = report.browsers[browser];
    const unsupported = [...new Set(report.cases.filter(c => c.browser === browser && c.unsupported).map(c => c.unsupported))];
    return [`\n${info.version} (load average ${info.load_before.join(' ')} → ${info.load_after.join(' ')}, ${info.seconds.toFixed(0)} s):`, '',
        line(rows[0]), rule, ...rows.slice(1).map(line), '',
        'cpu: server process CPU time (user + system) per MB echoed, ms/MB; cpu ratio: ours / the baseline (ws for websocket, else 6.0.3)',
        ...unsupported.map(why => `—: ${why}`), ...failures(report, browser)].join('\n');
}

// Where each MB of the bulk (64 KiB) cases goes, CPU ms by process: the server
// child, then the browser's renderer, network service and browser process
// (Firefox: content process, socket process, parent process).
const CPU_PARTS = ['renderer', 'network', 'browser'];

export function format_cpu_table(report, browser) {
    const lines = ['', `cpu per MB echoed by process, ms/MB (64 KiB cases, ${BROWSER_LABELS[browser]}):`,
        `  ${'case'.padEnd(44)} ${'impl'.padEnd(6)} ${['server', ...CPU_PARTS, 'total'].map(h => h.padStart(8)).join(' ')}`];
    for (const c of report.cases.filter(c => c.browser === browser && c.params.chunk_size)) {
        for (const [impl, result] of Object.entries(c.results)) {
            const by_type = result.browser_cpu_ms_per_mb || {};
            const parts = [result.cpu_ms_per_mb, ...CPU_PARTS.map(type => by_type[type] || 0)];
            const total = result.cpu_ms_per_mb + Object.values(by_type).reduce((a, b) => a + b, 0);
            lines.push(`  ${`${c.rows[0].name}, ${c.transport}`.padEnd(44)} ${LABELS[impl].padEnd(6)} ${[...parts, total].map(x => num(x).padStart(8)).join(' ')}`);
        }
    }
    return lines.join('\n');
}

export function format_targets(targets) {
    return ['', 'targets:', ...targets.map(t =>
        `  ${t.met ? 'met   ' : 'MISSED'} ${t.label}: ${num(t.ratio)}×`)].join('\n');
}
