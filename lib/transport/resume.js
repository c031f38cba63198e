// @ts-check
'use strict';
// Resume on the server (http2-duplex.2, docs/protocol.md "Resume"): one core
// ResumeServer decides for every resumable duplex; this hands its actions to
// their duplexes and keeps its one timer. (The keep-alive acks by which a
// client tells a hung connection from a quiet one are the server's ticks'.)
const { ResumeServer } = require('../native');
const { DeadlineTimer } = require('./deadline');

/**
 * @typedef {import('../native').ResumeAction} ResumeAction
 * @typedef {{ resume_action(action: ResumeAction): void }} ResumableDuplex
 */

const now = () => performance.now();

class ServerResumption {
    #core;
    /** @type {Map<number, ResumableDuplex>} */
    #duplexes = new Map();
    #deadline = new DeadlineTimer(() => this.act(this.#core.handleTimeout(now())));

    /**
     * @param {{ resume_buffer: number, resume_timeout: number, keepalive_interval: number,
     *   max_resume_bytes_per_connection: number, max_resume_bytes: number }} options
     */
    constructor({ resume_buffer, resume_timeout, keepalive_interval, max_resume_bytes_per_connection,
        max_resume_bytes }) {
        this.#core = new ResumeServer(resume_buffer, resume_timeout, max_resume_bytes_per_connection,
            max_resume_bytes);
        this.resume_buffer = resume_buffer;
        this.resume_timeout = resume_timeout;
        // (told the client at open)
        this.keepalive_interval = keepalive_interval;
    }

    /**
     * A duplex opened with resume on `connection` (the registry's key): its secret.
     * @param {number} key
     * @param {string} id
     * @param {number} connection
     * @param {ResumableDuplex} duplex
     */
    open(key, id, connection, duplex) {
        this.#duplexes.set(key, duplex);
        return this.#core.open(key, id, connection);
    }

    /** @param {number} key */
    room(key) {
        return this.#core.room(key);
    }

    /** @param {number} key */
    acked_to_peer(key) {
        return this.#core.ackedToPeer(key);
    }

    /**
     * @param {number} key
     * @param {number} n
     */
    write(key, n) {
        // A write sets no deadline: no timer to move.
        this.#hand_out(this.#core.handleWrite(key, n));
    }

    /** @param {number} key */
    end(key) {
        this.#core.handleEnd(key);
    }

    /**
     * @param {number} key
     * @param {number} n
     */
    data(key, n) {
        this.act(this.#core.handleData(key, n, now()));
    }

    /** @param {number} key */
    peer_end(key) {
        this.act(this.#core.handlePeerEnd(key, now()));
    }

    /**
     * @param {number} key
     * @param {number} count
     */
    ack(key, count) {
        this.act(this.#core.handleAck(key, count, now()));
    }

    /** @param {number} key */
    transport_failed(key) {
        this.#core.handleTransportFailed(key, now());
        this.#arm();
    }

    /**
     * A client's `resume id secret count`: the core's answer, whose actions
     * the caller carries out once the new transport is attached.
     * @param {string} id
     * @param {string} secret
     * @param {number} count
     */
    resume(id, secret, count) {
        const answer = this.#core.handleResume(id, secret, count, now());
        this.#arm();
        return answer;
    }

    /** @param {number} key */
    remove(key) {
        this.#duplexes.delete(key);
        // (Flow for the duplexes its buffer left room for.)
        this.act(this.#core.remove(key));
    }

    /** @param {ResumeAction[]} actions */
    act(actions) {
        this.#hand_out(actions);
        this.#arm();
    }

    /** @param {ResumeAction[]} actions */
    #hand_out(actions) {
        for (const action of actions) {
            this.#duplexes.get(action.duplex)?.resume_action(action);
        }
    }

    // One timer, at the core's next deadline (ack delays, resume timeouts).
    #arm() {
        this.#deadline.arm(this.#core.pollTimeout());
    }
}

module.exports = { ServerResumption };
