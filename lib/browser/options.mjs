// Splits make()'s options into the client's own, the Duplex's and fetch's.

const CLIENT_KEYS = new Set([
    'disable_request_streaming', 'fetch', 'ResponseError', 'framing', 'transport', 'WebSocket'
]);

// Node Duplex options; everything else goes to fetch, as in http2-duplex 6.
const DUPLEX_KEYS = new Set([
    'highWaterMark', 'readableHighWaterMark', 'writableHighWaterMark',
    'objectMode', 'readableObjectMode', 'writableObjectMode',
    'allowHalfOpen', 'autoDestroy', 'emitClose', 'decodeStrings',
    'defaultEncoding', 'encoding', 'signal'
]);

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
