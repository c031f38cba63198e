// @ts-check
'use strict';
// The origin check and the cors option: the core decides
// (crates/core/src/cors.rs); this checks the option's shape and asks the
// application's function when the core says so.
const { CorsPolicy } = require('./native');
const { invalid_option: invalid } = require('./errors');

/** @typedef {Partial<import('../index').Http2DuplexCors>} CorsOption */

const CORS_MEMBERS = ['origins', 'credentials', 'max_age'];

// `option`: { origins: [origin, …] or (origin, headers) => boolean,
// credentials: boolean (default false), max_age: seconds (default 600) }.
// Without it no foreign origin is allowed; `check_origin: false` serves them
// all, as 6.x did.
/**
 * @param {CorsOption | null | undefined | false} option
 * @param {unknown} check_origin
 */
function cors_policy(option, check_origin) {
    if (typeof check_origin !== 'boolean') {
        throw invalid(`option check_origin must be a boolean, got ${check_origin}`);
    }
    /** @type {CorsOption} */
    const given = option === undefined || option === null || option === false ? {} : option;
    // A string, or a misspelt member, would otherwise allow nothing silently.
    const unknown = typeof given === 'object' ?
        Object.keys(given).find(name => !CORS_MEMBERS.includes(name)) : String(given);
    if (unknown !== undefined) {
        throw invalid(`option cors must be { ${CORS_MEMBERS.join(', ')} }, got ${unknown}`);
    }
    const { origins = [], credentials = false, max_age = 600 } = given;
    const asks = typeof origins === 'function';
    if (!asks && !(Array.isArray(origins) && origins.every(o => typeof o === 'string'))) {
        throw invalid('option cors.origins must be an array of origins or a function of the origin');
    }
    if (!Number.isSafeInteger(max_age) || max_age < 0) {
        throw invalid(`option cors.max_age must be a whole number of seconds, got ${max_age}`);
    }
    const policy = new CorsPolicy(asks ? null : origins, check_origin, Boolean(credentials), max_age);
    return {
        // The core's answer for this request (kind 'same-origin', 'allowed',
        // 'preflight' or 'refused'); `warn` gets the error of a function that threw
        // (the origin is then refused).
        /**
         * @param {import('http2').IncomingHttpHeaders} headers
         * @param {(err: unknown) => void} warn
         * @returns {import('./native').CorsAnswer}
         */
        decide(headers, warn) {
            /** @param {string} name */
            const text = name => headers[name] === undefined ? undefined : String(headers[name]);
            /** @type {[string, string | undefined, string | undefined, string | undefined]} */
            const request = [String(headers[':method']), text('origin'),
                text(':authority') ?? text('host'), text('access-control-request-headers')];
            const answer = policy.decide(...request, undefined);
            if (answer.kind !== 'ask' || typeof origins !== 'function') {
                return answer;
            }
            let allowed = false;
            try {
                // The core asks only about a request with an origin.
                allowed = Boolean(origins(/** @type {string} */ (request[1]), headers));
            } catch (err) {
                warn(err);
            }
            return policy.decide(...request, allowed);
        }
    };
}

module.exports = { cors_policy };
