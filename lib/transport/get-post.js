// @ts-check
'use strict';
// The GET+POST transport (docs/protocol.md): the duplex's writes go down one
// long GET response; its reads come from POSTs (one streaming POST, or one
// POST per write). The Rust core routes and answers every POST
// (crates/core/src/get_post.rs): this feeds it what happens to each one and
// carries out the actions it answers with.
const { getBody } = require('../native');
const { ServerDuplex } = require('./duplex');
const { answer, answer_refusal, header } = require('./answer');
const { refusal_error } = require('../errors');
const { ReplayFilter } = require('./replay');
const { DeadlineTimer } = require('./deadline');
const { FRAME, HEADER } = require('../protocol');

// What starts every GET body and ends a framed one, as the core encodes them.
const BODY = getBody();

/**
 * The header of a DATA frame before a write of `length` bytes: the core's
 * dataHeader(length), encoded here because it is on every framed write (a
 * crossing costs about 1.1 µs, this 0.06 µs). get-body.test.js checks the two agree.
 * @param {number} length
 */
function data_header(length) {
    const header = Buffer.allocUnsafe(FRAME.HEADER_BYTES);
    header[0] = FRAME.DATA;
    header.writeUInt32BE(length, 1);
    return header;
}

// A write that cannot reach a GET the client reset is not the application's
// fault: the server closes the duplex for that reset instead.
/** @param {(err?: Error | null) => void} cb */
function ignoring_error(cb) {
    return () => cb();
}

// The server's end of one duplex on this transport: reads come from the
// client's POSTs, writes go to the GET response body (`stream`).
class GetDuplex extends ServerDuplex {
    #framed;
    #on_destroyed;

    /**
     * `framed`: the GET's body is framed (the client asked), so the server's
     * end is explicit and an idle GET carries keep-alives (the core's ticks).
     * `on_destroyed(reset)` ends the GET of the destroyed duplex as the core says.
     * @param {any} stream
     * @param {import('stream').DuplexOptions} options
     * @param {boolean} framed
     * @param {(reset: Error | null) => void} on_destroyed
     */
    constructor(stream, options, framed, on_destroyed) {
        super(stream, options);
        this.#framed = framed;
        this.#on_destroyed = on_destroyed;
        // The GET body was written to since the server's last tick.
        this.written = false;
        // As 6.x, the GET stream's errors are the duplex's. One that comes
        // with the stream's destruction (a client's reset, a lost session, a
        // destroy) is not: the server decides when the stream closes what it
        // means for the duplex.
        stream.on('error', /** @param {Error} err */ err => {
            if (!stream.destroyed && !this.destroyed && this.app_listens()) {
                this.emit('error', err);
            }
        });
    }

    get framed() {
        return this.#framed;
    }

    /**
     * Writes bytes the core asked for (a keep-alive) unless the body is over.
     * @param {Buffer} data
     */
    write_body(data) {
        if (!this.stream.destroyed && !this.stream.writableEnded) {
            this.stream.write(data);
        }
    }

    // False once the client reset the GET: the server closes the duplex for that.
    #writable() {
        this.traffic_seen = true;
        this.written = true;
        return !this.stream.destroyed;
    }

    /**
     * @param {any} chunk
     * @param {BufferEncoding} encoding
     * @param {((err?: Error | null) => void) | undefined} cb
     */
    #put(chunk, encoding, cb) {
        if (this.#framed) {
            this.stream.write(data_header(Buffer.byteLength(chunk, encoding)));
        }
        this.stream.write(chunk, encoding, cb);
    }

    /**
     * @param {any} chunk
     * @param {BufferEncoding} encoding
     * @param {(err?: Error | null) => void} cb
     */
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

    /**
     * @param {Array<{ chunk: any, encoding: BufferEncoding }>} chunks
     * @param {(err?: Error | null) => void} cb
     */
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

    /** @param {(err?: Error | null) => void} cb */
    _final(cb) {
        if (this.stream.writableEnded || this.stream.destroyed) {
            return cb();
        }
        if (this.#framed) {
            this.stream.write(BODY.end);
        }
        this.stream.end(() => cb());
    }

    /** @param {Error | null} reset */
    _end_transport(reset) {
        this.#on_destroyed(reset);
    }
}

/**
 * @typedef {import('../native').Registry} Registry
 * @typedef {import('../native').PostAction} PostAction
 * @typedef {{ key: number, duplex: any, session: any, get_error?: Error | null }} Entry
 * @typedef {{
 *   entry: (key: number) => Entry | undefined,
 *   forget: (entry: Entry) => void,
 *   fail: (entry: Entry, err: Error, warn: boolean) => void,
 *   warn: (err: Error) => void
 * }} Host
 * @typedef {{
 *   key: number, stream: any, response_headers: Record<string, string>,
 *   entry: Entry | undefined, paused_full: boolean, paused_room: boolean
 * }} Post
 */

