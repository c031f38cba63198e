'use strict';
const { EventEmitter } = require('events');
const { constants } = require('http2');
const { Registry, PIECE_DELIVER, PIECE_REFUSED, checkOption } = require('./native');
const { ServerDuplex } = require('./server-duplex');
const { duplex_error, refusal_error } = require('./errors');

const EXPOSED_HEADERS = [
    'http2-duplex-id',
    'http2-duplex-version',
    'http2-duplex-window',
    'http2-duplex-window-bytes',
    'http2-duplex-error'
].join(', ');

// Options of ours, as opposed to the Duplex options passed to each duplex.
const LIMIT_OPTIONS = {
    max_duplexes_per_session: 'maxDuplexesPerSession',
    window: 'window',
    window_bytes: 'windowBytes',
    max_held_bytes_per_session: 'maxHeldBytesPerSession',
    max_write_bytes: 'maxWriteBytes'
};

// HTTP/2 receive windows of the sessions this server sees. Node's default, 64 KiB
// for the session and each stream, lets a client send only that much per round
// trip, which caps pipelined write POSTs and streaming uploads.
const RECEIVE_WINDOWS = {
    session_window: 8 * 1024 * 1024,
    stream_window: 1024 * 1024
};

// Streams handed to own_stream (6.x API): their errors are the server's to handle.
const owned_streams = new WeakSet();
const tracked_sessions = new WeakSet();

function ignore() {}

// Every numeric option is checked once, here, by the core's table.
function check_options(options) {
    for (const [name, value] of Object.entries(options)) {
        if (value === undefined) {
            continue;
        }
        const problem = typeof value === 'number' ?
            checkOption(name, value) :
            (checkOption(name, NaN) && `option ${name} must be a number, got ${typeof value}`);
        if (problem) {
            throw Object.assign(new RangeError(problem), {
                code: 'ERR_HTTP2_DUPLEX_INVALID_OPTION'
            });
        }
    }
}

function declared_length(headers) {
    const value = headers['content-length'];
    return /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}

function header(headers, name) {
    const value = headers[name];
    return value === undefined ? undefined : String(value);
}

// Answers a request unless its stream is already gone (the client may reset
// any stream at any time; that must never throw).
function answer(stream, status, response_headers) {
    if (stream.destroyed || stream.closed || stream.headersSent) {
        return;
    }
    stream.respond({ ':status': status, ...response_headers }, { endStream: true });
}

class Http2DuplexServer extends EventEmitter {
    #session_listener = null;
    #registry;
    // duplexes Map → its pairing scope: 6.x pairs a POST with the duplexes of
    // the Map its session (or the caller of process_stream) passes.
    #scopes = new WeakMap();

    constructor(http2_server, path, options) {
        super();
        this.http2_server = http2_server;
        this.path = path;
        this.options = {
            close_timeout: 1000,
            autoDestroy: true,
            idle_timeout: 0,
            ...RECEIVE_WINDOWS,
            ...options
        };
        check_options(this.options);
        const limits = {};
        for (const [option, limit] of Object.entries(LIMIT_OPTIONS)) {
            if (this.options[option] !== undefined) {
                limits[limit] = this.options[option];
            }
        }
        this.#registry = new Registry(limits);
        this.limits = this.#registry.limits();
        this.sessions = new Set();
        this.common_headers = {
            'cache-control': 'max-age=0, no-cache, must-revalidate, proxy-revalidate'
        };
        this.attach();
    }

