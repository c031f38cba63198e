// Writes as one POST each (browsers without request streaming).
// Version 1: one POST at a time, a write's callback fires when its POST is answered.
// Version 2: up to `window` POSTs (and `window_bytes` bytes) in flight, each numbered
// with a seq; a write's callback fires once it is accepted into the window, so
// write() returns false only when the window is full and the server stops answering.
// Writes that arrive while POSTs are in flight are coalesced into the next POST.
import { Buffer } from 'buffer';
import { destroyed_error } from './response-error.mjs';

// In flight from which further writes are gathered into large POSTs.
const BUSY_POSTS = 2;
// A large POST is a quarter of the window, so that a few are in flight at once.
export const MAX_LARGE_POST_BYTES = 4 * 1024 * 1024;

export function large_post_bytes(window_bytes) {
    return Math.min(MAX_LARGE_POST_BYTES, Math.floor(window_bytes / 4));
}

export class PostUpload {
    // send(body, seq) and send_end(count) return promises that reject on failure;
    // seq and count are undefined in version 1.
    constructor({ send, send_end, on_error, window = 1, window_bytes = Infinity, pipelined = false }) {
        this._send = send;
        this._send_end = send_end;
        this._on_error = on_error;
        this._window = window;
        this._window_bytes = window_bytes;
        this._large_post_bytes = large_post_bytes(window_bytes);
        this._pipelined = pipelined;
        this._queue = [];           // { chunk, cb } not yet sent
        this._queued_bytes = 0;
        this._in_flight = 0;
        this._in_flight_bytes = 0;
        this._posts = 0;            // write POSTs sent, the next seq
        this._error = null;
        this._flush_scheduled = false;
        this._waiters = [];
    }

    // Write POSTs sent and not yet answered.
    get in_flight() {
        return this._in_flight;
    }

    // The seq an end POST carries: the number of write POSTs sent (version 2 only).
    get end_seq() {
        return this._pipelined ? this._posts : undefined;
    }

    write(chunk, cb) {
        if (this._error) {
            return cb(this._error);
        }
        const entry = { chunk, cb };
        this._queue.push(entry);
        this._queued_bytes += chunk.length;
        if (this._pipelined && this._in_flight_bytes + this._queued_bytes <= this._window_bytes) {
            this._ack(entry);
        }
        this._schedule_flush();
    }

    // Resolves once the server has taken every write and the end.
    async end() {
        // Version 1 servers deliver in arrival order, so the end waits for the last answer.
        await this._until(() => this._queue.length === 0 &&
                                (this._pipelined || this._in_flight === 0));
        // A version 2 server answers the end POST only once every counted write was
        // delivered: write answers still on their way (each on its own connection in
        // WebKit) add nothing, and waiting for them let 'end' overtake 'finish'.
        await this._send_end(this.end_seq);
    }

    // After destroy() no failure is reported: POSTs still under way reject because
    // the duplex aborted them, and their writes fail with the destroy's reason.
    destroy(err) {
        this._fail(err || destroyed_error(), false);
    }

    _ack(entry) {
        const { cb } = entry;
        if (cb) {
            entry.cb = null;
            cb();
        }
    }

    _schedule_flush() {
        // Wait a microtask so a burst of synchronous writes goes out as one POST.
        if (!this._flush_scheduled) {
            this._flush_scheduled = true;
            queueMicrotask(() => {
                this._flush_scheduled = false;
                this._flush();
            });
        }
    }

    _flush() {
        while (!this._error && this._queue.length > 0 && this._in_flight < this._window &&
               this._worth_posting()) {
            const entries = this._take(this._window_bytes - this._in_flight_bytes);
            if (entries.length === 0) {
                break;
            }
            this._post(entries);
        }
        if (this._pipelined) {
            this._ack_within_window();
        }
        this._wake();
    }

    // Each POST costs the browser and the server far more than its bytes, so once
    // the pipe is busy, writes wait until they fill a large POST (or one answers).
    _worth_posting() {
        return this._in_flight < BUSY_POSTS || this._queued_bytes >= Math.min(
            this._large_post_bytes, this._window_bytes - this._in_flight_bytes);
    }

    // Whole chunks that fit in `room`; the first always goes when nothing is in flight.
    _take(room) {
        const entries = [];
        let bytes = 0;
        while (this._queue.length > 0) {
            const size = this._queue[0].chunk.length;
            const first_alone = entries.length === 0 && this._in_flight === 0;
            if (bytes + size > room && !first_alone) {
                break;
            }
            entries.push(this._queue.shift());
            bytes += size;
            this._queued_bytes -= size;
        }
        return entries;
    }

    _post(entries) {
        const body = entries.length === 1 ? entries[0].chunk :
            Buffer.concat(entries.map(e => e.chunk));
        const seq = this._pipelined ? this._posts : undefined;
        this._posts += 1;
        this._in_flight += 1;
        this._in_flight_bytes += body.length;
        if (this._pipelined) {
            entries.forEach(e => this._ack(e));
        }
        this._send(body, seq).then(() => {
            this._in_flight -= 1;
            this._in_flight_bytes -= body.length;
            entries.forEach(e => this._ack(e));
            this._flush();
        }, err => {
            // Once failed or destroyed, this is a consequence (an abort), not news.
            const reason = this._error || err;
            const unacked = entries.filter(e => e.cb);
            unacked.forEach(e => e.cb(reason));
            // A write already acknowledged can only report through the duplex.
            this._fail(err, unacked.length < entries.length);
        });
    }

    _ack_within_window() {
        let bytes = this._in_flight_bytes;
        for (const entry of this._queue) {
            bytes += entry.chunk.length;
            if (bytes > this._window_bytes) {
                break;
            }
            this._ack(entry);
        }
    }

    _fail(err, report) {
        if (this._error) {
            return;
        }
        this._error = err;
        for (const entry of this._queue.splice(0)) {
            if (entry.cb) {
                entry.cb(err);
            }
        }
        this._wake();
        if (report) {
            this._on_error(err);
        }
    }

    _until(condition) {
        return new Promise((resolve, reject) => {
            const check = () => {
                if (this._error) {
                    reject(this._error);
                } else if (condition()) {
                    resolve();
                } else {
                    return false;
                }
                return true;
            };
            if (!check()) {
                this._waiters.push(check);
            }
        });
    }

    _wake() {
        this._waiters = this._waiters.filter(check => !check());
    }
}
