// The client's side of one resumable duplex (docs/protocol.md "Resume"), sans-IO: a
// port of crates/core/src/resume/ (client.rs and link.rs; the rules are in mod.rs),
// since the page has no Rust. The adapter (websocket-duplex.mjs) feeds it what
// happened, calls handle_timeout when poll_timeout says, and carries out the actions
// it answers, in order. Actions are { type, ... } with the core's names: 'drop'
// { bytes }, 'hold', 'flow', 'ack' { count }, 'close-transport', 'reconnect'
// { attempt, count }, 'resumed' { attempt, downtime }, 'resend' { from, end },
// 'complete', 'fail' { code, message }. Counts are units (bytes, and one for an end),
// exact as numbers below 2^53. Time is ms on any monotonic clock, passed in.
import protocol from '../protocol.js';

const { RESUME } = protocol;
export const ACK_DELAY_MS = RESUME.ACK_DELAY_MS;
export const ATTEMPT_TIMEOUT_MS = RESUME.ATTEMPT_TIMEOUT_MS;
export const MAX_RECONNECT_DELAY_MS = RESUME.MAX_RECONNECT_DELAY_MS;
const FIRST_RECONNECT_DELAY_MS = RESUME.FIRST_RECONNECT_DELAY_MS;

// The silence after which the transport is taken for hung, for the server's
// keep-alive interval; undefined when keep-alives are off.
export function hang_timeout_ms(keepalive_interval_ms) {
    return keepalive_interval_ms > 0 ? 2 * keepalive_interval_ms + 1000 : undefined;
}

// The wait after the `failed`-th failed attempt before the next: 250 ms, doubling,
// at most MAX_RECONNECT_DELAY_MS.
export function reconnect_delay_ms(failed) {
    const doublings = Math.min(Math.max(failed - 1, 0), 16);
    return Math.min(FIRST_RECONNECT_DELAY_MS * 2 ** doublings, MAX_RECONNECT_DELAY_MS);
}

function fail_action(code, message) {
    return { type: 'fail', code, message };
}

const ERRORS = {
    timeout: timeout_ms => fail_action('ERR_HTTP2_DUPLEX_RESUME_TIMEOUT',
        `the duplex was not resumed within ${timeout_ms} ms`),
    unknown: () => fail_action('ERR_HTTP2_DUPLEX_RESUME_UNKNOWN',
        'the server does not know the duplex (its node restarted, or the duplex is gone)'),
    refused: () => fail_action('ERR_HTTP2_DUPLEX_RESUME_REFUSED', 'resume refused: wrong secret'),
    count: (count, range) => fail_action('ERR_HTTP2_DUPLEX_RESUME_COUNT', range ?
        `resume count ${count} is outside ${range[0]}..=${range[1]} (acknowledged ..= sent)` :
        `the server refused the resume count ${count}`),
    ack: (count, peer_acked, sent) => fail_action('ERR_HTTP2_DUPLEX_RESUME_ACK',
        `ack ${count} is outside ${peer_acked}..=${sent}: an ack may not go backwards or beyond what was sent`)
};

// The server's Close 1008 reasons that refuse a resume.
export const REFUSALS = {
    ERR_HTTP2_DUPLEX_RESUME_UNKNOWN: 'unknown',
    ERR_HTTP2_DUPLEX_RESUME_REFUSED: 'refused',
    ERR_HTTP2_DUPLEX_RESUME_COUNT: 'count'
};

// One duplex's counts and what follows from them (link.rs, the client's role: it
// takes its end as acknowledged only from an ack, never from a resume's answer).
class Link {
    constructor(resume_buffer) {
        this.resume_buffer = Math.max(resume_buffer, 1);
        this.ack_threshold = Math.max(Math.floor(this.resume_buffer / 4), 1);
        this.counts = { sent: 0, peer_acked: 0, received: 0, acked_to_peer: 0 };
        this.ended = false;
        this.peer_ended = false;
        this.attached = true;
        this.held = false;
        this.ack_due = undefined;
        this.done = false;
    }

    is_complete() {
        const c = this.counts;
        return this.ended && this.peer_ended && c.peer_acked === c.sent && c.acked_to_peer === c.received;
    }

    // Bytes written (the end not counted).
    data_sent() {
        return this.counts.sent - (this.ended ? 1 : 0);
    }

