// Rows of bench/proxies.mjs: one per client, path and transport, fed run by run;
// the table (medians, × direct, added p50) and issue 11's target verdicts for the
// HAProxy rows.
import { PATH_LABELS } from './proxy-paths.mjs';

// Issue 11: through HAProxy at least 0.7× the direct throughput, and at most
// 0.3 ms added to the ping-pong p50.
export const TARGETS = { ratio: 0.7, added_p50_ms: 0.3 };

export function new_row(client, path, transport) {
    return { client, path, transport, runs: 0, echo: [], p50: [], p99: [], echo_failed: 0, pp_failed: 0, errors: [], na: null };
}

// One run's { echo: MB/s or Error, pp: { p50, p99 } or Error }.
export function record(row, { echo, pp }) {
    row.runs += 1;
    for (const [what, result] of [['echo', echo], ['ping-pong', pp]]) {
        if (result instanceof Error) {
            row[what === 'echo' ? 'echo_failed' : 'pp_failed'] += 1;
            row.errors.push(`run ${row.runs} ${what}: ${String(result.message).split('\n')[0]}`);
        } else if (what === 'echo') {
            row.echo.push(result);
        } else {
            row.p50.push(result.p50);
            row.p99.push(result.p99);
        }
    }
}

export function median(values) {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted.length ? sorted[Math.floor(sorted.length / 2)] : NaN;
}

// Medians, and the comparison with the direct row of the same client and transport.
export function summarize(rows) {
    const summary = rows.map(row => ({ ...row, mbs: median(row.echo), p50_ms: median(row.p50), p99_ms: median(row.p99) }));
    for (const row of summary) {
        const direct = summary.find(r => r.client === row.client && r.path === 'direct' && r.transport === row.transport);
        if (row.na || !direct || direct.na) {
            continue;
        }
        row.ratio = row.mbs / direct.mbs;
        row.added_p50_ms = row.p50_ms - direct.p50_ms;
        if (row.path.startsWith('haproxy')) {
            row.verdict = {
                ratio: Number.isFinite(row.ratio) ? row.ratio >= TARGETS.ratio && row.echo_failed === 0 : false,
                added_p50: Number.isFinite(row.added_p50_ms) ? row.added_p50_ms <= TARGETS.added_p50_ms && row.pp_failed === 0 : false
            };
        }
    }
    return summary;
}

const fmt = (n, d) => Number.isFinite(n) ? n.toFixed(d) : '—';
const failed = (n, runs) => `${n} of ${runs}`;

// A markdown table of one client's summarized rows, then the verdicts.
export function format_rows(title, unit, rows) {
    const lines = [title, '',
        `| path | transport | echo ${unit} | × direct | echoes failed | ping-pong p50 ms | added p50 ms | p99 ms | ping-pongs failed |`,
        '|---|---|---:|---:|---:|---:|---:|---:|---:|'];
    for (const r of rows) {
        const path = PATH_LABELS[r.path];
        if (r.na) {
            lines.push(`| ${path} | ${r.transport} | ${r.na} | | | | | | |`);
            continue;
        }
        lines.push(`| ${path} | ${r.transport} | ${fmt(r.mbs, 1)} | ${r.path === 'direct' ? '1.00' : fmt(r.ratio, 2)} | ` +
            `${failed(r.echo_failed, r.runs)} | ${fmt(r.p50_ms, 3)} | ${r.path === 'direct' ? '' : fmt(r.added_p50_ms, 3)} | ` +
            `${fmt(r.p99_ms, 3)} | ${failed(r.pp_failed, r.runs)} |`);
    }
    lines.push('');
    for (const r of rows.filter(row => row.verdict)) {
        const met = ok => ok ? 'met' : 'NOT met';
        const stalls = n => n ? `, ${n} of ${r.runs} failed` : '';
        lines.push(`- ${PATH_LABELS[r.path]}, ${r.transport}: throughput ≥ ${TARGETS.ratio}× direct ${met(r.verdict.ratio)} ` +
            `(${fmt(r.ratio, 2)}×${stalls(r.echo_failed)}); added p50 ≤ ${TARGETS.added_p50_ms} ms ${met(r.verdict.added_p50)} ` +
            `(${fmt(r.added_p50_ms, 3)} ms${stalls(r.pp_failed)})`);
    }
    const errors = rows.filter(r => r.errors.length);
    if (errors.length) {
        lines.push('', 'Failed runs (and why a row is n/a):');
        for (const r of errors) {
            lines.push(...r.errors.map(e => `- ${PATH_LABELS[r.path]}, ${r.transport}: ${e}`));
        }
    }
    return lines.join('\n');
}
