'use strict';
// Node-side client: `connect(url, options)` opens a duplex on an
// http2-duplex server and resolves to a Node `Duplex`. The HTTP/2, TLS and
// flow-control work is done by the Rust client (crates/client); this file
// only maps it onto Node's stream interface.
const { Duplex } = require('stream');
const native = require('./native');
const codes = require('./error-codes');
const { HEADER } = require('./protocol');

const RESPONSE_CODE = codes.ERR_HTTP2_DUPLEX_RESPONSE.code;
// Up to this many bytes, a batch of writes is gathered here and tried at once.
const TRY_WRITEV_BYTES = 256 * 1024;

// Same shape as the browser client's ResponseError: `response` (here
// `{ status, statusText, ok, headers }`, there a fetch Response), message =
// statusText or status, `status` = response.status, `code` = the answer's
// http2-duplex-error header (the server's stable code) or
// ERR_HTTP2_DUPLEX_RESPONSE.
class ResponseError extends Error {
    constructor(response) {
        super(response.statusText || String(response.status));
        this.name = 'ResponseError';
        this.response = response;
        this.status = response.status;
        this.code = (response.headers && response.headers[HEADER.ERROR]) || RESPONSE_CODE;
    }

    async init() {}
}

// The Node client's one factory of errors: a failure of the native client
// (tagged by kind; its code and text come from Rust) as the JS error to throw.
async function failure_error(failure, ErrorClass) {
    if (failure.kind === 'response') {
        const err = new ErrorClass({
            status: failure.status,
            statusText: failure.statusText,
            ok: false,
            headers: failure.headers
        });
        await err.init();
        return err;
    }
    return Object.assign(new Error(failure.message), { code: failure.code });
}

// Duplexes connected through one pool to one origin share one HTTP/2
// connection (like a browser); it closes when its last duplex does. Pass
// `pool` to `connect` to keep connections apart.
class ConnectionPool {
    constructor() {
        this._native = new native.ClientPool();
    }

    // Live HTTP/2 connections of this pool.
    get connections() {
        return this._native.connections;
    }
}

let default_pool;

function pem(ca) {
    if (ca === undefined || ca === null) {
        return undefined;
    }
    if (Array.isArray(ca)) {
        return ca.map(pem).join('\n');
    }
    if (ca instanceof Uint8Array) {
        return Buffer.from(ca.buffer, ca.byteOffset, ca.byteLength).toString('latin1');
    }
    return String(ca);
}

function header_strings(headers) {
    const out = {};
    for (const [name, value] of Object.entries(headers || {})) {
        if (value !== undefined && value !== null) {
            out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
        }
    }
    return out;
}

class ClientDuplex extends Duplex {
    constructor(handle, options, ErrorClass) {
        super(Object.assign({ autoDestroy: true }, options));
        this._handle = handle;
        this._ErrorClass = ErrorClass;
        this._reading = false;
        this.id = handle.id;
        // The server selected resume: the duplex outlives its connection.
        this.resumable = handle.resumable;
        // Reads that are not there at once come here (before any async call
        // borrows the handle).
        handle.onRead(read => this._on_read(read));
        if (this.resumable) {
            this._next_resumed(0);
        }
        handle.closed().then(async done => {
            if (done.kind === 'failed') {
                this.destroy(await this._error(done.failure));
            }
        }).catch(err => this.destroy(err));
    }

    // 'websocket' (one WebSocket stream) or 'streaming' (a GET and a
    // streaming POST, a tunnel's carrier too): the browser client's names.
    // A resumable duplex's may change when it is resumed.
    get transport() {
        return this._handle.transport;
    }

    // http2-duplex.2 goes through a tunnel over the streaming transport now.
    get tunnel() {
        return this._handle.tunnel;
    }

    // 'resumed' ({ attempt, downtime }) for each resume, until the duplex is over.
    _next_resumed(seen) {
        this._handle.resumed(seen).then(resumed => {
            if (resumed && !this.destroyed) {
                this.emit('resumed', { attempt: resumed.attempt, downtime: resumed.downtime });
                this._next_resumed(seen + 1);
            }
        }, err => this.destroy(err));
    }

    _error(failure) {
        return failure_error(failure, this._ErrorClass);
    }

    // Runs `cb` once a native write or end is done, with its error if any.
    _settle(promise, cb) {
        promise.then(done => (done.kind === 'failed' ? this._error(done.failure) : null), err => err)
            .then(err => cb(err));
    }

    _read() {
        if (!this._reading) {
            this._reading = true;
            this._next();
        }
    }