    // Bytes in the adapter's queue: sent and not acknowledged.
    queued() {
        return this.data_sent() - Math.min(this.counts.peer_acked, this.data_sent());
    }

    room() {
        return this.ended || this.done ? 0 : this.resume_buffer - this.queued();
    }

    write(n, out) {
        if (n > this.room()) {
            return false;
        }
        this.counts.sent += n;
        if (this.room() === 0 && !this.held) {
            this.held = true;
            out.push({ type: 'hold' });
        }
        return true;
    }

    end() {
        if (!this.ended && !this.done) {
            this.ended = true;
            this.counts.sent += 1;
        }
    }

    data(n, now, out) {
        if (!this.done && !this.peer_ended && n > 0) {
            this.counts.received += n;
            this.ack_if_due(now, out);
        }
    }

    peer_end(now, out) {
        if (!this.done && !this.peer_ended) {
            this.peer_ended = true;
            this.counts.received += 1;
            this.ack_if_due(now, out);
            this.complete_if_done(out);
        }
    }

    ack_if_due(now, out) {
        if (!this.attached) {
            return;
        }
        const c = this.counts;
        const waiting = c.received - c.acked_to_peer;
        if (waiting === 0) {
            return;
        }
        if (this.peer_ended || waiting >= this.ack_threshold) {
            c.acked_to_peer = c.received;
            this.ack_due = undefined;
            out.push({ type: 'ack', count: c.received });
        } else if (this.ack_due === undefined) {
            this.ack_due = now + ACK_DELAY_MS;
        }
    }

    take_ack() {
        const c = this.counts;
        if (!this.attached || this.done || c.received === c.acked_to_peer) {
            return undefined;
        }
        c.acked_to_peer = c.received;
        this.ack_due = undefined;
        return c.received;
    }

    in_range(count) {
        return count >= this.counts.peer_acked && count <= this.counts.sent;
    }

    peer_ack(count, now, out) {
        if (this.done) {
            return;
        }
        if (!this.in_range(count)) {
            this.fail(ERRORS.ack(count, this.counts.peer_acked, this.counts.sent), out);
            return;
        }
        this.acknowledge(count, out);
        this.flow_if_room(out);
        this.ack_if_due(now, out);
        this.complete_if_done(out);
    }

    acknowledge(count, out) {
        const queued = this.queued();
        this.counts.peer_acked = count;
        const dropped = queued - this.queued();
        if (dropped > 0) {
            out.push({ type: 'drop', bytes: dropped });
        }
    }

    flow_if_room(out) {
        if (this.held && this.room() > 0) {
            this.held = false;
            out.push({ type: 'flow' });
        }
    }

    timeout(now, out) {
        if (this.ack_due !== undefined && this.ack_due <= now) {
            this.ack_due = undefined;
            const count = this.take_ack();
            if (count !== undefined) {
                out.push({ type: 'ack', count });
            }
        }
    }

    detach() {
        this.attached = false;
        this.ack_due = undefined;
    }

    // The server's answer `peer_received` (checked): resend what it lacks.
    resume(peer_received, now, out) {
        this.attached = true;
        this.acknowledge(Math.max(Math.min(peer_received, this.data_sent()), this.counts.peer_acked), out);
        const end = this.ended && peer_received < this.counts.sent;
        if (this.queued() > 0 || end) {
            out.push({ type: 'resend', from: Math.min(peer_received, this.data_sent()), end });
        }
        // After the resend: new writes go after it.
        this.flow_if_room(out);
        // The request told the server what we received.
        this.counts.acked_to_peer = this.counts.received;
        this.ack_due = undefined;
        this.ack_if_due(now, out);
        this.complete_if_done(out);
    }

    complete_if_done(out) {
        if (!this.done && this.is_complete()) {
            this.done = true;
            out.push({ type: 'complete' });
        }
    }

    fail(action, out) {
        if (!this.done) {
            this.done = true;
            out.push(action);
        }
    }
}

// client.rs: the counts, the hang check, and when to reconnect or give up. State:
// attached { heard }, detached { since, attempt, in_flight, at }, or done.
export class ResumeClient {
    // A duplex opened at `now`, on the server's `resumable` answer.
    constructor({ resume_buffer, resume_timeout_ms, keepalive_interval_ms }, now) {
        this.link = new Link(resume_buffer);
        this.state = { attached: true, heard: now };
        this.resume_timeout_ms = resume_timeout_ms;
        this.hang_timeout_ms = hang_timeout_ms(keepalive_interval_ms);
        this.reader_paused = false;
    }

