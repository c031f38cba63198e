// @ts-check
'use strict';

// Node's HTTP/2 session can hand a stream the same DATA chunk twice as its
// connection goes: seen on Node 20 in fault-proxy's cut mid-transfer, the last
// chunk emitted again in a new Buffer over the same memory, offset and length
// (likely a write failing inside a 'data' listener, after which the session
// parses its pending input again; inferred from node_http2.cc, not traced).
// Fed twice, a chunk is delivered twice or breaks the framing. Only an exact
// repeat of the last chunk is dropped: equal bytes in other memory, or
// elsewhere in the same memory, are new data.
class ReplayFilter {
    /** @type {ArrayBufferLike | null} */
    #memory = null;
    #offset = 0;
    #length = 0;

    /**
     * Whether `chunk` repeats the stream's last chunk; remembers it if not.
     * @param {Buffer} chunk
     */
    is_replay(chunk) {
        if (chunk.buffer === this.#memory && chunk.byteOffset === this.#offset &&
            chunk.length === this.#length && chunk.length > 0) {
            return true;
        }
        this.#memory = chunk.buffer;
        this.#offset = chunk.byteOffset;
        this.#length = chunk.length;
        return false;
    }
}

module.exports = { ReplayFilter };
