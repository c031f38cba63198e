// The WebSocket transport (docs/websocket.md, subprotocol http2-duplex.1): where the
// server offers RFC 8441, the browser opens `new WebSocket(wss://…)` as an extended
// CONNECT stream on its HTTP/2 connection, and one stream carries both directions.
// Binary messages are data; text `end` ends a direction; text `credit N` lets the
// peer send N more bytes (the WebSocket API has no receive backpressure of its own).
import { Duplex } from 'readable-stream';
import './next-tick.mjs';
import { Buffer } from 'buffer';
import protocol from '../protocol.js';
import { page_base } from './frames.mjs';
import { destroyed_error, duplex_error } from './response-error.mjs';

const { WEBSOCKET, CLOSE, CLOSE_ERRORS, WAIT } = protocol;
// Credit each side holds before any `credit` message.
const { INITIAL_CREDIT } = WEBSOCKET;
// A write's callback waits while more than this is buffered in the WebSocket. It is
// polled (no event says when it falls), and a poll comes 2-4 ms later (browsers clamp
// nested timers to 4 ms): with 256 KiB the socket ran dry between polls, capping a
// writer that waits for 'drain' at 256 KiB per poll.
const BUFFERED_LIMIT = 1024 * 1024;
// _writev joins buffered writes smaller than JOIN_BELOW into messages of up to JOIN_MAX.
const JOIN_BELOW = 16 * 1024;
const JOIN_MAX = 64 * 1024;
// How often bufferedAmount is looked at while it is above the limit (it has no event).
const BUFFERED_POLL_MS = 2;
// What a server's Close with POLICY_VIOLATION may name as its reason.
const POLICY_ERRORS = new Set(['ERR_HTTP2_DUPLEX_WS_CREDIT', 'ERR_HTTP2_DUPLEX_WS_MESSAGE']);

// The prefixes are plain words and a space: nothing to escape.
export const CREDIT = new RegExp(`^${WEBSOCKET.CREDIT_PREFIX}([1-9][0-9]{0,15})$`);
// The server's first message names the duplex (a page cannot read the answer's headers).
const ID_PATTERN = `([A-Za-z0-9.-]{1,${WEBSOCKET.MAX_ID_LENGTH}})`;
const ID = new RegExp(`^${WEBSOCKET.ID_PREFIX}${ID_PATTERN}$`);
// A count of http2-duplex.2: 1 to 16 digits without a leading zero, or 0.
export const COUNT_PATTERN = '(0|[1-9][0-9]{0,15})';
// http2-duplex.2: the answer to `open` names the duplex, its resume secret, the resume
// buffer, the resume timeout and the keep-alive interval.
const RESUMABLE = new RegExp(`^${WEBSOCKET.RESUMABLE_PREFIX}${ID_PATTERN} ([A-Za-z0-9_-]{22}) ` +
    `${COUNT_PATTERN} ${COUNT_PATTERN} ${COUNT_PATTERN}$`);

function ignore() {}

// The error for a close with `code` (and `reason`) before both directions ended. Both
// http2-duplex.1 violations close with POLICY_VIOLATION, whose reason is the cause's code.
export function close_error(code, reason) {
    let name = CLOSE_ERRORS[code] || 'ERR_HTTP2_DUPLEX_WS_CLOSED';
    if (code === CLOSE.POLICY_VIOLATION) {
        name = POLICY_ERRORS.has(reason) ? reason : 'ERR_HTTP2_DUPLEX_WS_MESSAGE';
    }
    return duplex_error(name, { close_code: code });
}

// The ws:/wss: URL of an http:/https: duplex URL (relative to the page).
export function websocket_url(url) {
    const u = new URL(url, page_base());
    u.protocol = u.protocol === 'http:' ? 'ws:' : 'wss:';
    u.hash = '';
    return u.href;
}

// A binary message's data (an ArrayBuffer, or a tunnel's view) as a Buffer, uncopied.
export function message_bytes(data) {
    return ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);
}

// What carries a duplex on `ws`: duplex.transport and duplex.tunnel (tunnel.mjs).
export function carried_by(ws) {
    return ws.tunnel === true ? { transport: ws.transport, tunnel: true } : { transport: 'websocket', tunnel: false };
}

