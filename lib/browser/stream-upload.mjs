// Writes as one long streaming POST (fetch request streaming, `duplex: 'half'`).
// A write's callback fires when fetch pulls its chunk, so the network's pace is the
// backpressure; end() resolves when the server has answered the POST, which it does
// once the body has ended and every byte was taken.

import { destroyed_error } from './response-error.mjs';

// The feature test from https://developer.chrome.com/docs/capabilities/web-apis/fetch-streaming-requests
export function request_streaming_supported() {
    if (typeof Request === 'undefined' || typeof ReadableStream === 'undefined') {
        return false;
    }
    let duplex_accessed = false;
    try {
        const has_content_type = new Request('', {
            body: new ReadableStream(),
            method: 'POST',
            get duplex() {
                duplex_accessed = true;
                return 'half';
            }
        }).headers.has('Content-Type');
        return duplex_accessed && !has_content_type;
    } catch {
        return false;
    }
}

const JOIN_BYTES = 256 * 1024;

function join(entries) {
    const size = entries.reduce((n, { chunk }) => n + chunk.length, 0);
    const joined = new Uint8Array(size);
    let offset = 0;
    for (const { chunk } of entries) {
        joined.set(chunk, offset);
        offset += chunk.length;
    }
    return joined;
}

export class StreamUpload {
    // start(body) starts the POST and returns a promise that resolves when it was
    // answered 2xx. on_early_answer: the server answered before end() (it closed
    // the duplex); on_error: the POST failed before end().
    constructor({ start, on_early_answer, on_error }) {
        this._queue = [];           // { chunk, cb } not yet pulled by fetch
        this._pull = null;          // { controller, resolve } of fetch's waiting read
        this._ending = false;
        this._answered = false;
        this._error = null;
        this._destroyed = false;
        const body = new ReadableStream({
            pull: controller => new Promise(resolve => {
                this._pull = { controller, resolve };
                this._feed();
            }),
            // fetch cancels the body when the request fails; its rejection
            // (below) says why, and fails what waits.
            cancel: () => {}
        }, { highWaterMark: 0 });
        this._answer = start(body).then(() => {
            this._answered = true;
            if (!this._ending) {
                if (this._queue.length > 0) {
                    this._fail(new Error('server answered before taking every write'));
                }
                on_early_answer();
            }
        }, err => {
            this._fail(err);
            // After destroy() the POST fails because the duplex aborted it: not news.
            if (!this._ending && !this._destroyed) {
                on_error(err);
            }
            throw err;
        });
        // end() reports the answer's failure; before end() on_error does.
        this._answer.catch(() => {});
    }

    write(chunk, cb) {
        if (this._error) {
            return cb(this._error);
        }
        if (this._answered) {
            return cb(new Error('server has ended the upload'));
        }
        // fetch wants plain Uint8Array chunks, not Buffer subclasses.
        const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        this._queue.push({ chunk: bytes, cb });
        this._feed();
    }

    async end() {
        this._ending = true;
        this._feed();
        await this._answer;
    }

    destroy(err) {
        this._destroyed = true;
        this._fail(err || destroyed_error());
    }

    _feed() {
        if (!this._pull) {
            return;
        }
        const { controller, resolve } = this._pull;
        if (this._queue.length > 0) {
            const entries = this._take();
            this._pull = null;
            controller.enqueue(entries.length === 1 ? entries[0].chunk : join(entries));
            resolve();
            for (const { cb } of entries) {
                cb();
            }
        } else if (this._ending) {
            this._pull = null;
            controller.close();
            resolve();
        }
    }

    // Writes queued while fetch was busy go out as one chunk (up to JOIN_BYTES):
    // every chunk costs fetch a read of its own, far more than the copy.
    _take() {
        let size = this._queue[0].chunk.length;
        let count = 1;
        while (count < this._queue.length && size + this._queue[count].chunk.length <= JOIN_BYTES) {
            size += this._queue[count].chunk.length;
            count += 1;
        }
        return this._queue.splice(0, count);
    }

    _fail(err) {
        if (this._error) {
            return;
        }
        this._error = err;
        for (const { cb } of this._queue.splice(0)) {
            cb(err);
        }
        if (this._pull) {
            this._pull.resolve();
            this._pull = null;
        }
    }
}
