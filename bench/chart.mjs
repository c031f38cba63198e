// Draws a report as a hand-written SVG: one bar per row and implementation,
// the ratio to 6.0.3 on a log scale (right = better, whatever the unit).
import { table_rows } from './report.mjs';

const ROW_H = 34;
const LEFT = 300;
const WIDTH = 860;
const TOP = 50;
const MIN = 0.1;
const MAX = 1000;
const COLORS = { ours: '#d9480f', ws: '#1971c2' };

const escape = s => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function x_of(ratio) {
    const clamped = Math.min(MAX, Math.max(MIN, ratio));
    return LEFT + (WIDTH - LEFT - 20) * Math.log10(clamped / MIN) / Math.log10(MAX / MIN);
}

// "Better" ratio: for lower-is-better rows (latency, CPU) the inverse.
function bars(report) {
    return report.cases.flatMap(c => c.rows.map(row => {
        const base = c.results.original[row.key];
        const gain = impl => {
            const value = c.results[impl]?.[row.key];
            return value === undefined ? undefined : row.better === 'higher' ? value / base : base / value;
        };
        return { label: `${row.name} (${c.mode})`, ours: gain('ours'), ws: gain('ws') };
    }));
}

export function draw_chart(report) {
    const rows = bars(report);
    const height = TOP + rows.length * ROW_H + 40;
    const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="12">`,
        `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
        '<text x="10" y="20" font-size="15" font-weight="bold">http2-duplex 7 vs 6.0.3 (and ws) in Chromium — × better than 6.0.3, log scale</text>',
        `<rect x="${LEFT}" y="28" width="10" height="10" fill="${COLORS.ours}"/><text x="${LEFT + 14}" y="37">ours</text>`,
        `<rect x="${LEFT + 60}" y="28" width="10" height="10" fill="${COLORS.ws}"/><text x="${LEFT + 74}" y="37">ws WebSocket</text>`];
    for (const tick of [0.1, 1, 10, 100, 1000]) {
        const x = x_of(tick).toFixed(1);
        out.push(`<line x1="${x}" y1="${TOP - 4}" x2="${x}" y2="${height - 30}" stroke="${tick === 1 ? '#333' : '#ddd'}"/>`,
            `<text x="${x}" y="${height - 16}" text-anchor="middle">${tick}×</text>`);
    }
    rows.forEach((row, i) => {
        const y = TOP + i * ROW_H;
        out.push(`<text x="${LEFT - 8}" y="${y + 18}" text-anchor="end">${escape(row.label)}</text>`);
        ['ours', 'ws'].forEach((impl, j) => {
            if (row[impl] === undefined) {
                return;
            }
            const from = x_of(Math.min(1, row[impl]));
            const to = x_of(Math.max(1, row[impl]));
            const bar_y = y + 4 + j * 13;
            out.push(`<rect x="${from.toFixed(1)}" y="${bar_y}" width="${Math.max(1, to - from).toFixed(1)}" height="11" fill="${COLORS[impl]}"/>`,
                `<text x="${(row[impl] >= 1 ? to + 4 : from - 4).toFixed(1)}" y="${bar_y + 10}" font-size="10" text-anchor="${row[impl] >= 1 ? 'start' : 'end'}">${row[impl].toPrecision(3)}×</text>`);
        });
    });
    out.push('</svg>');
    return out.join('\n') + '\n';
}

export { table_rows };