// Opens the WebSocket; resolves with { ws, id, early } (messages that came before
// the duplex took over) once open with our subprotocol and the server's first
// message (its id) came, rejects with an error of code
// ERR_HTTP2_DUPLEX_WS_CLOSED when it fails or closes first (or timeout_ms passes).
// With `resume`, http2-duplex.2 is offered first; where the server selects it, the
// client's first message is `open` and { resumable } holds the server's answer.
export function open_websocket(url, WebSocketClass, signal, timeout_ms, resume = false) {
    let ws;
    try {
        ws = new WebSocketClass(websocket_url(url), resume ?
            [WEBSOCKET.RESUME_SUBPROTOCOL, WEBSOCKET.SUBPROTOCOL] : WEBSOCKET.SUBPROTOCOL);
    } catch (err) {
        return Promise.reject(duplex_error('ERR_HTTP2_DUPLEX_WS_CLOSED', { cause: err }));
    }
    return handshake(ws, signal, timeout_ms, resume);
}

// open_websocket's part once `ws` exists (a tunnel is made otherwise).
export function handshake(ws, signal, timeout_ms, resume) {
    return new Promise((resolve, reject) => {
        let timer;
        ws.binaryType = 'arraybuffer';
        const early = [];
        const on_message = event => early.push(event);
        const fail = (close_code) => {
            cleanup();
            try {
                ws.close();
            } catch {
                // already closing
            }
            reject(duplex_error('ERR_HTTP2_DUPLEX_WS_CLOSED', { close_code }));
        };
        const on_error = () => fail(undefined);
        const on_close = event => fail(event.code);
        const on_abort = () => fail(undefined);
        let resumable = false;
        const on_open = () => {
            resumable = resume && ws.protocol === WEBSOCKET.RESUME_SUBPROTOCOL;
            if (ws.protocol !== WEBSOCKET.SUBPROTOCOL && !resumable) {
                fail(undefined);
                return;
            }
            ws.removeEventListener('open', on_open);
            ws.addEventListener('message', on_first);
            if (resumable) {
                ws.send(WEBSOCKET.OPEN_MESSAGE);
            }
        };
        const on_first = event => {
            const text = typeof event.data === 'string' ? event.data : '';
            const answer = resumable && RESUMABLE.exec(text);
            if (resumable && !answer) {
                // No duplex to resume, nor one to report a violation on.
                fail(undefined);
                return;
            }
            cleanup();
            const named = answer || ID.exec(text);
            if (!named) {
                early.push(event);
            }
            ws.addEventListener('message', on_message);
            resolve({
                ws, early, id: named ? named[1] : undefined,
                resumable: answer ? {
                    secret: answer[2],
                    resume_buffer: Number(answer[3]),
                    resume_timeout_ms: Number(answer[4]),
                    keepalive_interval_ms: Number(answer[5])
                } : undefined,
                stop_early: () => ws.removeEventListener('message', on_message)
            });
        };
        function cleanup() {
            clearTimeout(timer);
            ws.removeEventListener('open', on_open);
            ws.removeEventListener('message', on_first);
            ws.removeEventListener('error', on_error);
            ws.removeEventListener('close', on_close);
            signal?.removeEventListener('abort', on_abort);
        }
        ws.addEventListener('open', on_open);
        ws.addEventListener('error', on_error);
        ws.addEventListener('close', on_close);
        signal?.addEventListener('abort', on_abort);
        if (timeout_ms !== undefined) {
            timer = setTimeout(() => fail(undefined), timeout_ms);
        }
    });
}

