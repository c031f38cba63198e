'use strict';
// Node-side client: `connect(url, options)` opens a duplex on an
// http2-duplex server and resolves to a Node `Duplex`. The HTTP/2, TLS and
// flow-control work is done by the Rust client (crates/client); this file
// only maps it onto Node's stream interface.
const { Duplex } = require('stream');
const native = require('./native');

// Same shape as the browser client's ResponseError: `response` (here
// `{ status, statusText, ok }`, there a fetch Response), message = statusText
// or status. `status` is also on the error itself.
class ResponseError extends Error {
    constructor(response) {
        super(response.statusText || String(response.status));
        this.name = 'ResponseError';
        this.response = response;
        this.status = response.status;
    }

    async init() {}
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
    constructor(handle, options) {
        super(Object.assign({ autoDestroy: true }, options));
        this._handle = handle;
        this._reading = false;
        this.id = handle.id;
        handle.closed().then(message => {
            if (message !== null && message !== undefined) {
                this.destroy(new Error(message));
            }
        }, err => this.destroy(err));
    }

    _read() {
        if (!this._reading) {
            this._reading = true;
            this._pump();
        }
    }

    // Each native read returns everything that arrived (one Buffer) and, by
    // being called, lets the server send more: so we only call it while the
    // readable buffer wants data.
    async _pump() {
        try {
            for (;;) {
                const chunk = await this._handle.read();
                if (this.destroyed) {
                    return;
                }
                if (chunk === null) {
                    this.push(null);
                    return;
                }
                if (!this.push(chunk)) {
                    return;
                }
            }
        } catch (err) {
            this.destroy(err);
        } finally {
            this._reading = false;
        }
    }

    // The callback comes once HTTP/2 flow control let the data go, so a
    // server that stops reading makes write() return false.
    _write(chunk, encoding, cb) {
        this._handle.write([chunk]).then(() => cb(), cb);
    }

    _writev(chunks, cb) {
        // The addon gathers the batch into one buffer: one copy, not two.
        this._handle.write(chunks.map(c => c.chunk)).then(() => cb(), cb);
    }

    // 'finish' comes once the server answered the streaming POST, i.e. has
    // taken every byte.
    _final(cb) {
        this._handle.end().then(() => cb(), cb);
    }

    _destroy(err, cb) {
        this._handle.destroy();
        cb(err);
    }
}

// options: ca (PEM string, Buffer or array of them), rejectUnauthorized
// (default true), headers (extra request headers), pool (a ConnectionPool),
// ResponseError (class used for non-2xx answers), and any Duplex option
// (highWaterMark, …).
async function connect(url, options = {}) {
    const {
        ca,
        rejectUnauthorized,
        headers,
        pool,
        ResponseError: ErrorClass = ResponseError,
        ...duplex_options
    } = options;
    const chosen = pool || default_pool || (default_pool = new ConnectionPool());
    const opened = await chosen._native.open(String(url), {
        ca: pem(ca),
        rejectUnauthorized: rejectUnauthorized !== false,
        headers: header_strings(headers)
    });
    if (typeof opened.status === 'number') {
        const err = new ErrorClass({
            status: opened.status,
            statusText: opened.statusText,
            ok: false
        });
        await err.init();
        throw err;
    }
    return new ClientDuplex(opened, duplex_options);
}

module.exports = { connect, ResponseError, ConnectionPool };
