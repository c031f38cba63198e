// @ts-check
'use strict';
// WebSocket adapter: an RFC 8441 extended CONNECT stream on the duplex path
// (subprotocol http2-duplex.1, docs/websocket.md) carries both directions of
// one duplex. The Rust core's WsEndpoint decides (framing, credit, close
// handshake); this class moves buffers between it, the stream and the Duplex.
// With http2-duplex.2 (resume, docs/protocol.md) the duplex outlives its
// WebSocket: the core's ResumeServer (./resume.js) decides what is kept,
// acknowledged and sent again, and a resume attaches a new WebSocket.
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
 * @typedef {import('../native').ResumeAction} ResumeAction
 * @typedef {import('./resume').ServerResumption} ServerResumption
 * @typedef {(err?: Error | null) => void} Callback
 * What the server does when a resumable WebSocket's first message comes:
 * `open` a new duplex, or `resume` one (the server attaches this WebSocket
 * to it, or refuses).
 * @typedef {{
 *   resumption: ServerResumption,
 *   open(duplex: ServerWebSocketDuplex): void,
 *   resume(duplex: ServerWebSocketDuplex, request: { id: string, secret: string, received: number }): void
 * }} FirstMessage
 * The bytes of a resumable duplex the client has not acknowledged: what was
 * written, from the front of the queue, `sent` of them on the WebSocket.
 * @typedef {{
 *   key: number, connection: number, queue: Buffer[], sent_index: number, sent_offset: number,
 *   ended: boolean, end_sent: boolean, final: Callback | null,
 *   first: FirstMessage | null, talked: boolean, resending: boolean
 * }} Resumable
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
    // A write waiting for credit (or, resumable, for room): what is left of
    // it, and its callback.
    /** @type {{ chunks: Buffer[], cb: Callback } | null} */
    #waiting = null;
    // The endpoint's send credit as last read, less what was sent since (it
    // only grows between reads, so this never exceeds it).
    #credit = 0;
    #fail;
    // Something was read since the server's last liveness check (a flag,
    // not a call per piece).
    #heard = false;
    // http2-duplex.2 only.
    /** @type {Resumable | null} */
    #resumable = null;

    // `fail(err)`: the server's handling of a client that broke the duplex.
    // `id` goes to the client in the first message (docs/websocket.md). With
    // `first` (http2-duplex.2) the client's first message decides whether
    // this opens a duplex or resumes another.
    /**
     * @param {any} stream an RFC 8441 CONNECT stream, or a WebSocketUpgrade
     * @param {import('stream').DuplexOptions} options
     * @param {{ id: string, key: number, connection: number, max_message: number, window: number }} settings
     * @param {(err: Error) => void} fail
     * @param {FirstMessage | null} [first]
     */
    constructor(stream, options, { id, key, connection, max_message, window }, fail, first = null) {
        super(stream, options);
        this.transport = 'websocket';
        this.resumable = first !== null;
        // Something was sent since the server's last tick (its keep-alives).
        this.written = false;
        this.#fail = fail;
        this.#endpoint = new WsEndpoint(max_message, window);
        this.id = id;
        if (first) {
            this.#endpoint.setResumable();
            this.#resumable = {
                key, connection, queue: [], sent_index: 0, sent_offset: 0,
                ended: false, end_sent: false, final: null, first, talked: false, resending: false
            };
        }
        this.#listen(stream);
        if (!first) {
            this.#act(this.#endpoint.open(id));
        }
    }

    // Reads a stream for as long as it is this duplex's: after a resume or
    // a failure nothing more is read from the old one.
    /** @param {any} stream */
    #listen(stream) {
        // An HTTP/1.1 WebSocket's pieces are a socket's reads, each its own.
        const replays = stream.session ? new ReplayFilter() : null;
        stream.on('data', /** @param {Buffer} piece */ piece => {
            if (stream !== this.stream || replays?.is_replay(piece)) {
                return;
            }
            this.traffic_seen = true;
            this.#heard = true;
            this.#act(this.#endpoint.receive(piece));
        });
        // Node ends a stream's readable side on a reset too, and closes it
        // just after (before the next turn): the core is told whether it had.
        stream.on('end', () => setImmediate(() => {
            if (stream === this.stream) {
                this.#act(this.#endpoint.handlePeerEnded(stream.closed || stream.destroyed));
            }
        }));
        // rstCode null: the connection of an HTTP/1.1 WebSocket closed.
        stream.on('close', () => {
            if (stream === this.stream) {
                const code = stream.rstCode;
                this.#act(this.#endpoint.handleStreamClosed(code === null ? null : code ?? 0));
            }
        });
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
        if (this.#writable_stream()) {
            this.#act(this.#endpoint.ping());
        }
    }

    #writable_stream() {
        return this.stream !== null && !this.stream.destroyed && !this.stream.writableEnded;
    }

    /** @param {WsAction[]} actions */
    #act(actions) {
        for (let i = 0; i < actions.length; i++) {
            const action = actions[i];
            switch (action.kind) {
            case 'deliver':
                this.deliver(action.data);
                if (this.#resumable) {
                    this.#resumable.first?.resumption.data(this.#resumable.key, action.data.length);
                }
                break;
            case 'end':
                this.push(null);
                if (this.#resumable) {
                    this.#resumable.first?.resumption.peer_end(this.#resumable.key);
                }
                break;
            case 'send':
                if (this.stream) {
                    this.stream.write(action.data);
                    this.written = true;
                }
                break;
            case 'credit':
                this.#send_waiting();
                break;
            case 'ack':
                this.#resumable?.first?.resumption.ack(this.#resumable.key, action.count);
                break;
            case 'open':
                this.#opened();
                break;
            case 'resume':
                // The resumed duplex reads this WebSocket from now on (a client
                // sends nothing more before the answer).
                this.#resumable?.first?.resume(this, action);
                return;
            case 'finished':
                if (action.detached) {
                    this.#detach();
                    break;
                }
                this.#end_stream(action);
                break;
            case 'end-stream':
                this.#end_stream(action);
                break;
            case 'end-stream-after':
                this.#end_stream_after(action.ms);
                break;
            case 'detach':
                this.#detach();
                break;
            }
        }
    }

    // The client's `open`: a new resumable duplex.
    #opened() {
        const resumable = /** @type {Resumable} */ (this.#resumable);
        const { resumption } = /** @type {FirstMessage} */ (resumable.first);
        const secret = resumption.open(resumable.key, this.id, resumable.connection, this);
        resumable.talked = true;
        this.#act(this.#endpoint.sendResumable(this.id, secret, resumption.resume_buffer,
            resumption.resume_timeout, resumption.keepalive_interval));
        resumable.first?.open(this);
    }

    // The WebSocket failed without a Close: the duplex waits to be resumed.
    #detach() {
        const resumable = this.#resumable;
        const stream = this.stream;
        this.stream = null;
        this.#credit = 0;
        if (stream && !stream.destroyed) {
            stream.destroy();
        }
        if (resumable?.talked) {
            resumable.first?.resumption.transport_failed(resumable.key);
        } else {
            // Gone before its first message: it never was a duplex.
            this.destroy();
        }
    }

    /**
     * A resume attaches this duplex to a client's new WebSocket (`from`,
     * the provisional duplex that read its first message): answer
     * `resumed received`, then carry out the core's actions.
     * @param {ServerWebSocketDuplex} from
     * @param {number} received
     * @param {ResumeAction[]} actions
     */
    attach(from, received, actions) {
        const resumable = /** @type {Resumable} */ (this.#resumable);
        for (const action of actions) {
            if (action.kind === 'close-transport') {
                this.#close_transport();
            }
        }
        const stream = from.stream;
        from.stream = null;
        this.stream = stream;
        this.#endpoint = from.#endpoint;
        this.#credit = 0;
        this.#listen(stream);
        // A resumed WebSocket has no initial credit: the client gets what the
        // window leaves beside what the reader still holds from before, so
        // that resuming again and again never lets more in.
        this.#act(this.#endpoint.sendResumed(received, this.readableLength));
        // Nothing goes out before the Resend says from where.
        resumable.resending = true;
        resumable.first?.resumption.act(actions.filter(action => action.kind !== 'close-transport'));
        resumable.resending = false;
        this.#transmit();
    }

    // A refused resume's WebSocket: its Close says why, and the client's
    // answering Close breaks nothing.
    silence() {
        this.#fail = () => {};
    }

    /**
     * Carries out what the core answered (a refused resume's Close).
     * @param {WsAction[]} actions
     */
    act(actions) {
        this.#act(actions);
    }

    get endpoint() {
        return this.#endpoint;
    }

    // The old WebSocket of a duplex resumed on a new one: read nothing more.
    #close_transport() {
        const stream = this.stream;
        this.stream = null;
        stream?.destroy();
    }

    // The server's ticks found the duplex silent for keepalive_interval:
    // its last ack again, so that its client can tell a hung connection.
    send_ack_again() {
        const resumable = this.#resumable;
        if (resumable?.talked && this.#writable_stream()) {
            const acked = resumable.first?.resumption.acked_to_peer(resumable.key);
            if (acked !== null && acked !== undefined) {
                this.#act(this.#endpoint.sendAck(acked));
            }
        }
    }

    /** @param {ResumeAction} action */
    resume_action(action) {
        const resumable = /** @type {Resumable} */ (this.#resumable);
        switch (action.kind) {
        case 'drop':
            // Acks make room whether or not the buffer was full (Flow
            // follows only a Hold).
            this.#drop(action.bytes);
            if (this.#waiting) {
                this.#send_waiting();
            }
            break;
        case 'hold':
            // (Writes ask the core for room each time: this one's buffer,
            // or its connection's or the server's, is full.)
            break;
        case 'flow':
            this.#send_waiting();
            break;
        case 'ack':
            if (this.#writable_stream()) {
                this.#act(this.#endpoint.sendAck(action.count));
            }
            break;
        case 'close-transport':
            this.#close_transport();
            break;
        case 'resumed':
            this.emit('resumed', { attempt: undefined, downtime: action.downtimeMs });
            break;
        case 'resend':
            resumable.sent_index = 0;
            resumable.sent_offset = 0;
            resumable.end_sent = resumable.ended && !action.end;
            break;
        case 'complete':
            if (this.#writable_stream()) {
                this.#act(this.#endpoint.complete());
            }
            this.#finished_final();
            break;
        case 'fail':
            this.#fail(refusal_error(action.refusal));
            break;
        }
    }

    // The client acknowledged `bytes` more: they leave the front of the queue.
    /** @param {number} bytes */
    #drop(bytes) {
        const resumable = /** @type {Resumable} */ (this.#resumable);
        let left = bytes;
        while (left > 0 && resumable.queue.length > 0) {
            const head = resumable.queue[0];
            if (head.length <= left) {
                left -= head.length;
                resumable.queue.shift();
                resumable.sent_index--;
            } else {
                resumable.queue[0] = head.subarray(left);
                if (resumable.sent_index === 0) {
                    resumable.sent_offset -= left;
                }
                left = 0;
            }
        }
        if (resumable.sent_index < 0) {
            resumable.sent_index = 0;
            resumable.sent_offset = 0;
        }
    }

    // 'finish' waits for the client's ack of the end (the duplex complete):
    // until then the WebSocket must stay, to send it again after a resume.
    #finished_final() {
        const resumable = /** @type {Resumable} */ (this.#resumable);
        const final = resumable.final;
        resumable.final = null;
        final?.();
    }

    // The core says whether the end breaks the duplex (the client broke the
    // protocol, or closed, reset or went before both `end`s had gone).
    /** @param {{ refusal?: import('../native').Refusal }} ending */
    #end_stream({ refusal }) {
        if (this.#writable_stream()) {
            this.stream.end();
        }
        if (refusal) {
            this.#fail(refusal_error(refusal));
        }
    }

    /** @param {number} ms */
    #end_stream_after(ms) {
        const stream = this.stream;
        if (!stream) {
            return;
        }
        const timer = setTimeout(() => {
            if (!stream.destroyed && !stream.writableEnded) {
                stream.end();
            }
        }, ms).unref();
        stream.once('close', () => clearTimeout(timer));
    }

    // What the reader took since the last report goes back as credit.
    /** @param {number} [size] */
    _read(size) {
        super._read(size);
        if (this.stream) {
            this.#act(this.#endpoint.handleRead(this.readableLength));
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
    // Resumable: a write completes once it is taken into the resume buffer
    // (the room the core allows), and goes out as credit allows.
    #send_waiting() {
        const waiting = this.#waiting;
        if (this.#resumable) {
            if (waiting && this.#take_waiting(waiting, this.#resumable)) {
                this.#waiting = null;
                waiting.cb();
            }
            this.#transmit();
            return;
        }
        if (!waiting || this.stream.destroyed) {
            return;
        }
        this.traffic_seen = true;
        while (waiting.chunks.length > 0) {
            const chunk = waiting.chunks[0];
            const n = this.#sendable(chunk.length);
            if (n === 0 && chunk.length > 0) {
                return;     // until the client grants credit
            }
            if (n < 0) {
                continue;
            }
            this.#send_frame(n === chunk.length ? chunk : chunk.subarray(0, n));
            if (n === chunk.length) {
                waiting.chunks.shift();
            } else {
                waiting.chunks[0] = chunk.subarray(n);
            }
        }
        this.#waiting = null;
        waiting.cb();
    }

    // How much of `length` bytes the credit lets go now (its frame header
    // counted as sent), -1 when the endpoint stopped sending since the
    // credit was read (read it again).
    /** @param {number} length */
    #sendable(length) {
        if (this.#credit < length) {
            this.#credit = this.#endpoint.sendCredit();
        }
        const n = Math.min(length, this.#credit);
        if (n === 0 && length > 0) {
            return 0;
        }
        const header = this.#endpoint.dataHeader(n);
        if (header === null) {
            this.#credit = 0;
            return -1;
        }
        this.#credit -= n;
        this.#frame_header = header;
        return n;
    }

    // The header #sendable made for the frame #send_frame writes next.
    /** @type {Buffer | null} */
    #frame_header = null;

    // Takes what the room allows of a write into the resume buffer; true
    // once all of it is taken.
    /**
     * @param {{ chunks: Buffer[] }} waiting
     * @param {Resumable} resumable
     */
    #take_waiting(waiting, resumable) {
        const resumption = /** @type {FirstMessage} */ (resumable.first).resumption;
        while (waiting.chunks.length > 0) {
            const chunk = waiting.chunks[0];
            const n = Math.min(chunk.length, resumption.room(resumable.key));
            if (n === 0 && chunk.length > 0) {
                return false;   // until acks make room
            }
            const piece = n === chunk.length ? chunk : chunk.subarray(0, n);
            resumable.queue.push(piece);
            resumption.write(resumable.key, n);
            if (n === chunk.length) {
                waiting.chunks.shift();
            } else {
                waiting.chunks[0] = chunk.subarray(n);
            }
        }
        return true;
    }

    // Sends the resume buffer's bytes not yet sent on this WebSocket, as the
    // credit allows, then the end once it is due.
    #transmit() {
        const resumable = this.#resumable;
        if (!resumable || !resumable.talked || resumable.resending || !this.#writable_stream()) {
            return;
        }
        this.traffic_seen = true;
        const { queue } = resumable;
        while (resumable.sent_index < queue.length) {
            const chunk = queue[resumable.sent_index];
            const rest = resumable.sent_offset === 0 ? chunk : chunk.subarray(resumable.sent_offset);
            const n = this.#sendable(rest.length);
            if (n === 0 && rest.length > 0) {
                return;     // until the client grants credit
            }
            if (n < 0) {
                continue;
            }
            this.#send_frame(n === rest.length ? rest : rest.subarray(0, n));
            if (n === rest.length) {
                resumable.sent_index++;
                resumable.sent_offset = 0;
            } else {
                resumable.sent_offset += n;
            }
        }
        if (resumable.ended && !resumable.end_sent) {
            resumable.end_sent = true;
            this.#act(this.#endpoint.end());
        }
    }

    // One write to the stream per frame: a small payload is copied after its
    // header (a write costs more than copying a few KiB); a large one goes
    // with its header as one corked batch, uncopied.
    /** @param {Buffer} payload */
    #send_frame(payload) {
        const header = /** @type {Buffer} */ (this.#frame_header);
        this.written = true;
        if (payload.length <= COPY_BELOW) {
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
        const resumable = this.#resumable;
        if (resumable) {
            resumable.ended = true;
            resumable.final = cb;
            resumable.first?.resumption.end(resumable.key);
            this.#transmit();
            return;
        }
        this.#act(this.#endpoint.end());
        cb();
    }

    /**
     * @param {Error | null} err
     * @param {Callback} cb
     */
    _destroy(err, cb) {
        this.#waiting = null;
        const resumable = this.#resumable;
        if (resumable?.talked) {
            resumable.first?.resumption.remove(resumable.key);
        }
        super._destroy(err, cb);
    }

    // The core says how the stream ends: a Close first, or the client's
    // Close awaited.
    /** @param {Error | null} reset */
    _end_transport(reset) {
        if (this.stream) {
            this.#act(this.#endpoint.handleDestroyed(Boolean(reset), this.writableFinished,
                this.stream.writableEnded, this.stream.destroyed));
        }
    }
}

module.exports = { ServerWebSocketDuplex };
