// Browser client of http2-duplex: a Node-style Duplex over HTTP/2. With transport
// 'websocket' both directions ride one WebSocket opened as an RFC 8441 extended
// CONNECT (docs/websocket.md); on the fetch paths reads are the body of one long
// GET and writes are one streaming POST where the browser can stream request
// bodies, else one POST per write (docs/protocol.md).
import { Duplex } from 'readable-stream';
import './next-tick.mjs';
import { Buffer } from 'buffer';
import { ResponseError, response_error, no_id_error } from './response-error.mjs';
import { split_options, request_init, plan_transport, invalid_option, carrier_options } from './options.mjs';
import { StreamUpload, request_streaming_supported } from './stream-upload.mjs';
import { PostUpload } from './post-upload.mjs';
import { WebSocketDuplex, open_websocket, handshake, websocket_url } from './websocket-duplex.mjs';
import { ResumableWebSocketDuplex } from './websocket-resume.mjs';
import { tunnel_class } from './tunnel.mjs';
import { FrameParser, truncated_error, should_ask_framing, page_base } from './frames.mjs';
import protocol from '../protocol.js';

export { ResponseError };

const { HEADER, VALUE, DEFAULTS, WAIT, WEBSOCKET } = protocol;

function ignore() {}

// readable-stream defers a write callback that fires inside _write with
// process.nextTick. next-tick.mjs makes that a microtask, but a page whose bundle
// holds a second copy of the process shim runs it as setTimeout(0), which Chromium
// clamps to 4 ms once nested: a writer waiting for 'drain' got one write per 4 ms.
// A callback run from a microtask is never deferred that way.
function from_microtask(cb) {
    return err => queueMicrotask(() => cb(err));
}

function seq_header(seq) {
    return seq === undefined ? {} : { [HEADER.SEQ]: String(seq) };
}

function header_number(headers, name, fallback) {
    const value = Number(headers.get(name));
    return Number.isSafeInteger(value) && value > 0 ? value : fallback;
}

// `tunnel`: the subprotocols its GET asks a WebSocket tunnel of (tunnel.mjs), if it
// is a tunnel's carrier; the server's answer is then `tunnel_protocol`.
class FetchDuplex extends Duplex {
    constructor(url, options, tunnel) {
        const { client, duplex, fetch_init } = split_options(options, {
            disable_request_streaming: false,
            fetch: (...args) => fetch(...args),
            ResponseError,
            framing: undefined,
            transport: 'auto',
            WebSocket: undefined,
            resume: false
        });
        super(duplex);
        this.url = url;
        // Resume on the fetch paths is a tunnel's (make_tunnel).
        this.resumable = false;
        this.tunnel = false;
        this.tunnel_protocol = null;
        this._tunnel_offer = tunnel;
        this._client = client;
        this._fetch_init = fetch_init;
        this._abort_read = new AbortController();
        this._abort_write = new AbortController();
        this._reader = null;
        this._preamble_left = VALUE.PREAMBLE.length;    // the preamble only makes fetch resolve early
        this._frames = null;        // the GET body's FrameParser when the server frames it
        this._reading = false;
        this._upload = null;
        this._ended_server = false; // our end reached the server
        this._holding_end = false;  // our end is on its way: the GET's end waits for 'finish'
        this._end_held = false;     // the GET has ended while holding
    }

    async init() {
        this._answered(await this._get());
    }

    _get() {
        const ask = should_ask_framing(this.url, this._client.framing, page_base());
        return this._request({ signal: this._abort_read.signal }, {
            ...(ask ? { [HEADER.FRAMING]: VALUE.FRAMING_VERSION } : {}),
            ...(this._tunnel_offer ? { [HEADER.TUNNEL]: this._tunnel_offer } : {})
        });
    }

    // Takes the GET of `carrier` (a tunnel's that the server answered as a plain duplex).
    adopt(carrier, response) {
        this._abort_read = carrier._abort_read;
        this._answered(response);
    }

