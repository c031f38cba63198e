// Runs in the page: drives client duplexes for the tests, addressed by a key.
const duplexes = new Map();
let next_key = 0;

// The client's ResponseError, for instanceof checks (set by open and open_error*).
let ResponseErrorClass = class {};

// An error as plain data: what the tests assert on (never the message text).
function error_shape(err) {
    return {
        name: err.name,
        code: err.code,
        status: err.status,
        response_status: err.response ? err.response.status : undefined,
        is_response_error: err instanceof ResponseErrorClass
    };
}

// Every event of interest, and the order in which they fired.
function record(duplex) {
    const events = {};
    const order = [];
    let error = null;
    for (const name of ['end', 'finish', 'close', 'error']) {
        events[name] = new Promise(resolve => duplex.once(name, err => {
            if (name === 'error') {
                error = error_shape(err);
            }
            const label = name === 'error' ? `error: ${err.message}` : name;
            order.push(label);
            resolve(label);
        }));
    }
    return { events, order, error: () => error };
}

function get(key) {
    return duplexes.get(key).duplex;
}

export async function open(client_url, url, options) {
    const { default: make, ResponseError } = await import(client_url);
    ResponseErrorClass = ResponseError;
    const duplex = await make(new URL(url, location.href).href, options);
    const key = next_key++;
    duplexes.set(key, { duplex, ...record(duplex) });
    return { key, id: duplex.id, transport: duplex.transport };
}

// A WebSocket that never opens (as behind a hop without RFC 8441): it fails at once.
class UnavailableWebSocket extends EventTarget {
    constructor() {
        super();
        this.readyState = 0;
        setTimeout(() => {
            this.readyState = 3;
            this.dispatchEvent(new Event('error'));
            this.dispatchEvent(Object.assign(new Event('close'), { code: 1006, reason: '' }));
        });
    }

    close() {}
}

// open() with no WebSocket transport available.
export function open_without_websocket(client_url, url, options) {
    return open(client_url, url, { ...options, WebSocket: UnavailableWebSocket });
}

// What make() rejects with, as plain data.
export async function open_error(client_url, url, options) {
    const { default: make, ResponseError } = await import(client_url);
    ResponseErrorClass = ResponseError;
    try {
        await make(new URL(url, location.href).href, options);
        return null;
    } catch (err) {
        return {
            is_response_error: err instanceof ResponseError,
            status: err.response && err.response.status,
            message: err.message
        };
    }
}

// make() with the error shape (name, code, status) of its rejection, or null.
export async function open_error_shape(client_url, url, options) {
    const { default: make, ResponseError } = await import(client_url);
    ResponseErrorClass = ResponseError;
    try {
        const duplex = await make(new URL(url, location.href).href, options);
        duplex.destroy();
        return null;
    } catch (err) {
        return error_shape(err);
    }
}

// make() with a ResponseError subclass whose init() reads the body: the rejection's shape.
export async function open_error_subclass(client_url, url, options) {
    const { default: make, ResponseError } = await import(client_url);
    class BodyError extends ResponseError {
        async init() {
            this.body = await this.response.text();
            this.init_ran = true;
        }
    }
    try {
        const duplex = await make(new URL(url, location.href).href, { ...options, ResponseError: BodyError });
        duplex.destroy();
        return null;
    } catch (err) {
        return {
            is_subclass: err instanceof BodyError,
            is_response_error: err instanceof ResponseError,
            init_ran: err.init_ran === true,
            name: err.name,
            code: err.code,
            status: err.status
        };
    }
}

// The first of the named events to fire: 'end', 'close', 'error: …'.
export function first_event(key, names) {
    const { events } = duplexes.get(key);
    return Promise.race(names.map(name => events[name]));
}

// Once the duplex has closed: its events in the order they fired and its error's shape.
export async function closed(key) {
    const { events, order, error } = duplexes.get(key);
    await events.close;
    return { order, error: error() };
}

// Reads everything, ends, and resolves once the duplex has closed (see closed()).
export function end_and_close(key) {
    const duplex = get(key);
    duplex.resume();
    duplex.end();
    return closed(key);
}

// Writes one chunk; resolves with the callback's error shape (or null) once it is called.
export function write_shape(key, bytes) {
    return new Promise(resolve => get(key).write(new Uint8Array(bytes), err =>
        resolve(err ? error_shape(err) : null)));
}