// A Duplex over an open http2-duplex.1 WebSocket.
export class WebSocketDuplex extends Duplex {
    constructor(url, opened, duplex_options) {
        super(duplex_options);
        const { ws, id, early, stop_early } = opened;
        this.url = url;
        this.id = id;
        Object.assign(this, carried_by(ws));
        this.resumable = false;
        this._ws = ws;
        this._send_credit = INITIAL_CREDIT;
        this._queue = [];           // { chunk, cb }: writes not yet all handed to ws.send
        this._waiting_cb = null;    // callbacks waiting for bufferedAmount to fall
        this._poll = null;
        // Receive side: the window is the credit the server may hold at most.
        const hwm = this.readableHighWaterMark || 0;
        this._window = Math.max(INITIAL_CREDIT, 2 * hwm);
        this._recv_credit = this._window; // what the server may still send
        this._pushed = 0;
        this._granted_upto = 0;     // bytes consumed that were granted back
        this._grant_queued = false;
        this._got_end = false;
        this._sent_end = false;
        this._on_message = event => this._message(event.data);
        this._on_close = event => this._closed(event.code, event.reason, event.wasClean);
        this._on_error = () => {};  // a close event follows every error
        this._setup(opened);
        ws.addEventListener('message', this._on_message);
        ws.addEventListener('close', this._on_close);
        ws.addEventListener('error', this._on_error);
        stop_early();
        if (this._window > INITIAL_CREDIT) {
            this._send_text(`${WEBSOCKET.CREDIT_PREFIX}${this._window - INITIAL_CREDIT}`);
        }
        for (const event of early) {
            this._message(event.data);
        }
    }

    // A subclass's own state, before any message is taken.
    _setup() {}

    _send_text(text) {
        if (this._ws.readyState === 1) {
            this._ws.send(text);
        }
    }

    _message(data) {
        if (this.destroyed) {
            return;
        }
        if (typeof data !== 'string') {
            const bytes = message_bytes(data);
            if (this._got_end) {
                this._violation('ERR_HTTP2_DUPLEX_WS_MESSAGE');
                return;
            }
            if (bytes.length > this._recv_credit) {
                this._violation('ERR_HTTP2_DUPLEX_WS_CREDIT');
                return;
            }
            this._recv_credit -= bytes.length;
            this._pushed += bytes.length;
            if (bytes.length > 0) {
                this.push(bytes);
                // A flowing reader has taken it already: grant now rather than
                // when readable-stream calls _read (from a timer in browsers).
                this._grant();
            }
            return;
        }
        if (data === WEBSOCKET.END_MESSAGE && !this._got_end) {
            this._got_end = true;
            this.push(null);
            return;
        }
        const credit = CREDIT.exec(data);
        const n = credit && Number(credit[1]);
        if (!credit || this._send_credit + n > Number.MAX_SAFE_INTEGER) {
            this._violation('ERR_HTTP2_DUPLEX_WS_MESSAGE');
            return;
        }
        this._send_credit += n;
        this._send_queued();
    }

    // The server broke http2-duplex.1 (ours never does): close with PAGE_VIOLATION (a
    // page may not send the POLICY_VIOLATION a server would), report it.
    _violation(code) {
        this._violation_code = code;
        this.destroy(duplex_error(code));
    }

    _closed(code, reason) {
        this._stop_poll();
        if (this.destroyed) {
            return;
        }
        if (code === CLOSE.NORMAL && this._got_end && this._sent_end) {
            // The close handshake after both ends: nothing more to say.
            return;
        }
        this.destroy(close_error(code, reason));
    }

    // Grants the server credit as the reader consumes: once half the window waits.
    // readable-stream calls _read before it takes the chunk being read from the
    // buffer, so the count waits for a microtask: else a reader of one large chunk
    // would never grant, and _read is not called again until the next push.
    _read() {
        if (!this._grant_queued) {
            this._grant_queued = true;
            queueMicrotask(() => {
                this._grant_queued = false;
                this._grant();
            });
        }
    }

    _grant() {
        if (this.destroyed) {
            return;
        }
        const consumed = this._pushed - this.readableLength;
        const waiting = consumed - this._granted_upto;
        if (waiting > 0 && waiting >= this._window / 2 && !this._got_end) {
            this._granted_upto = consumed;
            this._recv_credit += waiting;
            this._send_text(`${WEBSOCKET.CREDIT_PREFIX}${waiting}`);
        }
    }

    _write(chunk, encoding, cb) {
        this._queue.push({ chunk, cb });
        this._send_queued();
    }