    _answered(response) {
        this._reader = response.body.getReader();
        const id = response.headers.get(HEADER.ID);
        if (!id) {
            // Not a duplex endpoint: make() destroys us, which cancels the body.
            throw no_id_error(response);
        }
        this.id = id;
        if (this._tunnel_offer) {
            this.tunnel_protocol = response.headers.get(HEADER.TUNNEL);
        }
        if (response.headers.get(HEADER.FRAMING) === VALUE.FRAMING_VERSION) {
            // The answer says how its body is: a 6.x server never frames, nor answers the header.
            this._frames = new FrameParser(bytes => this.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)));
        }
        this._upload = this._make_upload(response.headers);
    }

    _make_upload(headers) {
        const { transport, disable_request_streaming } = this._client;
        if (transport !== 'per-write' && !disable_request_streaming && request_streaming_supported()) {
            this.transport = 'streaming';
            return new StreamUpload({
                start: body => this._request({
                    method: 'POST',
                    body,
                    duplex: 'half',
                    signal: this._abort_write.signal
                }, this._post_headers({ [HEADER.SINGLE]: VALUE.TRUE })),
                // The server closed the duplex: nothing more will be taken.
                on_early_answer: () => this.end(),
                on_error: err => this.destroy(err)
            });
        }
        const pipelined = Number(headers.get(HEADER.VERSION)) >= VALUE.PIPELINED_VERSION;
        this.transport = 'per-write';
        return new PostUpload({
            pipelined,
            window: pipelined ? header_number(headers, HEADER.WINDOW, DEFAULTS.WINDOW) : 1,
            window_bytes: pipelined ?
                header_number(headers, HEADER.WINDOW_BYTES, DEFAULTS.WINDOW_BYTES) : Infinity,
            send: (body, seq) => this._post(body, seq_header(seq), this._abort_write.signal),
            send_end: count => this._send_end(count),
            on_error: err => this.destroy(err)
        });
    }

    // fetch with the user's options; rejects with ResponseError unless 2xx.
    async _request(init, headers) {
        const response = await this._client.fetch(this.url,
            request_init(this._fetch_init, init, headers));
        if (!response.ok) {
            throw await response_error(this._client.ResponseError, response);
        }
        return response;
    }

    // Resolves as soon as the answer's status is known. Waiting for its (empty) body
    // too let the GET's end overtake the end POST's answer, so 'end' came before 'finish'.
    async _post(body, headers, signal) {
        const response = await this._request({ method: 'POST', body, signal },
            this._post_headers(headers));
        response.arrayBuffer().catch(ignore);
    }

    // The end POST (per-write modes). From when it goes out until 'finish', the GET's
    // end is held: the server's end may be its reply to ours, and a browser can deliver
    // the GET's end before the end POST's answer (Firefox reorders two requests' events).
    async _send_end(count) {
        this._holding_end = true;
        await this._post(undefined, {
            [HEADER.END]: VALUE.TRUE,
            ...seq_header(count)
        }, this._abort_write.signal);
    }

    _release_end() {
        this._holding_end = false;
        if (this._end_held && !this.destroyed) {
            this._end_held = false;
            this.push(null);
        }
    }

    _post_headers(headers) {
        return {
            [HEADER.ID]: this.id,
            'content-type': VALUE.CONTENT_TYPE,
            ...headers
        };
    }

    _read() {
        // After the END frame, _drain_body reads what is left.
        if (!this._reading && !(this._frames && this._frames.ended)) {
            this._pump().catch(err => {
                // A read we aborted ourselves (destroy) is not news.
                if (!this.destroyed) {
                    this.destroy(err);
                }
            });
        }
    }

    // Push the GET body until the readable side is full; _read resumes it.
    async _pump() {
        this._reading = true;
        try {
            for (;;) {
                const value = await this._read_body();
                if (value === null || this.destroyed) {
                    return;
                }
                const skip = Math.min(this._preamble_left, value.length);
                this._preamble_left -= skip;
                if (value.length > skip && !this._take(value.subarray(skip))) {
                    return;
                }
            }
        } finally {
            this._reading = false;
        }
    }

    // The next read of the GET body; null once it has ended (and the end was handled).
    async _read_body() {
        let read;
        try {
            read = await this._reader.read();
        } catch (err) {
            // A framed body cut short is a truncated answer, whatever cut it.
            throw this._frames && !this._frames.ended ? truncated_error(err) : err;
        }
        if (this.destroyed) {
            return null;
        }
        if (read.done) {
            const err = this._frames && this._frames.finish();
            if (err) {
                this.destroy(err);
            } else if (!this._frames) {
                this._push_end();
            }
            return null;
        }
        return read.value;
    }

    // Hands one read (without the preamble) to the readable side; false: it is full.
    _take(bytes) {
        if (!this._frames) {
            return this.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
        }
        if (this._frames.ended) {
            return true;    // after END: nothing more is data
        }
        const more = this._frames.feed(bytes);
        if (this._frames.ended) {
            this._push_end();
            // Read on to the body's end, so the GET completes rather than being cancelled.
            this._drain_body();
            return false;
        }
        return more;
    }

    // After END: reads the rest of the body, ignoring it; a failure now is no one's news.
    _drain_body() {
        const drain = () => this._reader.read().then(({ done }) => {
            if (!done && !this.destroyed) {
                return drain();
            }
            return undefined;
        });
        drain().catch(ignore);
    }

    _write(chunk, encoding, cb) {
        this._upload.write(chunk, from_microtask(cb));
    }

    _writev(chunks, cb) {
        // The upload coalesces (per write) or streams them as they are, so
        // concatenating here would only copy every byte once more.
        const last = chunks.length - 1;
        chunks.forEach(({ chunk }, i) => this._upload.write(chunk, i === last ? from_microtask(cb) : ignore));
    }

    // The GET's body has ended (see _send_end).
    _push_end() {
        if (this._holding_end) {
            this._end_held = true;
        } else {
            this.push(null);
        }
    }

    // 'finish' only once the server has taken every byte written.
    _final(cb) {
        // Streaming too: the GET's end may be the server's reply to our end, and
        // can be read before the streaming POST's answer.
        this._holding_end = true;
        this._upload.end().then(() => {
            this._ended_server = true;
            cb();
            // cb() has queued 'finish'; an 'end' released now is queued after it.
            this._release_end();
        }, err => {
            this._holding_end = false;
            cb(err);
        });
    }

    _destroy(err, cb) {
        // The upload learns of the destroy before we abort its requests, so that
        // their rejections (our own aborts) are not reported as failures.
        if (this._upload) {
            this._upload.destroy(err);
        }
        if (this._reader) {
            this._reader.cancel().catch(ignore);
        }
        this._abort_read.abort();
        this._abort_write.abort();
        if (this.id !== undefined && !this._ended_server) {
            // Tell the server, without the aborted signal; no one to report failure to.
            this._post(undefined, {
                [HEADER.END]: VALUE.TRUE,
                [HEADER.DESTROYED]: VALUE.TRUE,
                ...seq_header(this._upload && this._upload.end_seq)
            }).catch(ignore);
        }
        cb(err);
    }
}

