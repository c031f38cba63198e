// Draws a report as a hand-written SVG: per browser, one bar per row of each case
// and variant, against the ws WebSocket of the same case, on a log scale (right =
// better, whatever the unit). The 50 ms RTT case has no ws: it is left out.
import { BASELINE } from './cases.mjs';

const ROW_H = 20;
const HEAD_H = 28;
const LEFT = 330;
const WIDTH = 900;
const RIGHT = 60;     // room for the value of the longest bar
const TOP = 50;
const MIN = 0.1;
const MAX = 1000;
const COLORS = {
    'ws-h2': '#1971c2', 'ws-h1': '#0b7285', streaming: '#d9480f', 'per-write': '#2b8a3e',
    'bare-h2': '#868e96', 'bare-h1': '#adb5bd', '6-streaming': '#ffa94d', '6-per-write': '#8ce99a'
};

const escape = s => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function x_of(ratio) {
    const clamped = Math.min(MAX, Math.max(MIN, ratio));
    return LEFT + (WIDTH - LEFT - RIGHT) * Math.log10(clamped / MIN) / Math.log10(MAX / MIN);
}

// "Better" ratio: for lower-is-better rows (latency) the inverse.
function bars(report, browser) {
    return report.cases.filter(c => c.browser === browser && c.results[BASELINE]).flatMap(c => c.rows.flatMap(row =>
        c.variants.filter(variant => variant !== BASELINE).map(variant => {
            const base = c.results[BASELINE][row.key];
            const value = c.results[variant]?.[row.key];
            const gain = value === undefined || !base ? undefined : row.better === 'higher' ? value / base : base / value;
            return { label: `${row.name}: ${report.variants[variant].label}`, variant, gain };
        })));
}

export function draw_chart(report) {
    const groups = Object.keys(report.browsers).map(browser => ({ browser, rows: bars(report, browser) }));
    const height = TOP + groups.reduce((h, g) => h + HEAD_H + g.rows.length * ROW_H, 0) + 40;
    const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="12">`,
        `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
        '<text x="10" y="20" font-size="15" font-weight="bold">http2-duplex 7: × better than a ws WebSocket in the same run, log scale</text>'];
    Object.entries(COLORS).forEach(([variant, color], i) => {
        out.push(`<rect x="${10 + i * 110}" y="28" width="10" height="10" fill="${color}"/><text x="${24 + i * 110}" y="37">${variant}</text>`);
    });
    for (const tick of [0.1, 1, 10, 100, 1000]) {
        const x = x_of(tick).toFixed(1);
        out.push(`<line x1="${x}" y1="${TOP - 4}" x2="${x}" y2="${height - 30}" stroke="${tick === 1 ? '#333' : '#ddd'}"/>`,
            `<text x="${x}" y="${height - 16}" text-anchor="middle">${tick}×</text>`);
    }
    let y = TOP;
    for (const { browser, rows } of groups) {
        out.push(`<text x="10" y="${y + 18}" font-size="13" font-weight="bold">${escape(report.browsers[browser].version)}</text>`);
        y += HEAD_H;
        for (const row of rows) {
            out.push(`<text x="${LEFT - 8}" y="${y + 14}" text-anchor="end">${escape(row.label)}</text>`);
            if (row.gain !== undefined) {
                const from = x_of(Math.min(1, row.gain));
                const to = x_of(Math.max(1, row.gain));
                out.push(`<rect x="${from.toFixed(1)}" y="${y + 4}" width="${Math.max(1, to - from).toFixed(1)}" height="12" fill="${COLORS[row.variant]}"/>`,
                    // The value goes right of the bar (of the 1× line for a bar going left), clear of the labels.
                    `<text x="${(to + 4).toFixed(1)}" y="${y + 14}" font-size="10">${row.gain >= 100 ? Math.round(row.gain) : row.gain.toPrecision(3)}×</text>`);
            }
            y += ROW_H;
        }
    }
    out.push('</svg>');
    return out.join('\n') + '\n';
}
