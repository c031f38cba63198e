// @ts-check
'use strict';
// WebSocket adapter: an RFC 8441 extended CONNECT stream on the duplex path
// (subprotocol http2-duplex.1, docs/websocket.md) carries both directions of
// one duplex. The Rust core's WsEndpoint decides (framing, credit, close
// handshake); this class moves buffers between it, the stream and the Duplex.
const { WsEndpoint } = require('../native');
const { ServerDuplex } = require('./duplex');
const { refusal_error } = require('../errors');
const { CLOSE, WAIT } = require('../protocol');

// Payloads up to this many bytes leave in one buffer with their frame header.
const COPY_BELOW = 4096;
// _writev joins runs of such payloads into frames of up to this many bytes.
const JOIN_MAX = 64 * 1024;

/**
 * @typedef {import('../native').WsAction} WsAction
 * @typedef {import('../native').CloseOutcome} CloseOutcome
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
    #pushed = 0;
    #reported = 0;
    #received_end = false;
    // A write waiting for credit: what is left of it, and its callback.
    /** @type {{ chunks: Buffer[], cb: Callback } | null} */
    #waiting = null;
    // The endpoint's send credit as last read, less what was sent since (it
    // only grows between reads, so this never exceeds it).
    #credit = 0;
    #fail;

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
        stream.on('data', /** @param {Buffer} piece */ piece => {
            this.traffic_seen = true;
            this.#act(this.#endpoint.receive(piece));
        });
        // Node ends a stream's readable side on a reset too, and closes it
        // just after (before the next turn): then 'close' says what the reset means.
        stream.on('end', () => setImmediate(() => {
            if (!stream.closed && !stream.destroyed) {
                this.#peer_gone(this.#endpoint.peerEnded());
            }
        }));
        // rstCode null: the connection of an HTTP/1.1 WebSocket closed.
        stream.on('close', () => {
            const code = stream.rstCode;
            this.#peer_gone(this.#endpoint.streamClosed(code === null ? null : code ?? 0));
        });
        this.id = id;
        this.#act(this.#endpoint.open(id));
    }

    // The client can send nothing more: a break (its Close never came
    // before both ends) fails the duplex; either way the stream ends.
    /** @param {CloseOutcome} outcome */
    #peer_gone(outcome) {
        if (outcome.kind === 'broken' && !this.destroyed) {
            this.#fail(refusal_error(outcome.refusal));
        }
        if (!this.stream.writableEnded && !this.stream.destroyed) {
            this.stream.end();
        }
    }

    /** @param {WsAction[]} actions */
    #act(actions) {
        for (const action of actions) {
            switch (action.kind) {
            case 'deliver':
                this.#pushed += action.data.length;
                this.deliver(action.data);
                break;
            case 'end':
                this.#received_end = true;
                this.push(null);
                break;
            case 'send':
                this.stream.write(action.data);
                break;
            case 'credit':
                this.#send_waiting();
                break;
            case 'finished':
                this.#finished(action);
                break;
            }
        }
    }

    // The core says whether the close breaks the duplex: the client broke
    // the protocol, or closed before both `end`s had gone.
    /** @param {{ refusal?: import('../native').Refusal }} finished */
    #finished({ refusal }) {
        if (!this.stream.writableEnded && !this.stream.destroyed) {
            this.stream.end();
        }
        if (refusal) {
            this.#fail(refusal_error(refusal));
        }
    }

    // What the reader took since the last report goes back as credit.
    /** @param {number} [size] */
    _read(size) {
        super._read(size);
        const consumed = this.#pushed - this.readableLength;
        if (consumed > this.#reported) {
            const delta = consumed - this.#reported;
            this.#reported = consumed;
            this.#act(this.#endpoint.consumed(delta));
        }
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

    // The Close frame says why: the stream then ends cleanly, never reset
    // (a reset could overtake the Close). After both ends the Close 1000 is
    // out and the stream ends with the client's ('finished'): ended at once,
    // HAProxy reset the client's stream and dropped the data still on its way.
    /** @param {Error | null} reset */
    _end_transport(reset) {
        if (!reset && this.#received_end && this.writableFinished && !this.stream.writableEnded) {
            const timer = setTimeout(() => {
                if (!this.stream.destroyed && !this.stream.writableEnded) {
                    this.stream.end();
                }
            }, WAIT.WS_CLOSE_MS).unref();
            this.stream.once('close', () => clearTimeout(timer));
            return;
        }
        if (!this.stream.destroyed && !this.stream.writableEnded) {
            this.#act(this.#endpoint.close(CLOSE.GOING_AWAY, 'duplex destroyed'));
            if (!this.stream.writableEnded) {
                this.stream.end();
            }
        }
    }
}

module.exports = { ServerWebSocketDuplex };
