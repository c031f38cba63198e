// Types of the Node entry: the server (and, re-exported, the Node-side client).
import type { EventEmitter } from 'events';
import type { Duplex, DuplexOptions } from 'stream';
import type {
    Http2Server, Http2SecureServer, Http2Session, ServerHttp2Stream,
    IncomingHttpHeaders, OutgoingHttpHeaders
} from 'http2';

export interface Http2DuplexServerOptions extends DuplexOptions {
    /** ms after a duplex closes before a POST still open is closed (default 1000). */
    close_timeout?: number;
    /** Destroy each duplex once both sides have ended (default true). */
    autoDestroy?: boolean;
    /** Duplexes open at once in one HTTP/2 session; a GET past it gets 429 (default 1000). */
    max_duplexes_per_session?: number;
    /** Pipelined write POSTs in flight per duplex, protocol v2; past it 429 (default 16). */
    window?: number;
    /** Bytes of write POSTs in flight per duplex (and held out of order), protocol v2; past it 413 (default 16 MiB). */
    window_bytes?: number;
    /** Bytes all the duplexes of one HTTP/2 session may hold out of order together; past it 413 (default 64 MiB). */
    max_held_bytes_per_session?: number;
    /** HTTP/2 receive window of each session this server sees, bytes; 0 keeps the server's (default 8 MiB). */
    session_window?: number;
    /** HTTP/2 initial receive window of each stream of those sessions, bytes; 0 keeps the server's (default 1 MiB). */
    stream_window?: number;
    /** Size of one write POST body; past it 413 (default 16 MiB). */
    max_write_bytes?: number;
}

/** Counts kept by the Rust core. */
export interface Http2DuplexStats {
    sessions: number;
    duplexes: number;
    heldBytes: number;
    writesInFlight: number;
}

/** The server's end of one duplex. */
export interface ServerDuplex extends Duplex {
    /** The GET response stream that carries the server's writes. */
    readonly stream: ServerHttp2Stream;
}

/** Maps the duplex ids of one HTTP/2 session to their duplexes. */
export type DuplexMap = Map<string, ServerDuplex>;

export declare class Http2DuplexServer extends EventEmitter {
    constructor(http2_server: Http2Server | Http2SecureServer, path: string,
        options?: Http2DuplexServerOptions);
    readonly http2_server: Http2Server | Http2SecureServer;
    readonly path: string;
    readonly options: Http2DuplexServerOptions;
    /** Sessions seen since attach(). */
    readonly sessions: Set<Http2Session>;
    /** Listens for sessions; idempotent. Called by the constructor. */
    attach(): void;
    /** Stops listening and destroys every session seen; idempotent. */
    detach(): void;
    stats(): Http2DuplexStats;

    on(event: 'duplex', listener: (duplex: ServerDuplex, id: string,
        headers: IncomingHttpHeaders, flags: number, raw_headers: string[],
        duplexes: DuplexMap, response_headers: OutgoingHttpHeaders) => void): this;
    on(event: 'unhandled_stream', listener: (stream: ServerHttp2Stream,
        headers: IncomingHttpHeaders, flags: number, raw_headers: string[],
        duplexes: DuplexMap, response_headers: OutgoingHttpHeaders) => void): this;
    on(event: 'warning', listener: (err: Error & { status?: number }) => void): this;
    on(event: string | symbol, listener: (...args: any[]) => void): this;
    once: Http2DuplexServer['on'];
}

export {
    connect, ResponseError, ConnectionPool, ConnectOptions, ClientDuplex
} from './lib/connect';
