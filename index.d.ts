// Types of the Node entry: the server (and, re-exported, the Node-side client).
import type { EventEmitter } from 'events';
import type { Duplex, DuplexOptions } from 'stream';
import type {
    Http2Server, Http2SecureServer, Http2Session, ServerHttp2Session, ServerHttp2Stream,
    IncomingHttpHeaders, OutgoingHttpHeaders
} from 'http2';
import type { Server as HttpServer } from 'http';
import type { Server as HttpsServer } from 'https';

/**
 * The third argument of `new Http2DuplexServer`. Every other property is a
 * Node `Duplex` option (`highWaterMark`, …) given to each duplex.
 */
export interface Http2DuplexServerOptions extends DuplexOptions {
    /** ms after a duplex closes before a POST still open is closed (default 1000). */
    close_timeout?: number;
    /** Destroy each duplex once both sides have ended (default true). */
    autoDestroy?: boolean;
    /** Destroy a duplex with no POST and no server write for this many ms; 0 is off (default 0). */
    idle_timeout?: number;
    /**
     * Which WebSockets (subprotocol http2-duplex.1, one per duplex) the server takes:
     * `true` (default) both RFC 8441 over HTTP/2 (SETTINGS_ENABLE_CONNECT_PROTOCOL on
     * each session: an extended CONNECT on the path, multiplexed on the page's
     * connection) and RFC 6455 upgrades over HTTP/1.1 (a plain http(s).Server, or
     * allowHTTP1; one connection per duplex); `'http1'` upgrades only (HTTP/2 sessions
     * do not offer RFC 8441, so browsers open HTTP/1.1 WebSockets); `'http2'` RFC 8441
     * only; `false` none. Anything else throws ERR_HTTP2_DUPLEX_INVALID_OPTION.
     */
    websocket?: boolean | 'http1' | 'http2';
    /**
     * ms of silence on a framed GET body before a keep-alive frame goes out, and ms an HTTP/2
     * session received nothing before it gets an HTTP/2 PING (an HTTP/1.1 WebSocket: a WebSocket
     * Ping frame); a connection whose PING is unanswered this long (at least 1 s) is destroyed as
     * dead, its duplexes with `ERR_HTTP2_DUPLEX_SESSION_CLOSED` and a 'warning'. 0 is off
     * (default 20000).
     */
    keepalive_interval?: number;
    /**
     * Resume (docs/protocol.md "Resume"): bytes a resumable duplex keeps, per direction, sent and
     * not yet acknowledged by its client, to send again after its connection failed; beyond it
     * `write()` waits for acks. Only clients that ask for resume (`resume: true`) on the WebSocket
     * transport, or through a tunnel on the fetch transports, get it. 0 turns resume off
     * (default 4 MiB).
     */
    resume_buffer?: number;
    /**
     * ms a resumable duplex whose connection failed waits for its client to resume it, before it
     * fails with `ERR_HTTP2_DUPLEX_RESUME_TIMEOUT` and a 'warning' (default 30000).
     */
    resume_timeout?: number;
    /**
     * Bytes the resume buffers of the duplexes one client connection opened keep together; a
     * duplex's `write()` waits for acks beyond it (default 64 MiB).
     */
    max_resume_bytes_per_connection?: number;
    /** Bytes all the server's resume buffers keep together; beyond it writes wait (default 1 GiB). */
    max_resume_bytes?: number;
    /** HTTP/2 receive window of each session this server sees, bytes; 0 keeps the server's (default 8 MiB). */
    session_window?: number;
    /** HTTP/2 initial receive window of each stream of those sessions, bytes; 0 keeps the server's (default 1 MiB). */
    stream_window?: number;
    /** Duplexes open at once in one pairing scope (by default an HTTP/2 session); a GET past it gets 429 (default 1000). */
    max_duplexes_per_session?: number;
    /**
     * Duplexes open at once that one client connection opened, whatever the scope; past it 429
     * ERR_HTTP2_DUPLEX_CONNECTION_DUPLEXES (default 100; under scope 'session', max_duplexes_per_session).
     */
    max_duplexes_per_connection?: number;
    /** Duplexes open at once in the whole server; past it 503 ERR_HTTP2_DUPLEX_SERVER_DUPLEXES (default 10000). */
    max_duplexes?: number;
    /** Pipelined write POSTs in flight per duplex, protocol v2; past it 429 (default 16). */
    window?: number;
    /** Bytes of write POSTs in flight per duplex (and held out of order), protocol v2; past it 413 (default 4 MiB). */
    window_bytes?: number;
    /** Bytes all the duplexes of one session may hold out of order together; past it 413 (default 64 MiB). */
    max_held_bytes_per_session?: number;
    /**
     * Bytes the duplexes one client connection opened may hold out of order together; past it 413
     * ERR_HTTP2_DUPLEX_CONNECTION_HELD_BYTES (default 16 MiB; under scope 'session', max_held_bytes_per_session).
     */
    max_held_bytes_per_connection?: number;
    /** Bytes all the duplexes of the server may hold out of order; past it 413 ERR_HTTP2_DUPLEX_SERVER_HELD_BYTES (default 256 MiB). */
    max_held_bytes?: number;
    /** Size of one write POST body; past it 413 (default 16 MiB). */
    max_write_bytes?: number;
    /**
     * Where a POST's id is looked up: `'session'` (default, 6.x: the HTTP/2
     * session of the GET; HTTP/1.1 requests share one scope), `'server'` (any
     * connection to this server in this process), or a function of the
     * request's headers returning a key (e.g. the authenticated user). Wider
     * than a session, the id is the credential (122 random bits).
     */
    scope?: 'session' | 'server' | ((headers: IncomingHttpHeaders) => string);
    /** This process's name, `[a-z0-9]{1,32}`: ids become `<node_id>.<uuid>` so a proxy can route POSTs. */
    node_id?: string;
    /** Pages on other origins allowed to use the duplexes (preflights answered, their requests served). */
    cors?: Http2DuplexCors;
    /**
     * Refuse duplex requests whose origin is neither absent, nor the request's own, nor allowed by
     * `cors`: 403 ERR_HTTP2_DUPLEX_ORIGIN_NOT_ALLOWED on every transport (default true). false lets
     * any page on any origin open and use duplexes with the user's cookies (cross-site WebSocket
     * hijacking): only for deployments no browser reaches.
     */
    check_origin?: boolean;
}

