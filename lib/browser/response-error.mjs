// The error `make()` and failed POSTs reject with when the server answers non-2xx.
// Same shape as the Node client's: name, code, status, response; the message is the
// statusText or the status, as in http2-duplex 6.
// The one table of codes (CommonJS, as are this client's other dependencies).
import codes from '../error-codes.js';
import protocol from '../protocol.js';

// The server names why it refused a request in a header: a code of lib/error-codes.js.
function response_code(response) {
    const code = response.headers && typeof response.headers.get === 'function' ?
        response.headers.get(protocol.HEADER.ERROR) : null;
    return code || codes.ERR_HTTP2_DUPLEX_RESPONSE.code;
}

export class ResponseError extends Error {
    constructor(response) {
        super(response.statusText || String(response.status));
        this.name = 'ResponseError';
        this.code = response_code(response);
        this.status = response.status;
        this.response = response;
    }

    // Subclasses may read the body here; it is awaited before the error is thrown.
    async init() {}
}

export async function response_error(ErrorClass, response) {
    const err = new ErrorClass(response);
    await err.init();
    return err;
}

// The browser client's one factory of errors of this package: `code` from the one
// table, its text (or `message`, for particulars such as an option's name), and
// `fields` (status, response, close_code…) on it; `cause`, if given, as Error's.
export function duplex_error(code, { message, cause, ...fields } = {}, ErrorClass = Error) {
    const err = new ErrorClass(message ?? codes[code].message, cause === undefined ? undefined : { cause });
    err.code = code;
    return Object.assign(err, fields);
}

// make() on a URL whose GET answer is 2xx but names no duplex: not an http2-duplex endpoint.
export function no_id_error(response) {
    return duplex_error(codes.ERR_HTTP2_DUPLEX_NO_ID_IN_RESPONSE.code, { status: response.status, response });
}

// What a write still pending when the duplex is destroyed fails with (as in Node).
export function destroyed_error() {
    const err = new Error('the duplex was destroyed before this write was done');
    err.code = 'ERR_STREAM_DESTROYED';
    return err;
}
