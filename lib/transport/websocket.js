// @ts-check
'use strict';
// WebSocket adapter: an RFC 8441 extended CONNECT stream on the duplex path
// (subprotocol http2-duplex.1, docs/websocket.md) carries both directions of
// one duplex. The Rust core's WsEndpoint decides (framing, credit, close
// handshake); this class moves buffers between it, the stream and the Duplex.
const { WsEndpoint } = require('../native');
const { ServerDuplex } = require('./duplex');
const { refusal_error } = require('../errors');
const { ReplayFilter } = require('./replay');

// Payloads up to this many bytes leave in one buffer with their frame header.
const COPY_BELOW = 4096;
// _writev joins runs of such payloads into frames of up to this many bytes.
const JOIN_MAX = 64 * 1024;

/**
 * @typedef {import('../native').WsAction} WsAction
 * @typedef {(err?: Error | null) => void} Callback
 */

/**
 * Credit counts bytes: a string written with decodeStrings: false is encoded first.
 * @param {string | Buffer} chunk
 * @param {BufferEncoding} encoding
 * @returns {Buffer}
 */
const as_bytes = (chunk, encoding) =>
    typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;

class ServerWebSocketDuplex extends ServerDuplex {
    #endpoint;
    // A write waiting for credit: what is left of it, and its callback.
    /** @type {{ chunks: Buffer[], cb: Callback } | null} */
    #waiting = null;
    // The endpoint's send credit as last read, less what was sent since (it
    // only grows between reads, so this never exceeds it).
    #credit = 0;
    #fail;
    // Something was read since the server's last liveness check (a flag,
    // not a call per piece).
    #heard = false;

    // `fail(err)`: the server's handling of a client that broke the duplex.
    // `id` goes to the client in the first message (docs/websocket.md).
    /**
     * @param {any} stream an RFC 8441 CONNECT stream, or a WebSocketUpgrade
     * @param {import('stream').DuplexOptions} options
     * @param {{ id: string, max_message: number, window: number }} settings
     * @param {(err: Error) => void} fail
     */
    constructor(stream, options, { id, max_message, window }, fail) {
        super(stream, options);
        this.transport = 'websocket';
        this.#fail = fail;
        this.#endpoint = new WsEndpoint(max_message, window);
        // An HTTP/1.1 WebSocket's pieces are a socket's reads, each its own.
        const replays = stream.session ? new ReplayFilter() : null;
        stream.on('data', /** @param {Buffer} piece */ piece => {
            if (replays?.is_replay(piece)) {
                return;
            }
            this.traffic_seen = true;
            this.#heard = true;
            this.#act(this.#endpoint.receive(piece));
        });
        // Node ends a stream's readable side on a reset too, and closes it
        // just after (before the next turn): the core is told whether it had.
        stream.on('end', () => setImmediate(() => {
            this.#act(this.#endpoint.handlePeerEnded(stream.closed || stream.destroyed));
        }));
        // rstCode null: the connection of an HTTP/1.1 WebSocket closed.
        stream.on('close', () => {
            const code = stream.rstCode;
            this.#act(this.#endpoint.handleStreamClosed(code === null ? null : code ?? 0));
        });
        this.id = id;
        this.#act(this.#endpoint.open(id));
    }

    // Whether anything was read since the last call.
    take_heard() {
        const heard = this.#heard;
        this.#heard = false;
        return heard;
    }

    // The keep-alive's Ping (an HTTP/1.1 WebSocket's connection was silent):
    // a whole frame, written between data frames like the core's Pongs.
    ping() {
        if (!this.stream.destroyed && !this.stream.writableEnded) {
            this.#act(this.#endpoint.ping());
        }
    }

