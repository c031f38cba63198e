// Types of the browser client (package.json "browser" entry and "http2-duplex/client").
// readable-stream has the API of Node's stream module, whose types (@types/node) we reuse.
import type { Duplex, DuplexOptions } from 'stream';

/** Thrown (rejected) when the server answers a request with a non-2xx status. */
export class ResponseError extends Error {
    constructor(response: Response);
    /** The failed fetch Response. */
    response: Response;
    /** Awaited before the error is thrown; override to read the response body. */
    init(): Promise<void>;
}

/** The `fetch` the client calls; defaults to the global one. */
export type FetchFunction = (input: string, init?: RequestInit & { duplex?: 'half' }) => Promise<Response>;

export interface MakeOptions extends DuplexOptions, Omit<RequestInit, 'body' | 'method' | 'signal'> {
    /** Send one POST per write even where the browser can stream request bodies. */
    disable_request_streaming?: boolean;
    /** Replacement for the global fetch. */
    fetch?: FetchFunction;
    /** Replacement error class; constructed with the Response, then init() is awaited. */
    ResponseError?: new (response: Response) => ResponseError;
    /** Destroys the duplex (and aborts its requests) when aborted. */
    signal?: AbortSignal;
}

/** The client's end of a duplex; 'finish' means the server has taken every byte written. */
export interface FetchDuplex extends Duplex {
    /** The server-assigned duplex id (the http2-duplex-id header). */
    readonly id: string;
    readonly url: string;
}

/**
 * Opens a duplex to an Http2DuplexServer at `url`. Rejects with ResponseError when the
 * server answers the opening GET with a non-2xx status.
 */
export default function make(url: string, options?: MakeOptions): Promise<FetchDuplex>;