    attach() {
        if (!this.#session_listener) {
            this.#session_listener = session => this.process_session(session);
            this.http2_server.on('session', this.#session_listener);
        }
    }

    detach() {
        if (!this.#session_listener) {
            return;
        }
        this.http2_server.removeListener('session', this.#session_listener);
        this.#session_listener = null;
        for (const session of this.sessions) {
            session.removeAllListeners('stream');
            this.destroy(session);
        }
    }

    // Counts kept by the Rust core: open sessions, duplexes, bytes held out of
    // order, write POSTs in flight.
    stats() {
        return this.#registry.stats();
    }

    // 6.x API: serve the duplex path on a session.
    async process_session(session) {
        const duplexes = new Map();
        this.#scope_of(duplexes, session);
        session.on('stream', (stream, headers, flags, raw_headers) => {
            this.process_stream(stream, headers, flags, raw_headers, duplexes,
                { ...this.common_headers });
        });
    }

    // 6.x API: the server handles this stream's errors; answering or closing
    // it once the client has reset it never throws.
    own_stream(stream) {
        if (!owned_streams.has(stream)) {
            owned_streams.add(stream);
            // What a stream's failure means is decided where it closes.
            stream.on('error', ignore);
        }
    }

    // 6.x API: resolves to false (after 'unhandled_stream') for another path.
    async process_stream(stream, headers, flags, raw_headers, duplexes, response_headers) {
        if (headers[':path'] !== this.path) {
            this.emit('unhandled_stream', stream, headers, flags, raw_headers,
                duplexes, response_headers);
            return false;
        }
        this.own_stream(stream);
        if (!stream.session) {
            return true;    // reset before we got to it
        }
        const method = headers[':method'];
        if (method === 'GET') {
            await this.new_stream(stream, headers, flags, raw_headers, duplexes, response_headers);
        } else if (method === 'POST') {
            this.#post(this.#scope_of(duplexes, stream.session), stream, headers, response_headers);
        } else {
            const err = duplex_error('ERR_HTTP2_DUPLEX_METHOD_NOT_ALLOWED',
                `unknown method: ${method}`);
            this.#answer_error(stream, err, response_headers);
            this.emit('warning', err);
        }
        return true;
    }

    // 6.x API: opens a duplex on a GET stream; resolves to it (undefined when refused).
    async new_stream(stream, headers, flags, raw_headers, duplexes, response_headers) {
        this.own_stream(stream);
        const scope = this.#scope_of(duplexes, stream.session);
        const opened = this.#registry.openDuplex(scope.key);
        if (opened.kind === 'refused') {
            this.#refuse(scope, stream, opened, response_headers);
            return undefined;
        }
        const { key, id } = opened;
        const duplex = new ServerDuplex(stream, this.options);
        // posts: seq → POST waiting for its answer; open_posts: every POST not yet closed.
        const entry = {
            id, duplex, session: stream.session, posts: new Map(), open_posts: new Set(),
            end_post: null, cut: false, get_error: null, closing_get: false
        };
        duplex.idle_timer = this.#idle_timer(entry);
        scope.entries.set(key, entry);
        duplexes.set(id, duplex);

        stream.on('error', err => {
            entry.get_error ??= err;
        });
        stream.on('close', () => this.#get_closed(entry));
        duplex.on('close', () => {
            clearTimeout(duplex.idle_timer);
            for (const post of entry.open_posts) {
                this.#close_later(post);
            }
            this.#registry.closeDuplex(key);
            scope.entries.delete(key);
            duplexes.delete(id);
            // An ended GET finishes on its own; closing it now could reset
            // it before its last DATA frame has gone out.
            if (!stream.writableEnded && !stream.closed && !stream.destroyed) {
                stream.close();
            }
        });

        stream.respond({
            ':status': 200,
            'http2-duplex-id': id,
            'http2-duplex-version': '2',
            'http2-duplex-window': String(this.limits.window),
            'http2-duplex-window-bytes': String(this.limits.windowBytes),
            'access-control-expose-headers': EXPOSED_HEADERS,
            'content-type': 'application/octet-stream',
            ...response_headers
        });
        // fetch may wait for the first byte of the body before resolving.
        stream.write('a');
        // Read the GET's empty body: Node closes (RST_STREAM) a server stream
        // whose body nobody read as soon as its response is written, and
        // nghttp2 then drops the DATA frames still queued (Firefox fails the
        // body). Read, it closes only once both sides are done.
        stream.resume();
        this.emit('duplex', duplex, id, headers, flags, raw_headers, duplexes,
            response_headers);
        return duplex;
    }

    // 6.x API: destroys a session or stream; what it throws becomes a warning.
    destroy(obj) {
        try {
            obj.destroy();
        } catch (err) {
            this.emit('warning', err);
        }
    }

    // The pairing scope of a duplexes Map, opened on first use and closed
    // with the last session that used it.
    #scope_of(duplexes, session) {
        let scope = this.#scopes.get(duplexes);
        if (!scope) {
            scope = {
                key: this.#registry.openSession(), duplexes, entries: new Map(),
                sessions: new Set()
            };
            this.#scopes.set(duplexes, scope);
        }
        if (!scope.sessions.has(session)) {
            scope.sessions.add(session);
            this.#track_session(session);
            session.once('close', () => {
                scope.sessions.delete(session);
                if (scope.sessions.size === 0) {
                    this.#close_scope(scope, session);
                }
            });
        }
        return scope;
    }

    #track_session(session) {
        if (tracked_sessions.has(session)) {
            return;
        }
        tracked_sessions.add(session);
        this.sessions.add(session);
        this.#open_receive_windows(session);
        // A GOAWAY with an error code, or a protocol error: what it means for
        // each duplex is decided when the session closes.
        session.on('error', () => {
            session.http2_duplex_failed = true;
        });
        session.on('goaway', code => {
            if (code !== constants.NGHTTP2_NO_ERROR) {
                session.http2_duplex_failed = true;
            }
        });
        session.once('close', () => this.sessions.delete(session));
    }

    // A closed session ends its duplexes as 6.x does, unless it broke one:
    // a POST body cut short, or the session failed.
    #close_scope(scope, session) {
        for (const key of this.#registry.closeSession(scope.key)) {
            const entry = scope.entries.get(key);
            scope.entries.delete(key);
            scope.duplexes.delete(entry.id);
            if (entry.cut || session.http2_duplex_failed) {
                this.#fail(entry, duplex_error('ERR_HTTP2_DUPLEX_SESSION_CLOSED'));
            } else {
                entry.duplex.push(null);
            }
        }
    }

