// http2-duplex.2 (docs/protocol.md "Resume"): a WebSocket duplex that outlives its
// WebSocket. ResumeClient (resume.mjs, the core's rules) decides; this carries out
// its actions: it keeps what it wrote until the server acknowledged it, opens a new
// WebSocket to the same URL when one failed or hung, and resends from the server's
// count. A duplex opened on a WebSocket tunnel (tunnel.mjs) resumes on tunnels; one
// opened on a WebSocket under transport 'auto' (`opened.fallback`) resumes on the kind
// that last resumed it, and each attempt that fails tries the other kind next: a hop
// that no longer carries WebSockets gets a tunnel, and a browser whose tunnels cannot
// work (WebKit's POSTs on other connections, under scope 'session') is never left
// with tunnels alone. Credit is per WebSocket, as in http2-duplex.1; on a
// resumed one the client starts with none (docs/protocol.md).
import protocol from '../protocol.js';
import {
    WebSocketDuplex, websocket_url, close_error, message_bytes, carried_by, COUNT_PATTERN, CREDIT
} from './websocket-duplex.mjs';
import { ResumeClient, REFUSALS } from './resume.mjs';
import { duplex_error } from './response-error.mjs';

const { WEBSOCKET, CLOSE, WAIT } = protocol;
const { INITIAL_CREDIT } = WEBSOCKET;
const ACK = new RegExp(`^${WEBSOCKET.ACK_PREFIX}${COUNT_PATTERN}$`);
const RESUMED = new RegExp(`^${WEBSOCKET.RESUMED_PREFIX}${COUNT_PATTERN}$`);

// RFC 6455 7.1.5: the connection was lost without a Close frame.
const ABNORMAL = 1006;

const now = () => performance.now();

// A resume's WebSocket URL: the duplex's, with ?resume= and the id's node prefix (the
// part before its first '.', when it has one) for a proxy to route it by; the whole id
// never goes into a URL. A URL with a query of its own is left as it is.
export function resume_url(url, id) {
    const ws_url = new URL(websocket_url(url));
    const dot = id.indexOf('.');
    if (dot > 0 && ws_url.search === '') {
        ws_url.search = `${WEBSOCKET.RESUME_QUERY}${encodeURIComponent(id.slice(0, dot))}`;
    }
    return ws_url.href;
}

function close_quietly(ws, code) {
    if (ws.readyState === 0 || ws.readyState === 1) {
        try {
            ws.close(code);
        } catch {
            // already closing
        }
    }
}

export class ResumableWebSocketDuplex extends WebSocketDuplex {
    constructor(url, opened, duplex_options) {
        super(url, opened, duplex_options);
        this._schedule();
    }

    // Before the base class takes the first messages.
    _setup({ ws, resumable, fallback }) {
        this.resumable = true;
        this._WebSocket = ws.constructor;
        // The other kind an attempt that failed switches to, if any (WebSocket ⇄ tunnel).
        this._other = fallback;
        this._secret = resumable.secret;
        this._core = new ResumeClient(resumable, now());
        // What was written and not acknowledged: the application's chunks (or their
        // tails; never copied), the first at _head, starting at byte _start of the
        // direction. The next byte to send on the WebSocket is _cursor_off into piece _cursor.
        this._sent = [];
        this._head = 0;
        this._start = 0;
        this._cursor = 0;
        this._cursor_off = 0;
        this._ended = false;        // the application ended: the end goes after the bytes
        this._final_cb = null;      // _final's, called once the end is acknowledged
        this._attempt = null;       // { ws, cleanup }: the resume attempt in flight
        this._timer = null;
        this._timer_at = undefined;
        this._paused = false;       // push() said the reader holds back
        this._complete = false;
        this._lingering = false;    // destroyed after both ends, seeing the exchange through
    }

    // Calls the core with an array for its actions, carries them out, and sets the timer.
    _run(call) {
        const out = [];
        call(out);
        for (const action of out) {
            this._do(action);
        }
        this._schedule();
    }

