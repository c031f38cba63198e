// @ts-check
'use strict';
// HTTP/1.1 adapter: presents one request/response exchange (Node's
// IncomingMessage + ServerResponse) as the part of a ServerHttp2Stream's
// interface that the server uses, so one server serves both transports.
const { EventEmitter } = require('events');
const { constants } = require('http2');

class Http1Exchange extends EventEmitter {
    #aborted = false;

    /**
     * @param {import('http').IncomingMessage} req
     * @param {import('http').ServerResponse} res
     */
    constructor(req, res) {
        super();
        this.req = req;
        this.res = res;
        // HTTP/1.1 has no session to pair in: see the scope option.
        this.session = null;
        this.closed = false;
        const abort = () => {
            this.#aborted = true;
        };
        req.on('error', /** @param {Error} err */ err => {
            abort();
            this.emit('error', err);
        });
        res.on('error', /** @param {Error} err */ err => {
            abort();
            this.emit('error', err);
        });
        res.on('close', () => {
            // A response closed before it was sent whole, or a request body
            // cut short, is HTTP/1.1's reset.
            if (!res.writableFinished || !req.complete) {
                abort();
            }
            this.closed = true;
            this.emit('close');
        });
    }

    // 'data' and 'end' are the request body's; the rest are the exchange's.
    /**
     * @param {string | symbol} event
     * @param {(...args: any[]) => void} listener
     */
    on(event, listener) {
        if (event === 'data' || event === 'end') {
            this.req.on(event, listener);
            return this;
        }
        return super.on(event, listener);
    }

    /**
     * @param {string | symbol} event
     * @param {(...args: any[]) => void} listener
     */
    once(event, listener) {
        if (event === 'data' || event === 'end') {
            this.req.once(event, listener);
            return this;
        }
        return super.once(event, listener);
    }

    get rstCode() {
        return this.#aborted ? constants.NGHTTP2_CANCEL : constants.NGHTTP2_NO_ERROR;
    }

    get destroyed() {
        return this.res.destroyed || Boolean(this.req.socket?.destroyed);
    }

    get headersSent() {
        return this.res.headersSent;
    }

    get writableEnded() {
        return this.res.writableEnded;
    }

    get writableFinished() {
        return this.res.writableFinished;
    }

    /**
     * @param {import('http2').OutgoingHttpHeaders} headers with ':status'
     * @param {{ endStream?: boolean }} [options]
     */
    respond(headers, { endStream = false } = {}) {
        const { ':status': status, ...rest } = headers;
        this.res.writeHead(Number(status), rest);
        if (endStream) {
            this.res.end();
        } else {
            // A streaming answer: the headers go now, the body as it comes.
            this.res.flushHeaders();
        }
    }

    /**
     * @param {string | Uint8Array} chunk
     * @param {BufferEncoding} [encoding]
     * @param {(err?: Error | null) => void} [cb]
     */
    write(chunk, encoding, cb) {
        return encoding === undefined ? this.res.write(chunk, cb) : this.res.write(chunk, encoding, cb);
    }

    /** @param {() => void} [cb] */
    end(cb) {
        this.res.end(cb);
        return this;
    }

    cork() {
        this.res.cork();
    }

    uncork() {
        this.res.uncork();
    }

    pause() {
        this.req.pause();
        return this;
    }

    resume() {
        this.req.resume();
        return this;
    }

    // Done with the exchange. Once the answer is out the connection is closed
    // rather than drained: a refused streaming body may never end.
    close(code = constants.NGHTTP2_NO_ERROR) {
        if (code !== constants.NGHTTP2_NO_ERROR || !this.res.writableEnded) {
            this.destroy();
        } else if (!this.req.complete) {
            const cut = () => this.req.socket?.destroy();
            if (this.res.writableFinished) {
                cut();
            } else {
                this.res.once('finish', cut);
            }
        }
    }

    /** @param {Error} [err] */
    destroy(err) {
        this.#aborted = true;
        this.res.destroy(err);
        this.req.socket?.destroy();
    }
}

module.exports = { Http1Exchange };
