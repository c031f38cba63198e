// @ts-check
'use strict';
// What every transport's server-side duplex shares: the readable side fed by
// the transport (with the reader's backpressure), and failures a client caused.
const { Duplex } = require('stream');

// The 'error' listeners that Readable#pipe puts on its destination: they
// rethrow when nothing else listens, so they are not the application listening.
const pipe_handlers = new WeakSet();

class ServerDuplex extends Duplex {
    #blocked = false;
    /** @type {Array<() => void>} */
    #when_taken = [];
    /** @type {Error | null} */
    #failure = null;

    /**
     * @param {any} stream the transport's stream (a GET response, a WebSocket's)
     * @param {import('stream').DuplexOptions} options
     */
    constructor(stream, options) {
        super(options);
        this.stream = stream;
        // Traffic since the server's last idle check (idle_timeout).
        this.traffic_seen = false;
        // Once the client's end is pushed, _read is not called again: what
        // waited for the reader is taken when it has read to the end.
        this.on('end', () => this._read());
        this.on('pipe', () => {
            // pipe() prepends its handler just before it emits 'pipe'.
            const [handler] = this.listeners('error');
            if (handler) {
                pipe_handlers.add(handler);
            }
        });
    }

    /**
     * Destroys the duplex for a failure the client caused. As Node does for
     * http.IncomingMessage, 'error' is emitted only when the application
     * listens for it; otherwise the duplex just closes.
     * @param {Error} err
     */
    fail(err) {
        if (this.destroyed) {
            return;
        }
        this.#failure = err;
        this.destroy(this.app_listens() ? err : undefined);
    }

    app_listens() {
        return this.listeners('error').some(l => !pipe_handlers.has(l));
    }

    /**
     * As 6.x, what end() throws (an application's _write, say) becomes the
     * duplex's 'error' instead of escaping to end()'s caller.
     * @param {any[]} args
     */
    end(...args) {
        try {
            return super.end(...args);
        } catch (err) {
            this.emit('error', err);
            return this;
        }
    }

    /**
     * Pushes a chunk from the client into the readable side.
     * @param {Buffer} chunk
     */
    deliver(chunk) {
        if (!this.push(chunk)) {
            this.#blocked = true;
        }
    }

    // The reader has not taken what it holds: the client waits.
    get full() {
        return this.#blocked;
    }

    /**
     * Runs `taken` once the readable side has room again: a POST is answered
     * (and its body read further) only then, which is the client's backpressure.
     * @param {() => void} taken
     */
    when_taken(taken) {
        if (this.#blocked) {
            this.#when_taken.push(taken);
        } else {
            taken();
        }
    }

    /** @param {number} [_size] */
    _read(_size) {
        this.#blocked = false;
        const waiting = this.#when_taken;
        this.#when_taken = [];
        for (const taken of waiting) {
            taken();
        }
    }

    /**
     * @param {Error | null} err
     * @param {(err?: Error | null) => void} cb
     */
    _destroy(err, cb) {
        this.#when_taken = [];
        this._end_transport(err ?? this.#failure);
        cb(err);
    }

    /**
     * Ends the transport's stream of a destroyed duplex; `reset` is why, if it failed.
     * @param {Error | null} _reset
     */
    _end_transport(_reset) {}
}

module.exports = { ServerDuplex };
