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

export interface MakeOptions extends DuplexOptions, Omit<RequestInit, 'body' | 'method' | 'signal'> {
    /**
     * The transport: 'auto' (default) picks the best the browser and server have and
     * falls back unnoticed; any other value forces that one, and make() rejects when it
     * cannot be used ('websocket': a WebSocketError; 'streaming' where the browser cannot
     * stream request bodies: code ERR_HTTP2_DUPLEX_INVALID_OPTION).
     */
    transport?: 'auto' | Transport;
    /** Send one POST per write even where the browser can stream request bodies (excludes 'streaming'). */
    disable_request_streaming?: boolean;
    /** Replacement for the global WebSocket class (transport 'websocket' and 'auto'). */
    WebSocket?: typeof WebSocket;
    /** Replacement for the global fetch. */
    fetch?: FetchFunction;
    /**
     * Ask for a framed GET body (request header `http2-duplex-framing: 1`): the server's
     * end is then explicit, and an answer ended without it destroys the duplex with
     * ERR_HTTP2_DUPLEX_TRUNCATED_RESPONSE. Default: ask only for a URL of the page's own
     * origin, as the header makes a cross-origin GET preflighted (the server answers
     * preflights only with its `cors` option); true: always; false: never.
     */
    framing?: boolean;
    /** Replacement error class; constructed with the Response, then init() is awaited. */
    ResponseError?: new (response: Response) => ResponseError;
    /** Destroys the duplex (and aborts its requests) when aborted. */
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
 * the WebSocket (the server may still drop them if the connection fails).
 */
export interface FetchDuplex extends Duplex {
    /**
     * The server-assigned duplex id (the http2-duplex-id header). Typed string as in
     * 6.x, but undefined on the 'websocket' transport, whose answer headers a browser
     * cannot read.
     */
    readonly id: string;
    readonly url: string;
    /** The transport in use. */
    readonly transport: Transport;
}

/**
 * Opens a duplex to an Http2DuplexServer at `url`. Rejects with ResponseError when the
 * server answers the opening GET with a non-2xx status, and with a NoIdError when a
 * 2xx answer names no duplex.
 */
export default function make(url: string, options?: MakeOptions): Promise<FetchDuplex>;