export function write(key, bytes) {
    return new Promise(resolve => get(key).write(new Uint8Array(bytes), err =>
        resolve(err ? `error: ${err.message}` : null)));
}

export function end(key) {
    get(key).end();
}

export function destroy(key) {
    get(key).destroy();
}

export function read_bytes(key, n) {
    const duplex = get(key);
    return new Promise((resolve, reject) => {
        const bytes = [];
        const on_data = data => {
            bytes.push(...data);
            if (bytes.length >= n) {
                duplex.off('data', on_data);
                duplex.pause();
                resolve(bytes);
            }
        };
        duplex.on('data', on_data);
        duplex.once('error', reject);
    });
}

async function sha256(chunks) {
    const length = chunks.reduce((n, c) => n + c.length, 0);
    const all = new Uint8Array(length);
    let offset = 0;
    for (const chunk of chunks) {
        all.set(chunk, offset);
        offset += chunk.length;
    }
    const digest = await crypto.subtle.digest('SHA-256', all);
    return { length, sha256: [...new Uint8Array(digest)].map(b => b.toString(16).padStart(2, '0')).join('') };
}

// Reads until 'end'; the length and SHA-256 of everything read.
export function read_all(key) {
    const duplex = get(key);
    return new Promise((resolve, reject) => {
        const chunks = [];
        duplex.on('data', data => chunks.push(new Uint8Array(data)));
        duplex.once('end', () => resolve(sha256(chunks)));
        duplex.once('error', reject);
    });
}

function random_bytes(n) {
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i += 65536) {
        crypto.getRandomValues(bytes.subarray(i, Math.min(n, i + 65536)));
    }
    return bytes;
}

// Writes `total` random bytes in writes of 1..max_chunk bytes, waiting for 'drain'
// when write() says so; then ends and waits for 'finish' if asked.
export async function send_random(key, total, max_chunk, end_after) {
    const duplex = get(key);
    const chunks = [];
    let sent = 0;
    while (sent < total) {
        const size = Math.min(total - sent, 1 + Math.floor(Math.random() * max_chunk));
        const chunk = random_bytes(size);
        chunks.push(chunk);
        sent += size;
        if (!duplex.write(chunk)) {
            await new Promise(resolve => duplex.once('drain', resolve));
        }
    }
    if (end_after) {
        duplex.end();
        const event = await first_event(key, ['finish', 'error', 'close']);
        if (event !== 'finish') {
            throw new Error(`${event} before finish`);
        }
    }
    return sha256(chunks);
}

// Writes `count` one-byte writes synchronously, then ends; resolves on 'finish'.
export async function burst(key, count) {
    const duplex = get(key);
    for (let i = 0; i < count; i++) {
        duplex.write(new Uint8Array([i & 0xff]));
    }
    duplex.end();
    return first_event(key, ['finish', 'error']);
}

// What the readable side holds unread (a paused duplex's buffer).
export function buffered(key) {
    return get(key).readableLength;
}

// Resolves with readableLength once it reaches `n`. Nothing fires as a paused
// duplex's buffer fills, so this looks once per task.
export async function buffered_at_least(key, n) {
    const duplex = get(key);
    while (duplex.readableLength < n && !duplex.destroyed) {
        await new Promise(resolve => setTimeout(resolve));
    }
    return duplex.readableLength;
}

export function resume(key) {
    get(key).resume();
}

// Writes `chunk_size` chunks while the duplex drains, until 'drain' has not come for
// `quiet_ms` (the pipeline is full) or `limit` bytes went in. Then drained(key) tells
// when the duplex drains again.
export async function fill(key, chunk_size, limit, quiet_ms) {
    const entry = duplexes.get(key);
    const { duplex } = entry;
    let written = 0;
    for (;;) {
        while (written < limit && duplex.write(new Uint8Array(chunk_size).fill(written & 0xff))) {
            written += chunk_size;
        }
        if (written >= limit) {
            return { written, full: false };
        }
        written += chunk_size;
        const drain = new Promise(resolve => duplex.once('drain', () => resolve('drain')));
        const quiet = new Promise(resolve => setTimeout(resolve, quiet_ms, 'quiet'));
        if (await Promise.race([drain, quiet]) === 'quiet') {
            entry.drained = drain;
            return { written, full: true };
        }
    }
}