    _do(action) {
        switch (action.type) {
        case 'drop':
            this._drop(action.bytes);
            break;
        case 'flow':
            this._send_queued();
            break;
        case 'ack':
            this._send_text(`${WEBSOCKET.ACK_PREFIX}${action.count}`);
            break;
        case 'close-transport':
            this._abandon();
            break;
        case 'reconnect':
            this._reconnect(action.count);
            break;
        case 'resumed':
            this.emit('resumed', { attempt: action.attempt, downtime: Math.round(action.downtime) });
            break;
        case 'resend':
            this._resend(action.from, action.end);
            break;
        case 'complete':
            this._completed();
            break;
        case 'fail':
            this._fail(duplex_error(action.code, { message: action.message }));
            break;
        default:
            // 'hold': writes wait in _queue until 'flow'
        }
    }

    // One timer, at the core's next deadline. A timer set for earlier is kept: it
    // fires, finds nothing due, and sets the next (no re-arming per message).
    _schedule() {
        const at = this._core.poll_timeout();
        if (at === undefined || (this._timer && this._timer_at <= at)) {
            return;
        }
        clearTimeout(this._timer);
        this._timer_at = at;
        this._timer = setTimeout(() => {
            this._timer = null;
            this._run(out => this._core.handle_timeout(now(), out));
        }, Math.max(0, Math.ceil(at - now())));
    }

    _stop_timer() {
        clearTimeout(this._timer);
        this._timer = null;
    }

    _message(data) {
        if (this.destroyed && !this._lingering) {
            return;
        }
        const t = now();
        if (typeof data !== 'string') {
            const n = data.byteLength;
            if (this._got_end) {
                this._violation('ERR_HTTP2_DUPLEX_WS_MESSAGE');
                return;
            }
            if (n > this._recv_credit) {
                this._violation('ERR_HTTP2_DUPLEX_WS_CREDIT');
                return;
            }
            this._recv_credit -= n;
            this._pushed += n;
            this._run(out => this._core.handle_data(n, t, out));
            if (n > 0) {
                if (!this.push(message_bytes(data)) && !this._paused) {
                    this._paused = true;
                    this._core.handle_reader_paused(true, t);
                }
                this._grant();
            }
            return;
        }
        if (data === WEBSOCKET.END_MESSAGE && !this._got_end) {
            this._got_end = true;
            this._run(out => this._core.handle_peer_end(t, out));
            if (!this._lingering) {
                this.push(null);
            }
            return;
        }
        const ack = ACK.exec(data);
        if (ack) {
            this._run(out => this._core.handle_ack(Number(ack[1]), t, out));
            return;
        }
        const credit = CREDIT.exec(data);
        const n = credit && Number(credit[1]);
        if (!credit || this._send_credit + n > Number.MAX_SAFE_INTEGER) {
            this._violation('ERR_HTTP2_DUPLEX_WS_MESSAGE');
            return;
        }
        this._core.handle_heard(t);
        this._send_credit += n;
        this._pump();
    }

    _read() {
        super._read();
        if (this._paused) {
            this._paused = false;
            this._core.handle_reader_paused(false, now());
            this._schedule();
        }
    }

    _violation(code) {
        if (this._lingering) {
            this._stop(CLOSE.PAGE_VIOLATION);
        } else {
            super._violation(code);
        }
    }

    // The WebSocket carrying the duplex closed. A failure (no Close frame from the
    // server, or our own 4001 echoed) detaches the duplex; a Close ends it, as in
    // http2-duplex.1.
    _closed(code, reason, was_clean) {
        if (this._complete || (this.destroyed && !this._lingering)) {
            return;
        }
        if (was_clean === false || code === ABNORMAL || code === CLOSE.RESUMING) {
            this._detach(this._ws);
            this._run(out => this._core.handle_transport_failed(now(), out));
            return;
        }
        this._fail(close_error(code, reason));
    }

    // Reads nothing more from `ws`; writes whose callbacks waited for its buffer to
    // drain are done (their bytes are kept until acknowledged).
    _detach(ws, code) {
        ws.removeEventListener('message', this._on_message);
        ws.removeEventListener('close', this._on_close);
        ws.removeEventListener('error', this._on_error);
        if (code !== undefined) {
            close_quietly(ws, code);
        }
        this._stop_poll();
        const cbs = this._waiting_cb || [];
        this._waiting_cb = null;
        cbs.forEach(f => f());
    }

    // 'close-transport': the attempt in flight hung, or the WebSocket carrying the duplex.
    _abandon() {
        if (this._attempt) {
            this._fall_back();
            this._drop_attempt();
        } else {
            this._detach(this._ws, CLOSE.RESUMING);
        }
    }

