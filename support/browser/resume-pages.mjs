// The resume browser suites' server and page functions (resume.browser.test.mjs for
// Chromium and Firefox, resume-webkit.browser.test.mjs for WebKitGTK). The page
// functions run in the page: self-contained, they cross as source text.
import { createHash } from 'node:crypto';
import { start_server, DUPLEX_PATH } from './server.mjs';

export const KEEPALIVE_MS = 200;
export const SERVER_OPTIONS = { websocket: 'http1', keepalive_interval: KEEPALIVE_MS };

// A test server whose every duplex echoes, hashing what it received (by id). `http2`:
// WebSockets over HTTP/2 too (RFC 8441, the page's connection), HTTP/1.1 ones besides.
// `options`: more of the server's options (cors, say).
export async function start_echo_server({ http2 = false, options = {} } = {}) {
    const server = await start_server({
        options: { ...(http2 ? { keepalive_interval: KEEPALIVE_MS } : SERVER_OPTIONS), ...options },
        server_options: { allowHTTP1: true }
    });
    // HTTP/1.1 requests to other paths get a 404, as their HTTP/2 twins do.
    server.http2_server.on('request', (req, res) => {
        if (req.httpVersionMajor === 1 && req.url.split('?')[0] !== DUPLEX_PATH) {
            res.writeHead(404).end();
        }
    });
    server.received = new Map();     // id → { hash, bytes, done }
    server.duplex_server.on('duplex', (duplex, id) => {
        const hash = createHash('sha256');
        const seen = { bytes: 0, errors: [] };
        server.received.set(id, seen);
        seen.done = new Promise(resolve => {
            duplex.on('data', chunk => {
                hash.update(chunk);
                seen.bytes += chunk.length;
            });
            duplex.on('end', () => resolve(seen.hash = hash.digest('hex')));
        });
        duplex.on('error', err => seen.errors.push(err.code));
        duplex.pipe(duplex);
    });
    return server;
}

// In the page: a resumable duplex (make()'s `options` besides) that writes `total`
// pseudo-random bytes in writes of `chunk` and reads the echo; SHA-256 of both,
// 'resumed' events, any error.
export async function echo_in_page({ client_url, url, total, chunk, options = {} }) {
    const { default: make } = await import(client_url);
    const started = performance.now();
    const duplex = await make(url, { resume: true, ...options });
    const resumed = [];
    duplex.on('resumed', info => resumed.push(info));
    let error = null;
    const failed = new Promise(resolve => duplex.on('error', err => {
        error = { code: err.code, message: err.message };
        resolve();
    }));
    const sent = new Uint8Array(total);
    const words = new Uint32Array(sent.buffer);
    let x = 0x9e3779b9;
    for (let i = 0; i < words.length; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        words[i] = x >>> 0;
    }
    const received = new Uint8Array(total);
    let got = 0;
    duplex.on('data', data => {
        received.set(data.subarray(0, Math.max(0, Math.min(data.length, total - got))), got);
        got += data.length;
    });
    const ended = new Promise(resolve => duplex.on('end', resolve));
    for (let off = 0; off < total && !error; off += chunk) {
        if (!duplex.write(sent.subarray(off, off + chunk))) {
            await Promise.race([new Promise(resolve => duplex.once('drain', resolve)), failed]);
        }
    }
    duplex.end();
    await Promise.race([ended, failed]);
    const hex = async bytes => Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)),
        b => b.toString(16).padStart(2, '0')).join('');
    return {
        id: duplex.id,
        resumable: duplex.resumable,
        transport: duplex.transport,
        tunnel: duplex.tunnel,
        resumed,
        error,
        got,
        ms: Math.round(performance.now() - started),
        sent_hash: await hex(sent),
        received_hash: await hex(received.subarray(0, Math.min(got, total)))
    };
}

// In the page: opens a resumable duplex (make()'s `options` besides) and keeps it in
// window.resume_test.
export async function open_in_page({ client_url, url, options = {} }) {
    const { default: make } = await import(client_url);
    const duplex = await make(url, { resume: true, ...options });
    window.resume_test = { duplex, events: [] };
    // Date.now(): the test compares it with the time of its cut.
    duplex.on('error', err => window.resume_test.events.push({ at: Date.now(), error: err.code }));
    duplex.on('end', () => window.resume_test.events.push({ at: Date.now(), end: true }));
    duplex.on('resumed', info => window.resume_test.events.push({ at: Date.now(), resumed: info }));
    return { id: duplex.id, resumable: duplex.resumable, transport: duplex.transport, tunnel: duplex.tunnel };
}

// In the page: what carries the duplex of open_in_page now.
export function carried_in_page() {
    const { duplex } = window.resume_test;
    return { transport: duplex.transport, tunnel: duplex.tunnel };
}

// In the page: make(url, options) from this page; its error's name, code and message
// if it fails.
export async function make_in_page({ client_url, url, options }) {
    const { default: make } = await import(client_url);
    try {
        const duplex = await make(url, options);
        duplex.destroy();
        return { resumable: duplex.resumable, tunnel: duplex.tunnel, transport: duplex.transport };
    } catch (err) {
        return { error: { name: err.name, code: err.code, message: err.message } };
    }
}