// Transport 'auto' tries a WebSocket first (when every option means the same there),
// then the fetch paths.
const AUTO_WEBSOCKET = true;

// 'auto': how long a WebSocket may take to open before the fetch paths are used:
// short while none has opened to the URL (a hop that swallows them), long once
// one has (Chromium opens a host's WebSockets one at a time: a burst queues).
const AUTO_OPEN_TIMEOUT_MS = 3000;
const AUTO_OPEN_TIMEOUT_KNOWN_MS = 30000;
// 'auto': after a WebSocket to a URL failed to open, the fetch paths are used at once
// for WAIT.RETRY_AFTER_MS (Firefox delays each new attempt after a failure, RFC 6455
// section 7.2.3).
const ws_failed = new Map();    // websocket URL → when its WebSocket failed to open
const ws_probes = new Map();    // websocket URL → the first attempt still under way
const ws_opened = new Set();    // websocket URLs a WebSocket has opened to

// The WebSocket duplex, or null when none can open (and 'auto' falls back).
async function make_websocket(url, options, transport) {
    if (transport !== 'auto') {
        return make_websocket_now(url, options, transport);
    }
    const key = websocket_url(url);
    // A burst of make() calls waits for the first attempt: through a hop that
    // does not carry WebSockets, one is refused rather than one each.
    while (ws_probes.has(key)) {
        await ws_probes.get(key);
    }
    const failed = ws_failed.get(key);
    if (failed !== undefined && Date.now() - failed < WAIT.RETRY_AFTER_MS) {
        return null;
    }
    const probe = !ws_opened.has(key);
    const attempt = make_websocket_now(url, options, transport,
        probe ? AUTO_OPEN_TIMEOUT_MS : AUTO_OPEN_TIMEOUT_KNOWN_MS);
    if (probe) {
        ws_probes.set(key, attempt.catch(() => null));
    }
    try {
        const made = await attempt;
        if (made) {
            ws_failed.delete(key);
            ws_opened.add(key);
        } else {
            ws_failed.set(key, Date.now());
            ws_opened.delete(key);
        }
        return made;
    } finally {
        if (probe) {
            ws_probes.delete(key);
        }
    }
}

