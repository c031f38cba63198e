'use strict';
// Generated from crates/core/src/protocol.rs by `UPDATE_PROTOCOL=1 cargo test -p http2-duplex-core`; do not edit.
module.exports = Object.freeze({
    HEADER: Object.freeze({
        ID: 'http2-duplex-id',
        SEQ: 'http2-duplex-seq',
        SINGLE: 'http2-duplex-single',
        END: 'http2-duplex-end',
        DESTROYED: 'http2-duplex-destroyed',
        VERSION: 'http2-duplex-version',
        WINDOW: 'http2-duplex-window',
        WINDOW_BYTES: 'http2-duplex-window-bytes',
        ERROR: 'http2-duplex-error',
        FRAMING: 'http2-duplex-framing',
        TUNNEL: 'http2-duplex-tunnel',
        EXPOSED: 'http2-duplex-id, http2-duplex-version, http2-duplex-window, http2-duplex-window-bytes, http2-duplex-error, http2-duplex-framing, http2-duplex-tunnel',
        ALLOWED: 'http2-duplex-id, http2-duplex-seq, http2-duplex-single, http2-duplex-end, http2-duplex-destroyed, http2-duplex-framing, http2-duplex-tunnel, content-type'
    }),
    VALUE: Object.freeze({
        TRUE: 'true',
        FRAMING_VERSION: '1',
        PROTOCOL_VERSION: 2,
        PIPELINED_VERSION: 2,
        PREAMBLE: 'a',
        CONTENT_TYPE: 'application/octet-stream'
    }),
    FRAME: Object.freeze({
        DATA: 0,
        PING: 1,
        END: 2,
        HEADER_BYTES: 5
    }),
    WEBSOCKET: Object.freeze({
        SUBPROTOCOL: 'http2-duplex.1',
        RESUME_SUBPROTOCOL: 'http2-duplex.2',
        OPEN_MESSAGE: 'open',
        RESUME_PREFIX: 'resume ',
        RESUMABLE_PREFIX: 'resumable ',
        RESUMED_PREFIX: 'resumed ',
        ACK_PREFIX: 'ack ',
        RESUME_QUERY: '?resume=',
        END_MESSAGE: 'end',
        CREDIT_PREFIX: 'credit ',
        ID_PREFIX: 'id ',
        MAX_ID_LENGTH: 100,
        INITIAL_CREDIT: 1048576,
        MAX_CREDIT: 9007199254740991
    }),
    CLOSE: Object.freeze({
        NORMAL: 1000,
        GOING_AWAY: 1001,
        PROTOCOL_ERROR: 1002,
        INVALID_DATA: 1007,
        POLICY_VIOLATION: 1008,
        TOO_BIG: 1009,
        PAGE_VIOLATION: 4008,
        RESUMING: 4001
    }),
    CLOSE_ERRORS: Object.freeze({
        1002: 'ERR_HTTP2_DUPLEX_WS_PROTOCOL',
        1007: 'ERR_HTTP2_DUPLEX_WS_INVALID_UTF8',
        1009: 'ERR_HTTP2_DUPLEX_WS_TOO_BIG'
    }),
    DEFAULTS: Object.freeze({
        WINDOW: 16,
        WINDOW_BYTES: 4194304,
        CLOSE_TIMEOUT_MS: 1000,
        KEEPALIVE_INTERVAL_MS: 20000
    }),
    RESUME: Object.freeze({
        BUFFER: 4194304,
        TIMEOUT_MS: 30000,
        ACK_DELAY_MS: 200,
        ATTEMPT_TIMEOUT_MS: 10000,
        FIRST_RECONNECT_DELAY_MS: 250,
        MAX_RECONNECT_DELAY_MS: 2000,
        MAX_BYTES_PER_CONNECTION: 67108864,
        MAX_BYTES: 1073741824
    }),
    WAIT: Object.freeze({
        WS_CLOSE_MS: 5000,
        PING_ANSWER_MIN_MS: 1000,
        RETRY_AFTER_MS: 300000
    })
});
