'use strict';
const { Duplex } = require('stream');

// The 'error' listeners that Readable#pipe puts on its destination: they
// rethrow when nothing else listens, so they are not the application listening.
const pipe_handlers = new WeakSet();

// Frame types of a framed GET body (docs/protocol.md).
const DATA = 0x00;
const PING = 0x01;
const END = 0x02;

function frame_header(type, length) {
    const header = Buffer.allocUnsafe(5);
    header[0] = type;
    header.writeUInt32BE(length, 1);
    return header;
}

// A write that cannot reach a GET the client reset is not the application's
// fault: the server closes the duplex for that reset instead.
function ignoring_error(cb) {
    return () => cb();
}

// The server's end of one duplex: reads come from the client's POSTs, writes go
// to the GET response body (`stream`).
class ServerDuplex extends Duplex {
    #blocked = false;
    #when_taken = [];
    #failure = null;
    #framed;
    #keepalive = null;

    // `framed`: the GET's body is framed (the client asked), so the server's
    // end is explicit and an idle GET carries keep-alives.
    constructor(stream, options, framed = false) {
        super(options);
        this.stream = stream;
        this.#framed = framed;
        // Traffic since the server's last idle check (idle_timeout).
        this.traffic_seen = false;
        const interval = options.keepalive_interval;
        if (framed && interval > 0) {
            this.#keepalive = setInterval(() => this.#ping(), interval);
            this.#keepalive.unref();
        }
        // As 6.x, the GET stream's errors are the duplex's. One that comes
        // with the stream's destruction (a client's reset, a lost session, a
        // destroy) is not: the server decides when the stream closes what it
        // means for the duplex.
        stream.on('error', err => {
            if (!stream.destroyed && !this.destroyed && this.#app_listens()) {
                this.emit('error', err);
            }
        });
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

    // Destroys the duplex for a failure the client caused. As Node does for
    // http.IncomingMessage, 'error' is emitted only when the application
    // listens for it; otherwise the duplex just closes.
    fail(err) {
        if (this.destroyed) {
            return;
        }
        this.#failure = err;
        this.destroy(this.#app_listens() ? err : undefined);
    }

    #app_listens() {
        return this.listeners('error').some(l => !pipe_handlers.has(l));
    }

    // As 6.x, what end() throws (an application's _write, say) becomes the
    // duplex's 'error' instead of escaping to end()'s caller.
    end(...args) {
        try {
            return super.end(...args);
        } catch (err) {
            this.emit('error', err);
            return this;
        }
    }

    // Pushes a chunk from a POST into the readable side.
    deliver(chunk) {
        if (!this.push(chunk)) {
            this.#blocked = true;
        }
    }

    // The reader has not taken what it holds: POSTs wait.
    get full() {
        return this.#blocked;
    }

    // Runs `taken` once the readable side has room again: a POST is answered
    // (and its body read further) only then, which is the client's backpressure.
    when_taken(taken) {
        if (this.#blocked) {
            this.#when_taken.push(taken);
        } else {
            taken();
        }
    }

    _read() {
        this.#blocked = false;
        const waiting = this.#when_taken;
        this.#when_taken = [];
        for (const taken of waiting) {
            taken();
        }
    }

    // A keep-alive when nothing was written for keepalive_interval.
    #ping() {
        if (this.#keepalive.wrote) {
            this.#keepalive.wrote = false;
        } else if (!this.stream.destroyed && !this.stream.writableEnded) {
            this.stream.write(frame_header(PING, 0));
        }
    }

    // False once the client reset the GET: the server closes the duplex for that.
    #writable() {
        this.traffic_seen = true;
        if (this.#keepalive) {
            this.#keepalive.wrote = true;
        }
        return !this.stream.destroyed;
    }

    #put(chunk, encoding, cb) {
        if (this.#framed) {
            this.stream.write(frame_header(DATA, Buffer.byteLength(chunk, encoding)));
        }
        this.stream.write(chunk, encoding, cb);
    }

    _write(chunk, encoding, cb) {
        if (!this.#writable()) {
            return cb();
        }
        if (this.#framed) {
            // The frame's header and payload leave as one write.
            this.stream.cork();
            this.#put(chunk, encoding, ignoring_error(cb));
            this.stream.uncork();
        } else {
            this.#put(chunk, encoding, ignoring_error(cb));
        }
    }

    _writev(chunks, cb) {
        if (!this.#writable()) {
            return cb();
        }
        // Corked, the GET stream hands the whole batch to its own _writev:
        // one write to the session, no concatenation.
        this.stream.cork();
        const last = chunks.length - 1;
        for (let i = 0; i <= last; i++) {
            this.#put(chunks[i].chunk, chunks[i].encoding, i === last ? ignoring_error(cb) : undefined);
        }
        this.stream.uncork();
    }

    _final(cb) {
        clearInterval(this.#keepalive);
        if (this.stream.writableEnded || this.stream.destroyed) {
            return cb();
        }
        if (this.#framed) {
            this.stream.write(frame_header(END, 0));
        }
        this.stream.end(() => cb());
    }

    _destroy(err, cb) {
        clearInterval(this.#keepalive);
        this.#when_taken = [];
        this._end_transport(err ?? this.#failure);
        cb(err);
    }

    // Ends the GET stream of a destroyed duplex; `reset` is why, if it failed.
    _end_transport(reset) {
        if (this.#framed && !this.stream.writableEnded && !this.stream.destroyed) {
            // A framed GET that ends without its END frame is an error at the
            // client, and unlike a reset every browser reports it (WebKit
            // never reports an RST_STREAM on a fetch body).
            this.stream.end();
        } else if (reset || !this.stream.writableEnded) {
            // An ended GET closes by itself once its last DATA frame is out; a
            // reset now could overtake that frame (Firefox reports it as an error).
            this.stream.destroy(reset ?? undefined);
        }
    }
}

module.exports = { ServerDuplex };