// Opens duplexes on GETs and carries out the core's answers for POSTs.
class GetPostTransport {
    #registry;
    #options;
    #host;
    /** @type {Map<number, Post>} */
    #posts = new Map();
    // The core's next deadline (POSTs of closed duplexes).
    #deadline = new DeadlineTimer(() => this.act(this.#registry.handleTimeout(performance.now())));

    /**
     * @param {Registry} registry
     * @param {import('stream').DuplexOptions} options
     * @param {Host} host the server: its duplexes by key, and what it does for a broken one
     */
    constructor(registry, options, host) {
        this.#registry = registry;
        this.#options = options;
        this.#host = host;
    }

    /**
     * A GET the core opened a duplex for: answers it and returns the duplex.
     * @param {any} stream
     * @param {Entry} entry
     * @param {{ framed: boolean, headers: Record<string, string> }} opened
     * @param {Record<string, string>} response_headers
     */
    open(stream, entry, opened, response_headers) {
        const duplex = new GetDuplex(stream, this.#options, opened.framed,
            reset => this.#end_get(entry.key, duplex, reset));
        entry.duplex = duplex;
        entry.get_error = null;
        // What the stream's destruction brings decides the duplex's fate when
        // it closes; an error merely emitted on it is forwarded (GetDuplex).
        stream.on('error', /** @param {Error} err */ err => {
            if (stream.destroyed) {
                entry.get_error ??= err;
            }
        });
        stream.on('close', () => this.#get_closed(entry));
        stream.respond({ ':status': 200, ...opened.headers, ...response_headers });
        // fetch may wait for the first byte of the body before resolving.
        stream.write(BODY.preamble);
        // Read the GET's empty body: Node closes (RST_STREAM) a server stream
        // whose body nobody read as soon as its response is written, and
        // nghttp2 then drops the DATA frames still queued (Firefox fails the
        // body). Read, it closes only once both sides are done.
        stream.resume();
        return duplex;
    }

    /**
     * A POST in the pairing scope `scope`.
     * @param {any} stream
     * @param {number} scope
     * @param {Record<string, any>} headers
     * @param {Record<string, string>} response_headers
     */
    post(stream, scope, headers, response_headers) {
        const opened = this.#registry.handlePost(scope,
            header(headers, HEADER.ID),
            header(headers, HEADER.SEQ),
            header(headers, HEADER.SINGLE),
            header(headers, HEADER.END),
            header(headers, HEADER.DESTROYED),
            header(headers, 'content-length'));
        const entry = opened.duplex === null || opened.duplex === undefined ?
            undefined : this.#host.entry(opened.duplex);
        /** @type {Post} */
        const post = {
            key: opened.post, stream, response_headers, entry, paused_full: false, paused_room: false
        };
        this.#posts.set(post.key, post);
        const { session } = stream;
        stream.once('close', () => {
            this.#posts.delete(post.key);
            this.act(this.#registry.handlePostClosed(post.key, Boolean(session?.destroyed)));
        });
        if (entry) {
            entry.duplex.traffic_seen = true;
            this.#receive(post, entry, opened.endIsFinal);
        }
        this.act(opened.actions);
    }

    /**
     * Feeds the POST's body to the core, reading no further while the
     * duplex's reader is full.
     * @param {Post} post
     * @param {Entry} entry
     * @param {boolean} end_is_final the body's end tells at once that it is whole
     */
    #receive(post, entry, end_is_final) {
        const { stream, key } = post;
        const { duplex } = entry;
        const { session } = stream;
        const replays = session ? new ReplayFilter() : null;
        stream.on('data', /** @param {Buffer} piece */ piece => {
            if (replays?.is_replay(piece)) {
                return;
            }
            // The application may destroy the duplex between two pieces.
            if (duplex.destroyed) {
                this.#host.forget(entry);
            }
            duplex.traffic_seen = true;
            const actions = this.#registry.handlePiece(key, piece);
            if (actions === null) {
                duplex.deliver(piece);
            } else {
                this.act(actions);
            }
            // While the reader is full, every POST of the duplex (early ones
            // too) stops reading: what it has not taken stays with HTTP/2
            // flow control, bounded by the session's receive window.
            if (duplex.full && !post.paused_full && !duplex.destroyed) {
                post.paused_full = true;
                stream.pause();
                duplex.when_taken(() => {
                    post.paused_full = false;
                    if (!post.paused_room) {
                        stream.resume();
                    }
                });
            }
        });
        const ended = () => {
            if (duplex.destroyed) {
                this.#host.forget(entry);
            }
            this.act(this.#registry.handleBodyEnd(key, Boolean(stream.closed), Boolean(session?.destroyed)));
        };
        // Node ends a stream's readable side on a reset as on a real end,
        // and closes it just after: unless the core says the end is final
        // (a declared length), what it was is known a turn later.
        stream.on('end', end_is_final ? ended : () => setImmediate(ended));
    }

    // The GET closed: the core says whether the duplex breaks (the client
    // reset it), is destroyed with the stream's own error, or only its
    // writable side ends.
    /** @param {Entry} entry */
    #get_closed(entry) {
        const { duplex, session, get_error } = entry;
        if (duplex.destroyed) {
            return;
        }
        // (The GET's 'finish' may come after 'close': that it was ended is
        // what counts.)
        const { stream } = duplex;
        const error_code = get_error ? String(/** @type {any} */ (get_error).code ?? '') : null;
        for (const action of this.#registry.handleGetClosed(entry.key, stream.rstCode ?? 0, error_code,
            stream.writableEnded, Boolean(session?.destroyed),
            duplex.writableFinished && duplex.readableEnded)) {
            if (action.kind === 'destroy-with-get-error') {
                duplex.destroy(get_error);
            } else {
                this.act([action]);
            }
        }
    }