    // An attempt failed or hung (none could be made, or it was not answered): the next
    // is of the other kind, if the duplex has one.
    _fall_back() {
        if (this._other) {
            [this._WebSocket, this._other] = [this._other, this._WebSocket];
        }
    }

    _drop_attempt() {
        const { ws, cleanup } = this._attempt;
        this._attempt = null;
        cleanup();
        close_quietly(ws, CLOSE.RESUMING);
    }

    _reconnect(count) {
        if (this._attempt) {
            this._drop_attempt();
        }
        let ws;
        try {
            ws = new this._WebSocket(resume_url(this.url, this.id), WEBSOCKET.RESUME_SUBPROTOCOL);
        } catch {
            // As a connection that failed: the core backs off.
            this._fall_back();
            queueMicrotask(() => this._run(out => this._core.handle_transport_failed(now(), out)));
            return;
        }
        ws.binaryType = 'arraybuffer';
        const attempt = { ws };
        const failed = () => {
            if (this._attempt === attempt) {
                this._fall_back();
                this._drop_attempt();
                this._run(out => this._core.handle_transport_failed(now(), out));
            }
        };
        const on_open = () => {
            if (ws.protocol === WEBSOCKET.RESUME_SUBPROTOCOL) {
                ws.send(`${WEBSOCKET.RESUME_PREFIX}${this.id} ${this._secret} ${count}`);
            } else {
                failed();
            }
        };
        const on_message = event => {
            const answer = typeof event.data === 'string' && RESUMED.exec(event.data);
            if (!answer) {
                failed();
            } else if (this._attempt === attempt) {
                this._attach(attempt, Number(answer[1]));
            }
        };
        const on_close = event => {
            const refusal = event.code === CLOSE.POLICY_VIOLATION && REFUSALS[event.reason];
            if (refusal && this._attempt === attempt) {
                this._attempt = null;
                cleanup();
                this._run(out => this._core.handle_refused(refusal, out));
            } else {
                failed();
            }
        };
        function cleanup() {
            ws.removeEventListener('open', on_open);
            ws.removeEventListener('message', on_message);
            ws.removeEventListener('close', on_close);
            ws.removeEventListener('error', failed);
        }
        attempt.cleanup = cleanup;
        ws.addEventListener('open', on_open);
        ws.addEventListener('message', on_message);
        ws.addEventListener('close', on_close);
        ws.addEventListener('error', failed);
        this._attempt = attempt;
    }

    // The server resumed the duplex on the attempt's WebSocket, having received
    // `received` units: it carries the duplex from now on, with fresh credit.
    _attach(attempt, received) {
        this._attempt = null;
        attempt.cleanup();
        const { ws } = attempt;
        this._ws = ws;
        Object.assign(this, carried_by(ws));
        ws.addEventListener('message', this._on_message);
        ws.addEventListener('close', this._on_close);
        ws.addEventListener('error', this._on_error);
        // A resumed WebSocket gives the client no initial credit: the server grants
        // what its window leaves beside what its reader still holds. The server's
        // side starts with the initial credit, as on any WebSocket.
        this._send_credit = 0;
        this._recv_credit = INITIAL_CREDIT;
        this._granted_upto = this._pushed - this.readableLength;
        // Nothing to resend unless 'resend' says so: the server has it all.
        this._cursor = this._sent.length;
        this._cursor_off = 0;
        this._sent_end = this._ended;
        this._run(out => this._core.handle_resumed(received, now(), out));
        // The reader's window, less what it has not read yet.
        const grant = this._window - INITIAL_CREDIT - this.readableLength;
        if (grant > 0 && !this._got_end) {
            this._recv_credit += grant;
            this._send_text(`${WEBSOCKET.CREDIT_PREFIX}${grant}`);
        }
    }

    _resend(from, end) {
        let skip = from - this._start;
        this._cursor = this._head;
        this._cursor_off = 0;
        while (skip > 0) {
            const piece = this._sent[this._cursor];
            if (skip >= piece.length) {
                skip -= piece.length;
                this._cursor += 1;
            } else {
                this._cursor_off = skip;
                skip = 0;
            }
        }
        this._sent_end = this._ended && !end;
        this._pump();
    }

