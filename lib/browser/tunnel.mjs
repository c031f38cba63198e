// http2-duplex.2 over the GET and POST transports (docs/protocol.md "Resume on the
// fetch paths: a WebSocket tunnel"): a TunnelSocket has the members of the browser's
// WebSocket that websocket-duplex.mjs and websocket-resume.mjs use, and its bytes each
// way are RFC 6455 frames carried by a GET and POST duplex (its carrier): ours masked
// with a zero key (the payload goes as it is), the server's unmasked.
//
// Unlike a browser's WebSocket, a binary message may arrive in pieces, each a
// Uint8Array view of the carrier's read (never copied): http2-duplex.2's data is a
// byte stream, whose message boundaries mean nothing.
import { Buffer } from 'buffer';
import protocol from '../protocol.js';

const { CLOSE, WAIT } = protocol;

export const OPCODE = { CONTINUATION: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 };
const FIN = 0x80;
const MASKED = 0x80;
// RFC 6455 7.4.1: no status in the Close; the connection lost without a Close.
const NO_STATUS = 1005;
const ABNORMAL = 1006;
// A text message (the protocol's are a few dozen bytes) may be at most this long.
const MAX_TEXT_BYTES = 64 * 1024;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

// The header of a client frame of `length` payload bytes: FIN, `opcode`, masked with
// the zero key.
export function frame_header(opcode, length) {
    const ext = length < 126 ? 0 : length < 65536 ? 2 : 8;
    const header = Buffer.alloc(2 + ext + 4);
    header[0] = FIN | opcode;
    if (ext === 0) {
        header[1] = MASKED | length;
    } else if (ext === 2) {
        header[1] = MASKED | 126;
        header.writeUInt16BE(length, 2);
    } else {
        header[1] = MASKED | 127;
        header.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
        header.writeUInt32BE(length >>> 0, 6);
    }
    return header;
}

// A small frame (text or control) as one chunk.
export function small_frame(opcode, payload) {
    return Buffer.concat([frame_header(opcode, payload.length), payload]);
}

export function close_payload(code, reason = '') {
    if (code === undefined) {
        return Buffer.alloc(0);
    }
    const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
    payload.writeUInt16BE(code, 0);
    payload.write(reason, 2);
    return payload;
}

// Parses the server's frames read by read. The handlers: binary(view) for each piece
// of a binary message's payload, text(string) per whole text message, close(code,
// reason), ping(payload); error(code) once the server broke RFC 6455 (nothing more is
// parsed).
export class FrameDecoder {
    constructor(handlers) {
        this._on = handlers;
        this._header = new Uint8Array(10);
        this._have = 0;         // header bytes gathered
        this._left = 0;         // payload bytes of the current frame still to come
        this._opcode = 0;       // the current frame's
        this._fin = false;
        this._message = 0;      // the opcode of the message under way, 0 between messages
        this._text = [];        // a text message's payload pieces
        this._control = [];     // a control frame's payload pieces
        this._failed = false;
    }

    feed(bytes) {
        let at = 0;
        while (at < bytes.length && !this._failed) {
            if (this._left > 0) {
                const n = Math.min(this._left, bytes.length - at);
                this._payload(bytes.subarray(at, at + n));
                this._left -= n;
                at += n;
                if (this._left === 0) {
                    this._frame_done();
                }
                continue;
            }
            this._header[this._have] = bytes[at];
            this._have += 1;
            at += 1;
            if (this._have >= 2 && this._have === header_length(this._header[1])) {
                this._have = 0;
                this._start_frame();
            }
        }
    }

    _start_frame() {
        const h = this._header;
        const opcode = h[0] & 0x0f;
        const control = opcode >= OPCODE.CLOSE;
        this._fin = (h[0] & FIN) !== 0;
        const length = payload_length(h);
        const continuation = opcode === OPCODE.CONTINUATION;
        if ((h[0] & 0x70) !== 0 || (h[1] & MASKED) !== 0 || !Object.values(OPCODE).includes(opcode) ||
            (control && (!this._fin || length > 125)) ||
            (!control && continuation !== (this._message !== 0)) || !Number.isSafeInteger(length)) {
            this._fail(CLOSE.PROTOCOL_ERROR);
            return;
        }
        this._opcode = opcode;
        if (!control && !continuation) {
            this._message = opcode;
        }
        if (!control && this._message === OPCODE.TEXT && gathered(this._text) + length > MAX_TEXT_BYTES) {
            this._fail(CLOSE.TOO_BIG);
            return;
        }
        this._left = length;
        if (length === 0) {
            this._frame_done();
        }
    }