    // Each native read returns everything that arrived (one Buffer) and, by
    // being called, lets the server send more: so we only read while the
    // readable buffer wants data. What is there already comes at once;
    // otherwise readNow returns null and the read comes to _on_read.
    _next() {
        try {
            for (;;) {
                const read = this._handle.readNow();
                if (read === null || !this._take(read)) {
                    return;
                }
            }
        } catch (err) {
            this._reading = false;
            this.destroy(err);
        }
    }

    _on_read(read) {
        try {
            if (!this._take(read)) {
                return;
            }
        } catch (err) {
            this._reading = false;
            this.destroy(err);
            return;
        }
        this._next();
    }

    // Takes one native read; true while the readable side wants more.
    _take(read) {
        if (this.destroyed) {
            this._reading = false;
            return false;
        }
        if (read.kind === 'end') {
            this._reading = false;
            this.push(null);
            return false;
        }
        if (read.kind === 'failed') {
            this._reading = false;
            this._error(read.failure).then(err => this.destroy(err), err => this.destroy(err));
            return false;
        }
        if (this.push(read.chunk)) {
            return true;
        }
        this._reading = false;
        return false;
    }

    // The callback comes once HTTP/2 flow control (and over a WebSocket the
    // server's credit) let the data go, so a server that stops reading makes
    // write() return false. What may go at once goes from this thread
    // (tryWrite); the rest waits on the network side.
    // Done at once, the callback still comes a tick later, so that writes
    // made meanwhile gather in the Writable's buffer and go out as one
    // batch (_writev) rather than one frame each.
    _write(chunk, encoding, cb) {
        if (this._handle.tryWrite(chunk)) {
            process.nextTick(cb);
            return;
        }
        this._settle(this._handle.write([chunk]), cb);
    }

    _writev(chunks, cb) {
        const list = chunks.map(c => c.chunk);
        const total = list.reduce((n, c) => n + c.length, 0);
        if (total <= TRY_WRITEV_BYTES && this._handle.tryWrite(list.length === 1 ? list[0] : Buffer.concat(list, total))) {
            process.nextTick(cb);
            return;
        }
        // The addon gathers the batch into one buffer: one copy, not two.
        this._settle(this._handle.write(list), cb);
    }

    // Fetch: 'finish' comes once the server answered the streaming POST,
    // i.e. has taken every byte. WebSocket: once the `end` message is sent
    // after the last write (the stream is ordered); resumable, once the
    // server acknowledged it (until then it may have to be sent again).
    _final(cb) {
        this._settle(this._handle.end(), cb);
    }

    _destroy(err, cb) {
        this._handle.destroy();
        cb(err);
    }
}

// options: ca (PEM string, Buffer or array of them), rejectUnauthorized
// (default true), headers (extra request headers), pool (a ConnectionPool),
// transport ('auto', the default: a WebSocket over HTTP/2 where the server
// offers RFC 8441, else over an HTTP/1.1 upgrade, else a GET and a streaming
// POST; 'websocket'; 'streaming', which 7.0.0 called 'fetch'; the Rust client
// checks it), resume (default false: offer resume, the WebSocket
// subprotocol http2-duplex.2, through a tunnel where no WebSocket is used;
// a duplex the server makes resumable survives cuts and hangs of its
// connection and emits 'resumed'),
// ResponseError (class used for non-2xx answers, to the GET or later to the
// streaming POST), and any Duplex option (highWaterMark, …). Every error has
// a stable `code` (lib/error-codes.js).
async function connect(url, options = {}) {
    const {
        ca,
        rejectUnauthorized,
        headers,
        pool,
        transport = 'auto',
        resume = false,
        ResponseError: ErrorClass = ResponseError,
        ...duplex_options
    } = options;
    if (typeof resume !== 'boolean') {
        throw Object.assign(new TypeError(`resume must be a boolean, got ${typeof resume}`),
            { code: codes.ERR_HTTP2_DUPLEX_INVALID_OPTION.code });
    }
    const chosen = pool || default_pool || (default_pool = new ConnectionPool());
    const opened = await chosen._native.open(String(url), {
        ca: pem(ca),
        rejectUnauthorized: rejectUnauthorized !== false,
        headers: header_strings(headers),
        transport: String(transport),
        resume
    });
    if (opened.kind === 'failed') {
        throw await failure_error(opened.failure, ErrorClass);
    }
    return new ClientDuplex(opened.duplex, duplex_options, ErrorClass);
}

module.exports = { connect, ResponseError, ConnectionPool };
