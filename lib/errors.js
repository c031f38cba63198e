'use strict';
// Errors with a stable `code` from the one table (crates/core/src/code.rs,
// generated into ./error-codes.js) and the HTTP `status` answered, if any.
const codes = require('./error-codes');

function duplex_error(code, message = codes[code].message, status = codes[code].status) {
    const err = new Error(message);
    err.code = code;
    if (status !== null && status !== undefined) {
        err.status = status;
    }
    return err;
}

// The error for a refusal the Rust core answered.
function refusal_error(rejection) {
    return duplex_error(rejection.code, rejection.message, rejection.status);
}

module.exports = { codes, duplex_error, refusal_error };