async function make_websocket_now(url, options, transport, timeout_ms) {
    const { client, duplex } = split_options(options, {});
    const WebSocketClass = client.WebSocket || globalThis.WebSocket;
    if (typeof WebSocketClass !== 'function') {
        if (transport === 'websocket') {
            throw invalid_option("transport 'websocket': no WebSocket in this environment");
        }
        return null;
    }
    try {
        const opened = await open_websocket(url, WebSocketClass, options?.signal, timeout_ms, client.resume === true);
        // A server without resume selects http2-duplex.1: a duplex as without the option.
        if (!opened.resumable) {
            return new WebSocketDuplex(url, opened, duplex);
        }
        if (transport === 'auto') {
            opened.fallback = tunnel_class(carrier_opener(options));
        }
        return new ResumableWebSocketDuplex(url, opened, duplex);
    } catch (err) {
        if (transport === 'websocket' || options?.signal?.aborted) {
            throw err;
        }
        return null;
    }
}

// A tunnel's carriers (tunnel.mjs) for a duplex made with `options`: they honour
// its fetch options and transport.
function carrier_opener(options) {
    const init = carrier_options(options);
    return (url, offered) => make_fetch(url, init, offered);
}

// Resume on the fetch paths: http2-duplex.2 through a tunnel. A server that answers
// the carrier's GET as a plain duplex (no resume) gets that, as without the option.
async function make_tunnel(url, options) {
    const carrier = new FetchDuplex(url, carrier_options(options), WEBSOCKET.RESUME_SUBPROTOCOL);
    let response;
    try {
        response = await carrier._get();
    } catch (err) {
        carrier.destroy();
        throw err;
    }
    const tunnelled = response.headers.get(HEADER.TUNNEL) === WEBSOCKET.RESUME_SUBPROTOCOL;
    const taker = tunnelled ? carrier : new FetchDuplex(url, options);
    try {
        if (tunnelled) {
            carrier._answered(response);
        } else {
            taker.adopt(carrier, response);
        }
    } catch (err) {
        taker.destroy();
        throw err;
    }
    if (!tunnelled) {
        return taker;
    }
    const Tunnel = tunnel_class(carrier_opener(options));
    const opened = await handshake(new Tunnel(websocket_url(url), WEBSOCKET.RESUME_SUBPROTOCOL, carrier),
        options?.signal, undefined, true);
    const { duplex } = split_options(options, {});
    return new ResumableWebSocketDuplex(url, opened, duplex);
}

async function make_fetch(url, options, tunnel) {
    const duplex = new FetchDuplex(url, options, tunnel);
    try {
        await duplex.init();
    } catch (err) {
        duplex.destroy();
        throw err;
    }
    return duplex;
}

export default async function make(url, options) {
    const { transport, websocket } = plan_transport(options, request_streaming_supported);
    if (websocket && (transport === 'websocket' || AUTO_WEBSOCKET)) {
        const ws_duplex = await make_websocket(url, options, transport);
        if (ws_duplex) {
            return ws_duplex;
        }
    }
    return options?.resume === true ? make_tunnel(url, options) : make_fetch(url, options);
}
