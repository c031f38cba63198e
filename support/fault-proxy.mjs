// A fault-injecting TCP proxy on loopback, for tests and benchmarks: it
// forwards each accepted connection to a target byte for byte (it never
// parses, so TLS, HTTP/1.1, HTTP/2 and WebSockets pass untouched), with
// backpressure, and cuts, stalls or refuses connections on command or by
// policy.
//
// Directions: 'up' is client → target, 'down' is target → client.
//
// A cut destroys both sockets. A cut at a byte count first lets exactly that
// many bytes reach the kernel on the far side; the close is a FIN, or an RST
// where the kernel still holds unread bytes from that peer (`reset: true`
// always sends an RST).
//
// A stall holds bytes, never drops them: the proxy stops reading the stalled
// direction's sender, so nothing more is delivered (the sender's TCP window
// fills as in a black hole) while both TCP connections stay up. The sender's
// end or reset is held too: a stalled connection ends only by a cut,
// `close()`, or `resume` and then a close that flows. `resume` delivers the
// held bytes in order.
import net from 'node:net';
import { EventEmitter, once } from 'node:events';

/** @typedef {'up' | 'down'} Direction */
/** @typedef {Direction | 'both'} Directions */
/** @typedef {{ up?: number, down?: number }} ByteCounts */
/**
 * What happens to connections; `set_policy` changes it for open ones too
 * (byte counts and times count from each connection's start).
 * @typedef {object} FaultPolicy
 * @property {ByteCounts} [cut_after] cut a connection once it forwarded this many bytes that way
 * @property {number} [cut_after_ms] cut a connection this long after it was accepted
 * @property {ByteCounts} [stall_after] stall a connection both ways once it forwarded this many bytes that way
 * @property {Directions} [stall] new connections start stalled this way
 */
/**
 * One fault of a plan, at a byte count of the proxy's total in one direction
 * (counted from `follow()`): a cut, or a stall of both directions, of the
 * connection that carries that byte.
 * @typedef {{ at: number, count: Direction, fault: 'cut' | 'stall' }} PlannedFault
 */
/** @typedef {{ seed: number, faults: PlannedFault[] }} FaultPlan */

const DIRECTIONS = /** @type {const} */ (['up', 'down']);
const POLICY_KEYS = ['cut_after', 'cut_after_ms', 'stall_after', 'stall'];
const directions = (/** @type {Directions} */ which) => (which === 'both' ? DIRECTIONS : [which]);

/** One proxied connection. */
export class Connection {
    /** Bytes forwarded each way. */
    bytes = { up: 0, down: 0 };
    /** @type {{ up: boolean, down: boolean }} */
    stalled = { up: false, down: false };
    /** Set once a cut started: nothing more is forwarded. */
    cut_reason = '';
    closed = false;
    #proxy;
    /** @type {NodeJS.Timeout | undefined} */
    #timer;
    #stall_fired = { up: false, down: false };
    /** A fault is due once the write that reached its byte count is done. */
    #due = { up: false, down: false };
    /** @type {Promise<void>} resolves once both sockets closed */
    done;

