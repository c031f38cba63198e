// Types of the browser client (package.json "browser" entry and "http2-duplex/client").
// readable-stream has the API of Node's stream module, whose types (@types/node) we reuse.
import type { Duplex, DuplexOptions } from 'stream';

/**
 * A request answered with a non-2xx status: make() rejects with it (the GET), and a
 * failed write or end POST destroys the duplex with it. Same shape as the Node
 * client's ResponseError; `message` is the statusText or the status, as in 6.x.
 */
export class ResponseError extends Error {
    constructor(response: Response);
    /** 'ResponseError'. */
    name: string;
    /**
     * The server's `http2-duplex-error` header (a stable code such as
     * 'ERR_HTTP2_DUPLEX_UNKNOWN_ID'), else 'ERR_HTTP2_DUPLEX_RESPONSE'.
     */
    code: string;
    /** The HTTP status (response.status). */
    status: number;
    /** The failed fetch Response. */
    response: Response;
    /** Awaited before the error is used; override to read the response body. */
    init(): Promise<void>;
}

/** make() on a URL whose 2xx GET answer has no http2-duplex-id (not a duplex endpoint). */
export interface NoIdError extends Error {
    code: 'ERR_HTTP2_DUPLEX_NO_ID_IN_RESPONSE';
    /** The GET answer's status. */
    status: number;
    response: Response;
}

/** The `fetch` the client calls; defaults to the global one. */
export type FetchFunction = (input: string, init?: RequestInit & { duplex?: 'half' }) => Promise<Response>;

/**
 * How a duplex travels: 'websocket' (one WebSocket opened as an RFC 8441 extended
 * CONNECT on the HTTP/2 connection, subprotocol http2-duplex.1), 'streaming' (a long
 * GET and one streaming POST) or 'per-write' (a long GET and one POST per write).
 */
export type Transport = 'websocket' | 'streaming' | 'per-write';

/** A transport that make() could not open (transport 'websocket' only; 'auto' falls back). */
export interface WebSocketError extends Error {
    code: 'ERR_HTTP2_DUPLEX_WS_CLOSED' | 'ERR_HTTP2_DUPLEX_WS_PROTOCOL' | 'ERR_HTTP2_DUPLEX_WS_INVALID_UTF8' |
        'ERR_HTTP2_DUPLEX_WS_TOO_BIG' | 'ERR_HTTP2_DUPLEX_WS_CREDIT' | 'ERR_HTTP2_DUPLEX_WS_MESSAGE';
    /** The WebSocket close code, when a Close (or the browser's 1006) said it. */
    close_code?: number;
}

/**
 * make()'s options. Each means the same on every transport make() uses. A browser
 * WebSocket goes through no custom fetch, carries no custom header and no other fetch
 * option, and always sends the origin's cookies; so options only the fetch paths honour
 * (`fetch`, `disable_request_streaming: true`, `headers`, `credentials` and every other
 * option passed on to fetch) make transport 'auto' use the fetch paths without trying a
 * WebSocket, and make transport 'websocket' reject with a TypeError whose `code` is
 * ERR_HTTP2_DUPLEX_INVALID_OPTION and whose message names them. An option given as
 * `undefined` counts as not given.
 */
