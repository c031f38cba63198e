'use strict';
// The cors option: which origins may open and use duplexes from a page on
// another origin, and the access-control-* headers that say so.

const ALLOWED_HEADERS = [
    'http2-duplex-id', 'http2-duplex-seq', 'http2-duplex-single', 'http2-duplex-end',
    'http2-duplex-destroyed', 'content-type'
].join(', ');

// What the core sends, readable cross-origin.
const { EXPOSED_HEADERS } = require('./native');

function invalid(message) {
    return Object.assign(new TypeError(message), { code: 'ERR_HTTP2_DUPLEX_INVALID_OPTION' });
}

// A page's own origin is always allowed: browsers send Origin on its POSTs too.
function same_origin(origin, headers) {
    const authority = headers[':authority'] ?? headers.host;
    try {
        return authority !== undefined && new URL(origin).host === authority;
    } catch {
        return false;
    }
}

// `option`: { origins: [origin, …] or (origin, headers) => boolean,
// credentials: boolean (default false), max_age: seconds (default 600) }.
// Without it nothing is checked, as in 6.x.
function cors_policy(option) {
    if (option === undefined || option === null || option === false) {
        return null;
    }
    const { origins, credentials = false, max_age = 600 } = option;
    let allows;
    if (typeof origins === 'function') {
        allows = origins;
    } else if (Array.isArray(origins) && origins.every(o => typeof o === 'string')) {
        const listed = new Set(origins);
        allows = origin => listed.has(origin);
    } else {
        throw invalid('option cors.origins must be an array of origins or a function of the origin');
    }
    if (!Number.isSafeInteger(max_age) || max_age < 0) {
        throw invalid(`option cors.max_age must be a whole number of seconds, got ${max_age}`);
    }
    return {
        // { allowed, headers }: the headers every answer to this request carries.
        decide(headers) {
            const { origin } = headers;
            if (origin === undefined || same_origin(origin, headers)) {
                return { allowed: true, headers: {} };
            }
            if (!allows(origin, headers)) {
                return { allowed: false, headers: {} };
            }
            return {
                allowed: true,
                headers: {
                    'access-control-allow-origin': origin,
                    'access-control-expose-headers': EXPOSED_HEADERS,
                    ...(credentials ? { 'access-control-allow-credentials': 'true' } : {}),
                    vary: 'origin'
                }
            };
        },
        // What a preflight OPTIONS is answered with, besides decide()'s headers.
        preflight(headers) {
            return {
                'access-control-allow-methods': 'GET, POST',
                'access-control-allow-headers':
                    headers['access-control-request-headers'] ?? ALLOWED_HEADERS,
                'access-control-max-age': String(max_age)
            };
        }
    };
}

module.exports = { cors_policy };
