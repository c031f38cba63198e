'use strict';
// WebSocket adapter: an RFC 8441 extended CONNECT stream on the duplex path
// (subprotocol http2-duplex.1, docs/websocket.md) carries both directions of
// one duplex. The Rust core's WsEndpoint decides (framing, credit, close
// handshake); this class moves buffers between it, the stream and the Duplex.
const { WsEndpoint } = require('../native');
const { ServerDuplex } = require('../server-duplex');
const { duplex_error } = require('../errors');

const GOING_AWAY = 1001;

class WebSocketDuplex extends ServerDuplex {
    #endpoint;
    #pushed = 0;
    #reported = 0;
    #received_end = false;
    // A write waiting for credit: what is left of it, and its callback.
    #waiting = null;
    #fail;

    // `fail(err)`: the server's handling of a client that broke the duplex.
    // `id` goes to the client in the first message (docs/websocket.md).
    constructor(stream, options, { id, max_message, window }, fail) {
        super(stream, options);
        this.transport = 'websocket';
        this.#fail = fail;
        this.#endpoint = new WsEndpoint(max_message, window);
        stream.on('data', piece => {
            this.traffic_seen = true;
            this.#act(this.#endpoint.receive(piece));
        });
        stream.on('close', () => {
            if (!this.destroyed && !(this.#received_end && this.writableFinished)) {
                fail(duplex_error('ERR_HTTP2_DUPLEX_CLIENT_RESET',
                    `the client reset the WebSocket stream (HTTP/2 code ${stream.rstCode})`));
            }
        });
        this.id = id;
        this.#act(this.#endpoint.open(id));
    }

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

    #finished({ code, message, closeCode }) {
        if (!this.stream.writableEnded && !this.stream.destroyed) {
            this.stream.end();
        }
        if (code) {
            this.#fail(duplex_error(code, `WebSocket closed: ${message}`));
        } else if (!(this.#received_end && this.writableEnded)) {
            // (The client's end may still wait for the reader: it was received.)
            this.#fail(duplex_error('ERR_HTTP2_DUPLEX_WS_CLOSED',
                `the client closed the WebSocket (code ${closeCode}) before both directions had ended`));
        }
    }

    // What the reader took since the last report goes back as credit.
    _read(size) {
        super._read(size);
        const consumed = this.#pushed - this.readableLength;
        if (consumed > this.#reported) {
            const delta = consumed - this.#reported;
            this.#reported = consumed;
            this.#act(this.#endpoint.consumed(delta));
        }
    }

    _write(chunk, encoding, cb) {
        this.#waiting = { chunks: [chunk], cb };
        this.#send_waiting();
    }

    _writev(chunks, cb) {
        this.#waiting = { chunks: chunks.map(({ chunk }) => chunk), cb };
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
            const n = Math.min(chunk.length, this.#endpoint.sendCredit());
            if (n === 0 && chunk.length > 0) {
                return;     // until the client grants credit
            }
            this.stream.write(this.#endpoint.dataHeader(n));
            this.stream.write(n === chunk.length ? chunk : chunk.subarray(0, n));
            if (n === chunk.length) {
                waiting.chunks.shift();
            } else {
                waiting.chunks[0] = chunk.subarray(n);
            }
        }
        this.#waiting = null;
        waiting.cb();
    }

    _final(cb) {
        this.#act(this.#endpoint.end());
        cb();
    }

    _destroy(err, cb) {
        this.#waiting = null;
        super._destroy(err, cb);
    }

    // The Close frame says why: the stream then ends cleanly, never reset
    // (a reset could overtake the Close).
    _end_transport() {
        if (!this.stream.destroyed && !this.stream.writableEnded) {
            this.#act(this.#endpoint.close(GOING_AWAY, 'duplex destroyed'));
            if (!this.stream.writableEnded) {
                this.stream.end();
            }
        }
    }
}

module.exports = { WebSocketDuplex };
