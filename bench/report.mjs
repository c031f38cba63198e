// The printed tables and the targets, from a report's measured cases.
import { BROWSER_LABELS, BASELINE } from './cases.mjs';

// Issue 22's targets, in each browser: ours over each WebSocket against ws, and over
// HTTP/2 against the browser's bare WebSocket to the same server. `bare` names the
// variant that shows what bounds a target: the browser's own WebSocket against our
// server over the same HTTP version, with no client library.
const WEBSOCKET_TARGETS = [
    { name: 'WebSocket/HTTP/1.1 echo (1 duplex) ≥ ws', case: 'throughput-1', key: 'value', variant: 'ws-h1', op: '>=', bound: 1, bare: 'bare-h1' },
    { name: 'WebSocket/HTTP/1.1 echo (8 duplexes) ≥ ws', case: 'throughput-8', key: 'value', variant: 'ws-h1', op: '>=', bound: 1, bare: 'bare-h1' },
    { name: 'WebSocket/HTTP/1.1 ping-pong p50 ≤ 1.1× ws', case: 'ping-pong', key: 'p50', variant: 'ws-h1', op: '<=', bound: 1.1, bare: 'bare-h1' },
    { name: 'WebSocket/HTTP/1.1 server CPU per MB (1 duplex) ≤ ws', case: 'throughput-1', key: 'cpu_ms_per_mb', variant: 'ws-h1', op: '<=', bound: 1, bare: 'bare-h1' },
    { name: 'WebSocket/HTTP/1.1 server CPU per MB (8 duplexes) ≤ ws', case: 'throughput-8', key: 'cpu_ms_per_mb', variant: 'ws-h1', op: '<=', bound: 1, bare: 'bare-h1' },
    { name: 'WebSocket/HTTP/2 ping-pong p50 ≤ 1.2× ws', case: 'ping-pong', key: 'p50', variant: 'ws-h2', op: '<=', bound: 1.2, bare: 'bare-h2' },
    { name: 'WebSocket/HTTP/2 ping-pong p50 ≤ 1.1× bare WebSocket/HTTP/2', case: 'ping-pong', key: 'p50', variant: 'ws-h2', against: 'bare-h2', op: '<=', bound: 1.1 }
];

// Issue 4's (Chromium, the fetch transports against 6.0.3 or ws).
const FETCH_TARGETS = [
    { name: 'per-write small-message rate ≥ 40× 6.0.3', case: 'messages', key: 'value', variant: 'per-write', against: '6-per-write', op: '>=', bound: 40 },
    { name: 'per-write echo (1 duplex) ≥ 4× 6.0.3', case: 'throughput-1', key: 'value', variant: 'per-write', against: '6-per-write', op: '>=', bound: 4 },
    { name: 'per-write echo (8 duplexes) ≥ 4× 6.0.3', case: 'throughput-8', key: 'value', variant: 'per-write', against: '6-per-write', op: '>=', bound: 4 },
    { name: 'per-write echo at 50 ms RTT ≥ 10× 6.0.3', case: 'throughput-1-latency', key: 'value', variant: 'per-write', against: '6-per-write', op: '>=', bound: 10 },
    { name: 'streaming echo (1 duplex) ≥ 1.5× 6.0.3', case: 'throughput-1', key: 'value', variant: 'streaming', against: '6-streaming', op: '>=', bound: 1.5 },
    { name: 'streaming echo (8 duplexes) ≥ 1.5× 6.0.3', case: 'throughput-8', key: 'value', variant: 'streaming', against: '6-streaming', op: '>=', bound: 1.5 },
    { name: 'streaming echo (1 duplex) ≥ ws', case: 'throughput-1', key: 'value', variant: 'streaming', op: '>=', bound: 1 },
    { name: 'streaming echo (8 duplexes) ≥ ws', case: 'throughput-8', key: 'value', variant: 'streaming', op: '>=', bound: 1 },
    { name: 'streaming ping-pong p50 ≤ 0.6× 6.0.3', case: 'ping-pong', key: 'p50', variant: 'streaming', against: '6-streaming', op: '<=', bound: 0.6 },
    { name: 'per-write ping-pong p50 ≤ 0.6× 6.0.3', case: 'ping-pong', key: 'p50', variant: 'per-write', against: '6-per-write', op: '<=', bound: 0.6 },
    { name: 'per-write server CPU per MB ≤ 0.5× 6.0.3', case: 'throughput-1', key: 'cpu_ms_per_mb', variant: 'per-write', against: '6-per-write', op: '<=', bound: 0.5 },
    { name: 'streaming server CPU per MB ≤ 6.0.3', case: 'throughput-1', key: 'cpu_ms_per_mb', variant: 'streaming', against: '6-streaming', op: '<=', bound: 1 }
];

