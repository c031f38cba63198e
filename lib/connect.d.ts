import { Duplex, DuplexOptions } from 'stream';

/** What a ResponseError is constructed with: the server's answer. */
export interface ClientResponse {
    status: number;
    /** The status's canonical reason phrase (HTTP/2 carries none). */
    statusText: string;
    ok: boolean;
    /** The answer's headers, lower-case names. */
    headers?: Record<string, string>;
}

/**
 * A non-2xx answer, to the duplex's GET (connect() rejects) or later to its
 * streaming POST (the duplex is destroyed with it). Same shape as the
 * browser client's.
 */
export class ResponseError extends Error {
    constructor(response: ClientResponse);
    /** 'ResponseError' */
    name: string;
    /** The answer's `http2-duplex-error` header if present, else 'ERR_HTTP2_DUPLEX_RESPONSE'. */
    code: string;
    status: number;
    response: ClientResponse;
    /** Awaited before the error is thrown; override to do more. */
    init(): Promise<void>;
}

/**
 * Every other error of connect() or of a ClientDuplex: `code` is one of the
 * stable codes (ERR_HTTP2_DUPLEX_CONNECTION, ERR_HTTP2_DUPLEX_SERVER_RESET,
 * ERR_HTTP2_DUPLEX_NO_ID_IN_RESPONSE, ERR_HTTP2_DUPLEX_INVALID_OPTION,
 * ERR_HTTP2_DUPLEX_TRUNCATED_RESPONSE when the server's framed side ended
 * without its END frame; over a WebSocket ERR_HTTP2_DUPLEX_WS_CLOSED when the
 * server closed it or ended its stream before both directions had ended, and
 * ERR_HTTP2_DUPLEX_WS_PROTOCOL, _WS_INVALID_UTF8, _WS_TOO_BIG, _WS_CREDIT or
 * _WS_MESSAGE when the server broke the protocol; ERR_HTTP2_DUPLEX_CONNECTION
 * when transport 'websocket' is forced and the server does not offer it;
 * with resume ERR_HTTP2_DUPLEX_RESUME_UNKNOWN, _RESUME_REFUSED or
 * _RESUME_COUNT when the server refused the resume, _RESUME_TIMEOUT when it
 * was not resumed within the server's resume_timeout, _RESUME_ACK when the
 * server acknowledged what was never sent, …).
 */
export interface ClientError extends Error {
    code: string;
}

/**
 * Duplexes connected through one pool to one origin share one HTTP/2
 * connection, which closes when its last duplex does.
 */
export class ConnectionPool {
    constructor();
    /** Live HTTP/2 connections of this pool. */
    readonly connections: number;
}

export interface ConnectOptions extends DuplexOptions {
    /** PEM certificate(s) trusted instead of the default roots. */
    ca?: string | Buffer | Uint8Array | Array<string | Buffer | Uint8Array>;
    /** Check the server's certificate (default true). */
    rejectUnauthorized?: boolean;
    /** Extra headers sent on every request of the duplex. */
    headers?: Record<string, string | number | string[]>;
    /**
     * 'auto' (default): a WebSocket over HTTP/2 (RFC 8441 extended CONNECT,
     * subprotocol http2-duplex.1) where the server offers it, else over an
     * HTTP/1.1 upgrade, else a GET and a streaming POST (6.x servers,
     * proxies without WebSockets). 'websocket' or 'streaming' forces one
     * (the browser client's names); 'fetch' is 7.0.0's name for 'streaming'.
     */
    transport?: 'auto' | 'websocket' | 'streaming' | 'fetch';
    /**
     * Offer resume (default false): http2-duplex.2 (docs/protocol.md
     * "Resume"). A duplex the server makes resumable survives cuts and
     * hangs of its connection: the client reconnects and resumes it
     * byte-exact, and it emits 'resumed'. On a WebSocket the subprotocol
     * http2-duplex.2 is offered before http2-duplex.1; where no WebSocket
     * is used (transport 'streaming', or 'auto' where no WebSocket reaches
     * the server) http2-duplex.2 goes through a tunnel over the GET and
     * streaming POST (`tunnel` true; docs/protocol.md "Resume on the fetch
     * paths"). A duplex resumes on tunnels once it is on one, or once a
     * WebSocket for its resume cannot open. A server without resume
     * answers with a plain duplex (`resumable` false). It fails with
     * ERR_HTTP2_DUPLEX_RESUME_UNKNOWN, _REFUSED or _COUNT when the server
     * refuses the resume, with ERR_HTTP2_DUPLEX_RESUME_TIMEOUT when it was
     * not resumed within the server's resume timeout.
     */
    resume?: boolean;
    /** Connection pool (default: one shared by the process). */
    pool?: ConnectionPool;
    /** Class used for non-2xx answers (default ResponseError); init() is awaited before it is thrown. */
    ResponseError?: new (response: ClientResponse) => Error & { init(): Promise<void> };
}

export interface ClientDuplex extends Duplex {
    /** The duplex id the server gave ('' over a WebSocket when the server names none). */
    readonly id: string;
    /**
     * The transport in use (7.0.0 said 'fetch' for 'streaming'); for a
     * tunnel, its carrier's ('streaming'). It may change when the duplex
     * is resumed.
     */
    readonly transport: 'websocket' | 'streaming';
    /**
     * Whether the duplex goes through a tunnel (http2-duplex.2 over the
     * GET and streaming POST) now; it may change when it is resumed.
     */
    readonly tunnel: boolean;
    /** Whether the server selected resume (http2-duplex.2) for the duplex, over a WebSocket or a tunnel. */
    readonly resumable: boolean;
    /** A resume: the attempt (from 1 per failure) and ms since the failure. */
    on(event: 'resumed', listener: (resumed: { attempt: number; downtime: number }) => void): this;
    on(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** Open a duplex on an http2-duplex server (https://, or http:// for h2c). */
export function connect(url: string | URL, options?: ConnectOptions): Promise<ClientDuplex>;