// In the page: writes `n` bytes on the duplex of open_in_page and reads their echo.
export async function echo_once_in_page(n) {
    const { duplex } = window.resume_test;
    const sent = new Uint8Array(n);
    // getRandomValues fills at most 64 KiB a call.
    for (let off = 0; off < n; off += 65536) {
        crypto.getRandomValues(sent.subarray(off, off + 65536));
    }
    const received = [];
    let got = 0;
    const echoed = new Promise(resolve => {
        const on_data = data => {
            received.push(data);
            got += data.length;
            if (got >= n) {
                duplex.off('data', on_data);
                resolve();
            }
        };
        duplex.on('data', on_data);
    });
    duplex.write(sent);
    await echoed;
    const all = new Uint8Array(got);
    let off = 0;
    for (const data of received) {
        all.set(data, off);
        off += data.length;
    }
    return { got, same: all.length === n && all.every((b, i) => b === sent[i]) };
}

export function events_in_page() {
    return window.resume_test.events;
}

export function first_error_in_page() {
    const { events } = window.resume_test;
    return new Promise(resolve => {
        const look = () => {
            const event = events.find(e => e.error || e.end);
            if (event) {
                resolve({ ...event, events });
            } else {
                setTimeout(look, 5);
            }
        };
        look();
    });
}

// In the page (bench/resume-browser.mjs): the time on a clock the bench's process shares
// (ms since the epoch, as fine as performance.now()).
export function clock_in_page() {
    return performance.timeOrigin + performance.now();
}

// In the page (bench/resume-browser.mjs): `count` 64 B round trips, one after another, on
// the duplex of open_in_page: each one's ms from the write to its whole echo, and when
// the last echo was whole (clock_in_page's clock). Rejects on the duplex's error.
export async function round_trips_in_page(count) {
    const { duplex } = window.resume_test;
    const times = [];
    let end = performance.now();
    for (let i = 0; i < count; i++) {
        const start = performance.now();
        await new Promise((resolve, reject) => {
            let pending = 64;
            const on_data = data => {
                pending -= data.length;
                if (pending <= 0) {
                    duplex.off('data', on_data);
                    duplex.off('error', reject);
                    resolve();
                }
            };
            duplex.on('data', on_data);
            duplex.once('error', reject);
            duplex.write(new Uint8Array(64).fill(1));
        });
        end = performance.now();
        times.push(end - start);
    }
    return { times, echoed_at: performance.timeOrigin + end };
}

// In the page: destroys the duplex of open_in_page; its events.
export function destroy_in_page() {
    window.resume_test.duplex.destroy();
    return window.resume_test.events;
}

// In the page: a request that opens the page's HTTP/2 connection again after a cut
// (Chromium opens a WebSocket over HTTP/2 only on a connection it has).
export async function reconnect_page_in_page() {
    await (await fetch(location.href, { cache: 'no-store' })).arrayBuffer();
}

// In the page: how long make(url, options) takes to open a duplex (ms); then destroys it.
export async function setup_time_in_page({ client_url, url, options }) {
    const { default: make } = await import(client_url);
    const start = performance.now();
    const duplex = await make(url, options);
    const ms = performance.now() - start;
    duplex.destroy();
    return { ms, transport: duplex.transport, tunnel: duplex.tunnel, resumable: duplex.resumable };
}

// In the page: a new duplex (make(url, options)) echoes `bytes` random bytes written 64 KiB
// at a time, backpressure honoured: ms from the first write to the echo's end, and
// whether the echo is what was sent.
export async function echo_rate_in_page({ client_url, url, bytes, options }) {
    const { default: make } = await import(client_url);
    const sent = new Uint8Array(bytes);
    for (let off = 0; off < bytes; off += 65536) {
        crypto.getRandomValues(sent.subarray(off, off + 65536));
    }
    const received = new Uint8Array(bytes);
    const duplex = await make(url, options);
    let got = 0;
    let error = null;
    const done = new Promise(resolve => {
        duplex.on('data', data => {
            received.set(data.subarray(0, Math.max(0, Math.min(data.length, bytes - got))), got);
            got += data.length;
        });
        duplex.on('end', resolve);
        duplex.on('error', err => {
            error = err.code || err.message;
            resolve();
        });
    });
    const start = performance.now();
    for (let off = 0; off < bytes && !error; off += 65536) {
        if (!duplex.write(sent.subarray(off, off + 65536))) {
            await Promise.race([new Promise(resolve => duplex.once('drain', resolve)), done]);
        }
    }
    duplex.end();
    await done;
    const ms = performance.now() - start;
    const [a, b] = [new Uint32Array(sent.buffer), new Uint32Array(received.buffer)];
    let same = got === bytes;
    for (let i = 0; same && i < a.length; i++) {
        same = a[i] === b[i];
    }
    return { ms, got, same, error, transport: duplex.transport, tunnel: duplex.tunnel, resumable: duplex.resumable };
}