    /**
     * The duplex was destroyed (`reset`: its error): the core says how its
     * GET ends. Carried out on the duplex in hand: the server may have
     * forgotten its key already.
     * @param {number} key
     * @param {GetDuplex} duplex
     * @param {Error | null} reset
     */
    #end_get(key, duplex, reset) {
        const { stream } = duplex;
        for (const action of this.#registry.handleDuplexDestroyed(key, duplex.framed,
            stream.writableEnded, stream.destroyed, Boolean(reset))) {
            if (action.kind === 'end-get') {
                stream.end();
            } else if (action.kind === 'reset-get') {
                stream.destroy(reset ?? undefined);
            }
        }
    }

    /**
     * Carries out the core's actions, in order.
     * @param {PostAction[]} actions
     */
    act(actions) {
        for (const action of actions) {
            switch (action.kind) {
            case 'deliver':
                this.#host.entry(action.duplex)?.duplex.deliver(action.data);
                break;
            case 'pause':
                this.#pause(action.post);
                break;
            case 'resume':
                this.#resume(action.post);
                break;
            case 'answer-when-taken':
                this.#answer_when_taken(action.post);
                break;
            case 'answer':
                this.#answer(action.post, action.status, action.code);
                break;
            case 'refuse':
                this.#refuse(action.post, action.refusal);
                break;
            case 'fail': {
                const entry = this.#host.entry(action.duplex);
                if (entry) {
                    this.#host.fail(entry, refusal_error(action.refusal), action.warn);
                }
                break;
            }
            case 'end':
                this.#host.entry(action.duplex)?.duplex.push(null);
                break;
            case 'write':
                this.#host.entry(action.duplex)?.duplex.write_body(action.data);
                break;
            case 'send-ack':
                // (A resumable duplex's keep-alive: the server's ticks carry it.)
                this.#host.entry(action.duplex)?.duplex.send_ack_again();
                break;
            case 'close-get':
                this.#host.entry(action.duplex)?.duplex.stream.close();
                break;
            case 'end-writable': {
                const duplex = this.#host.entry(action.duplex)?.duplex;
                if (duplex && !duplex.writableEnded) {
                    duplex.end();
                }
                break;
            }
            case 'close-post': {
                const stream = this.#posts.get(action.post)?.stream;
                if (stream && !stream.destroyed) {
                    stream.close();
                }
                break;
            }
            }
        }
        this.#deadline.arm(this.#registry.nextTimeout());
    }

    /** @param {number} key */
    #pause(key) {
        const post = this.#posts.get(key);
        if (post) {
            post.paused_room = true;
            post.stream.pause();
        }
    }

    /** @param {number} key */
    #resume(key) {
        const post = this.#posts.get(key);
        if (post) {
            post.paused_room = false;
            if (!post.paused_full) {
                post.stream.resume();
            }
        }
    }

    /** @param {number} key */
    #answer_when_taken(key) {
        const post = this.#posts.get(key);
        if (!post) {
            return;
        }
        const respond = () => answer(post.stream, 200, post.response_headers);
        const duplex = post.entry?.duplex;
        if (duplex && !duplex.destroyed) {
            duplex.when_taken(respond);
        } else {
            respond();
        }
    }

    /**
     * @param {number} key
     * @param {number} status
     * @param {string | null | undefined} code
     */
    #answer(key, status, code) {
        const post = this.#posts.get(key);
        if (post) {
            answer(post.stream, status, code ?
                { ...post.response_headers, [HEADER.ERROR]: code } : post.response_headers);
        }
    }

    /**
     * @param {number} key
     * @param {import('../native').Refusal} refusal
     */
    #refuse(key, refusal) {
        const post = this.#posts.get(key);
        const err = refusal_error(refusal);
        if (post) {
            answer_refusal(post.stream, err, post.response_headers);
        }
        if (!refusal.quiet) {
            this.#host.warn(err);
        }
    }
}

module.exports = { GetDuplex, GetPostTransport, data_header };
