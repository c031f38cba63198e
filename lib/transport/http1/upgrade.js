// @ts-check
'use strict';
// HTTP/1.1 WebSocket adapter (RFC 6455 upgrade, subprotocol http2-duplex.1):
// presents an upgraded socket as the part of a ServerHttp2Stream's interface
// that the server and ServerWebSocketDuplex use, so one core endpoint serves both
// WebSocket transports. Also decides which upgrades (and, on an HTTP/2 server
// with allowHTTP1, which CONNECTs) are the package's: those to a duplex path;
// the others go to the application's listeners, or are handled as Node would
// without any.
const { EventEmitter } = require('events');
const { STATUS_CODES, ServerResponse } = require('http');
const { requestPath, websocketAccept } = require('../../native');
const { invalid_option } = require('../../errors');

/**
 * Which WebSockets the server takes.
 * @typedef {{ http2: boolean, http1: boolean }} WebSocketOption
 * @typedef {import('http').IncomingMessage} IncomingMessage
 * @typedef {import('net').Socket} Socket
 * @typedef {(req: IncomingMessage, socket: Socket, head: Buffer) => void} OnWebSocket
 */

// The websocket option: which WebSockets the server takes. true (default):
// RFC 8441 on HTTP/2 sessions and RFC 6455 upgrades over HTTP/1.1; 'http1':
// upgrades only (HTTP/2 sessions do not offer the extended CONNECT, so
// browsers open an HTTP/1.1 WebSocket, one connection per duplex); 'http2':
// RFC 8441 only; false: none.
/**
 * @param {unknown} value
 * @returns {WebSocketOption}
 */
function websocket_option(value) {
    switch (value) {
    case true:
        return { http2: true, http1: true };
    case 'http1':
        return { http2: false, http1: true };
    case 'http2':
        return { http2: true, http1: false };
    case false:
        return { http2: false, http1: false };
    default:
        throw invalid_option(`option websocket must be true, false, 'http1' or 'http2', got ${String(value)}`);
    }
}

// Header lines of an HTTP/1.1 answer; arrays repeat their name.
/** @param {import('http2').OutgoingHttpHeaders} headers */
function header_lines(headers) {
    let lines = '';
    for (const [name, value] of Object.entries(headers)) {
        for (const one of Array.isArray(value) ? value : [value]) {
            lines += `${name}: ${one}\r\n`;
        }
    }
    return lines;
}

class WebSocketUpgrade extends EventEmitter {
    #socket;
    // Bytes the HTTP parser read past the handshake: the first frames.
    /** @type {Buffer | null} */
    #head;

    /**
     * @param {IncomingMessage} req
     * @param {Socket} socket
     * @param {Buffer} [head]
     */
    constructor(req, socket, head) {
        super();
        this.req = req;
        this.#socket = socket;
        this.#head = head?.length ? head : null;
        // No session to pair in: HTTP/1.1 duplexes pair as the scope option says.
        this.session = null;
        this.closed = false;
        this.headersSent = false;
        socket.setNoDelay(true);
        socket.on('error', /** @param {Error} err */ err => this.emit('error', err));
        socket.on('close', () => {
            this.closed = true;
            this.emit('close');
        });
    }

    // 'data' and 'end' are the socket's: the frames after the handshake.
    /**
     * @param {string | symbol} event
     * @param {(...args: any[]) => void} listener
     */
    on(event, listener) {
        if (event === 'data') {
            if (this.#head) {
                const head = this.#head;
                this.#head = null;
                listener(head);
            }
            this.#socket.on('data', listener);
            return this;
        }
        if (event === 'end') {
            this.#socket.on('end', listener);
            return this;
        }
        return super.on(event, listener);
    }

    // No HTTP/2 code: a close is the connection's (ServerWebSocketDuplex tells the core so).
    get rstCode() {
        return null;
    }

    get destroyed() {
        return this.#socket.destroyed;
    }

    get writableEnded() {
        return this.#socket.writableEnded;
    }

    get writableFinished() {
        return this.#socket.writableFinished;
    }

    // 200 accepts the WebSocket: 101 with the key's answer. Any other status
    // refuses it with a plain answer, and the connection closes after it.
    /**
     * @param {import('http2').OutgoingHttpHeaders} headers with ':status'
     * @param {{ endStream?: boolean }} [options]
     */
    respond(headers, { endStream = false } = {}) {
        const { ':status': status, ...rest } = headers;
        this.headersSent = true;
        if (status === 200) {
            this.#socket.write('HTTP/1.1 101 Switching Protocols\r\n' +
                'upgrade: websocket\r\nconnection: Upgrade\r\n' +
                `sec-websocket-accept: ${websocketAccept(String(this.req.headers['sec-websocket-key']))}\r\n` +
                `${header_lines(rest)}\r\n`);
            return;
        }
        this.#socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[Number(status)] ?? ''}\r\n` +
            `${header_lines(rest)}content-length: 0\r\nconnection: close\r\n\r\n`);
        if (endStream) {
            this.#socket.end();
        }
    }

    /**
     * @param {string | Uint8Array} chunk
     * @param {BufferEncoding} [encoding]
     * @param {(err?: Error | null) => void} [cb]
     */
    write(chunk, encoding, cb) {
        return encoding === undefined ? this.#socket.write(chunk, cb) : this.#socket.write(chunk, encoding, cb);
    }

    /** @param {() => void} [cb] */
    end(cb) {
        this.#socket.end(cb);
        return this;
    }

    cork() {
        this.#socket.cork();
    }

    uncork() {
        this.#socket.uncork();
    }

    pause() {
        this.#socket.pause();
        return this;
    }

    resume() {
        this.#socket.resume();
        return this;
    }

    // Done with a refused handshake: its answer is out, the connection ends.
    close() {
        if (!this.#socket.writableEnded) {
            this.#socket.end();
        }
    }

    /** @param {Error} [err] */
    destroy(err) {
        this.#socket.destroy(err);
    }
}