    counts() {
        return { ...this.link.counts };
    }

    room() {
        return this.link.room();
    }

    is_attached() {
        return this.state.attached === true;
    }

    is_done() {
        return this.state.done === true;
    }

    handle_write(n, out) {
        return this.link.write(n, out);
    }

    handle_end() {
        this.link.end();
    }

    handle_data(n, now, out) {
        this.handle_heard(now);
        this.link.data(n, now, out);
    }

    handle_peer_end(now, out) {
        this.handle_heard(now);
        this.link.peer_end(now, out);
        this.settle();
    }

    handle_ack(count, now, out) {
        this.handle_heard(now);
        this.link.peer_ack(count, now, out);
        this.settle();
    }

    handle_heard(now) {
        if (this.state.attached) {
            this.state.heard = now;
        }
    }

    handle_reader_paused(paused, now) {
        this.reader_paused = paused;
        this.handle_heard(now);
    }

    take_ack() {
        return this.link.take_ack();
    }

    handle_transport_failed(now, out) {
        const s = this.state;
        if (s.attached) {
            this.link.detach();
            this.state = { detached: true, since: now, attempt: 0, in_flight: false, at: now };
            this.reconnect(now, out);
        } else if (s.detached && s.in_flight) {
            this.state = { ...s, in_flight: false, at: now + reconnect_delay_ms(s.attempt) };
        }
    }

    reconnect(now, out) {
        const s = this.state;
        if (s.detached) {
            this.state = { ...s, attempt: s.attempt + 1, in_flight: true, at: now };
            out.push({ type: 'reconnect', attempt: s.attempt + 1, count: this.link.counts.received });
        }
    }

    handle_resumed(received, now, out) {
        const s = this.state;
        if (!(s.detached && s.in_flight)) {
            return;
        }
        if (!this.link.in_range(received)) {
            const c = this.link.counts;
            this.link.fail(ERRORS.count(received, [c.peer_acked, c.sent]), out);
            this.settle();
            return;
        }
        this.state = { attached: true, heard: now };
        out.push({ type: 'resumed', attempt: s.attempt, downtime: Math.max(now - s.since, 0) });
        this.link.resume(received, now, out);
        this.settle();
    }

    // `refusal`: 'unknown', 'refused' or 'count' (REFUSALS of the server's reason).
    handle_refused(refusal, out) {
        const s = this.state;
        if (!(s.detached && s.in_flight)) {
            return;
        }
        const action = refusal === 'count' ? ERRORS.count(this.link.counts.received) : ERRORS[refusal]();
        this.link.fail(action, out);
        this.settle();
    }

    poll_timeout() {
        const s = this.state;
        if (s.attached) {
            const hang = this.hang_timeout_ms !== undefined && !this.reader_paused ?
                s.heard + this.hang_timeout_ms : undefined;
            const due = this.link.ack_due;
            return due === undefined ? hang : hang === undefined ? due : Math.min(due, hang);
        }
        if (s.detached) {
            const next = s.in_flight ? s.at + ATTEMPT_TIMEOUT_MS : s.at;
            return Math.min(next, s.since + this.resume_timeout_ms);
        }
        return undefined;
    }

    handle_timeout(now, out) {
        const s = this.state;
        if (s.attached) {
            this.link.timeout(now, out);
            if (this.hang_timeout_ms !== undefined && !this.reader_paused && now >= s.heard + this.hang_timeout_ms) {
                out.push({ type: 'close-transport' });
                this.handle_transport_failed(now, out);
            }
        } else if (s.detached) {
            if (now >= s.since + this.resume_timeout_ms) {
                this.link.fail(ERRORS.timeout(this.resume_timeout_ms), out);
                this.settle();
            } else if (s.in_flight && now >= s.at + ATTEMPT_TIMEOUT_MS) {
                out.push({ type: 'close-transport' });
                this.handle_transport_failed(now, out);
            } else if (!s.in_flight && now >= s.at) {
                this.reconnect(now, out);
            }
        }
    }

    settle() {
        if (this.link.done) {
            this.state = { done: true };
        }
    }
}
