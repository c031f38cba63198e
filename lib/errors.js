// @ts-check
'use strict';
// The server's one factory of errors with a stable `code` from the one table
// (crates/core/src/code.rs, generated into ./error-codes.js) and the HTTP
// `status` answered, if any.
const codes = require('./error-codes');

/**
 * An error of this package: `code` from the table, `status` the HTTP status answered.
 * @typedef {Error & { code: string, status?: number }} DuplexError
 */

/**
 * @param {keyof typeof codes | string} code
 * @param {string} [message] the table's text by default
 * @param {number | null} [status] the table's status by default
 * @returns {DuplexError}
 */
function duplex_error(code, message, status) {
    const known = /** @type {Record<string, { message: string, status: number | null }>} */ (codes)[code];
    /** @type {DuplexError} */
    const err = Object.assign(new Error(message ?? known.message), { code });
    const answered = status === undefined ? known?.status : status;
    if (answered !== null && answered !== undefined) {
        err.status = answered;
    }
    return err;
}

/**
 * The error for a refusal the Rust core answered.
 * @param {import('./native').Refusal} refusal
 */
function refusal_error(refusal) {
    return duplex_error(refusal.code, refusal.message, refusal.status);
}

/**
 * An option refused at construction, coded ERR_HTTP2_DUPLEX_INVALID_OPTION:
 * `message` says which option and why.
 * @param {string} message
 * @param {ErrorConstructor} [ErrorClass] TypeError (its kind) or RangeError (its value)
 */
function invalid_option(message, ErrorClass = TypeError) {
    return Object.assign(new ErrorClass(message), { code: codes.ERR_HTTP2_DUPLEX_INVALID_OPTION.code });
}

module.exports = { codes, duplex_error, invalid_option, refusal_error };