    // Writes buffered while one was under way (many small ones, typically) go out as
    // few messages: each message costs the browser far more than copying a few KiB
    // (message boundaries mean nothing in http2-duplex.1). Large chunks go as they are.
    _writev(chunks, cb) {
        let run = [];
        let run_bytes = 0;
        const flush = () => {
            if (run.length > 0) {
                this._queue.push({ chunk: run.length === 1 ? run[0] : Buffer.concat(run, run_bytes), cb: ignore });
                run = [];
                run_bytes = 0;
            }
        };
        for (const { chunk } of chunks) {
            if (chunk.length >= JOIN_BELOW || run_bytes + chunk.length > JOIN_MAX) {
                flush();
            }
            if (chunk.length >= JOIN_BELOW) {
                this._queue.push({ chunk, cb: ignore });
            } else {
                run.push(chunk);
                run_bytes += chunk.length;
            }
        }
        flush();
        this._queue[this._queue.length - 1].cb = cb;
        this._send_queued();
    }

    // Sends what the credit allows; a write's callback fires once all of it went to
    // ws.send and the WebSocket's buffer is below BUFFERED_LIMIT.
    _send_queued() {
        const ws = this._ws;
        while (this._queue.length > 0 && !this.destroyed) {
            if (ws.readyState !== 1) {
                this._fail_queue(duplex_error('ERR_HTTP2_DUPLEX_WS_CLOSED'));
                return;
            }
            const entry = this._queue[0];
            const { chunk } = entry;
            const n = Math.min(chunk.length, this._send_credit);
            if (n === 0 && chunk.length > 0) {
                return;     // until the server grants credit
            }
            if (n > 0) {
                ws.send(n === chunk.length ? chunk : chunk.subarray(0, n));
                this._send_credit -= n;
            }
            if (n < chunk.length) {
                entry.chunk = chunk.subarray(n);
                continue;
            }
            this._queue.shift();
            this._after_buffered(entry.cb);
        }
    }

    _after_buffered(cb) {
        if (this._ws.bufferedAmount <= BUFFERED_LIMIT && !this._waiting_cb) {
            // From a microtask: readable-stream's nextTick shim is a clamped timer.
            queueMicrotask(() => cb());
            return;
        }
        (this._waiting_cb ||= []).push(cb);
        if (!this._poll) {
            const poll = () => {
                this._poll = null;
                if (this.destroyed) {
                    return;
                }
                if (this._ws.bufferedAmount > BUFFERED_LIMIT) {
                    this._poll = setTimeout(poll, BUFFERED_POLL_MS);
                    return;
                }
                const cbs = this._waiting_cb;
                this._waiting_cb = null;
                cbs.forEach(f => f());
            };
            this._poll = setTimeout(poll, BUFFERED_POLL_MS);
        }
    }

    _stop_poll() {
        if (this._poll) {
            clearTimeout(this._poll);
            this._poll = null;
        }
    }

    _fail_queue(err) {
        for (const { cb } of this._queue.splice(0)) {
            cb(err);
        }
        const cbs = this._waiting_cb || [];
        this._waiting_cb = null;
        cbs.forEach(f => f(err));
    }

    _final(cb) {
        if (this._ws.readyState !== 1) {
            cb(duplex_error('ERR_HTTP2_DUPLEX_WS_CLOSED'));
            return;
        }
        this._ws.send(WEBSOCKET.END_MESSAGE);
        this._sent_end = true;
        cb();
    }

    _destroy(err, cb) {
        this._stop_poll();
        this._fail_queue(err || destroyed_error());
        const ws = this._ws;
        ws.removeEventListener('message', this._on_message);
        ws.removeEventListener('close', this._on_close);
        const close = () => {
            if (ws.readyState === 0 || ws.readyState === 1) {
                // The browser sends what it buffered, then the Close frame.
                try {
                    // A violation's Close names its code, as the server's do.
                    ws.close(this._violation_code ? CLOSE.PAGE_VIOLATION : CLOSE.NORMAL, this._violation_code);
                } catch {
                    ignore();
                }
            }
        };
        if (!err && this._got_end && this._sent_end && ws.readyState === 1) {
            // Both ended: the server closes (1000) once its side has seen both ends;
            // a Close of ours could overtake that. Close ourselves only if it never does.
            const timer = setTimeout(close, WAIT.WS_CLOSE_MS);
            ws.addEventListener('close', () => clearTimeout(timer));
        } else {
            close();
        }
        cb(err);
    }
}
