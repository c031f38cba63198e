// Runs in the browser page: the bench workloads, against an http2-duplex client
// (ours or 6.0.3, by the URL it is imported from) or a WebSocket. Every workload
// checks that what came back is what was sent, and says which transport carried it
// and over how many connections (WebSockets or duplexes) it ran.
const WS_HIGH_WATER = 4 * 1024 * 1024;
const SPAN = 1024 * 1024;       // bulk data is cut from a random buffer this long
const STRIDE = 4099;            // ... at shifting offsets, so a lost or repeated chunk shows
const SAMPLE = 1024 * 1024;     // bytes of each echo compared by SHA-256

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

function rejection(on_error) {
    return new Promise((resolve, reject) => on_error(reject));
}

// A connection: write(bytes) returns a promise when the caller should wait
// (backpressure), on_data(fn) gets echoed bytes, failed rejects on error.
async function open_duplex({ client_url, url }, options) {
    const { default: make } = await import(client_url);
    const duplex = await make(new URL(url, location.href).href, options);
    const failed = rejection(reject => duplex.once('error', reject));
    failed.catch(() => {});
    return {
        failed,
        // Ours says; 6.0.3 has a `writer` only when it streams its request body.
        transport: duplex.transport ?? (duplex.writer ? 'streaming' : 'per-write'),
        write: bytes => duplex.write(bytes) ? null : new Promise(resolve => duplex.once('drain', resolve)),
        on_data: fn => duplex.on('data', fn),
        async close() {
            // The echo ends once our end has gone round and the duplex closes itself;
            // don't wait forever for it.
            const closed = new Promise(resolve => duplex.once('close', resolve));
            duplex.end();
            await Promise.race([closed, failed, sleep(3000)]).catch(() => {});
            duplex.destroy();
        }
    };
}

// An open WebSocket and a promise that rejects if it fails later.
async function open_websocket(url, protocol) {
    const ws = new WebSocket(url, protocol);
    ws.binaryType = 'arraybuffer';
    await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = () => reject(new Error('WebSocket failed to open'));
    });
    const failed = rejection(reject => {
        ws.onerror = () => reject(new Error('WebSocket error'));
    });
    failed.catch(() => {});
    return { ws, failed };
}

async function open_ws({ url }) {
    const { ws, failed } = await open_websocket(url);
    // WebSockets have no write callback: poll bufferedAmount to bound memory.
    async function drained() {
        while (ws.bufferedAmount > WS_HIGH_WATER / 2) {
            await sleep(1);
        }
    }
    return {
        failed,
        transport: 'websocket',
        write(bytes) {
            ws.send(bytes);
            return ws.bufferedAmount > WS_HIGH_WATER ? drained() : null;
        },
        on_data: fn => {
            ws.onmessage = event => fn(new Uint8Array(event.data));
        },
        async close() {
            ws.close();
        }
    };
}

// The bare variants (options.raw_ws): the page's own WebSocket to our server's
// duplex path, speaking http2-duplex.1 (docs/websocket.md) in a few lines instead
// of our client: what the browser's WebSocket and our server cost without the
// client library. Over HTTP/2 or HTTP/1.1 as the page's connection offers.
const RAW_WINDOW = 1024 * 1024;
async function open_raw_ws({ url }) {
    const { ws, failed } = await open_websocket(new URL(url, location.href.replace(/^http/, 'ws')).href,
        'http2-duplex.1');
    let send_credit = RAW_WINDOW;
    let credit_waiter = null;
    let consumed = 0;
    let on_bytes = () => {};
    let peer_ended;
    const ended = new Promise(resolve => { peer_ended = resolve; });
    ws.onmessage = event => {
        if (typeof event.data === 'string') {
            const m = /^credit (\d+)$/.exec(event.data);
            if (m) {
                send_credit += Number(m[1]);
                credit_waiter?.();
            } else if (event.data === 'end') {
                peer_ended();
            }
            return;
        }
        const bytes = new Uint8Array(event.data);
        on_bytes(bytes);
        consumed += bytes.length;
        if (consumed >= RAW_WINDOW / 2) {
            ws.send(`credit ${consumed}`);
            consumed = 0;
        }
    };
    async function drained() {
        while (ws.bufferedAmount > WS_HIGH_WATER / 2) {
            await sleep(1);
        }
    }
    async function send_slowly(bytes) {
        while (bytes.length > 0) {
            while (send_credit === 0) {
                await new Promise(resolve => { credit_waiter = resolve; });
            }
            const n = Math.min(bytes.length, send_credit);
            ws.send(bytes.subarray(0, n));
            send_credit -= n;
            bytes = bytes.subarray(n);
        }
        await drained();
    }
    return {
        failed,
        transport: 'websocket',
        write(bytes) {
            if (bytes.length <= send_credit) {
                ws.send(bytes);
                send_credit -= bytes.length;
                return ws.bufferedAmount > WS_HIGH_WATER ? drained() : null;
            }
            return send_slowly(bytes);
        },
        on_data: fn => { on_bytes = fn; },
        // As the protocol closes: `end` each way, then the Close.
        async close() {
            ws.send('end');
            await Promise.race([ended, failed, sleep(3000)]).catch(() => {});
            ws.close(1000);
        }
    };
}

function open(target, options) {
    return target.kind === 'ws' ? open_ws(target) : options.raw_ws ? open_raw_ws(target) : open_duplex(target, options);
}

async function sha256(bytes) {
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    return [...digest].map(b => b.toString(16).padStart(2, '0')).join('');
}

