'use strict';
const { EventEmitter } = require('events');
const { constants } = require('http2');
const { Registry, PIECE_DELIVER } = require('./native');
const { ServerDuplex } = require('./server-duplex');

const COMMON_HEADERS = {
    'cache-control': 'max-age=0, no-cache, must-revalidate, proxy-revalidate'
};

const EXPOSED_HEADERS = [
    'http2-duplex-id',
    'http2-duplex-version',
    'http2-duplex-window',
    'http2-duplex-window-bytes'
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
const MAX_WINDOW = 2 ** 31 - 1;

function check_window(name, value) {
    if (!Number.isSafeInteger(value) || value < 0 || value > MAX_WINDOW) {
        throw new RangeError(`${name} must be an integer from 0 to ${MAX_WINDOW} bytes, got ${value}`);
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
        for (const name of Object.keys(RECEIVE_WINDOWS)) {
            check_window(name, this.options[name]);
        }
        const limits = {};
        for (const [option, limit] of Object.entries(LIMIT_OPTIONS)) {
            if (this.options[option] !== undefined) {
                limits[limit] = this.options[option];
            }
        }
        this.#registry = new Registry(limits);
        this.limits = this.#registry.limits();
        this.sessions = new Set();
        this.attach();
    }

    attach() {
        if (!this.#session_listener) {
            this.#session_listener = session => this.#on_session(session);
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
            try {
                session.destroy();
            } catch (err) {
                this.emit('warning', err);
            }
        }
    }

    // Counts kept by the Rust core: open sessions, duplexes, bytes held out of
    // order, write POSTs in flight.
    stats() {
        return this.#registry.stats();
    }

    #on_session(session) {
        const scope = this.#registry.openSession();
        // id → duplex, as the original exposes it to event listeners.
        const duplexes = new Map();
        const entries = new Map();
        this.sessions.add(session);
        this.#open_receive_windows(session);
        session.on('close', () => {
            this.sessions.delete(session);
            for (const key of this.#registry.closeSession(scope)) {
                const entry = entries.get(key);
                entries.delete(key);
                duplexes.delete(entry.id);
                entry.duplex.push(null);
            }
        });
        // Errors of the session reach its streams (and so the duplexes).
        session.on('error', () => {});
        session.on('stream', (stream, headers, flags, raw_headers) => {
            this.#on_stream({
                stream, headers, flags, raw_headers, session, scope, duplexes, entries
            });
        });
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

    #on_stream(request) {
        const { stream, headers, flags, raw_headers, duplexes } = request;
        const response_headers = { ...COMMON_HEADERS };
        if (headers[':path'] !== this.path) {
            this.emit('unhandled_stream', stream, headers, flags, raw_headers,
                duplexes, response_headers);
            return;
        }
        // A client reset is ordinary here; errors that matter reach the duplex.
        stream.on('error', () => {});
        const method = headers[':method'];
        if (method === 'GET') {
            this.#open(request, response_headers);
        } else if (method === 'POST') {
            this.#post(request, response_headers);
        } else {
            answer(stream, 405, response_headers);
            this.emit('warning', new Error(`unknown method: ${method}`));
        }
    }

    #reject(stream, rejection, response_headers) {
        answer(stream, rejection.status, response_headers);
        // Stop the upload of a refused body; the answer above is already final.
        if (!stream.destroyed) {
            stream.close(constants.NGHTTP2_NO_ERROR);
        }
        this.emit('warning', Object.assign(new Error(rejection.message), {
            status: rejection.status
        }));
    }

    #open({ stream, headers, flags, raw_headers, scope, duplexes, entries },
        response_headers) {
        const opened = this.#registry.openDuplex(scope);
        if (opened.status !== undefined) {
            this.#reject(stream, opened, response_headers);
            return;
        }
        const { key, id } = opened;
        const duplex = new ServerDuplex(stream, this.options);
        // posts: seq → answer; open_posts: POST stream → answer.
        const entry = { id, duplex, posts: new Map(), open_posts: new Map(), end_post: null };
        duplex.idle_timer = this.#idle_timer(duplex);
        entries.set(key, entry);
        duplexes.set(id, duplex);

        stream.on('error', err => duplex.destroy(err));
        stream.on('close', () => {
            if (!duplex.writableEnded && !duplex.destroyed) {
                duplex.end();
            }
        });
        duplex.on('close', () => {
            clearTimeout(duplex.idle_timer);
            for (const [post, respond] of entry.open_posts) {
                this.#close_later(post, respond);
            }
            this.#registry.closeDuplex(key);
            entries.delete(key);
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
        this.emit('duplex', duplex, id, headers, flags, raw_headers, duplexes,
            response_headers);
    }

    #post(request, response_headers) {
        const { stream, headers, scope, entries } = request;
        const route = this.#registry.routePost(scope,
            header(headers, 'http2-duplex-id'),
            header(headers, 'http2-duplex-seq'),
            header(headers, 'http2-duplex-single'),
            header(headers, 'http2-duplex-end'),
            header(headers, 'http2-duplex-destroyed'));
        if (route.status !== undefined) {
            this.#reject(stream, route, response_headers);
            this.#fail(entries, route);
            return;
        }
        const entry = entries.get(route.key);
        entry.duplex.idle_timer?.refresh();
        const respond = () => answer(stream, 200, response_headers);
        entry.open_posts.set(stream, respond);
        stream.once('close', () => entry.open_posts.delete(stream));
        if (route.kind === 'end') {
            stream.resume();
            if (route.destroyed) {
                entry.duplex.stream.close();
            }
            if (route.endedNow) {
                this.#end(entry, respond);
            } else {
                entry.end_post = respond;
            }
            return;
        }
        entry.posts.set(route.seq, respond);
        this.#receive(request, route, entry);
    }

    // Feeds a write or streaming POST's body through the core.
    #receive({ stream, headers, session, entries }, { key, kind, seq }, entry) {
        const { duplex } = entry;
        // Node ends a stream's readable side on a reset as on a real end; the
        // reset code, or the declared length, tells them apart.
        const length = kind === 'write' ? declared_length(headers) : undefined;
        let received = 0;
        let done = false;
        const fail = rejection => {
            done = true;
            this.#reject(stream, rejection, {});
            this.#fail(entries, rejection);
        };
        const reset = () => {
            // A closed session ends its duplexes instead (see #on_session).
            if (!session.destroyed) {
                duplex.destroy(new Error(
                    `write POST ${seq} was reset by the client before its body ended`));
            }
        };
        const resume = () => stream.resume();
        stream.on('data', piece => {
            duplex.idle_timer?.refresh();
            received += piece.length;
            const result = this.#registry.piece(key, seq, piece);
            if (result === PIECE_DELIVER) {
                if (!duplex.deliver(piece) && kind === 'stream') {
                    // Stop reading the upload until the reader has taken it.
                    stream.pause();
                    duplex.when_taken(resume);
                }
            } else if (typeof result !== 'number') {
                fail(result);
            }
        });
        const finish = () => {
            if (done || duplex.destroyed) {
                return;
            }
            done = true;
            // A reset streaming POST ends the duplex, as a client's destroy does.
            if (kind === 'write' && (stream.rstCode > constants.NGHTTP2_NO_ERROR ||
                (length !== undefined && received !== length))) {
                return reset();
            }
            const completion = this.#registry.complete(key, seq);
            if (completion.status !== undefined) {
                return fail(completion);
            }
            for (const chunk of completion.released) {
                duplex.deliver(chunk);
            }
            for (const answered of completion.answered) {
                const respond = entry.posts.get(answered);
                entry.posts.delete(answered);
                duplex.when_taken(respond);
            }
            if (completion.ended) {
                this.#end(entry, entry.end_post);
            }
        };
        stream.on('end', finish);
        stream.on('close', () => {
            if (kind === 'stream') {
                // Reset while paused, a stream never emits 'end'.
                finish();
            } else if (!done && !duplex.destroyed) {
                // Part of the chunk may already be delivered: the byte stream
                // can no longer be whole.
                reset();
            }
        });
    }

    // Destroys a duplex that has seen no POST and no server write for
    // idle_timeout ms (off when 0).
    #idle_timer(duplex) {
        const ms = this.options.idle_timeout;
        if (!(ms > 0)) {
            return null;
        }
        const timer = setTimeout(() => {
            const message = `idle timeout: no traffic on the duplex for ${ms} ms`;
            this.emit('warning', Object.assign(new Error(message), { status: 408 }));
            duplex.destroy(Object.assign(new Error(message), { status: 408 }));
        }, ms);
        return timer;
    }

    #end(entry, respond) {
        entry.duplex.push(null);
        if (respond) {
            respond();
        }
    }

    // A fatal rejection names a duplex whose byte stream is broken.
    #fail(entries, rejection) {
        if (rejection.fatalKey === undefined || rejection.fatalKey === null) {
            return;
        }
        const entry = entries.get(rejection.fatalKey);
        if (entry) {
            entry.duplex.destroy(Object.assign(new Error(rejection.message), {
                status: rejection.status
            }));
        }
    }

    // When the duplex closes, a POST still open is answered and, after
    // close_timeout, closed.
    #close_later(stream, respond) {
        respond();
        const timer = setTimeout(() => {
            if (!stream.destroyed) {
                stream.close();
            }
        }, this.options.close_timeout);
        stream.once('close', () => clearTimeout(timer));
    }
}

module.exports = { Http2DuplexServer };