export interface MakeOptions extends DuplexOptions, Omit<RequestInit, 'body' | 'method' | 'signal'> {
    /**
     * The transport: 'auto' (default) picks the best the browser, the server and these
     * options allow (a WebSocket unless an option above rules it out, then request
     * streaming where the browser can, else one POST per write) and falls back
     * unnoticed; any other value forces that one, and make() rejects when it cannot be
     * used ('websocket': a WebSocketError, or ERR_HTTP2_DUPLEX_INVALID_OPTION with an
     * option it cannot honour; 'streaming' with `disable_request_streaming` or where the
     * browser cannot stream request bodies: ERR_HTTP2_DUPLEX_INVALID_OPTION).
     */
    transport?: 'auto' | Transport;
    /**
     * true: one POST per write even where the browser can stream request bodies.
     * 'auto': the fetch paths, per write; 'per-write': no effect; 'streaming' and
     * 'websocket': refused (ERR_HTTP2_DUPLEX_INVALID_OPTION).
     */
    disable_request_streaming?: boolean;
    /**
     * Replacement for the global WebSocket class, used wherever make() opens a
     * WebSocket ('websocket', and 'auto' unless another option rules the WebSocket out).
     * The fetch transports open none, so there it has no effect.
     */
    WebSocket?: typeof WebSocket;
    /**
     * Replacement for the global fetch; every request of the fetch paths goes through
     * it. 'auto': the fetch paths; 'streaming' and 'per-write': used; 'websocket':
     * refused (ERR_HTTP2_DUPLEX_INVALID_OPTION).
     */
    fetch?: FetchFunction;
    /**
     * Request headers for every GET and POST (the protocol's own `http2-duplex-*` headers
     * win). 'auto': the fetch paths; 'streaming' and 'per-write': sent; 'websocket':
     * refused (ERR_HTTP2_DUPLEX_INVALID_OPTION), as a browser WebSocket cannot send them.
     * Any other fetch option (mode, cache, referrer, referrerPolicy, integrity,
     * keepalive, redirect, priority, ... and any key make() does not know) is passed to
     * fetch and treated the same way.
     */
    headers?: HeadersInit;
    /**
     * Whether the fetch requests send cookies. 'auto': the fetch paths; 'streaming' and
     * 'per-write': passed to fetch; 'websocket': refused (ERR_HTTP2_DUPLEX_INVALID_OPTION),
     * as a browser WebSocket sends the origin's cookies whatever this says.
     */
    credentials?: RequestCredentials;
    /**
     * Ask for a framed GET body (request header `http2-duplex-framing: 1`): the server's
     * end is then explicit, and an answer ended without it destroys the duplex with
     * ERR_HTTP2_DUPLEX_TRUNCATED_RESPONSE. Default: ask only for a URL of the page's own
     * origin, as the header makes a cross-origin GET preflighted (the server answers
     * preflights only with its `cors` option); true: always; false: never. The
     * 'websocket' transport has no GET and always ends explicitly (a close without the
     * server's end is ERR_HTTP2_DUPLEX_WS_CLOSED), so there it changes nothing.
     */
    framing?: boolean;
    /**
     * Replacement error class; constructed with the Response, then init() is awaited.
     * Used for every answer outside 2xx the client reads: on the fetch paths (including
     * those 'auto' falls back to). A page cannot read a WebSocket's answer, so the
     * 'websocket' transport fails with a WebSocketError instead.
     */
    ResponseError?: new (response: Response) => ResponseError;
    /**
     * true: ask for a duplex that outlives its WebSocket (docs/protocol.md "Resume"): the
     * WebSocket offers http2-duplex.2, and where the server selects it (`resumable`), a
     * WebSocket that fails or hangs is replaced by a new one to the same URL and the
     * duplex goes on byte-exact, emitting 'resumed' ({ attempt, downtime } in ms) rather
     * than 'error'. It fails with ERR_HTTP2_DUPLEX_RESUME_UNKNOWN, _REFUSED or _COUNT
     * when the server refuses the resume, with ERR_HTTP2_DUPLEX_RESUME_TIMEOUT when it was
     * not resumed within the server's resume_timeout, with ERR_HTTP2_DUPLEX_RESUME_ACK when
     * the server acknowledged what was never sent. A server without resume selects
     * http2-duplex.1: the duplex is as without the option. On the fetch paths ('streaming',
     * 'per-write', and 'auto' where no WebSocket opens or an option only fetch honours is
     * given) http2-duplex.2 goes through a WebSocket tunnel over a GET and POST duplex that
     * honours those options (`tunnel` true; docs/protocol.md "Resume on the fetch paths");
     * a server without resume answers with a plain duplex (`resumable` false). A duplex
     * opened on a WebSocket ('auto') resumes on the kind (WebSocket or tunnel) that last
     * resumed it, each failed attempt trying the other kind next. What was written is kept (not copied) until the server
     * acknowledges it, at most the server's resume_buffer (a write beyond it waits): do
     * not modify a chunk once written. Default false.
     */
    resume?: boolean;
    /**
     * Destroys the duplex (and aborts its requests, or its WebSocket while opening) when
     * aborted; the same on every transport.
     */
    signal?: AbortSignal;
}

/**
 * What a framed GET body that ends (or fails) without its END frame destroys the
 * duplex with; `cause` is the browser's error when the read failed.
 */
export interface TruncatedResponseError extends Error {
    code: 'ERR_HTTP2_DUPLEX_TRUNCATED_RESPONSE';
}

/**
 * The client's end of a duplex. On the fetch paths 'finish' means the server has taken
 * every byte written; on the 'websocket' transport, that every byte and the end went to
 * the WebSocket (the server may still drop them if the connection fails), and on a
 * resumable one that the server acknowledged the end (which it does once its own end
 * was acknowledged: the whole exchange is then done).
 */
export interface FetchDuplex extends Duplex {
    /**
     * The server-assigned duplex id, on every transport: the GET answer's http2-duplex-id
     * header, or on the 'websocket' transport the server's first message (a browser cannot
     * read a WebSocket answer's headers). Typed string as in 6.x.
     */
    readonly id: string;
    readonly url: string;
    /** The transport in use; for a tunnel, its carrier's ('streaming' or 'per-write'). */
    readonly transport: Transport;
    /**
     * Whether the duplex goes through a WebSocket tunnel over the fetch paths (`resume:
     * true` where no WebSocket is used); it may change when the duplex is resumed.
     */
    readonly tunnel: boolean;
    /** Whether the duplex outlives its WebSocket (`resume: true`, and the server resumes). */
    readonly resumable: boolean;
    /** A resume: the attempt (from 1 per failure) and ms since the failure. */
    on(event: 'resumed', listener: (resumed: { attempt: number; downtime: number }) => void): this;
    on(event: string | symbol, listener: (...args: any[]) => void): this;
}

/**
 * Opens a duplex to an Http2DuplexServer at `url`. Rejects with ResponseError when the
 * server answers the opening GET with a non-2xx status, and with a NoIdError when a
 * 2xx answer names no duplex.
 */
export default function make(url: string, options?: MakeOptions): Promise<FetchDuplex>;