    /**
     * @param {FaultProxy} proxy
     * @param {number} id
     * @param {net.Socket} client
     * @param {net.Socket} server
     */
    constructor(proxy, id, client, server) {
        this.#proxy = proxy;
        this.id = id;
        this.client = client;
        this.server = server;
        this.accepted_at = Date.now();
        const ends = { up: [client, server], down: [server, client] };
        for (const dir of DIRECTIONS) {
            const [from, to] = ends[dir];
            from.on('data', (/** @type {Buffer} */ chunk) => this.#forward(dir, from, to, chunk));
            from.on('end', () => to.end());
            to.on('drain', () => this.#flow(dir));
        }
        // (not events.once: it rejects on 'error')
        const close = (/** @type {net.Socket} */ socket) => new Promise(resolve => socket.once('close', resolve));
        const both_closed = Promise.all([close(client), close(server)]);
        for (const [socket, other] of [[client, server], [server, client]]) {
            socket.setNoDelay(true);
            socket.on('error', () => {});
            // A clean close comes after both ends were forwarded; an error is passed on.
            socket.on('close', had_error => had_error && other.destroy());
        }
        this.done = both_closed.then(() => {
            this.closed = true;
            clearTimeout(this.#timer);
        });
    }

    /**
     * Cuts this connection now: destroys both sockets.
     * @param {{ reset?: boolean, reason?: string }} [options] reset: send an RST to both peers
     */
    cut({ reset = false, reason = 'cut' } = {}) {
        if (this.cut_reason || this.closed) {
            return;
        }
        this.cut_reason = reason;
        for (const socket of [this.client, this.server]) {
            if (reset && !socket.destroyed && !socket.connecting) {
                socket.resetAndDestroy();
            } else {
                socket.destroy();
            }
        }
        this.#proxy._cut(this, reason);
    }

    /**
     * Stops delivering in one or both directions (the bytes are held).
     * @param {Directions} [which]
     */
    stall(which = 'both') {
        const now = directions(which).filter(dir => !this.stalled[dir]);
        for (const dir of now) {
            this.stalled[dir] = true;
            this.#sender(dir).pause();
        }
        if (now.length > 0 && !this.cut_reason && !this.closed) {
            this.#proxy._stalled(this, which);
        }
    }

    /**
     * Delivers what a stall held, and goes on forwarding.
     * @param {Directions} [which]
     */
    resume(which = 'both') {
        for (const dir of directions(which)) {
            this.stalled[dir] = false;
            this.#flow(dir);
        }
    }

    /** Applies the proxy's policy (at accept, and when it changes). */
    _apply_policy() {
        const { cut_after_ms } = this.#proxy.policy;
        clearTimeout(this.#timer);
        if (cut_after_ms !== undefined) {
            const left = Math.max(0, this.accepted_at + cut_after_ms - Date.now());
            this.#timer = setTimeout(() => this.cut({ reason: 'cut_after_ms' }), left).unref();
        }
        for (const dir of DIRECTIONS) {
            this.#policy_faults(dir);
        }
    }

    /** Cuts or stalls where the policy's byte counts say so. */
    #policy_faults(/** @type {Direction} */ dir) {
        const { cut_after = {}, stall_after = {} } = this.#proxy.policy;
        if (this.bytes[dir] >= (cut_after[dir] ?? Infinity)) {
            this.cut({ reason: 'cut_after' });
        } else if (this.bytes[dir] >= (stall_after[dir] ?? Infinity) && !this.#stall_fired[dir]) {
            this.#stall_fired[dir] = true;
            this.stall();
        }
    }

    #sender(/** @type {Direction} */ dir) {
        return dir === 'up' ? this.client : this.server;
    }

    #flow(/** @type {Direction} */ dir) {
        const to = dir === 'up' ? this.server : this.client;
        if (!this.stalled[dir] && !this.#due[dir] && !this.cut_reason && !to.writableNeedDrain) {
            this.#sender(dir).resume();
        }
    }

    /** Bytes that may go `dir` before a fault is due there. */
    #room(/** @type {Direction} */ dir) {
        const { cut_after = {}, stall_after = {} } = this.#proxy.policy;
        const stall_at = this.#stall_fired[dir] ? Infinity : (stall_after[dir] ?? Infinity);
        const own = Math.min(cut_after[dir] ?? Infinity, stall_at) - this.bytes[dir];
        return Math.max(0, Math.min(own, this.#proxy._room(dir)));
    }

    /**
     * @param {Direction} dir
     * @param {net.Socket} from
     * @param {net.Socket} to
     * @param {Buffer} chunk
     */
    #forward(dir, from, to, chunk) {
        while (!this.cut_reason) {
            if (this.stalled[dir] || this.#due[dir]) {
                from.pause();
                if (chunk.length > 0) {
                    from.unshift(chunk);
                }
                return;
            }
            const room = this.#room(dir);
            const part = chunk.subarray(0, room);
            chunk = chunk.subarray(part.length);
            if (part.length > 0) {
                this.bytes[dir] += part.length;
                this.#proxy._count(dir, part.length);
                if (part.length === room) {
                    // The fault comes once these bytes are with the kernel.
                    this.#due[dir] = true;
                    from.pause();
                    to.write(part, err => {
                        this.#due[dir] = false;
                        if (!err) {
                            this.#fault_due(dir, from, to, chunk);
                        }
                    });
                    return;
                }
                if (!to.write(part)) {
                    from.pause();
                }
            } else if (room === 0) {
                this.#fault_due(dir, from, to, chunk);
                return;
            }
            if (chunk.length === 0) {
                return;
            }
        }
    }

    /**
     * Carries out the fault(s) due at this byte count, then forwards the rest.
     * @param {Direction} dir
     * @param {net.Socket} from
     * @param {net.Socket} to
     * @param {Buffer} rest
     */
    #fault_due(dir, from, to, rest) {
        if (this.#proxy._room(dir) === 0 && !this.cut_reason) {
            if (this.#proxy._take_fault(dir) === 'cut') {
                this.cut({ reason: 'plan' });
            } else {
                this.stall();
            }
        }
        this.#policy_faults(dir);
        if (this.cut_reason) {
            return;
        }
        if (rest.length > 0) {
            this.#forward(dir, from, to, rest);
        }
        this.#flow(dir);
    }
}

