// The framed GET body (docs/protocol.md, "Framed GET body"): after the preamble
// byte, frames of one byte type, four bytes big-endian payload length, payload.
// DATA payloads are handed on as views of the reads they arrive in, never copied,
// and a payload split across reads is handed on piece by piece as it comes.
import codes from '../error-codes.js';
import protocol from '../protocol.js';
import { duplex_error } from './response-error.mjs';

const { DATA, END, HEADER_BYTES } = protocol.FRAME;

// The error a framed body that ends (or fails) without its END frame destroys the duplex with.
export function truncated_error(cause) {
    return duplex_error(codes.ERR_HTTP2_DUPLEX_TRUNCATED_RESPONSE.code, { cause });
}

// Whether make() asks for a framed body. `framing`: the option (true, false or
// undefined); `base`: the page's URL, if any. A custom request header on a
// cross-origin GET makes the browser send a CORS preflight, which a server answers
// only with its `cors` option; so by default only same-origin GETs ask.
export function should_ask_framing(url, framing, base) {
    if (framing !== undefined) {
        return Boolean(framing);
    }
    if (!base) {
        // No page (Node, Deno): no preflight to fear.
        return true;
    }
    try {
        return new URL(url, base).origin === new URL(base).origin;
    } catch {
        return false;
    }
}

// The page's URL for should_ask_framing, or undefined outside a page or worker.
export function page_base() {
    if (typeof document !== 'undefined' && document.baseURI) {
        return document.baseURI;
    }
    return typeof location !== 'undefined' && location.href ? location.href : undefined;
}

// Parses the frames of a body fed to it read by read (the preamble already taken).
// on_data(bytes) gets each DATA payload or piece of one, a Uint8Array view of the
// read; its return value false means "stop reading", reported by feed().
export class FrameParser {
    constructor(on_data) {
        this._on_data = on_data;
        this._header = new Uint8Array(HEADER_BYTES);
        this._header_have = 0;
        this._type = 0;
        this._left = 0;         // payload bytes of the current frame still to come
        this.ended = false;     // END seen: nothing after it is read
    }

    // Parses one read. Returns false when on_data asked to stop reading (every
    // payload of this read was still handed on).
    feed(bytes) {
        let more = true;
        let at = 0;
        while (at < bytes.length && !this.ended) {
            if (this._left > 0) {
                const n = Math.min(this._left, bytes.length - at);
                if (this._type === DATA && this._on_data(bytes.subarray(at, at + n)) === false) {
                    more = false;
                }
                this._left -= n;
                at += n;
                continue;
            }
            const n = Math.min(HEADER_BYTES - this._header_have, bytes.length - at);
            this._header.set(bytes.subarray(at, at + n), this._header_have);
            this._header_have += n;
            at += n;
            if (this._header_have === HEADER_BYTES) {
                this._header_have = 0;
                this._start_frame();
            }
        }
        return more;
    }

    _start_frame() {
        const h = this._header;
        this._type = h[0];
        this._left = h[1] * 0x1000000 + (h[2] << 16) + (h[3] << 8) + h[4];
        if (this._type === END) {
            this.ended = true;
        }
        // PING and unknown types: their payloads are skipped by feed().
    }

    // The body has ended: an Error (ERR_HTTP2_DUPLEX_TRUNCATED_RESPONSE) unless
    // its END frame came, else null.
    finish() {
        return this.ended ? null : truncated_error();
    }
}
