import { Duplex, DuplexOptions } from 'stream';

/** A non-2xx answer to the duplex's GET (same shape as the browser client's). */
export class ResponseError extends Error {
    constructor(response: { status: number; statusText: string; ok: boolean });
    response: { status: number; statusText: string; ok: boolean };
    status: number;
    init(): Promise<void>;
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
    /** Connection pool (default: one shared by the process). */
    pool?: ConnectionPool;
    /** Class used for non-2xx answers (default ResponseError). */
    ResponseError?: new (response: { status: number; statusText: string; ok: boolean }) => Error & { init(): Promise<void> };
}

export interface ClientDuplex extends Duplex {
    /** The duplex id the server gave. */
    readonly id: string;
}

/** Open a duplex on an http2-duplex server (https://, or http:// for h2c). */
export function connect(url: string | URL, options?: ConnectOptions): Promise<ClientDuplex>;
