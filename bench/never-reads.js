'use strict';
// Memory of a server whose application never reads, while hostile clients
// pipeline large in-order write POSTs (protocol v2) at it. The server must
// stop reading POST bodies once each duplex's reader is full, so its RSS
// stays bounded by the limits, not by what clients send.
// Usage: node bench/never-reads.js [--duplexes 2] [--posts 16] [--mib 8] [--seconds 3]
const { parseArgs } = require('util');
const { setTimeout: sleep } = require('timers/promises');
const { start_server, open, next_duplex } = require('../support/h2');

const { values } = parseArgs({
    options: {
        duplexes: { type: 'string', default: '2' },
        posts: { type: 'string', default: '16' },
        mib: { type: 'string', default: '8' },
        seconds: { type: 'string', default: '3' }
    }
});
const MiB = 1024 * 1024;
const rss = () => process.memoryUsage().rss / MiB;

async function main() {
    const s = await start_server();
    const warnings = new Map();
    s.server.on('warning', err => process.env.DEBUG && console.log(err.code, err.message)); s.server.on('warning', err => warnings.set(err.code, (warnings.get(err.code) ?? 0) + 1));
    const before = rss();
    let peak = before;
    const body = Buffer.alloc(Number(values.mib) * MiB, 1);
    const answers = new Map();
    for (let d = 0; d < Number(values.duplexes); d++) {
        const session = s.connect();
        const opened = next_duplex(s.server);
        const { id } = await open(session);
        await opened;   // the application never reads it
        for (let seq = 0; seq < Number(values.posts); seq++) {
            const upload = session.request({
                ':method': 'POST', ':path': '/duplex', 'http2-duplex-id': id,
                'http2-duplex-seq': String(seq), 'content-length': String(body.length)
            });
            upload.on('error', () => {});
            upload.on('response', h => answers.set(h[':status'], (answers.get(h[':status']) ?? 0) + 1));
            upload.end(body);
        }
    }
    const until = Date.now() + Number(values.seconds) * 1000;
    while (Date.now() < until) {
        peak = Math.max(peak, rss());
        await sleep(50);
    }
    const sent = Number(values.duplexes) * Number(values.posts) * Number(values.mib);
    console.log(`${values.duplexes} duplexes × ${values.posts} POSTs × ${values.mib} MiB (${sent} MiB sent), app never reads`);
    console.log(`RSS: ${before.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB (+${(peak - before).toFixed(0)}) over ${values.seconds} s`);
    console.log('answers:', Object.fromEntries(answers), 'warnings:', Object.fromEntries(warnings));
    console.log('stats():', s.server.stats());
    await s.close();
}

main().catch(err => {
    console.error(err);
    process.exit(1);
});