    // The server acknowledged `bytes` more: forget them.
    _drop(bytes) {
        let n = bytes;
        while (n > 0) {
            const piece = this._sent[this._head];
            if (piece.length <= n) {
                n -= piece.length;
                this._start += piece.length;
                this._sent[this._head] = undefined;
                if (this._cursor === this._head) {
                    this._cursor += 1;
                    this._cursor_off = 0;
                }
                this._head += 1;
            } else {
                this._sent[this._head] = piece.subarray(n);
                this._start += n;
                if (this._cursor === this._head) {
                    this._cursor_off = Math.max(0, this._cursor_off - n);
                }
                n = 0;
            }
        }
        // Compact now and then, not per drop.
        if (this._head > 0 && (this._head === this._sent.length || this._head >= 1024)) {
            this._sent = this._sent.slice(this._head);
            this._cursor -= this._head;
            this._head = 0;
        }
    }

    // Sends what is not sent yet on this WebSocket, as credit allows, then the end.
    _pump() {
        const ws = this._ws;
        if (!this._core.is_attached() || ws.readyState !== 1) {
            return;
        }
        while (this._cursor < this._sent.length) {
            const piece = this._sent[this._cursor];
            const n = Math.min(piece.length - this._cursor_off, this._send_credit);
            if (n === 0) {
                return;     // until the server grants credit
            }
            ws.send(n === piece.length ? piece : piece.subarray(this._cursor_off, this._cursor_off + n));
            this._send_credit -= n;
            this._cursor_off += n;
            if (this._cursor_off === piece.length) {
                this._cursor += 1;
                this._cursor_off = 0;
            }
        }
        if (this._ended && !this._sent_end) {
            ws.send(WEBSOCKET.END_MESSAGE);
            this._sent_end = true;
        }
    }

    // Takes writes into the resume buffer as its room allows (a write larger than the
    // room goes in pieces as acks come); a write's callback fires once all of it is in.
    _send_queued() {
        while (this._queue.length > 0 && !this.destroyed) {
            const entry = this._queue[0];
            const { chunk } = entry;
            const n = Math.min(chunk.length, this._core.room());
            if (n === 0 && chunk.length > 0) {
                break;      // until acks make room ('flow')
            }
            if (n > 0) {
                // Its only action is 'hold', which the room already says.
                this._core.handle_write(n, []);
                this._sent.push(n === chunk.length ? chunk : chunk.subarray(0, n));
            }
            if (n < chunk.length) {
                entry.chunk = chunk.subarray(n);
                continue;
            }
            this._queue.shift();
            this._after_buffered(entry.cb);
        }
        this._pump();
    }

    _after_buffered(cb) {
        if (this._core.is_attached()) {
            super._after_buffered(cb);
        } else {
            queueMicrotask(() => cb());
        }
    }

    // 'finish' waits for the server's ack of the end, as the Node client's: until then
    // the end and the last bytes may still need sending again. The server acknowledges
    // the end once its own end was acknowledged: the duplex is then complete.
    _final(cb) {
        this._core.handle_end();
        this._ended = true;
        this._final_cb = cb;
        this._pump();
    }

    _completed() {
        this._complete = true;
        this._stop_timer();
        const final = this._final_cb;
        this._final_cb = null;
        final?.();
        if (this._lingering) {
            // The server closes (1000) as it completes; close ourselves only if it never does.
            const ws = this._ws;
            const timer = setTimeout(() => close_quietly(ws, CLOSE.NORMAL), WAIT.WS_CLOSE_MS);
            ws.addEventListener('close', () => clearTimeout(timer));
        }
    }

    _fail(err) {
        if (this._lingering) {
            this._stop(CLOSE.NORMAL);
        } else {
            this.destroy(err);
        }
    }

    // Nothing more happens: no timer, no attempt, the WebSocket closed with `code`.
    _stop(code) {
        this._lingering = false;
        this._stop_timer();
        if (this._attempt) {
            this._drop_attempt();
        }
        this._detach(this._ws, code);
    }

    _destroy(err, cb) {
        if (!err && this._got_end && this._ended && !this._complete && !this._core.is_done()) {
            // Both ends were taken but not all acknowledged: what is in flight could
            // still be lost, so the exchange goes on, resumes included, until complete.
            this._lingering = true;
            cb();
            return;
        }
        this._stop_timer();
        if (this._attempt) {
            this._drop_attempt();
        }
        super._destroy(err, cb);
    }
}
