'use strict';
const { Duplex } = require('stream');

// The server's end of one duplex: reads come from the client's POSTs, writes go
// to the GET response body (`stream`).
class ServerDuplex extends Duplex {
    #blocked = false;
    #when_taken = [];

    constructor(stream, options) {
        super(options);
        this.stream = stream;
        // Restarted by every server write (the server sets it when idle_timeout is on).
        this.idle_timer = null;
    }

    // Pushes a chunk from a POST into the readable side; false once it is full.
    deliver(chunk) {
        if (!this.push(chunk)) {
            this.#blocked = true;
        }
        return !this.#blocked;
    }

    // Runs `taken` once the readable side has room again: a POST is answered
    // (and a streaming POST resumed) only then, which is the client's backpressure.
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

    _write(chunk, encoding, cb) {
        this.idle_timer?.refresh();
        this.stream.write(chunk, encoding, cb);
    }

    _writev(chunks, cb) {
        this.idle_timer?.refresh();
        // Corked, the GET stream hands the whole batch to its own _writev:
        // one write to the session, no concatenation.
        this.stream.cork();
        const last = chunks.length - 1;
        chunks.forEach(({ chunk, encoding }, i) =>
            this.stream.write(chunk, encoding, i === last ? cb : undefined));
        this.stream.uncork();
    }

    _final(cb) {
        if (this.stream.writableEnded || this.stream.destroyed) {
            return cb();
        }
        this.stream.end(cb);
    }

    _destroy(err, cb) {
        this.#when_taken = [];
        // An ended GET closes by itself once its last DATA frame is out; a
        // reset now could overtake that frame (Firefox reports it as an error).
        if (err || !this.stream.writableEnded) {
            this.stream.destroy(err);
        }
        cb(err);
    }
}

module.exports = { ServerDuplex };
