// @ts-check
'use strict';
const { EventEmitter } = require('events');
const { Registry, checkOption, classifyRequest, requestPath } = require('./native');
const { GetPostTransport } = require('./transport/get-post');
const { answer, answer_refusal, header } = require('./transport/answer');
const { duplex_error, invalid_option, refusal_error } = require('./errors');
const { Http1Exchange } = require('./transport/http1/exchange');
const { ServerWebSocketDuplex } = require('./transport/websocket');
const { ServerResumption } = require('./transport/resume');
const {
    WebSocketUpgrade, UpgradeListeners, websocket_offer, websocket_option
} = require('./transport/http1/upgrade');
const { cors_policy } = require('./cors');
const { DEFAULTS, HEADER, RESUME, WEBSOCKET } = require('./protocol');

/**
 * @typedef {import('../index').Http2DuplexServerOptions} Options
 * What the server saw of a session's failure, for the core to judge when it closes.
 * @typedef {import('http2').Http2Session & {
 *   http2_duplex_errored?: boolean, http2_duplex_goaways?: number[]
 * }} Session
 * @typedef {import('http2').IncomingHttpHeaders} Headers
 * @typedef {Record<string, string>} ResponseHeaders
 * @typedef {import('./native').Refusal} Refusal
 * A request on the duplex path: an HTTP/2 stream, an Http1Exchange or a WebSocketUpgrade.
 * @typedef {any} Stream
 * 6.x's Map of a pairing scope's duplexes, by id.
 * @typedef {Map<string, import('stream').Duplex>} Duplexes
 * A session's scope lingers after its last session while it holds resumable
 * duplexes: they outlive their connection.
 * @typedef {{
 *   key: number, duplexes: Duplexes, entries: Map<number, Entry>,
 *   sessions: Set<Session>, persistent: boolean, lingering?: boolean
 * }} Scope
 * @typedef {import('./transport/get-post').Entry & { id: string, scope: Scope, resumable?: boolean }} Entry
 * A connection the ticks check is alive (an HTTP/2 session, or an HTTP/1.1
 * WebSocket's socket): whether it was heard from since the last check (the
 * call resets that), how to PING it, and how it goes when it did not answer.
 * @typedef {{ heard(): boolean, ping(): void, unanswered(refusal: Refusal): void }} WatchedConnection
 */

// Bytes the session's socket has read (0 once the session let go of it):
// a session that read any since the last check was heard from.
/** @param {Session} session */
function bytes_read(session) {
    try {
        return session.socket?.bytesRead ?? 0;
    } catch {
        return 0;
    }
}

