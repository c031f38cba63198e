// @ts-check
'use strict';
// Answering a request on the duplex path, whatever its transport: the client
// may reset any stream at any time, and that must never throw. Also how its
// headers are read for the core.
const { constants } = require('http2');
const { HEADER } = require('../protocol');

/**
 * Answers unless the stream is already gone or answered.
 * @param {any} stream an HTTP/2 stream, or an HTTP/1.1 exchange or upgrade
 * @param {number} status
 * @param {Record<string, string>} response_headers
 */
function answer(stream, status, response_headers) {
    if (stream.destroyed || stream.closed || stream.headersSent) {
        return;
    }
    stream.respond({ ':status': status, ...response_headers }, { endStream: true });
}

/**
 * Answers a refused request with its status and code, and stops its upload.
 * @param {any} stream
 * @param {Error & { status?: number, code?: string }} err
 * @param {Record<string, string>} response_headers
 */
function answer_refusal(stream, err, response_headers) {
    if (err.status === undefined) {
        return;
    }
    answer(stream, err.status, { ...response_headers, [HEADER.ERROR]: String(err.code) });
    // The answer above is final; the rest of a refused body is not read.
    if (!stream.destroyed) {
        stream.close(constants.NGHTTP2_NO_ERROR);
    }
}

/**
 * A request header as the core takes it: its text, or undefined when absent.
 * @param {import('http2').IncomingHttpHeaders} headers
 * @param {string} name
 */
function header(headers, name) {
    const value = headers[name];
    return value === undefined ? undefined : String(value);
}

module.exports = { answer, answer_refusal, header };