// Writes `count` chunks larger than the highWaterMark, each after 'drain', and
// returns how many were written before the page ran its next task. Version 2
// accepts them all into its window at once, so without a timer per write (as a
// process.nextTick shim on setTimeout gives, clamped to 4 ms) all go in one task.
export async function writes_before_next_task(key, count, chunk_size) {
    const duplex = get(key);
    let written = 0;
    let before_next_task;
    const next_task = new Promise(resolve => setTimeout(() => {
        before_next_task = written;
        resolve();
    }));
    for (; written < count; written++) {
        if (!duplex.write(new Uint8Array(chunk_size))) {
            await new Promise(resolve => duplex.once('drain', resolve));
        }
    }
    await next_task;
    return before_next_task;
}

export function drained(key) {
    return duplexes.get(key).drained;
}

// Fetch that hides the version 2 headers, so a client speaks version 1 to our server.
export function v1_fetch(input, init) {
    return fetch(input, init).then(response => {
        const headers = new Headers(response.headers);
        headers.delete('http2-duplex-version');
        return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
    });
}

// Opens a duplex (version 1 if asked), writes `count` writes of `size` bytes honouring
// backpressure, ends, and resolves with the milliseconds until 'finish'.
export async function timed_upload(client_url, url, { v1, count, size }) {
    const { default: make } = await import(client_url);
    // Counts the POSTs in flight at once, to show pipelining.
    let in_flight = 0;
    let max_in_flight = 0;
    const counting_fetch = async (input, init) => {
        max_in_flight = Math.max(max_in_flight, ++in_flight);
        try {
            return await (v1 ? v1_fetch : fetch)(input, init);
        } finally {
            in_flight -= 1;
        }
    };
    const duplex = await make(new URL(url, location.href).href, {
        transport: 'per-write',
        fetch: counting_fetch
    });
    const start = performance.now();
    for (let i = 0; i < count; i++) {
        if (!duplex.write(new Uint8Array(size))) {
            await new Promise(resolve => duplex.once('drain', resolve));
        }
    }
    duplex.end();
    await new Promise((resolve, reject) => {
        duplex.once('finish', resolve);
        duplex.once('error', reject);
    });
    const ms = performance.now() - start;
    duplex.resume();
    return { id: duplex.id, ms, max_in_flight };
}

// Opens a duplex whose write POSTs (not the GET nor the end POST) are answered 503,
// writes one chunk, and reports how the failure surfaced.
export async function failing_write(client_url, url, options) {
    const { default: make, ResponseError } = await import(client_url);
    const failing_fetch = (input, init) => {
        const headers = new Headers(init.headers);
        if (init.method === 'POST' && !headers.has('http2-duplex-end')) {
            return Promise.resolve(new Response(null, { status: 503, statusText: 'Unavailable' }));
        }
        return fetch(input, init);
    };
    const duplex = await make(new URL(url, location.href).href, { ...options, fetch: failing_fetch });
    const error = new Promise(resolve => duplex.once('error', resolve));
    const callback_error = await new Promise(resolve => duplex.write(new Uint8Array([1]), resolve));
    const err = callback_error || await error;
    return { message: err.message, is_response_error: err instanceof ResponseError, destroyed: duplex.destroyed };
}

// Opens a duplex as open() does, through a fetch that records the GET's framing
// header (sent) and its answer's (received).
export async function open_framing(client_url, url, options) {
    const seen = { asked: null, answered: null };
    const inner = options?.fetch || fetch;
    const recording_fetch = async (input, init) => {
        const response = await inner(input, init);
        if (!init.method || init.method === 'GET') {
            seen.asked = new Headers(init.headers).get('http2-duplex-framing');
            seen.answered = response.headers.get('http2-duplex-framing');
        }
        return response;
    };
    const opened = await open(client_url, url, { ...options, fetch: recording_fetch });
    return { ...opened, ...seen };
}

// The GET's http2-duplex-framing header make(url, options) sends (null: none). The
// GET is not sent: a fetch that records it answers 404.
export async function framing_requested(client_url, url, options) {
    const { default: make } = await import(client_url);
    let asked;
    const recording_fetch = async (input, init) => {
        asked = new Headers(init.headers).get('http2-duplex-framing');
        return new Response(null, { status: 404 });
    };
    await make(url, { ...options, fetch: recording_fetch }).then(d => d.destroy(), () => {});
    return asked;
}