// How the connection of `stream` can carry a WebSocket, for the core's classify.
/**
 * @param {WebSocketOption} option
 * @param {{ session?: unknown }} stream
 */
function websocket_offer(option, stream) {
    if (stream instanceof WebSocketUpgrade) {
        return option.http1 ? 'upgrade' : null;
    }
    return stream.session && option.http2 ? 'extended-connect' : null;
}

// server → Map(UpgradeListeners → its duplex path): every duplex path on one HTTP server.
/** @type {WeakMap<import('events').EventEmitter, Map<UpgradeListeners, string>>} */
const served = new WeakMap();

// Node handles an upgrade no 'upgrade' listener takes as an ordinary request
// (answered, then the connection closes: its parser is gone).
/**
 * @param {import('events').EventEmitter} server
 * @param {IncomingMessage} req
 * @param {Socket} socket
 */
function as_request(server, req, socket) {
    // Node took its own 'error' listener off the upgraded socket: a client
    // that resets it must not end the process.
    socket.on('error', () => socket.destroy());
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    res.on('finish', () => {
        res.detachSocket(socket);
        socket.destroySoon();
    });
    server.emit('request', req, res);
}

/** @param {IncomingMessage} req */
function is_websocket_upgrade(req) {
    return req.method === 'GET' && /^websocket$/i.test(req.headers.upgrade ?? '');
}

// The 'upgrade' and 'connect' listeners of one Http2DuplexServer. An upgrade
// to its path that asks for a WebSocket goes to `on_websocket(req, socket,
// head)`; one to a path no duplex server serves is left to the application's
// listeners or, when it has none, handled as Node would without any. Node's
// HTTP/2 compatibility layer (there once a 'request' listener is) answers
// every CONNECT 405 itself unless a 'connect' listener exists: the one here
// leaves CONNECTs on duplex paths to the session's streams (RFC 8441).
class UpgradeListeners {
    #server;
    #path;
    /** @type {((req: IncomingMessage, socket: Socket, head: Buffer) => void) | null} */
    #upgrade = null;
    /** @type {((req: any, answer: any) => void) | null} */
    #connect = null;

    /**
     * @param {import('events').EventEmitter} server an http(s) or HTTP/2 server
     * @param {string} path the duplex path
     */
    constructor(server, path) {
        this.#server = server;
        this.#path = path;
    }

    // `upgrades`: take WebSocket upgrades; `connects`: an HTTP/2 server
    // serving HTTP/1.1 whose CONNECTs must reach the sessions.
    /**
     * @param {{ upgrades: boolean, connects: boolean }} which
     * @param {OnWebSocket} on_websocket
     */
    attach({ upgrades, connects }, on_websocket) {
        const paths = served.get(this.#server) ?? new Map();
        served.set(this.#server, paths);
        paths.set(this, this.#path);
        if (upgrades) {
            this.#upgrade = (req, socket, head) => this.#on_upgrade(req, socket, head, on_websocket);
            this.#server.on('upgrade', this.#upgrade);
        }
        if (connects) {
            this.#connect = (req, answer) => this.#on_connect(req, answer);
            this.#server.on('connect', this.#connect);
        }
    }

    detach() {
        served.get(this.#server)?.delete(this);
        if (this.#upgrade) {
            this.#server.removeListener('upgrade', this.#upgrade);
            this.#upgrade = null;
        }
        if (this.#connect) {
            this.#server.removeListener('connect', this.#connect);
            this.#connect = null;
        }
    }

    // Whether this duplex server settles what no one else takes: the
    // application has no listener of its own for `event`, and this is the
    // first duplex server listening for it.
    /** @param {'upgrade' | 'connect'} event */
    #settles(event) {
        const listening = [...(served.get(this.#server)?.keys() ?? [])].filter(other => other.listens(event));
        return this.#server.listenerCount(event) === listening.length && listening[0] === this;
    }

    /** @param {'upgrade' | 'connect'} event */
    listens(event) {
        return Boolean(event === 'upgrade' ? this.#upgrade : this.#connect);
    }

    /** @param {string | undefined} path */
    #serves(path) {
        return path !== undefined &&
            [...(served.get(this.#server)?.values() ?? [])].includes(requestPath(path));
    }

    /**
     * @param {IncomingMessage} req
     * @param {Socket} socket
     * @param {Buffer} head
     * @param {OnWebSocket} on_websocket
     */
    #on_upgrade(req, socket, head, on_websocket) {
        const ours = requestPath(req.url ?? '') === this.#path;
        if (ours && is_websocket_upgrade(req)) {
            on_websocket(req, socket, head);
        } else if (ours || (!this.#serves(req.url) && this.#settles('upgrade'))) {
            // Another upgrade on the duplex path is answered as a request (an
            // h2c upgrade of a GET opens a duplex, as without this listener).
            as_request(this.#server, req, socket);
        }
    }

    // (Http2ServerRequest, Http2ServerResponse) for an HTTP/2 CONNECT;
    // (IncomingMessage, Socket) for an HTTP/1.1 one.
    /**
     * @param {any} req
     * @param {any} answer
     */
    #on_connect(req, answer) {
        if (req.stream && this.#serves(req.headers[':path'])) {
            return;
        }
        if (!this.#settles('connect')) {
            return;
        }
        if (req.stream) {
            answer.statusCode = 405;
            answer.end();
        } else {
            answer.destroy();
        }
    }
}

module.exports = { WebSocketUpgrade, UpgradeListeners, websocket_offer, websocket_option };
