// make()'s options: split into the client's own, the Duplex's and fetch's, and which
// transports can honour them all.
import codes from '../error-codes.js';
import { duplex_error } from './response-error.mjs';

const CLIENT_KEYS = new Set([
    'disable_request_streaming', 'fetch', 'ResponseError', 'framing', 'transport', 'WebSocket', 'resume'
]);

// Node Duplex options; everything else goes to fetch, as in http2-duplex 6.
const DUPLEX_KEYS = new Set([
    'highWaterMark', 'readableHighWaterMark', 'writableHighWaterMark',
    'objectMode', 'readableObjectMode', 'writableObjectMode',
    'allowHalfOpen', 'autoDestroy', 'emitClose', 'decodeStrings',
    'defaultEncoding', 'encoding', 'signal'
]);

export const TRANSPORTS = ['auto', 'websocket', 'streaming', 'per-write'];

export function split_options(options, defaults) {
    const client = { ...defaults };
    const duplex = { autoDestroy: true };
    const fetch_init = {};
    for (const [key, value] of Object.entries(options || {})) {
        if (CLIENT_KEYS.has(key)) {
            if (value !== undefined) {
                client[key] = value;
            }
        } else if (DUPLEX_KEYS.has(key)) {
            duplex[key] = value;
        } else {
            fetch_init[key] = value;
        }
    }
    return { client, duplex, fetch_init };
}

// The user's fetch options with ours on top; protocol headers win over the user's.
export function request_init(fetch_init, init, headers) {
    const merged = new Headers(fetch_init.headers);
    for (const [name, value] of Object.entries(headers || {})) {
        merged.set(name, value);
    }
    return { cache: 'no-store', ...fetch_init, ...init, headers: merged };
}

// A tunnel carrier's options (tunnel.mjs): the user's without the Duplex's, which are
// the tunnelled duplex's.
export function carrier_options(options) {
    return Object.fromEntries(Object.entries(options || {}).filter(([key]) => !DUPLEX_KEYS.has(key)));
}

export function invalid_option(message) {
    return duplex_error(codes.ERR_HTTP2_DUPLEX_INVALID_OPTION.code, { message }, TypeError);
}

// The options given that only the fetch paths honour: a browser WebSocket goes
// through no custom fetch, sends no custom header, always sends the origin's
// cookies (whatever `credentials` says) and takes none of fetch's other options;
// and it is not one POST per write.
export function fetch_only_options(options) {
    const { client, fetch_init } = split_options(options, {});
    const names = Object.keys(fetch_init).filter(name => fetch_init[name] !== undefined);
    if (client.disable_request_streaming) {
        names.unshift('disable_request_streaming');
    }
    if (client.fetch !== undefined) {
        names.unshift('fetch');
    }
    return names;
}

// How make(url, options) opens a duplex: the transport asked for, and whether a
// WebSocket is tried (first, for 'auto'). Each option means the same on every
// transport make() may use: 'auto' with an option only the fetch paths honour uses
// them (with resume, through a WebSocket tunnel); an explicit transport that cannot
// honour an option is a TypeError coded ERR_HTTP2_DUPLEX_INVALID_OPTION.
// `can_stream()`: whether this browser can stream request bodies (asked only for
// transport 'streaming').
export function plan_transport(options, can_stream) {
    const transport = options?.transport ?? 'auto';
    if (!TRANSPORTS.includes(transport)) {
        throw invalid_option(`transport must be one of ${TRANSPORTS.join(', ')}`);
    }
    const fetch_only = fetch_only_options(options);
    if (transport === 'websocket' && fetch_only.length > 0) {
        throw invalid_option(`transport 'websocket' cannot honour ${fetch_only.join(', ')}: ` +
            "a WebSocket goes through no fetch and carries no fetch options (transport 'auto' uses the fetch paths)");
    }
    const resume = options?.resume;
    if (resume !== undefined && typeof resume !== 'boolean') {
        throw invalid_option('resume must be true or false');
    }
    if (transport === 'streaming' && options.disable_request_streaming) {
        throw invalid_option("transport 'streaming' with disable_request_streaming");
    }
    if (transport === 'streaming' && !can_stream()) {
        throw invalid_option("transport 'streaming': this browser cannot stream request bodies");
    }
    return {
        transport,
        websocket: transport === 'websocket' || (transport === 'auto' && fetch_only.length === 0)
    };
}
