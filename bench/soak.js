'use strict';
// Opens, uses and closes duplexes in every way the server must survive, then
// checks that the core's registry is empty and memory came back.
// Usage: node --expose-gc bench/soak.js [--duplexes 10000]
const { once } = require('events');
const { parseArgs } = require('util');
const {
    start_server, open, post, request
} = require('../support/h2');

const BATCH = 100;
const END = { 'http2-duplex-end': 'true' };

// Each way a duplex's life can go; every one must leave nothing behind.
const ENDINGS = [
    async function written_and_ended(session, id) {
        await post(session, id, 'data');
        await post(session, id, undefined, END);
    },
    async function pipelined_out_of_order(session, id) {
        await Promise.all([
            post(session, id, 'b', { 'http2-duplex-seq': '1' }),
            post(session, id, 'a', { 'http2-duplex-seq': '0' }),
            post(session, id, undefined, { ...END, 'http2-duplex-seq': '2' })
        ]);
    },
    async function destroyed_by_client(session, id) {
        await post(session, id, undefined, { ...END, 'http2-duplex-destroyed': 'true' });
    },
    async function write_reset_mid_body(session, id) {
        const upload = session.request({
            ':method': 'POST', ':path': '/duplex', 'http2-duplex-id': id, 'content-length': '64'
        });
        upload.on('error', () => {});
        upload.end('short');
        await new Promise(resolve => upload.on('close', resolve));
    },
    async function malformed_seq(session, id) {
        await post(session, id, 'x', { 'http2-duplex-seq': 'nope' });
    },
    async function streaming_then_get_reset(session, id, get) {
        const upload = session.request({
            ':method': 'POST', ':path': '/duplex', 'http2-duplex-id': id, 'http2-duplex-single': 'true'
        });
        upload.on('error', () => {});
        upload.end('streamed');
        await once(upload, 'response');
        get.close();
    },
    async function left_open_for_session_close() {}
];

async function cycle(s, total) {
    for (let done = 0; done < total; done += BATCH) {
        const session = s.connect();
        await Promise.all(Array.from({ length: Math.min(BATCH, total - done) }, async (_, i) => {
            const { id, stream } = await open(session);
            stream.resume();
            await ENDINGS[(done + i) % ENDINGS.length](session, id, stream);
        }));
        // Some requests the server must refuse on the way.
        await request(session, { ':method': 'PUT', ':path': '/duplex' });
        await post(session, 'unknown', 'x');
        const closed = once(session, 'close');
        session.destroy();
        await closed;
    }
    // The server sees each session's close a little after the client does.
    while (s.server.sessions.size > 0) {
        await once([...s.server.sessions][0], 'close');
    }
}

function memory() {
    global.gc?.();
    const { heapUsed, rss } = process.memoryUsage();
    return { heapUsed, rss };
}

async function soak(total, options = {}) {
    const s = await start_server({ idle_timeout: 10000, ...options });
    s.server.on('warning', () => {});
    s.server.on('duplex', duplex => {
        duplex.on('error', () => {});
        duplex.pipe(duplex);
    });
    try {
        // Warm up first so that lazily created state, and the allocator's
        // arenas, are not counted as a leak.
        await cycle(s, Math.max(BATCH * 2, Math.floor(total / 5)));
        const before = memory();
        await cycle(s, total);
        const after = memory();
        return { before, after, stats: s.server.stats() };
    } finally {
        await s.close();
    }
}

module.exports = { soak };

if (require.main === module) {
    const { values } = parseArgs({ options: { duplexes: { type: 'string', default: '10000' } } });
    const total = Number(values.duplexes);
    const mib = n => `${(n / 1048576).toFixed(1)} MiB`;
    const started = Date.now();
    soak(total).then(({ before, after, stats }) => {
        console.log(`${total} duplexes in ${((Date.now() - started) / 1000).toFixed(1)} s, ` +
            `${ENDINGS.length} ways of ending, ${BATCH} per session`);
        console.log(`heap used: ${mib(before.heapUsed)} before, ${mib(after.heapUsed)} after`);
        console.log(`RSS:       ${mib(before.rss)} before, ${mib(after.rss)} after`);
        console.log('stats():  ', stats);
        const empty = stats.sessions === 0 && stats.duplexes === 0 &&
            stats.heldBytes === 0 && stats.writesInFlight === 0;
        const memory_ok = after.heapUsed - before.heapUsed < 8 * 1048576 &&
            after.rss - before.rss < 32 * 1048576;
        if (!global.gc) {
            console.log('(run with node --expose-gc for a meaningful heap figure)');
        }
        console.log(empty && memory_ok ? 'OK: registry empty, heap within 8 MiB and RSS within 32 MiB of before' :
            'FAIL: something was left behind');
        process.exitCode = empty && memory_ok ? 0 : 1;
    });
}