function random_bytes(n) {
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i += 65536) {
        crypto.getRandomValues(bytes.subarray(i, Math.min(n, i + 65536)));
    }
    return bytes;
}

// Resolves when check() is true, re-checked by poke(); rejects if the connection fails.
function waiter(conn, check) {
    let poke;
    const done = new Promise(resolve => {
        poke = () => check() && resolve();
    });
    return { poke, done: () => (poke(), Promise.race([done, conn.failed])) };
}

// Writes chunk_size slices of source until the deadline, checking the first and
// last byte of every echoed chunk against the sender's stream and keeping the
// first SAMPLE bytes for a hash.
async function echo_until(conn, source, chunk_size, deadline) {
    const expected_at = p => source[(Math.floor(p / chunk_size) * STRIDE) % SPAN + p % chunk_size];
    const sample = new Uint8Array(SAMPLE);
    let sent = 0;
    let received = 0;
    let bad = 0;
    let writing = true;
    const all_back = waiter(conn, () => !writing && received >= sent);
    conn.on_data(data => {
        if (data[0] !== expected_at(received) || data[data.length - 1] !== expected_at(received + data.length - 1)) {
            bad += 1;
        }
        if (received < SAMPLE) {
            sample.set(data.subarray(0, SAMPLE - received), received);
        }
        received += data.length;
        all_back.poke();
    });
    for (let k = 0; performance.now() < deadline; k++) {
        const offset = (k * STRIDE) % SPAN;
        const wait = conn.write(source.subarray(offset, offset + chunk_size));
        sent += chunk_size;
        if (wait) {
            await Promise.race([wait, conn.failed]);
        }
    }
    writing = false;
    await all_back.done();
    const length = Math.min(SAMPLE, sent);
    const expected = new Uint8Array(length);
    for (let p = 0; p < length; p++) {
        expected[p] = expected_at(p);
    }
    const sample_ok = await sha256(expected) === await sha256(sample.subarray(0, length));
    return { sent, received, ok: bad === 0 && sample_ok && received === sent };
}

// Echo throughput: `duplexes` connections each writing chunk_size writes for duration_ms.
export async function throughput(target, options, { duplexes, chunk_size, duration_ms }) {
    const source = random_bytes(SPAN + chunk_size);
    const conns = await Promise.all(Array.from({ length: duplexes }, () => open(target, options)));
    const start = performance.now();
    const results = await Promise.all(conns.map(conn => echo_until(conn, source, chunk_size, start + duration_ms)));
    const ms = performance.now() - start;
    await Promise.all(conns.map(conn => conn.close()));
    const bytes = results.reduce((n, r) => n + r.received, 0);
    return { ms, bytes, ok: results.every(r => r.ok), value: bytes / 1e6 / (ms / 1000), transport: transports(conns), connections: conns.length };
}

// The transport of every connection, if they agree.
function transports(conns) {
    const all = new Set(conns.map(conn => conn.transport));
    return all.size === 1 ? [...all][0] : [...all].join('+');
}

function percentile(sorted, p) {
    return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

// Ping-pong: one message out, wait for its echo, repeat; round-trip percentiles.
export async function ping_pong(target, options, { size, rounds, warmup, duration_ms }) {
    const conn = await open(target, options);
    const back = new Uint8Array(size);
    let got = 0;
    let arrived = null;
    conn.on_data(data => {
        back.set(data.subarray(0, size - got), got);
        got += data.length;
        if (got >= size) {
            arrived();
        }
    });
    const times = [];
    let ok = true;
    const deadline = performance.now() + duration_ms;
    for (let i = 0; i < warmup + rounds && performance.now() < deadline; i++) {
        const message = new Uint8Array(size).map((_, j) => (i * 31 + j) & 0xff);
        got = 0;
        const echoed = new Promise(resolve => { arrived = resolve; });
        const start = performance.now();
        conn.write(message);
        await Promise.race([echoed, conn.failed]);
        const ms = performance.now() - start;
        ok = ok && got === size && back.every((b, j) => b === message[j]);
        if (i >= warmup) {
            times.push(ms);
        }
    }
    await conn.close();
    times.sort((a, b) => a - b);
    // Cross-origin isolated pages (bench/server.mjs) have timers fine enough for this.
    return {
        rounds: times.length, bytes: times.length * size, ok, transport: conn.transport, connections: 1,
        isolated: crossOriginIsolated, p50: percentile(times, 0.5), p99: percentile(times, 0.99)
    };
}

// Many small writes without waiting for echoes (but honouring backpressure), up
// to `count` or until duration_ms; messages per second until the last echo is back.
export async function messages(target, options, { count, size, duration_ms }) {
    const conn = await open(target, options);
    const sent = random_bytes(count * size);
    const back = new Uint8Array(count * size);
    let written = 0;
    let writing = true;
    let received = 0;
    const all_back = waiter(conn, () => !writing && received >= written * size);
    conn.on_data(data => {
        back.set(data.subarray(0, back.length - received), received);
        received += data.length;
        all_back.poke();
    });
    const start = performance.now();
    while (written < count && performance.now() - start < duration_ms) {
        const wait = conn.write(sent.subarray(written * size, (written + 1) * size));
        written += 1;
        if (wait) {
            await Promise.race([wait, conn.failed]);
        }
    }
    writing = false;
    await all_back.done();
    const ms = performance.now() - start;
    await conn.close();
    const length = written * size;
    const ok = received === length && await sha256(sent.subarray(0, length)) === await sha256(back.subarray(0, length));
    return { ms, bytes: received, count: written, ok, transport: conn.transport, connections: 1, value: written / (ms / 1000) };
}