// Options of ours, as opposed to the Duplex options passed to each duplex.
const LIMIT_OPTIONS = {
    max_duplexes_per_session: 'maxDuplexesPerSession',
    max_duplexes_per_connection: 'maxDuplexesPerConnection',
    max_duplexes: 'maxDuplexes',
    window: 'window',
    window_bytes: 'windowBytes',
    max_held_bytes_per_session: 'maxHeldBytesPerSession',
    max_held_bytes_per_connection: 'maxHeldBytesPerConnection',
    max_held_bytes: 'maxHeldBytes',
    max_write_bytes: 'maxWriteBytes',
    idle_timeout: 'idleTimeout',
    close_timeout: 'closeTimeout',
    keepalive_interval: 'keepaliveInterval'
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

function ignore() {}

// Whether the server also hands HTTP/1.1 requests to 'request' listeners: a
// plain http(s).Server, or an HTTP/2 server created with allowHTTP1.
/** @param {any} server */
function serves_http1(server) {
    if (typeof server.updateSettings !== 'function') {
        return true;
    }
    const options = Object.getOwnPropertySymbols(server)
        .map(symbol => server[symbol])
        .find(value => value && typeof value === 'object' && 'allowHTTP1' in value);
    return options?.allowHTTP1 === true;
}

/** @param {unknown} scope */
function check_scope(scope) {
    if (scope !== 'session' && scope !== 'server' && typeof scope !== 'function') {
        throw invalid_option(
            `option scope must be 'session', 'server' or a function of the request's headers, got ${scope}`);
    }
}

// Every numeric option is checked once, here, by the core's table.
/** @param {Record<string, unknown>} options */
function check_options(options) {
    for (const [name, value] of Object.entries(options)) {
        if (value === undefined) {
            continue;
        }
        const problem = typeof value === 'number' ?
            checkOption(name, value) :
            (checkOption(name, NaN) && `option ${name} must be a number, got ${typeof value}`);
        if (problem) {
            throw invalid_option(problem, RangeError);
        }
    }
}

// A connection's address as both its TCP socket and its session's socket
// report it: the key from a session to the TCP socket under it.
/** @param {{ remoteAddress?: string, remotePort?: number }} socket */
function connection_key(socket) {
    return `${socket.remoteAddress}|${socket.remotePort}`;
}

class Http2DuplexServer extends EventEmitter {
    /** @type {((session: Session) => void) | null} */
    #session_listener = null;
    /** @type {((req: import('http').IncomingMessage, res: import('http').ServerResponse) => void) | null} */
    #request_listener = null;
    /** @type {((socket: import('net').Socket) => void) | null} */
    #connection_listener = null;
    // Each connection's socket (under TLS, the TLS socket), by
    // connection_key: a session destroyed while its write waits on a dead
    // connection never finishes (Node waits for the write), so the server
    // ends the connection under it itself (session.socket is a proxy that
    // refuses destroy()).
    /** @type {Map<string, import('net').Socket>} */
    #tcp_sockets = new Map();
    #upgrades;
    // Which WebSockets are taken: { http2, http1 } (the websocket option).
    #websockets;
    #http1_duplexes;
    #registry;
    #get_post;
    #cors;
    // Open duplexes by their key in the core.
    /** @type {Map<number, Entry>} */
    #entries = new Map();
    // duplexes Map → its pairing scope: 6.x pairs a POST with the duplexes of
    // the Map its session (or the caller of process_stream) passes.
    /** @type {WeakMap<Duplexes, Scope>} */
    #scopes = new WeakMap();
    // Maps that outlive any one session: scope 'server', keyed scopes, HTTP/1.1.
    /** @type {Duplexes} */
    #server_duplexes = new Map();
    /** @type {Map<string, Duplexes>} */
    #keyed_duplexes = new Map();
    /** @type {WeakMap<Duplexes, string>} */
    #key_names = new WeakMap();
    /** @type {WeakSet<Duplexes>} */
    #persistent = new WeakSet([this.#server_duplexes]);
    // session → the entries whose GET it carries.
    /** @type {WeakMap<Session, Set<Entry>>} */
    #session_entries = new WeakMap();
    // Duplexes the core watches (idle_timeout, keep-alives), by key, the
    // connections it checks are alive (HTTP/2 sessions, HTTP/1.1 WebSockets),
    // by connection key, and the timer that ticks while there are any.
    /** @type {Map<number, Entry>} */
    #ticked_entries = new Map();
    /** @type {Map<number, WatchedConnection>} */
    #ticked_connections = new Map();
    /** @type {NodeJS.Timeout | null} */
    #tick_timer = null;
    // Client connection (session or socket) → its key in the core.
    /** @type {WeakMap<object, number>} */
    #connection_keys = new WeakMap();
    // Resume (http2-duplex.2), unless resume_buffer is 0.
    /** @type {ServerResumption | null} */
    #resumption;
    // The GET duplexes that carry tunnels (docs/protocol.md "Resume on the fetch paths").
    /** @type {WeakSet<object>} */
    #carriers = new WeakSet();

    /**
     * @param {any} http2_server an HTTP/2 server (or an http(s) server)
     * @param {string} path
     * @param {Options} [options]
     */
    constructor(http2_server, path, options) {
        super();
        this.http2_server = http2_server;
        this.path = path;
        /** @type {Options & typeof RECEIVE_WINDOWS & { keepalive_interval: number, resume_buffer: number, resume_timeout: number, max_resume_bytes_per_connection: number, max_resume_bytes: number }} */
        this.options = {
            close_timeout: DEFAULTS.CLOSE_TIMEOUT_MS,
            autoDestroy: true,
            idle_timeout: 0,
            keepalive_interval: DEFAULTS.KEEPALIVE_INTERVAL_MS,
            resume_buffer: RESUME.BUFFER,
            resume_timeout: RESUME.TIMEOUT_MS,
            max_resume_bytes_per_connection: RESUME.MAX_BYTES_PER_CONNECTION,
            max_resume_bytes: RESUME.MAX_BYTES,
            websocket: true,
            scope: 'session',
            check_origin: true,
            ...RECEIVE_WINDOWS,
            ...options
        };
        const { scope, node_id, cors, websocket, check_origin, ...numeric } = this.options;
        check_options(numeric);
        check_scope(scope);
        this.#websockets = websocket_option(websocket);
        this.#upgrades = new UpgradeListeners(http2_server, path);
        this.#cors = cors_policy(cors, check_origin);
        /** @type {Record<string, number>} */
        const limits = {};
        const given = /** @type {Record<string, any>} */ (this.options);
        for (const [option, limit] of Object.entries(LIMIT_OPTIONS)) {
            const value = given[option];
            if (value !== undefined) {
                limits[limit] = value;
            }
        }
        this.#registry = new Registry(limits, scope === 'session');
        if (node_id !== undefined) {
            const problem = this.#registry.setNodeId(String(node_id));
            if (problem) {
                throw invalid_option(problem, RangeError);
            }
        }
        // HTTP/1.1 has no session: its requests pair server-wide.
        this.#http1_duplexes = scope === 'session' ? new Map() : this.#server_duplexes;
        this.#persistent.add(this.#http1_duplexes);
        // (The transport hands back the entries it got from here.)
        this.#get_post = new GetPostTransport(this.#registry, this.options, {
            entry: key => this.#entries.get(key),
            forget: entry => this.#forget(/** @type {Entry} */ (entry)),
            fail: (entry, err, warn) => this.#fail(/** @type {Entry} */ (entry), err, warn),
            warn: err => this.emit('warning', err)
        });
        this.#resumption = this.options.resume_buffer > 0 ? new ServerResumption(this.options) : null;
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
            this.#connection_listener = socket => {
                const key = connection_key(socket);
                this.#tcp_sockets.set(key, socket);
                socket.once('close', () => {
                    if (this.#tcp_sockets.get(key) === socket) {
                        this.#tcp_sockets.delete(key);
                    }
                });
            };
            this.http2_server.on('connection', this.#connection_listener);
            this.http2_server.on('secureConnection', this.#connection_listener);
            if (serves_http1(this.http2_server)) {
                this.#request_listener = (req, res) => this.#on_http1_request(req, res);
                this.http2_server.on('request', this.#request_listener);
                this.#upgrades.attach({
                    upgrades: this.#websockets.http1,
                    connects: this.#websockets.http2 && typeof this.http2_server.updateSettings === 'function'
                }, (req, socket, head) => this.#on_upgrade(req, socket, head));
            }
        }
    }

    detach() {
        if (!this.#session_listener) {
            return;
        }
        this.http2_server.removeListener('session', this.#session_listener);
        this.#session_listener = null;
        this.http2_server.removeListener('connection', /** @type {any} */ (this.#connection_listener));
        this.http2_server.removeListener('secureConnection', /** @type {any} */ (this.#connection_listener));
        this.#connection_listener = null;
        this.#tcp_sockets.clear();
        if (this.#request_listener) {
            this.http2_server.removeListener('request', this.#request_listener);
            this.#request_listener = null;
            this.#upgrades.detach();
        }
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
    /** @param {Session} session */
    async process_session(session) {
        const duplexes = new Map();
        this.#scope_of(duplexes, session);
        session.on('stream', (stream, headers, flags, raw_headers) => {
            this.#serve(stream, headers, flags, raw_headers, duplexes);
        });
    }

    // An application function (scope, cors) that throws fails its request
    // (500 and a 'warning'), never the process.
    /**
     * @param {Stream} stream
     * @param {Headers} headers
     * @param {number} flags
     * @param {string[]} raw_headers
     * @param {Duplexes} session_duplexes
     */
    async #serve(stream, headers, flags, raw_headers, session_duplexes) {
        let duplexes = session_duplexes;
        try {
            // Other paths are the application's: their requests never reach
            // the scope function.
            if (this.#on_path(headers[':path'])) {
                duplexes = this.#duplexes_for(session_duplexes, headers);
            }
            await this.process_stream(stream, headers, flags, raw_headers,
                duplexes, { ...this.common_headers });
        } catch (err) {
            this.own_stream(stream);
            answer(stream, 500, { ...this.common_headers });
            this.emit('warning', err);
        } finally {
            this.#release_if_unused(duplexes);
        }
    }

    // An HTTP/1.1 request (HTTP/2 ones come as streams) to the duplex path;
    // other paths are left to the application's own 'request' listener.
    /**
     * @param {import('http').IncomingMessage} req
     * @param {import('http').ServerResponse} res
     */
    #on_http1_request(req, res) {
        if (req.httpVersionMajor >= 2 || !this.#on_path(req.url)) {
            return;
        }
        const headers = { ...req.headers, ':method': req.method, ':path': req.url };
        this.#serve(new Http1Exchange(req, res), headers, 0, req.rawHeaders, this.#http1_duplexes);
    }

    // An HTTP/1.1 WebSocket upgrade to the duplex path (RFC 6455): served as
    // any request, on the upgraded socket.
    /**
     * @param {import('http').IncomingMessage} req
     * @param {import('net').Socket} socket
     * @param {Buffer} head
     */
    #on_upgrade(req, socket, head) {
        const headers = { ...req.headers, ':method': req.method, ':path': req.url };
        this.#serve(new WebSocketUpgrade(req, socket, head), headers, 0, req.rawHeaders, this.#http1_duplexes);
    }

    // The pairing scope of a request: its session's (6.x), the server's, or
    // the one the application's function names.
    /**
     * @param {Duplexes} session_duplexes
     * @param {Headers} headers
     */
    #duplexes_for(session_duplexes, headers) {
        const { scope } = this.options;
        if (scope === 'server') {
            return this.#server_duplexes;
        }
        if (typeof scope === 'function') {
            const key = String(scope(headers));
            let duplexes = this.#keyed_duplexes.get(key);
            if (!duplexes) {
                duplexes = new Map();
                this.#keyed_duplexes.set(key, duplexes);
                this.#key_names.set(duplexes, key);
                this.#persistent.add(duplexes);
            }
            return duplexes;
        }
        return session_duplexes;
    }

    // A keyed scope is held only while a duplex of it is open: a request
    // that opened none (refused, an unknown id) leaves nothing behind.
    /** @param {Duplexes} duplexes */
    #release_if_unused(duplexes) {
        const name = this.#key_names.get(duplexes);
        if (name === undefined || this.#keyed_duplexes.get(name) !== duplexes) {
            return;
        }
        const scope = this.#scopes.get(duplexes);
        if (scope && scope.entries.size > 0) {
            return;
        }
        this.#keyed_duplexes.delete(name);
        if (scope) {
            this.#scopes.delete(duplexes);
            this.#registry.closeScope(scope.key);
        }
    }

    // 6.x API: the server handles this stream's errors; answering or closing
    // it once the client has reset it never throws.
    /** @param {Stream} stream */
    own_stream(stream) {
        if (!owned_streams.has(stream)) {
            owned_streams.add(stream);
            // What a stream's failure means is decided where it closes.
            stream.on('error', ignore);
        }
    }

    // The duplex path, with a resuming WebSocket's `?resume=<id>` or without.
    /** @param {string | undefined} target */
    #on_path(target) {
        return target === this.path || (target !== undefined && requestPath(target) === this.path);
    }

    // 6.x API: resolves to false (after 'unhandled_stream') for another path.
    /**
     * @param {Stream} stream
     * @param {Headers} headers
     * @param {number} flags
     * @param {string[]} raw_headers
     * @param {Duplexes} duplexes
     * @param {ResponseHeaders} response_headers
     */
    async process_stream(stream, headers, flags, raw_headers, duplexes, response_headers) {
        if (!this.#on_path(headers[':path'])) {
            this.emit('unhandled_stream', stream, headers, flags, raw_headers,
                duplexes, response_headers);
            return false;
        }
        this.own_stream(stream);
        // Reset before we got to it, or answered by another listener.
        if (stream.destroyed || stream.headersSent) {
            return true;
        }
        const method = headers[':method'];
        // Before anything is opened or used, on every transport: a WebSocket
        // has no CORS of its own to stop a foreign page.
        const decision = this.#cors.decide(headers, err => this.emit('warning', err));
        if (decision.kind === 'refused') {
            this.#refuse(stream, decision.refusal, response_headers);
            return true;
        }
        if (decision.kind === 'allowed' || decision.kind === 'preflight') {
            Object.assign(response_headers, decision.headers);
        }
        if (decision.kind === 'preflight') {
            answer(stream, 204, response_headers);
            return true;
        }
        const request = classifyRequest(String(method), header(headers, ':protocol'),
            header(headers, 'upgrade'), header(headers, 'sec-websocket-key'),
            header(headers, 'sec-websocket-version'), websocket_offer(this.#websockets, stream));
        switch (request.kind) {
        case 'open':
            await this.new_stream(stream, headers, flags, raw_headers, duplexes, response_headers);
            break;
        case 'websocket':
            this.#open_websocket(stream, headers, flags, raw_headers, duplexes, response_headers);
            break;
        case 'post':
            this.#get_post.post(stream, this.#scope_of(duplexes, stream.session).key, headers,
                response_headers);
            break;
        case 'refused':
            this.#refuse(stream, request.refusal, response_headers);
            break;
        }
        return true;
    }

    // 6.x API: opens a duplex on a GET stream; resolves to it (undefined when refused,
    // and for a tunnel's carrier, whose duplex comes with 'duplex' once the client's
    // first message opens it).
    /**
     * @param {Stream} stream
     * @param {Headers} headers
     * @param {number} flags
     * @param {string[]} raw_headers
     * @param {Duplexes} duplexes
     * @param {ResponseHeaders} response_headers
     */
    async new_stream(stream, headers, flags, raw_headers, duplexes, response_headers) {
        this.own_stream(stream);
        const scope = this.#scope_of(duplexes, stream.session);
        const connection = this.#connection_of(stream);
        const opened = this.#registry.openDuplex(scope.key, connection,
            header(headers, HEADER.FRAMING), header(headers, HEADER.TUNNEL), this.#resumption !== null,
            performance.now());
        if (opened.kind === 'refused') {
            this.#refuse(stream, opened.refusal, response_headers);
            return undefined;
        }
        /** @type {Entry} */
        const entry = { id: opened.id, key: opened.key, scope, session: stream.session, duplex: null };
        const duplex = this.#get_post.open(stream, entry, opened, response_headers);
        const { tunnelled } = opened;
        if (tunnelled) {
            // A tunnel's carrier pairs its POSTs as any duplex's GET does;
            // the application gets the duplex it carries.
            this.#carriers.add(duplex);
            this.#track(entry, null, opened.watched);
            this.#start_websocket(duplex, { ...tunnelled, scope, connection, session: stream.session, resumable: true },
                { headers, flags, raw_headers, duplexes, response_headers });
            return undefined;
        }
        this.#track(entry, duplexes, opened.watched);
        this.emit('duplex', duplex, opened.id, headers, flags, raw_headers, duplexes,
            response_headers);
        return duplex;
    }

    // A WebSocket on the duplex path (RFC 8441 or RFC 6455): one stream, both directions.
    /**
     * @param {Stream} stream
     * @param {Headers} headers
     * @param {number} flags
     * @param {string[]} raw_headers
     * @param {Duplexes} duplexes
     * @param {ResponseHeaders} response_headers
     */
    #open_websocket(stream, headers, flags, raw_headers, duplexes, response_headers) {
        const scope = this.#scope_of(duplexes, stream.session);
        const connection = this.#connection_of(stream);
        const opened = this.#registry.openWebSocket(scope.key, connection,
            header(headers, 'sec-websocket-protocol'), this.#resumption !== null, performance.now());
        if (opened.kind === 'refused') {
            this.#refuse(stream, opened.refusal, response_headers);
            return;
        }
        stream.respond({ ':status': 200, ...opened.headers, ...response_headers });
        const resumable = opened.headers['sec-websocket-protocol'] === WEBSOCKET.RESUME_SUBPROTOCOL;
        this.#start_websocket(stream, { ...opened, scope, connection, session: stream.session, resumable },
            { headers, flags, raw_headers, duplexes, response_headers });
    }

    // The duplex of a WebSocket, or of a tunnel (`stream` its carrier):
    // with resume (`resumable`), the client's first message opens it or
    // resumes another.
    /**
     * @param {any} stream
     * @param {{ key: number, id: string, watched: boolean, scope: Scope, connection: number, session: Session, resumable: boolean }} opened
     * @param {{ headers: Headers, flags: number, raw_headers: string[], duplexes: Duplexes, response_headers: ResponseHeaders }} request
     */
    #start_websocket(stream, { key, id, watched, scope, connection, session, resumable }, request) {
        const resumption = resumable ? this.#resumption : null;
        // A resumable duplex outlives its session: its transport's failure
        // is the resume core's to judge, not the session's close.
        /** @type {Entry} */
        const entry = { id, key, scope, session: resumption ? undefined : session, duplex: null, resumable };
        const settings = { id, key, connection, max_message: this.limits.maxWriteBytes, window: this.limits.windowBytes };
        const { headers, flags, raw_headers, duplexes, response_headers } = request;
        const emit = () => this.emit('duplex', entry.duplex, id, headers, flags, raw_headers, duplexes,
            response_headers);
        const first = resumption ? {
            resumption,
            open: () => {
                this.#watch_websocket(entry, stream);
                emit();
            },
            resume: (/** @type {any} */ _duplex, /** @type {{ id: string, secret: string, received: number }} */ resume) =>
                this.#resume(entry, resume)
        } : null;
        entry.duplex = new ServerWebSocketDuplex(stream, this.options, settings,
            err => this.#fail(entry, err), first);
        if (this.#carriers.has(stream)) {
            entry.duplex.transport = 'tunnel';
        }
        this.#track(entry, duplexes, watched);
        if (!first) {
            this.#watch_websocket(entry, stream);
            emit();
        }
    }

    // A client's `resume id secret count` on a new WebSocket (`entry`, not
    // a duplex of its own): the duplex it names takes the WebSocket over,
    // or the resume is refused with a Close naming the code and a warning.
    /**
     * @param {Entry} entry
     * @param {{ id: string, secret: string, received: number }} request
     */
    #resume(entry, { id, secret, received }) {
        const provisional = /** @type {ServerWebSocketDuplex} */ (entry.duplex);
        const stream = provisional.stream;
        const answer = /** @type {ServerResumption} */ (this.#resumption).resume(id, secret, received);
        const target = answer.kind === 'accepted' ? this.#entries.get(answer.duplex) : undefined;
        if (answer.kind === 'accepted' && target) {
            const duplex = /** @type {ServerWebSocketDuplex} */ (target.duplex);
            duplex.attach(provisional, answer.received, answer.actions);
            provisional.once('close', () => this.#watch_websocket(target, stream));
        } else {
            const refusal = answer.kind === 'refused' ? answer.refusal : null;
            const err = refusal ? refusal_error(refusal) : duplex_error('ERR_HTTP2_DUPLEX_RESUME_UNKNOWN');
            this.emit('warning', err);
            provisional.silence();
            provisional.act(provisional.endpoint.refuseResume(err.code));
        }
        this.#forget(entry);
        provisional.destroy();
    }

    // The client connection a request came on (its HTTP/2 session, or its
    // HTTP/1.1 socket): what the duplexes it opens count against.
    /** @param {Stream} stream */
    #connection_of(stream) {
        return this.#connection_key(stream.session ?? stream.req?.socket ?? stream);
    }

    /** @param {object} connection */
    #connection_key(connection) {
        let key = this.#connection_keys.get(connection);
        if (key === undefined) {
            key = this.#registry.connectionKey();
            this.#connection_keys.set(connection, key);
        }
        return key;
    }

    // 6.x API: destroys a session or stream; what it throws becomes a warning.
    /** @param {{ destroy(): void }} obj */
    destroy(obj) {
        try {
            obj.destroy();
        } catch (err) {
            this.emit('warning', err);
        }
    }

    // The pairing scope of a duplexes Map, opened on first use. A session's
    // own Map's scope closes with the last session that used it; the others
    // (scope 'server', keyed scopes, HTTP/1.1) live on.
    /**
     * @param {Duplexes} duplexes
     * @param {Session} session
     */
    #scope_of(duplexes, session) {
        let scope = this.#scopes.get(duplexes);
        if (!scope) {
            scope = {
                key: this.#registry.openScope(), duplexes, entries: new Map(),
                sessions: new Set(), persistent: this.#persistent.has(duplexes)
            };
            this.#scopes.set(duplexes, scope);
        }
        if (session) {
            this.#track_session(session);
            if (!scope.persistent && !scope.sessions.has(session)) {
                scope.sessions.add(session);
                session.once('close', () => {
                    scope.sessions.delete(session);
                    if (scope.sessions.size === 0) {
                        if ([...scope.entries.values()].some(entry => entry.resumable)) {
                            scope.lingering = true;
                        } else {
                            this.#registry.closeScope(scope.key);
                        }
                    }
                });
            }
        }
        return scope;
    }

    /** @param {Session} session */
    #track_session(session) {
        // Per server: several Http2DuplexServers may serve one HTTP/2 server.
        if (this.#session_entries.has(session)) {
            return;
        }
        this.sessions.add(session);
        this.#session_entries.set(session, new Set());
        this.#open_receive_windows(session);
        this.#offer_websockets(session);
        const key = this.#connection_key(session);
        let read = bytes_read(session);
        let answered = false;
        this.#watch_connection(key, {
            // Bytes read, or a PING answered, since the last check.
            heard: () => {
                const now_read = bytes_read(session);
                const heard = now_read !== read || answered;
                read = now_read;
                answered = false;
                return heard;
            },
            ping: () => {
                try {
                    session.ping(err => {
                        answered ||= !err;
                    });
                } catch {
                    // A session already going: its close unwatches it.
                }
            },
            unanswered: refusal => this.#session_unanswered(session, refusal)
        });
        // An error, and the GOAWAYs' codes: what they mean for each duplex
        // is decided when the session closes.
        session.on('error', () => {
            session.http2_duplex_errored = true;
        });
        session.on('goaway', code => {
            (session.http2_duplex_goaways ??= []).push(code);
        });
        session.once('close', () => {
            this.sessions.delete(session);
            this.#unwatch_connection(key);
            this.#session_closed(session);
        });
    }

    // The session did not answer its PING (a connection cut or stalled that
    // the session never read the end of): its duplexes fail with the core's
    // error, one warning says why, and the session goes.
    /**
     * @param {Session} session
     * @param {Refusal} refusal
     */
    #session_unanswered(session, refusal) {
        this.emit('warning', refusal_error(refusal));
        for (const entry of [...this.#session_entries.get(session) ?? []]) {
            this.#forget(entry);
            this.#fail(entry, refusal_error(refusal), false);
        }
        // (a connection accepted before attach() is not known: its session
        // alone is destroyed)
        const tcp = session.socket && this.#tcp_sockets.get(connection_key(session.socket));
        this.destroy(session);
        tcp?.destroy();
    }

    // The session carrying their GETs closed: the core says whether each of
    // its duplexes ends (as in 6.x), breaks (the session failed) or lives on.
    /** @param {Session} session */
    #session_closed(session) {
        const live = [...this.#session_entries.get(session) ?? []].filter(entry => !entry.duplex.destroyed);
        this.#session_entries.delete(session);
        if (live.length === 0) {
            return;
        }
        const closed = live.map(entry => ({
            duplex: entry.key, widerScope: entry.scope.persistent, serverEnded: entry.duplex.writableEnded
        }));
        const actions = this.#registry.handleSessionClosed(Boolean(session.http2_duplex_errored),
            session.http2_duplex_goaways ?? [], closed);
        const by_key = new Map(live.map(entry => [entry.key, entry]));
        for (const action of actions) {
            const entry = by_key.get(/** @type {{ duplex: number }} */ (action).duplex);
            if (!entry) {
                continue;
            }
            // The core answers the duplex's POSTs first, as in 6.x.
            this.#forget(entry);
            if (action.kind === 'fail') {
                this.#fail(entry, refusal_error(action.refusal), action.warn);
            } else if (action.kind === 'end') {
                entry.duplex.push(null);
            }
        }
    }

    // A new duplex: its scope and session find it, the ticks see it when the
    // core watches it, and its close is the core's to handle.
    /**
     * @param {Entry} entry
     * @param {Duplexes | null} duplexes the application's Map of it (none for a tunnel's carrier)
     * @param {boolean} watched
     */
    #track(entry, duplexes, watched) {
        this.#entries.set(entry.key, entry);
        entry.scope.entries.set(entry.key, entry);
        duplexes?.set(entry.id, entry.duplex);
        this.#session_entries.get(entry.session)?.add(entry);
        if (watched) {
            this.#watch(entry);
        }
        entry.duplex.on('close', () => this.#forget(entry));
    }

    // The core and the maps forget a duplex (idempotent); the core answers
    // the POSTs still open for it.
    /** @param {Entry} entry */
    #forget(entry) {
        const { scope, key, id, session } = entry;
        if (!this.#entries.has(key)) {
            return;
        }
        this.#entries.delete(key);
        this.#ticked_entries.delete(key);
        this.#stop_ticks();
        scope.entries.delete(key);
        scope.duplexes.delete(id);
        this.#session_entries.get(session)?.delete(entry);
        this.#get_post.act(this.#registry.handleDuplexClosed(key, performance.now()));
        if (scope.lingering && scope.entries.size === 0) {
            scope.lingering = false;
            this.#registry.closeScope(scope.key);
        }
        // A keyed scope lives while it has duplexes (one per user, say).
        this.#release_if_unused(scope.duplexes);
    }

    // RFC 8441: lets clients open WebSockets on this HTTP/2 session (the
    // setting can also be given to http2.createSecureServer).
    /** @param {Session} session */
    #offer_websockets(session) {
        if (!this.#websockets.http2 || session.localSettings.enableConnectProtocol) {
            return;
        }
        try {
            session.settings({ enableConnectProtocol: true });
        } catch (err) {
            this.emit('warning', err);
        }
    }

    // Raises the windows only, never lowers what the HTTP/2 server set. Larger
    // windows let a client send more before it waits; what the server buffers
    // per session stays bounded by session_window.
    /** @param {Session} session */
    #open_receive_windows(session) {
        const { session_window, stream_window } = this.options;
        try {
            if (session_window > (session.state.effectiveLocalWindowSize || 0)) {
                session.setLocalWindowSize(session_window);
            }
            if (stream_window > /** @type {number} */ (session.localSettings.initialWindowSize)) {
                session.settings({ initialWindowSize: stream_window });
            }
        } catch (err) {
            this.emit('warning', err);
        }
    }

    // Answers a refusal of the core (a request that opens or uses nothing).
    /**
     * @param {Stream} stream
     * @param {Refusal} refusal
     * @param {ResponseHeaders} response_headers
     */
    #refuse(stream, refusal, response_headers) {
        const err = refusal_error(refusal);
        answer_refusal(stream, err, response_headers);
        if (!refusal.quiet) {
            this.emit('warning', err);
        }
    }

    // A client broke the duplex: warn, and destroy it ('error' only where the
    // application listens).
    /**
     * @param {Entry} entry
     * @param {Error} err
     * @param {boolean} [warn]
     */
    #fail(entry, err, warn = true) {
        if (entry.duplex.destroyed) {
            return;
        }
        if (warn) {
            this.emit('warning', err);
        }
        entry.duplex.fail(err);
    }

    // idle_timeout and the keep-alives of framed GETs: the core keeps the
    // deadlines. One timer per server ticks every tickInterval() ms while a
    // watched duplex is open, telling the core which duplexes saw traffic
    // (traffic_seen) and which GET bodies were written to (written) since.
    /** @param {Entry} entry */
    #watch(entry) {
        this.#ticked_entries.set(entry.key, entry);
        this.#start_ticks();
    }

    #start_ticks() {
        this.#tick_timer ??= setInterval(() => this.#tick(),
            this.#registry.tickInterval() ?? undefined).unref();
    }

    #tick() {
        const active = [];
        const written = [];
        for (const [key, { duplex }] of this.#ticked_entries) {
            if (duplex.traffic_seen) {
                duplex.traffic_seen = false;
                active.push(key);
            }
            if (duplex.written) {
                duplex.written = false;
                written.push(key);
            }
        }
        this.#get_post.act(this.#registry.handleTick(performance.now(), active, written));
        this.#tick_connections();
        this.#stop_ticks();
    }

    // The connections heard from since the last check; the core answers
    // which to ping and which are dead.
    #tick_connections() {
        const heard = [];
        for (const [key, watched] of this.#ticked_connections) {
            if (watched.heard()) {
                heard.push(key);
            }
        }
        for (const action of this.#registry.handleSessionTick(performance.now(), heard)) {
            const watched = this.#ticked_connections.get(action.session);
            if (!watched) {
                continue;
            }
            if (action.kind === 'ping') {
                watched.ping();
            } else {
                this.#ticked_connections.delete(action.session);
                watched.unanswered(action.refusal);
            }
        }
    }

    // keepalive_interval: the core watches the connection (when the option
    // is on) until it closes.
    /**
     * @param {number} key
     * @param {WatchedConnection} watched
     */
    #watch_connection(key, watched) {
        if (this.#registry.watchSession(key, performance.now())) {
            this.#ticked_connections.set(key, watched);
            this.#start_ticks();
        }
    }

    /** @param {number} key */
    #unwatch_connection(key) {
        this.#registry.unwatchSession(key);
        this.#ticked_connections.delete(key);
        this.#stop_ticks();
    }

    // An HTTP/1.1 WebSocket has its connection to itself, and no HTTP/2
    // session to PING: the duplex sends a WebSocket Ping, hears anything it
    // reads, and goes with its connection when the Ping is not answered.
    /**
     * @param {Entry} entry
     * @param {Stream} upgrade a WebSocketUpgrade
     */
    #watch_websocket(entry, upgrade) {
        // (A tunnel's connection is its carrier's, watched as its GET's.)
        if (upgrade.session || this.#carriers.has(upgrade)) {
            return;
        }
        const key = this.#connection_of(upgrade);
        const duplex = /** @type {ServerWebSocketDuplex} */ (entry.duplex);
        this.#watch_connection(key, {
            heard: () => duplex.take_heard(),
            ping: () => duplex.ping(),
            unanswered: refusal => {
                // A resumable duplex waits for its client on a new connection.
                if (!entry.resumable) {
                    const err = refusal_error(refusal);
                    this.emit('warning', err);
                    this.#forget(entry);
                    this.#fail(entry, err, false);
                }
                upgrade.destroy();
            }
        });
        const unwatch = () => this.#unwatch_connection(key);
        duplex.once('close', unwatch);
        // A resumable duplex outlives its connection: one listener per connection.
        upgrade.once('close', () => {
            duplex.off('close', unwatch);
            unwatch();
        });
    }

    #stop_ticks() {
        if (this.#ticked_entries.size === 0 && this.#ticked_connections.size === 0 && this.#tick_timer) {
            clearInterval(this.#tick_timer);
            this.#tick_timer = null;
        }
    }
}

module.exports = { Http2DuplexServer };