/** The `cors` option. */
export interface Http2DuplexCors {
    /** Allowed origins (`'https://app.example'`), or a function deciding. A page's own origin is always allowed. */
    origins: string[] | ((origin: string, headers: IncomingHttpHeaders) => boolean);
    /** Allow cookies and HTTP auth (`access-control-allow-credentials`); default false. */
    credentials?: boolean;
    /** Seconds a browser may cache a preflight (default 600). */
    max_age?: number;
}

/** The limits in force (`server.limits`): the options above or their defaults. */
export interface Http2DuplexLimits {
    maxDuplexesPerSession: number;
    maxDuplexesPerConnection: number;
    maxDuplexes: number;
    window: number;
    windowBytes: number;
    maxHeldBytesPerSession: number;
    maxHeldBytesPerConnection: number;
    maxHeldBytes: number;
    maxWriteBytes: number;
}

/** Counts kept by the Rust core (`server.stats()`). */
export interface Http2DuplexStats {
    sessions: number;
    duplexes: number;
    heldBytes: number;
    writesInFlight: number;
}

/**
 * What the server's 'warning' event and a duplex's 'error' carry: `code` is a
 * stable code (ERR_HTTP2_DUPLEX_…), `status` the HTTP status answered, if any.
 */
export type Http2DuplexError = Error & { code: string; status?: number };

/** One row of the table of error codes. */
export interface Http2DuplexCode {
    readonly code: string;
    /** The HTTP status answered for this cause, or null when none is. */
    readonly status: number | null;
    /** What happened and what to do about it. */
    readonly message: string;
}

/** Every error code (`err.code`) this package uses, from the Rust core's table. */
export declare const codes: Readonly<Record<string, Http2DuplexCode>>;

/** The server's end of one duplex. */
export interface ServerDuplex extends Duplex {
    /** The GET response stream that carries the server's writes (the CONNECT stream of a WebSocket). */
    readonly stream: ServerHttp2Stream;
    /** `'websocket'` for a duplex over one WebSocket stream; undefined for the fetch transports. */
    readonly transport?: 'websocket';
    /**
     * True when the client asked for resume and the server offers it: the duplex outlives its
     * connection and emits `'resumed'` ({ downtime } in ms) when its client resumed it.
     */
    readonly resumable?: boolean;
}