    // Raises the windows only, never lowers what the HTTP/2 server set. Larger
    // windows let a client send more before it waits; what the server buffers
    // per session stays bounded by session_window.
    #open_receive_windows(session) {
        const { session_window, stream_window } = this.options;
        try {
            if (session_window > (session.state.effectiveLocalWindowSize || 0)) {
                session.setLocalWindowSize(session_window);
            }
            if (stream_window > session.localSettings.initialWindowSize) {
                session.settings({ initialWindowSize: stream_window });
            }
        } catch (err) {
            this.emit('warning', err);
        }
    }

    // The GET closed. A client reset (any code, CANCEL included) before both
    // sides were done breaks the duplex; otherwise only its writable side ends.
    #get_closed(entry) {
        const { duplex, session, get_error } = entry;
        if (duplex.destroyed) {
            return;
        }
        // The application's own error on the GET keeps Node's semantics.
        if (get_error && get_error.code !== 'ERR_HTTP2_STREAM_ERROR' && !session.destroyed) {
            duplex.destroy(get_error);
            return;
        }
        // A GET that closed before the server ended its response was reset,
        // whatever the code; the server closes it itself only for 6.x's
        // `http2-duplex-destroyed` end POST.
        const { stream } = duplex;
        const reset = stream.rstCode !== constants.NGHTTP2_NO_ERROR ||
            (!stream.writableFinished && !entry.closing_get);
        if (reset && !session.destroyed && !(duplex.writableFinished && duplex.readableEnded)) {
            this.#fail(entry, duplex_error('ERR_HTTP2_DUPLEX_CLIENT_RESET',
                `the client reset the duplex's GET (HTTP/2 code ${stream.rstCode})`));
        } else if (!duplex.writableEnded) {
            duplex.end();
        }
    }

    #answer_error(stream, err, response_headers) {
        answer(stream, err.status, { ...response_headers, 'http2-duplex-error': err.code });
        // Stop the upload of a refused body; the answer above is already final.
        if (!stream.destroyed) {
            stream.close(constants.NGHTTP2_NO_ERROR);
        }
    }

    // Answers a refusal of the core; breaks the duplex it names as fatal.
    #refuse(scope, stream, rejection, response_headers) {
        const err = refusal_error(rejection);
        if (err.status !== undefined) {
            this.#answer_error(stream, err, response_headers);
        }
        if (!rejection.quiet) {
            this.emit('warning', err);
        }
        const entry = rejection.fatalKey == null ? undefined : scope.entries.get(rejection.fatalKey);
        if (entry) {
            this.#fail(entry, err, false);
        }
    }

    // A client broke the duplex: warn, and destroy it ('error' only where the
    // application listens).
    #fail(entry, err, warn = true) {
        if (entry.duplex.destroyed) {
            return;
        }
        if (warn) {
            this.emit('warning', err);
        }
        entry.duplex.fail(err);
    }

    #post(scope, stream, headers, response_headers) {
        const route = this.#registry.routePost(scope.key,
            header(headers, 'http2-duplex-id'),
            header(headers, 'http2-duplex-seq'),
            header(headers, 'http2-duplex-single'),
            header(headers, 'http2-duplex-end'),
            header(headers, 'http2-duplex-destroyed'));
        if (route.kind === 'refused') {
            this.#refuse(scope, stream, route, response_headers);
            return;
        }
        const entry = scope.entries.get(route.key);
        entry.duplex.idle_timer?.refresh();
        const post = { stream, response_headers, answered: false, done: false };
        entry.open_posts.add(post);
        stream.once('close', () => entry.open_posts.delete(post));
        if (route.kind === 'end') {
            post.done = true;
            stream.resume();
            if (route.destroyed) {
                entry.closing_get = true;
                entry.duplex.stream.close();
            }
            if (route.endedNow) {
                this.#end(entry, post);
            } else {
                entry.end_post = post;
            }
            return;
        }
        entry.posts.set(route.seq, post);
        this.#receive(scope, entry, post, route, headers);
    }

    // Feeds a write or streaming POST's body through the core, reading no
    // further while the duplex's reader is full.
    #receive(scope, entry, post, { key, kind, seq }, headers) {
        const { duplex, session } = entry;
        const { stream } = post;
        const declared = kind === 'write' ? declared_length(headers) : undefined;
        let received = 0;
        let paused = false;
        const resume = () => {
            paused = false;
            stream.resume();
        };
        const refuse = rejection => {
            post.done = true;
            this.#refuse(scope, stream, rejection, post.response_headers);
        };
        stream.on('data', piece => {
            // A destroyed duplex's open POSTs are answered by its close.
            if (post.done || duplex.destroyed) {
                return;
            }
            duplex.idle_timer?.refresh();
            received += piece.length;
            const result = this.#registry.piece(key, seq, piece);
            if (result === PIECE_DELIVER) {
                duplex.deliver(piece);
            } else if (result === PIECE_REFUSED) {
                return refuse(this.#registry.takeRejection());
            }
            // While the reader is full, every POST of the duplex (early ones
            // too) stops reading: what it has not taken stays with HTTP/2
            // flow control, bounded by the session's receive window.
            if (duplex.full && !paused) {
                paused = true;
                stream.pause();
                duplex.when_taken(resume);
            }
        });
        // Node ends a stream's readable side on a reset as on a real end. A session that went away is judged
        // when it closes.
        const finish = reset => {
            if (post.done || duplex.destroyed) {
                return;
            }
            if (session.destroyed) {
                entry.cut = true;
                return;
            }
            post.done = true;
            const completion = this.#registry.finishBody(key, seq, reset, received, declared);
            if (completion.kind === 'refused') {
                return refuse(completion);
            }
            for (const chunk of completion.released) {
                duplex.deliver(chunk);
            }
            for (const answered of completion.answered) {
                const taken = entry.posts.get(answered);
                entry.posts.delete(answered);
                duplex.when_taken(() => this.#respond(taken));
            }
            if (completion.ended) {
                this.#end(entry, entry.end_post);
            }
        };
        // After a real END_STREAM the stream is still open, awaiting our answer;
        // after a reset (any code, NO_ERROR included) it is already closed.
        stream.on('end', () => finish(stream.closed));
        // Closed without its end (reset while paused, or cut): not whole.
        stream.on('close', () => finish(true));
    }

    // 200: every byte of the POST was taken into the duplex.
    #respond(post) {
        if (post && !post.answered) {
            post.answered = true;
            answer(post.stream, 200, post.response_headers);
        }
    }

    // Destroys a duplex that has seen no POST and no server write for
    // idle_timeout ms (off when 0).
    #idle_timer(entry) {
        const ms = this.options.idle_timeout;
        if (!(ms > 0)) {
            return null;
        }
        return setTimeout(() => this.#fail(entry, duplex_error('ERR_HTTP2_DUPLEX_IDLE_TIMEOUT',
            `idle timeout: no traffic on the duplex for ${ms} ms`)), ms);
    }

    #end(entry, post) {
        entry.duplex.push(null);
        this.#respond(post);
    }

    // When the duplex closes, a POST still open was not taken whole: it is
    // answered 410 and, after close_timeout, closed.
    #close_later(post) {
        const { stream } = post;
        if (!post.answered) {
            post.answered = true;
            answer(stream, 410, {
                ...post.response_headers, 'http2-duplex-error': 'ERR_HTTP2_DUPLEX_DESTROYED'
            });
        }
        const timer = setTimeout(() => {
            if (!stream.destroyed) {
                stream.close();
            }
        }, this.options.close_timeout);
        stream.once('close', () => clearTimeout(timer));
    }
}

module.exports = { Http2DuplexServer };