    /** @param {WsAction[]} actions */
    #act(actions) {
        for (const action of actions) {
            switch (action.kind) {
            case 'deliver':
                this.deliver(action.data);
                break;
            case 'end':
                this.push(null);
                break;
            case 'send':
                this.stream.write(action.data);
                break;
            case 'credit':
                this.#send_waiting();
                break;
            case 'finished':
            case 'end-stream':
                this.#end_stream(action);
                break;
            case 'end-stream-after':
                this.#end_stream_after(action.ms);
                break;
            }
        }
    }

    // The core says whether the end breaks the duplex (the client broke the
    // protocol, or closed, reset or went before both `end`s had gone).
    /** @param {{ refusal?: import('../native').Refusal }} ending */
    #end_stream({ refusal }) {
        if (!this.stream.writableEnded && !this.stream.destroyed) {
            this.stream.end();
        }
        if (refusal) {
            this.#fail(refusal_error(refusal));
        }
    }

    /** @param {number} ms */
    #end_stream_after(ms) {
        const timer = setTimeout(() => {
            if (!this.stream.destroyed && !this.stream.writableEnded) {
                this.stream.end();
            }
        }, ms).unref();
        this.stream.once('close', () => clearTimeout(timer));
    }

    // What the reader took since the last report goes back as credit.
    /** @param {number} [size] */
    _read(size) {
        super._read(size);
        this.#act(this.#endpoint.handleRead(this.readableLength));
    }

    /**
     * @param {string | Buffer} chunk
     * @param {BufferEncoding} encoding
     * @param {Callback} cb
     */
    _write(chunk, encoding, cb) {
        this.#waiting = { chunks: [as_bytes(chunk, encoding)], cb };
        this.#send_waiting();
    }

    // Writes that waited behind one another leave as few frames: runs of small
    // chunks are joined (a frame costs both ends more than copying a few KiB).
    /**
     * @param {Array<{ chunk: string | Buffer, encoding: BufferEncoding }>} chunks
     * @param {Callback} cb
     */
    _writev(chunks, cb) {
        /** @type {Buffer[]} */
        const out = [];
        /** @type {Buffer[]} */
        let run = [];
        let run_bytes = 0;
        const flush = () => {
            if (run.length > 0) {
                out.push(run.length === 1 ? run[0] : Buffer.concat(run, run_bytes));
                run = [];
                run_bytes = 0;
            }
        };
        for (const written of chunks) {
            const chunk = as_bytes(written.chunk, written.encoding);
            const alone = chunk.length > COPY_BELOW;
            if (alone || run_bytes + chunk.length > JOIN_MAX) {
                flush();
            }
            if (alone) {
                out.push(chunk);
            } else {
                run.push(chunk);
                run_bytes += chunk.length;
            }
        }
        flush();
        this.#waiting = { chunks: out, cb };
        this.#send_waiting();
    }

    // Sends what the client's credit allows; a write completes once all of
    // it is handed to the stream, so a client that stops reading stops it.
    #send_waiting() {
        const waiting = this.#waiting;
        if (!waiting || this.stream.destroyed) {
            return;
        }
        this.traffic_seen = true;
        while (waiting.chunks.length > 0) {
            const chunk = waiting.chunks[0];
            if (this.#credit < chunk.length) {
                this.#credit = this.#endpoint.sendCredit();
            }
            const n = Math.min(chunk.length, this.#credit);
            if (n === 0 && chunk.length > 0) {
                return;     // until the client grants credit
            }
            const header = this.#endpoint.dataHeader(n);
            if (header === null) {
                this.#credit = 0;   // the endpoint stopped sending since the credit was read
                continue;
            }
            this.#credit -= n;
            this.#send_frame(header, n === chunk.length ? chunk : chunk.subarray(0, n));
            if (n === chunk.length) {
                waiting.chunks.shift();
            } else {
                waiting.chunks[0] = chunk.subarray(n);
            }
        }
        this.#waiting = null;
        waiting.cb();
    }

    // One write to the stream per frame: a small payload is copied after its
    // header (a write costs more than copying a few KiB); a large one goes
    // with its header as one corked batch, uncopied.
    /**
     * @param {Buffer} header
     * @param {Buffer} payload
     */
    #send_frame(header, payload) {
        if (payload.length <= COPY_BELOW && typeof payload !== 'string') {
            this.stream.write(Buffer.concat([header, payload], header.length + payload.length));
        } else {
            this.stream.cork();
            this.stream.write(header);
            this.stream.write(payload);
            this.stream.uncork();
        }
    }

    /** @param {Callback} cb */
    _final(cb) {
        this.#act(this.#endpoint.end());
        cb();
    }

    /**
     * @param {Error | null} err
     * @param {Callback} cb
     */
    _destroy(err, cb) {
        this.#waiting = null;
        super._destroy(err, cb);
    }

    // The core says how the stream ends: a Close first, or the client's
    // Close awaited.
    /** @param {Error | null} reset */
    _end_transport(reset) {
        this.#act(this.#endpoint.handleDestroyed(Boolean(reset), this.writableFinished,
            this.stream.writableEnded, this.stream.destroyed));
    }
}

module.exports = { ServerWebSocketDuplex };