/** Maps the duplex ids of one pairing scope (by default an HTTP/2 session) to their duplexes. */
export type DuplexMap = Map<string, ServerDuplex>;

/** The arguments of each event of Http2DuplexServer. */
export interface Http2DuplexServerEvents {
    duplex: [duplex: ServerDuplex, id: string, headers: IncomingHttpHeaders, flags: number,
        raw_headers: string[], duplexes: DuplexMap, response_headers: OutgoingHttpHeaders];
    unhandled_stream: [stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number,
        raw_headers: string[], duplexes: DuplexMap, response_headers: OutgoingHttpHeaders];
    warning: [err: Http2DuplexError];
}

type Listener<K extends keyof Http2DuplexServerEvents> = (...args: Http2DuplexServerEvents[K]) => void;

export declare class Http2DuplexServer extends EventEmitter {
    constructor(http2_server: Http2Server | Http2SecureServer | HttpServer | HttpsServer, path: string,
        options?: Http2DuplexServerOptions);
    readonly http2_server: Http2Server | Http2SecureServer | HttpServer | HttpsServer;
    readonly path: string;
    /** The options given, with the defaults filled in. */
    readonly options: Http2DuplexServerOptions;
    /** The limits in force. */
    readonly limits: Http2DuplexLimits;
    /** Sessions seen since attach(). */
    readonly sessions: Set<Http2Session>;
    /** Headers added to every answer (a copy is each event's `response_headers`). */
    common_headers: Record<string, string>;
    /** Listens for sessions; idempotent. Called by the constructor. */
    attach(): void;
    /** Stops listening and destroys every session seen; idempotent. */
    detach(): void;
    stats(): Http2DuplexStats;

    /** 6.x API: the server handles the stream's errors from now on. */
    own_stream(stream: ServerHttp2Stream): void;
    /** 6.x API: serves the duplex path on a session (what attach() does for each one). */
    process_session(session: ServerHttp2Session): Promise<void>;
    /**
     * 6.x API: serves one stream; resolves to false (after 'unhandled_stream')
     * when its path is not this server's, else true.
     */
    process_stream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number,
        raw_headers: string[], duplexes: DuplexMap,
        response_headers: OutgoingHttpHeaders): Promise<boolean>;
    /** 6.x API: opens a duplex on a GET stream; undefined when the request was refused. */
    new_stream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number,
        raw_headers: string[], duplexes: DuplexMap,
        response_headers: OutgoingHttpHeaders): Promise<ServerDuplex | undefined>;
    /** 6.x API: destroys a session or stream; what it throws becomes a 'warning'. */
    destroy(obj: { destroy(): void }): void;

    on<K extends keyof Http2DuplexServerEvents>(event: K, listener: Listener<K>): this;
    on(event: string | symbol, listener: (...args: any[]) => void): this;
    once<K extends keyof Http2DuplexServerEvents>(event: K, listener: Listener<K>): this;
    once(event: string | symbol, listener: (...args: any[]) => void): this;
    addListener<K extends keyof Http2DuplexServerEvents>(event: K, listener: Listener<K>): this;
    addListener(event: string | symbol, listener: (...args: any[]) => void): this;
    prependListener<K extends keyof Http2DuplexServerEvents>(event: K, listener: Listener<K>): this;
    prependListener(event: string | symbol, listener: (...args: any[]) => void): this;
    prependOnceListener<K extends keyof Http2DuplexServerEvents>(event: K, listener: Listener<K>): this;
    prependOnceListener(event: string | symbol, listener: (...args: any[]) => void): this;
    off<K extends keyof Http2DuplexServerEvents>(event: K, listener: Listener<K>): this;
    off(event: string | symbol, listener: (...args: any[]) => void): this;
    removeListener<K extends keyof Http2DuplexServerEvents>(event: K, listener: Listener<K>): this;
    removeListener(event: string | symbol, listener: (...args: any[]) => void): this;
    emit<K extends keyof Http2DuplexServerEvents>(event: K, ...args: Http2DuplexServerEvents[K]): boolean;
    emit(event: string | symbol, ...args: any[]): boolean;
}

export {
    connect, ResponseError, ConnectionPool, ConnectOptions, ClientDuplex, ClientResponse, ClientError
} from './lib/connect';