/** A listening proxy; see `start_fault_proxy`. */
export class FaultProxy extends EventEmitter {
    /** @type {FaultPolicy} */
    policy = {};
    /** @type {Set<Connection>} open connections */
    connections = new Set();
    /** The port it listens on (set by `start_fault_proxy`, kept after `close()`). */
    port = 0;
    #target;
    #listener;
    #refusing = false;
    #next_id = 1;
    #counts = { accepted: 0, refused: 0, cuts: 0, stalls: 0, bytes: { up: 0, down: 0 } };
    /** @type {{ up: PlannedFault[], down: PlannedFault[] }} */
    #plan = { up: [], down: [] };
    #plan_base = { up: 0, down: 0 };

    /**
     * @param {{ host: string, port: number }} target
     * @param {net.Server} listener
     */
    constructor(target, listener) {
        super();
        this.#target = target;
        this.#listener = listener;
        listener.on('connection', socket => this.#accept(socket));
    }


    /**
     * Counts since start: connections accepted (refused ones not included),
     * open, refused; cuts and stalls done; bytes forwarded each way.
     */
    stats() {
        const { bytes, ...counts } = this.#counts;
        return { ...counts, open: this.connections.size, bytes: { ...bytes } };
    }

    /**
     * Sets the policy for new connections and applies it to open ones.
     * @param {FaultPolicy} policy
     */
    set_policy(policy) {
        const unknown = Object.keys(policy).filter(k => !POLICY_KEYS.includes(k));
        if (unknown.length > 0) {
            throw new TypeError(`unknown fault policy: ${unknown.join(', ')}`);
        }
        this.policy = { ...policy };
        for (const connection of this.connections) {
            connection._apply_policy();
        }
    }

    /** @param {{ reset?: boolean }} [options] */
    cut_all(options = {}) {
        for (const connection of this.connections) {
            connection.cut({ ...options, reason: 'cut_all' });
        }
    }

    /** @param {Directions} [which] */
    stall_all(which = 'both') {
        for (const connection of this.connections) {
            connection.stall(which);
        }
    }

    /** @param {Directions} [which] */
    resume_all(which = 'both') {
        for (const connection of this.connections) {
            connection.resume(which);
        }
    }

    /**
     * While on, each new connection is reset as soon as it is accepted (a
     * node that is down, without giving up the port); open ones go on.
     */
    refuse(on = true) {
        this.#refusing = on;
    }

    /**
     * Carries out a plan's faults as the proxy's totals (counted from now)
     * pass their byte counts; replaces any plan not yet done.
     * @param {FaultPlan} plan
     */
    follow(plan) {
        for (const dir of DIRECTIONS) {
            this.#plan[dir] = plan.faults.filter(f => f.count === dir).sort((a, b) => a.at - b.at);
            this.#plan_base[dir] = this.#counts.bytes[dir];
        }
    }

    /** Planned faults not yet done. */
    get pending_faults() {
        return this.#plan.up.length + this.#plan.down.length;
    }

    /** Stops listening, destroys every connection, and resolves once all closed. */
    async close() {
        this.#listener.close();
        const closing = [...this.connections].map(c => c.done);
        for (const connection of this.connections) {
            connection.client.destroy();
            connection.server.destroy();
        }
        await Promise.all([once(this.#listener, 'close'), ...closing]);
    }

    /** @param {net.Socket} client */
    #accept(client) {
        if (this.#refusing) {
            this.#counts.refused++;
            client.on('error', () => {});
            client.resetAndDestroy();
            this.emit('refused');
            return;
        }
        this.#counts.accepted++;
        const server = net.connect({ ...this.#target, allowHalfOpen: true });
        const connection = new Connection(this, this.#next_id++, client, server);
        this.connections.add(connection);
        connection.done.then(() => {
            this.connections.delete(connection);
            this.emit('disconnect', connection);
        });
        this.emit('connection', connection);
        if (this.policy.stall) {
            connection.stall(this.policy.stall);
        }
        connection._apply_policy();
    }

    /** @param {Connection} connection @param {string} reason */
    _cut(connection, reason) {
        this.#counts.cuts++;
        this.emit('cut', connection, reason);
    }

    /** @param {Connection} connection @param {Directions} which */
    _stalled(connection, which) {
        this.#counts.stalls++;
        this.emit('stall', connection, which);
    }

    /** @param {Direction} dir @param {number} n */
    _count(dir, n) {
        this.#counts.bytes[dir] += n;
    }

    /** Bytes that may go `dir` (in total) before the next planned fault. */
    _room(/** @type {Direction} */ dir) {
        const next = this.#plan[dir][0];
        return next ? next.at - (this.#counts.bytes[dir] - this.#plan_base[dir]) : Infinity;
    }

    /** Takes the planned fault that is due `dir`. */
    _take_fault(/** @type {Direction} */ dir) {
        return this.#plan[dir].shift()?.fault;
    }
}

/**
 * Starts a proxy to `target`, listening on `host` (127.0.0.1) at a free port.
 * @param {{ target: { host: string, port: number }, host?: string } & FaultPolicy} options
 * @returns {Promise<FaultProxy>}
 */
export async function start_fault_proxy({ target, host = '127.0.0.1', ...policy }) {
    const listener = net.createServer({ allowHalfOpen: true });
    const proxy = new FaultProxy(target, listener);
    proxy.set_policy(policy);
    listener.listen(0, host);
    await once(listener, 'listening');
    proxy.port = /** @type {net.AddressInfo} */ (listener.address()).port;
    return proxy;
}

/**
 * A reproducible plan of `cuts` cuts and `stalls` stalls at distinct random
 * byte counts in [1, bytes), from a 32-bit `seed` (random when not given;
 * print `plan.seed` on failure to replay it).
 * @param {{ bytes: number, cuts?: number, stalls?: number, count?: Direction, seed?: number }} options
 * @returns {FaultPlan}
 */
export function fault_plan({ bytes, cuts = 0, stalls = 0, count = 'up', seed = (Math.random() * 2 ** 32) >>> 0 }) {
    const random = mulberry32(seed);
    const positions = new Set();
    while (positions.size < Math.min(cuts + stalls, bytes - 1)) {
        positions.add(1 + Math.floor(random() * (bytes - 1)));
    }
    const kinds = [...Array(cuts).fill('cut'), ...Array(stalls).fill('stall')];
    for (let i = kinds.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [kinds[i], kinds[j]] = [kinds[j], kinds[i]];
    }
    const faults = [...positions].sort((a, b) => a - b).map((at, i) => ({ at, count, fault: kinds[i] }));
    return { seed, faults };
}

// A small seedable PRNG (public domain): 32-bit state, uniform in [0, 1).
function mulberry32(/** @type {number} */ seed) {
    let state = seed >>> 0;
    return () => {
        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
    };
}