const TARGETS = [
    ...['chromium', 'firefox'].flatMap(browser => WEBSOCKET_TARGETS.map(t => ({ ...t, browser }))),
    ...FETCH_TARGETS.map(t => ({ ...t, browser: 'chromium' }))
];

// Every target whose variants ran: its ratio, whether it is met, and the bare
// WebSocket's ratio against the same baseline (what bounds it).
export function check_targets(report) {
    return TARGETS.flatMap(target => {
        const results = report.cases.find(c => c.key === `${target.browser}/${target.case}`)?.results || {};
        const against = target.against || BASELINE;
        const value = results[target.variant]?.[target.key];
        const base = results[against]?.[target.key];
        if (value === undefined || base === undefined) {
            return [];
        }
        const ratio = value / base;
        const bare = results[target.bare]?.[target.key];
        return [{
            ...target, label: `${BROWSER_LABELS[target.browser]}: ${target.name}`, against, value, base, ratio,
            met: target.op === '>=' ? ratio >= target.bound : ratio <= target.bound,
            ...(bare !== undefined ? { bare_ratio: bare / base } : {})
        }];
    });
}

function num(x) {
    if (x === undefined || !Number.isFinite(x)) {
        return '—';
    }
    return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

// The table's columns: each row of each case, then the server's CPU per MB of the
// 64 KiB echo cases; a value and its ratio to the baseline (ws) where the case has it.
function columns(cases) {
    return [
        ...cases.flatMap(c => c.rows.map(row => ({ c, key: row.key, head: `${row.head}, ${row.unit}` }))),
        ...cases.filter(c => c.params.chunk_size && !c.latency).map(c => ({ c, key: 'cpu_ms_per_mb', head: `CPU ${c.rows[0].head}, ms/MB` }))
    ];
}

function cell({ c, key }, variant) {
    const value = c.results[variant]?.[key];
    const base = c.results[BASELINE]?.[key];
    if (value === undefined) {
        return '—';
    }
    return variant !== BASELINE && base ? `${num(value)} (${num(value / base)}×)` : num(value);
}

// The variants any of `cases` ran, in the report's order.
function variants_of(report, cases) {
    return Object.keys(report.variants).filter(variant => cases.some(c => c.variants.includes(variant)));
}

// Runs that failed with an error: the table's figure is the median of the others.
function failures(report, browser) {
    return report.cases.filter(c => c.browser === browser).flatMap(c =>
        Object.entries(c.results).filter(([, r]) => r.errors).map(([variant, r]) =>
            `! ${c.rows[0].name}, ${report.variants[variant].label}: ${r.errors.length} of ${r.errors.length + r.runs.length} runs failed (${[...new Set(r.errors)].join('; ')})`));
}

// A Markdown table, padded so that it reads as plain text too; the first
// `text_columns` columns are left-aligned, the others (figures) right-aligned.
function markdown_table(header, rows, text_columns = 1) {
    const all = [header, ...rows];
    const widths = header.map((_, i) => Math.max(...all.map(r => r[i].length)));
    const line = r => `| ${r.map((text, i) => i < text_columns ? text.padEnd(widths[i]) : text.padStart(widths[i])).join(' | ')} |`;
    const rule = `|${widths.map((w, i) => i < text_columns ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`).join('|')}|`;
    return [line(header), rule, ...rows.map(line)].join('\n');
}

function browser_heading(report, browser) {
    const info = report.browsers[browser];
    return `${info.version} (load average ${info.load_before.join(' ')} → ${info.load_after.join(' ')}, ${info.seconds.toFixed(0)} s):`;
}

// A row per variant, a column per measured figure.
export function format_table(report, browser) {
    const cases = report.cases.filter(c => c.browser === browser);
    const cols = columns(cases);
    const rows = variants_of(report, cases).map(variant => [report.variants[variant].label, ...cols.map(col => cell(col, variant))]);
    const skipped = browser === 'firefox' && Object.values(report.variants).some(v => v.transport === 'streaming');
    return [markdown_table(['variant', ...cols.map(col => col.head)], rows), '',
        `p50, p99: 64 B ping-pong; echo ×n: 64 KiB writes on n duplexes; 64 B writes: ≤ ${report.sizes.messages} pipelined; ` +
        'CPU: the server process\'s user + system time per MB echoed; ' +
        `(n×): against ${report.variants[BASELINE]?.label ?? BASELINE} in the same case.`,
        ...(skipped ? ['—: Firefox cannot stream request bodies (no streaming rows).'] : []),
        ...failures(report, browser)].join('\n');
}

// Where each MB of the 64 KiB echo cases goes, CPU ms by process: the server
// child, then the browser's renderer, network service and browser process
// (Firefox: content process, socket process, parent process).
const CPU_PARTS = ['renderer', 'network', 'browser'];

export function format_cpu_table(report, browser) {
    const rows = report.cases.filter(c => c.browser === browser && c.params.chunk_size).flatMap(c =>
        Object.entries(c.results).filter(([, r]) => r.runs.length > 0).map(([variant, result]) => {
            const by_type = result.browser_cpu_ms_per_mb || {};
            const total = result.cpu_ms_per_mb + Object.values(by_type).reduce((a, b) => a + b, 0);
            return [c.rows[0].name, report.variants[variant].label,
                ...[result.cpu_ms_per_mb, ...CPU_PARTS.map(type => by_type[type] || 0), total].map(num)];
        }));
    return markdown_table(['case', 'variant', 'server', ...CPU_PARTS, 'total'], rows, 2);
}

// The targets as printed by the bench.
export function format_targets(targets) {
    return ['targets (ratios between variants of the same case, same run):', ...targets.map(t =>
        `  ${t.met ? 'met   ' : 'MISSED'} ${t.label}: ${num(t.ratio)}× (${num(t.value)} vs ${num(t.base)})` +
        (t.bare_ratio !== undefined ? `; bare WebSocket to ours: ${num(t.bare_ratio)}×` : ''))].join('\n');
}

// What the bench prints for one browser.
export function format_browser(report, browser) {
    const bulk = report.cases.some(c => c.browser === browser && c.params.chunk_size);
    return [`\n${browser_heading(report, browser)}`, '', format_table(report, browser),
        ...(bulk ? ['', `CPU per MB echoed by process, ms/MB (64 KiB echo, ${BROWSER_LABELS[browser]}):`, '',
            format_cpu_table(report, browser)] : [])].join('\n');
}

// docs/benchmarks.md's results: a section per browser, then the targets.
export function results_markdown(report) {
    const sections = Object.keys(report.browsers).map(browser => [
        `### ${BROWSER_LABELS[browser]}`, '', browser_heading(report, browser), '', format_table(report, browser), '',
        'Server and browser CPU per MB echoed, ms/MB:', '', format_cpu_table(report, browser)
    ].join('\n'));
    const targets = markdown_table(['target', 'ratio', 'values', 'bare WebSocket to ours', ''], report.targets.map(t => [
        t.label, `${num(t.ratio)}×`, `${num(t.value)} vs ${num(t.base)}`,
        t.bare_ratio !== undefined ? `${num(t.bare_ratio)}×` : '', t.met ? 'met' : '**missed**']), 1);
    const about = `Node ${report.node}, ${report.date.slice(0, 10)}, ${report.seconds.toFixed(0)} s; ` +
        `${report.sizes.repeat} runs per variant and case, ${report.sizes.duration} ms per echo run.`;
    return [about, '', ...sections.flatMap(section => [section, '']), '### Targets', '', targets].join('\n');
}
