'use strict';
// Runs support/pipe-app.js as a child process and talks to it with a
// raw Node http2 client, for __test__/no-crash.test.js.
const http2 = require('http2');
const tls = require('tls');
const { fork } = require('child_process');
const { EventEmitter, once } = require('events');
const { readFileSync } = require('fs');
const { join } = require('path');

const cert = readFileSync(join(__dirname, 'certs', 'server.crt'));
const APP = join(__dirname, 'pipe-app.js');
// Every wait is on an event; this only bounds how long a missing one is awaited.
const DEADLINE = 5000;

// Rejects with `what` unless `promise` settles within `ms`.
function within(promise, ms, what) {
    let timer;
    const deadline = new Promise((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    });
    return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

// One child process running pipe-app.js, and every event it reported.
class App extends EventEmitter {
    constructor(config) {
        super();
        this.config = config;
        this.events = [];
        this.exit = null;
        this.stderr = '';
        this.current = '';
    }

    async start() {
        const { options = {}, error_listener = false, mode = 'pipe' } = this.config;
        this.child = fork(APP, [], {
            env: {
                ...process.env,
                HTTP2_DUPLEX_OPTIONS: JSON.stringify(options),
                ERROR_LISTENER: error_listener ? '1' : '0',
                MODE: mode
            },
            stdio: ['ignore', 'pipe', 'pipe', 'ipc']
        });
        this.child.stdout.resume();
        this.child.stderr.setEncoding('utf8');
        this.child.stderr.on('data', text => {
            this.stderr = (this.stderr + text).slice(-8000);
        });
        this.child.on('message', event => {
            this.events.push(event);
            this.emit('event', event);
        });
        this.child.on('exit', (code, signal) => {
            this.exit = { code, signal, during: this.current };
            this.emit('exited');
        });
        const [listening] = await within(new Promise((resolve, reject) => {
            this.once('exited', () => reject(new Error(`pipe-app exited at start: ${this.stderr}`)));
            this.on('event', function on_event(event) {
                if (event.event === 'listening') {
                    this.off('event', on_event);
                    resolve([event]);
                }
            });
        }), 20000, 'pipe-app to listen');
        this.port = listening.port;
        this.url = `https://127.0.0.1:${this.port}`;
        return this;
    }

    alive() {
        return this.exit === null;
    }

    // After a failure: a crash may show first as a refused or reset
    // connection, before the child's 'exit' arrives. Resolves to alive().
    async settle_exit(ms = 2000) {
        if (this.alive()) {
            await within(once(this, 'exited'), ms, 'exit').catch(() => {});
        }
        return this.alive();
    }

    // Why the child ended, for assertion messages.
    describe_exit() {
        if (!this.exit) {
            return 'running';
        }
        const { code, signal, during } = this.exit;
        return `pipe-app exited (code ${code}, signal ${signal}) during "${during}":\n` +
            this.stderr.split('\n').slice(-25).join('\n');
    }

    mark() {
        return this.events.length;
    }

    since(mark, predicate = () => true) {
        return this.events.slice(mark).filter(predicate);
    }

    // Resolves to the first event since `mark` that matches; rejects at the
    // deadline or when the child exits, listing what it did report.
    wait(mark, predicate, what, ms = DEADLINE) {
        const found = this.events.slice(mark).find(predicate);
        if (found) {
            return Promise.resolve(found);
        }
        return new Promise((resolve, reject) => {
            const done = () => {
                clearTimeout(timer);
                this.off('event', on_event);
                this.off('exited', on_exit);
            };
            const on_event = event => {
                if (predicate(event)) {
                    done();
                    resolve(event);
                }
            };
            const on_exit = () => {
                done();
                reject(new Error(`waiting for ${what}: ${this.describe_exit()}`));
            };
            const timer = setTimeout(() => {
                done();
                reject(new Error(`no ${what} within ${ms} ms; events since the case began: ` +
                    JSON.stringify(this.events.slice(mark))));
            }, ms);
            this.on('event', on_event);
            this.once('exited', on_exit);
            if (!this.alive()) {
                on_exit();
            }
        });
    }

    // The duplex `id` as the app sees it: { readableLength, destroyed }.
    async state(id) {
        const mark = this.mark();
        this.child.send({ query: 'state', id });
        return this.wait(mark, e => e.event === 'state' && e.id === id, `state of ${id}`);
    }

    async stop() {
        if (this.alive()) {
            const exited = once(this, 'exited');
            this.child.kill();
            await exited;
        }
    }
}

async function start_app(config) {
    return new App(config).start();
}

// A client session to the app. With `capture_socket`, `session.raw_socket` is
// the TLS socket under it, so that a test can cut the TCP connection.
function connect(app, { capture_socket = false } = {}) {
    const options = { ca: cert };
    let raw_socket = null;
    if (capture_socket) {
        options.createConnection = () => {
            raw_socket = tls.connect({
                host: '127.0.0.1', port: app.port, ca: cert, ALPNProtocols: ['h2']
            });
            return raw_socket;
        };
    }
    const session = http2.connect(app.url, options);
    session.on('error', () => {});
    if (capture_socket) {
        Object.defineProperty(session, 'raw_socket', { get: () => raw_socket });
    }
    return session;
}

// Resolves, never rejects, once `stream` has closed: { status, headers, body,
// rstCode }, with status null when the stream closed without an answer.
function settle(stream) {
    return new Promise(resolve => {
        let response = null;
        const chunks = [];
        stream.on('response', headers => {
            response = headers;
        });
        stream.on('data', chunk => chunks.push(chunk));
        stream.on('error', () => {});
        stream.on('close', () => resolve({
            status: response ? response[':status'] : null,
            headers: response || {},
            body: Buffer.concat(chunks),
            rstCode: stream.rstCode
        }));
    });
}

// Sends a request; `body` undefined sends none. Returns { stream, settled, answered }. With `open: true` the body is
// left open (write to `stream` later). With `abortable: true` a later
// `stream.close(code)` resets the request without ending its body first, as a
// browser's abort does (Node's close() otherwise sends END_STREAM before RST_STREAM).
function send(session, headers, body, { open = false, abortable = false } = {}) {
    const end = body === undefined && !open;
    const stream = session.request({ ':path': '/duplex', ...headers },
        { endStream: end, waitForTrailers: abortable });
    stream.on('error', () => {});
    if (abortable) {
        // Only reached if the test ends the body normally.
        stream.on('wantTrailers', () => stream.sendTrailers({}));
    }
    const settled = settle(stream);
    // The first of: the answer's headers, or the stream's close without one.
    const answered = new Promise(resolve => {
        stream.once('response', headers => resolve({ status: headers[':status'], headers }));
        stream.once('close', () => resolve({ status: null, headers: {}, rstCode: stream.rstCode }));
    });
    if (body !== undefined) {
        if (open) {
            stream.write(body);
        } else {
            stream.end(body);
        }
    }
    return { stream, settled, answered };
}

function post(session, id, body, extra = {}) {
    const headers = { ':method': 'POST', ...extra };
    if (id !== undefined) {
        headers['http2-duplex-id'] = id;
    }
    return send(session, headers, body).settled;
}

// Opens a duplex with a GET. Resolves once the preamble is read to
// { id, headers, stream, received(), wait_bytes(n), ended, closed }.
async function open_duplex(session) {
    const stream = session.request({ ':path': '/duplex' });
    stream.on('error', () => {});
    let body = Buffer.alloc(0);
    const waiters = [];
    const closed = new Promise(resolve => stream.on('close', () => resolve(stream.rstCode)));
    const ended = new Promise(resolve => stream.on('end', resolve));
    stream.on('data', chunk => {
        body = Buffer.concat([body, chunk]);
        for (const waiter of waiters.splice(0)) {
            waiter();
        }
    });
    const [headers] = await within(once(stream, 'response'), DEADLINE, 'the GET answer');
    if (headers[':status'] !== 200) {
        const err = new Error(`GET answered ${headers[':status']}`);
        err.headers = headers;
        throw err;
    }
    const wait_bytes = (n, what = `${n} bytes on the GET`) => within(new Promise(resolve => {
        const check = () => (body.length >= n ? resolve(body) : waiters.push(check));
        check();
    }), DEADLINE, what);
    await wait_bytes(1, 'the preamble');
    if (body[0] !== 0x61) {
        throw new Error(`bad preamble ${body.toString('hex')}`);
    }
    return {
        id: headers['http2-duplex-id'],
        headers,
        stream,
        // What the server wrote after the preamble.
        received: () => body.subarray(1),
        // Resolves once the server has written `n` bytes after the preamble.
        wait_echo: n => wait_bytes(n + 1, `${n} echoed bytes on the GET`),
        ended,
        closed
    };
}

module.exports = {
    DEADLINE, within, start_app, connect, settle, send, post, open_duplex, cert
};
