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