    _payload(view) {
        if (this._opcode >= OPCODE.CLOSE) {
            this._control.push(view);
        } else if (this._message === OPCODE.BINARY) {
            this._on.binary(view);
        } else {
            this._text.push(view);
        }
    }

    _frame_done() {
        if (this._opcode >= OPCODE.CLOSE) {
            // A control frame may come between a message's fragments.
            this._control_frame(this._opcode, join(this._control.splice(0)));
            return;
        }
        if (!this._fin) {
            return;
        }
        const message = this._message;
        this._message = 0;
        if (message === OPCODE.TEXT) {
            let text;
            try {
                text = new TextDecoder('utf-8', { fatal: true }).decode(join(this._text.splice(0)));
            } catch {
                this._fail(CLOSE.INVALID_DATA);
                return;
            }
            this._on.text(text);
        }
    }

    _control_frame(opcode, payload) {
        if (opcode === OPCODE.PING) {
            this._on.ping(payload);
        } else if (opcode === OPCODE.CLOSE) {
            if (payload.length === 1) {
                this._fail(CLOSE.PROTOCOL_ERROR);
                return;
            }
            const code = payload.length >= 2 ? payload.readUInt16BE(0) : NO_STATUS;
            this._on.close(code, payload.subarray(2).toString());
        }
        // PONG: we send no pings.
    }

    _fail(code) {
        this._failed = true;
        this._on.error(code);
    }
}

// A server frame's header length, from its second byte (it has no masking key).
function header_length(second) {
    const len = second & 0x7f;
    return len === 126 ? 4 : len === 127 ? 10 : 2;
}

function payload_length(h) {
    const len = h[1] & 0x7f;
    if (len === 126) {
        return (h[2] << 8) | h[3];
    }
    if (len === 127) {
        const word = at => ((h[at] << 24) | (h[at + 1] << 16) | (h[at + 2] << 8) | h[at + 3]) >>> 0;
        return word(2) * 2 ** 32 + word(6);
    }
    return len;
}

function gathered(pieces) {
    return pieces.reduce((n, piece) => n + piece.length, 0);
}

function join(pieces) {
    return pieces.length === 1 ? Buffer.from(pieces[0].buffer, pieces[0].byteOffset, pieces[0].length) :
        Buffer.concat(pieces);
}

// The carrier's URL for a WebSocket URL (ws: → http:, wss: → https:).
export function carrier_url(url) {
    return url.replace(/^ws(s?):/i, 'http$1:');
}

function close_event(code, reason, wasClean) {
    return Object.assign(new Event('close'), { code, reason, wasClean });
}

// A WebSocket of subprotocol http2-duplex.2 over a carrier. `open_carrier(url,
// offered)` starts a GET and POST duplex whose GET asks for a tunnel of the
// subprotocols `offered` (one string, as Sec-WebSocket-Protocol) and resolves once
// the GET was answered, with carrier.tunnel_protocol the server's answer (null when
// it is a plain duplex); or `carrier` is one already answered.
export class TunnelSocket extends EventTarget {
    constructor(url, protocols, open_carrier, carrier) {
        super();
        this.protocol = '';
        this.readyState = CONNECTING;
        this.tunnel = true;
        this.transport = undefined;     // the carrier's, once open
        this._carrier = null;
        this._close_timer = null;
        this._sent_close = false;
        this._decoder = new FrameDecoder({
            binary: view => this._dispatch_message(view),
            text: text => this._dispatch_message(text),
            close: (code, reason) => this._server_closed(code, reason),
            ping: payload => this._write(small_frame(OPCODE.PONG, payload)),
            error: code => this._fail(code)
        });
        const offered = [protocols].flat();
        const opening = carrier ? Promise.resolve(carrier) : open_carrier(carrier_url(url), offered.join(', '));
        opening.then(opened => this._opened(opened, offered), () => this._lost());
    }