// Reads until the duplex closes (ending its writable side first if `end_writable`):
// the text read, the events' order and the error's shape.
export async function read_to_close(key, end_writable) {
    const duplex = get(key);
    const decoder = new TextDecoder();
    let text = '';
    duplex.on('data', data => {
        text += decoder.decode(data, { stream: true });
    });
    if (end_writable) {
        duplex.end();
    }
    const { order, error } = await closed(key);
    return { text: text + decoder.decode(), order, error };
}

// Opens `n` duplexes on `url`, sends `size` random bytes on each in writes of
// up to 16 KiB, ends, and reads the echo: [{ id, sent, read }] (the proxy suites).
export function echo_many(client_url, url, n, size, options) {
    return Promise.all(Array.from({ length: n }, async () => {
        const { key, id, transport } = await open(client_url, url, options);
        const [read, sent] = await Promise.all([read_all(key), send_random(key, size, 16384, true)]);
        return { id, transport, sent, read };
    }));
}

// Resolves on the duplex's next 'drain', or its 'close'; the listeners go with it.
function drain_or_close(duplex) {
    return new Promise(resolve => {
        const done = () => {
            duplex.off('drain', done);
            duplex.off('close', done);
            resolve();
        };
        duplex.on('drain', done);
        duplex.on('close', done);
    });
}

// The proxy suites' node kill: per duplex, what it wrote and what came back.
const pumps = new Map();

// Checks every byte read against the oldest bytes written whose echo had not come.
function check_echo(pump, data) {
    for (let at = 0; at < data.length && !pump.mismatch;) {
        const head = pump.sent[0];
        const n = Math.min(head.length, data.length - at);
        for (let i = 0; i < n; i++) {
            if (head[i] !== data[at + i]) {
                pump.mismatch = `echo differs at byte ${pump.received + at + i}`;
                break;
            }
        }
        at += n;
        pump.sent[0] = head.subarray(n);
        if (pump.sent[0].length === 0) {
            pump.sent.shift();
        }
    }
    pump.received += data.length;
}

// Resolves with the bytes echoed once `bytes` have been, or the duplex has closed.
function echoed(key, bytes) {
    const duplex = get(key);
    const pump = pumps.get(key);
    return new Promise(resolve => {
        const look = () => {
            if (pump.received >= bytes || duplex.destroyed) {
                duplex.off('data', look);
                duplex.off('close', look);
                resolve(pump.received);
            }
        };
        duplex.on('data', look);
        duplex.on('close', look);
        look();
    });
}

// Opens `n` duplexes on `url`, each writing random 16 KiB chunks (honouring
// backpressure, at most `unechoed` bytes not yet echoed) until finish_pumps()
// or its end, every byte echoed checked. Resolves once each has had `bytes`
// echoed: [{ key, id, transport, received }].
export function pump_many(client_url, url, n, bytes, unechoed, options) {
    return Promise.all(Array.from({ length: n }, async () => {
        const opened = await open(client_url, url, options);
        const duplex = get(opened.key);
        const pump = { sent: [], written: 0, received: 0, mismatch: null, stop: false, failed_at: null };
        pumps.set(opened.key, pump);
        duplex.once('error', () => {
            pump.failed_at = Date.now();
        });
        duplex.on('data', data => check_echo(pump, data));
        pump.done = (async () => {
            while (!pump.stop && !duplex.destroyed) {
                const chunk = random_bytes(16384);
                pump.sent.push(chunk);
                pump.written += chunk.length;
                if (!duplex.write(chunk)) {
                    await drain_or_close(duplex);
                }
                await echoed(opened.key, pump.written - unechoed);
            }
        })();
        return { ...opened, received: await echoed(opened.key, bytes) };
    }));
}

// Once each has closed: its events' order, error shape, when it failed (Date.now()),
// whether the echo matched, and how many bytes written never came back.
export function closed_pumps(keys) {
    return Promise.all(keys.map(async key => {
        const { order, error } = await closed(key);
        const { failed_at, mismatch, received, sent } = pumps.get(key);
        const unechoed = sent.reduce((n, chunk) => n + chunk.length, 0);
        return { id: get(key).id, order, error, failed_at, mismatch, received, unechoed };
    }));
}

// Once each has had `more` bytes echoed: stops their writes, ends them, and
// resolves as closed_pumps() does.
export async function finish_pumps(keys, more) {
    await Promise.all(keys.map(key => echoed(key, pumps.get(key).received + more)));
    for (const key of keys) {
        pumps.get(key).stop = true;
    }
    await Promise.all(keys.map(key => pumps.get(key).done));
    keys.forEach(end);
    return closed_pumps(keys);
}