    get bufferedAmount() {
        return this._carrier ? this._carrier.writableLength : 0;
    }

    send(data) {
        if (this.readyState === CONNECTING) {
            throw new DOMException('the tunnel is not open yet', 'InvalidStateError');
        }
        if (this.readyState !== OPEN) {
            return;     // as a WebSocket that is closing: dropped
        }
        if (typeof data === 'string') {
            this._write(small_frame(OPCODE.TEXT, Buffer.from(data)));
            return;
        }
        const bytes = ArrayBuffer.isView(data) ?
            Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);
        this._write(frame_header(OPCODE.BINARY, bytes.length));
        if (bytes.length > 0) {
            this._write(bytes);
        }
    }

    // Close RESUMING abandons a hung tunnel: the carrier goes at once, no handshake.
    close(code, reason) {
        if (this.readyState === CONNECTING || (this.readyState === OPEN && code === CLOSE.RESUMING)) {
            this._lost();
        } else if (this.readyState === OPEN) {
            this._write(small_frame(OPCODE.CLOSE, close_payload(code, reason)));
            this._sent_close = true;
            this.readyState = CLOSING;
            this._close_timer = setTimeout(() => this._lost(), WAIT.WS_CLOSE_MS);
        }
    }

    _opened(carrier, offered) {
        if (this.readyState !== CONNECTING || !offered.includes(carrier.tunnel_protocol)) {
            // Closed meanwhile, or a plain duplex: a failed open.
            carrier.destroy();
            this._lost();
            return;
        }
        this._carrier = carrier;
        this.protocol = carrier.tunnel_protocol;
        this.transport = carrier.transport;
        carrier.on('data', bytes => this._decoder.feed(bytes));
        // The GET ending (or the carrier failing) before a Close each way: lost.
        carrier.on('end', () => this._lost());
        carrier.on('error', () => this._lost());
        carrier.on('close', () => this._lost());
        this.readyState = OPEN;
        this.dispatchEvent(new Event('open'));
    }

    _write(chunk) {
        if (this._carrier && !this._carrier.writableEnded) {
            this._carrier.write(chunk);
        }
    }

    _dispatch_message(data) {
        if (this.readyState === OPEN || this.readyState === CLOSING) {
            this.dispatchEvent(Object.assign(new Event('message'), { data }));
        }
    }

    // The server's Close: answered (unless it answers ours), then the carrier's writes
    // end; the server ends the GET.
    _server_closed(code, reason) {
        if (this.readyState === CLOSED) {
            return;
        }
        if (!this._sent_close) {
            this._write(small_frame(OPCODE.CLOSE, close_payload(code === NO_STATUS ? undefined : code)));
        }
        const carrier = this._carrier;
        carrier.end();
        const linger = setTimeout(() => carrier.destroy(), WAIT.WS_CLOSE_MS);
        carrier.once('close', () => clearTimeout(linger));
        this._set_closed();
        this.dispatchEvent(close_event(code, reason, true));
    }

    // The server broke RFC 6455: the tunnel fails, as a browser fails a WebSocket (a
    // Close naming why is written first; the carrier goes at once, so it may not arrive).
    _fail(code) {
        this._write(small_frame(OPCODE.CLOSE, close_payload(code)));
        this._lost();
    }

    // The carrier failed, or a Close never came: 1006, not clean.
    _lost() {
        if (this.readyState === CLOSED) {
            return;
        }
        this._set_closed();
        this._carrier?.destroy();
        this.dispatchEvent(new Event('error'));
        this.dispatchEvent(close_event(ABNORMAL, '', false));
    }

    _set_closed() {
        this.readyState = CLOSED;
        clearTimeout(this._close_timer);
    }
}

// The TunnelSocket class whose carriers `open_carrier` opens: a constructor as the
// WebSocket's, (url, protocols), for a resumable duplex to resume with.
export function tunnel_class(open_carrier) {
    return class Tunnel extends TunnelSocket {
        constructor(url, protocols, carrier) {
            super(url, protocols, open_carrier, carrier);
        }
    };
}
