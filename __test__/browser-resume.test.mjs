// lib/browser/resume.mjs, the browser's port of the core's resume client: the same
// cases as crates/core/src/resume/client.rs and mod.rs's tests, with the same figures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { Buffer } from 'node:buffer';
import { ResumableWebSocketDuplex, resume_url } from '../lib/browser/websocket-resume.mjs';
import { plan_transport } from '../lib/browser/options.mjs';
import { open_websocket } from '../lib/browser/websocket-duplex.mjs';
import {
    ResumeClient, hang_timeout_ms, reconnect_delay_ms, ATTEMPT_TIMEOUT_MS, MAX_RECONNECT_DELAY_MS
} from '../lib/browser/resume.mjs';

function client(keepalive_interval_ms) {
    return new ResumeClient({ resume_buffer: 100, resume_timeout_ms: 30000, keepalive_interval_ms }, 0);
}

const reconnect = (attempt, count) => ({ type: 'reconnect', attempt, count });
const codes = out => out.map(a => (a.type === 'fail' ? `fail ${a.code}` : a.type));

test('hang timeout and backoff', () => {
    assert.equal(hang_timeout_ms(0), undefined);
    assert.equal(hang_timeout_ms(20000), 41000);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(reconnect_delay_ms), [250, 500, 1000, 2000, 2000, 2000]);
    assert.equal(reconnect_delay_ms(2 ** 32 - 1), MAX_RECONNECT_DELAY_MS);
});

test('reconnects at once, then backs off, and gives up at the resume timeout', () => {
    const c = client(0);
    let out = [];
    c.handle_data(7, 0, out);
    c.handle_transport_failed(1000, out);
    assert.deepEqual(out, [reconnect(1, 7)]);
    out = [];
    assert.equal(c.poll_timeout(), 1000 + ATTEMPT_TIMEOUT_MS);
    // Attempts that fail: 250 ms, then 500 ms later.
    c.handle_transport_failed(1100, out);
    assert.equal(c.poll_timeout(), 1350);
    c.handle_timeout(1349, out);
    assert.deepEqual(out, []);
    c.handle_timeout(1350, out);
    assert.deepEqual(out, [reconnect(2, 7)]);
    out = [];
    c.handle_transport_failed(1400, out);
    assert.equal(c.poll_timeout(), 1900);
    c.handle_timeout(1900, out);
    assert.deepEqual(out, [reconnect(3, 7)]);
    out = [];
    // An attempt unanswered is abandoned, and the next waits its turn.
    c.handle_timeout(1900 + ATTEMPT_TIMEOUT_MS, out);
    assert.deepEqual(out, [{ type: 'close-transport' }]);
    out = [];
    const next = 1900 + ATTEMPT_TIMEOUT_MS + 1000;
    assert.equal(c.poll_timeout(), next);
    c.handle_timeout(next, out);
    assert.deepEqual(out, [reconnect(4, 7)]);
    out = [];
    c.handle_transport_failed(next, out);
    assert.equal(c.poll_timeout(), next + MAX_RECONNECT_DELAY_MS);
    // The resume timeout bounds it all, from the detachment.
    c.handle_timeout(30999, out);
    assert.deepEqual(out, [reconnect(5, 7)]);
    out = [];
    assert.equal(c.poll_timeout(), 31000);
    c.handle_timeout(31000, out);
    assert.deepEqual(codes(out), ['fail ERR_HTTP2_DUPLEX_RESUME_TIMEOUT']);
    assert.equal(out[0].message, 'the duplex was not resumed within 30000 ms');
    out = [];
    assert.equal(c.poll_timeout(), undefined);
    c.handle_resumed(7, 31001, out);
    c.handle_transport_failed(31001, out);
    assert.deepEqual(out, [], 'a failed duplex does nothing more');
});

test('a silent transport is a hang unless the reader holds back', () => {
    assert.equal(client(0).poll_timeout(), undefined, 'no keep-alives, no check');
    // Keep-alives every second: hung after 3 s of silence.
    const c = client(1000);
    const out = [];
    assert.equal(c.poll_timeout(), 3000);
    c.handle_heard(2000);
    assert.equal(c.poll_timeout(), 5000);
    c.handle_reader_paused(true, 2500);
    assert.equal(c.poll_timeout(), undefined);
    c.handle_timeout(10000, out);
    assert.deepEqual(out, []);
    c.handle_reader_paused(false, 10000);
    assert.equal(c.poll_timeout(), 13000);
    c.handle_ack(0, 12000, out);
    assert.equal(c.poll_timeout(), 15000, 'an ack is heard');
    c.handle_timeout(15000, out);
    assert.deepEqual(out, [{ type: 'close-transport' }, reconnect(1, 0)]);
});

test('a resume answer is checked, then taken as an ack', () => {
    const detached = () => {
        const c = client(0);
        const out = [];
        c.handle_write(50, out);
        c.handle_ack(20, 0, out);
        c.handle_data(9, 0, out);
        c.handle_transport_failed(100, out);
        assert.deepEqual(out, [{ type: 'drop', bytes: 20 }, reconnect(1, 9)]);
        return c;
    };
    for (const bad of [19, 51]) {
        const c = detached();
        const out = [];
        c.handle_resumed(bad, 500, out);
        assert.deepEqual(codes(out), ['fail ERR_HTTP2_DUPLEX_RESUME_COUNT']);
        assert.equal(out[0].message, `resume count ${bad} is outside 20..=50 (acknowledged ..= sent)`);
        assert.equal(c.poll_timeout(), undefined);
    }
    const c = detached();
    let out = [];
    c.handle_resumed(30, 500, out);
    assert.deepEqual(out, [
        { type: 'resumed', attempt: 1, downtime: 400 },
        { type: 'drop', bytes: 10 },
        { type: 'resend', from: 30, end: false }
    ]);
    out = [];
    // The request told the server the 9 bytes.
    assert.equal(c.take_ack(), undefined);
    assert.equal(c.counts().acked_to_peer, 9);
    // An answer to no attempt in flight is ignored.
    c.handle_resumed(40, 600, out);
    assert.deepEqual(out, []);
});

test("a refused resume fails the duplex with the server's reason", () => {
    for (const [refusal, code] of [
        ['unknown', 'ERR_HTTP2_DUPLEX_RESUME_UNKNOWN'],
        ['refused', 'ERR_HTTP2_DUPLEX_RESUME_REFUSED'],
        ['count', 'ERR_HTTP2_DUPLEX_RESUME_COUNT']
    ]) {
        const c = client(0);
        let out = [];
        c.handle_data(9, 0, out);
        c.handle_refused(refusal, out);
        assert.deepEqual(out, [], 'no attempt in flight');
        c.handle_transport_failed(0, out);
        out = [];
        c.handle_refused(refusal, out);
        assert.deepEqual(codes(out), [`fail ${code}`]);
        assert.equal(c.poll_timeout(), undefined);
    }
});

test('the client takes its end as acknowledged only from an ack', () => {
    const c = client(0);
    let out = [];
    c.handle_end();
    assert.equal(c.counts().sent, 1);
    c.handle_transport_failed(0, out);
    out = [];
    // The server has the end (1) but cannot acknowledge it yet: no resend, not acknowledged.
    c.handle_resumed(1, 10, out);
    assert.deepEqual(out, [{ type: 'resumed', attempt: 1, downtime: 10 }]);
    out = [];
    assert.equal(c.counts().peer_acked, 0);
    // The server's end: acknowledged at once.
    c.handle_peer_end(20, out);
    assert.deepEqual(out, [{ type: 'ack', count: 1 }]);
    out = [];
    c.handle_ack(1, 30, out);
    assert.deepEqual(out, [{ type: 'complete' }]);
    assert.equal(c.poll_timeout(), undefined);
});

test('acks: a quarter of the buffer at once, else after the delay, unless traffic carried one', () => {
    const c = client(0);
    let out = [];
    c.handle_data(24, 0, out);
    assert.deepEqual(out, []);
    assert.equal(c.poll_timeout(), 200, 'an explicit ack is due after ACK_DELAY_MS');
    c.handle_data(1, 50, out);
    assert.deepEqual(out, [{ type: 'ack', count: 25 }]);
    out = [];
    assert.equal(c.poll_timeout(), undefined);
    c.handle_data(3, 300, out);
    assert.equal(c.take_ack(), 28, 'traffic carries it');
    assert.equal(c.take_ack(), undefined);
    c.handle_timeout(500, out);
    assert.deepEqual(out, []);
    c.handle_data(2, 600, out);
    c.handle_timeout(800, out);
    assert.deepEqual(out, [{ type: 'ack', count: 30 }]);
});

test('writes hold at the resume buffer and flow as acks drop bytes; a bad ack fails', () => {
    const c = client(0);
    let out = [];
    assert.equal(c.handle_write(60, out), true);
    assert.equal(c.room(), 40);
    assert.equal(c.handle_write(41, out), false, 'beyond the room: nothing counted');
    assert.equal(c.handle_write(40, out), true);
    assert.deepEqual(out, [{ type: 'hold' }]);
    out = [];
    c.handle_ack(30, 0, out);
    assert.deepEqual(out, [{ type: 'drop', bytes: 30 }, { type: 'flow' }]);
    out = [];
    c.handle_end();
    assert.equal(c.room(), 0, 'nothing after the end');
    c.handle_ack(101, 0, out);
    assert.deepEqual(out, [{ type: 'drop', bytes: 70 }], 'the end is a unit: 101 is in range');
    assert.equal(c.counts().peer_acked, 101);
    out = [];
    c.handle_ack(100, 0, out);
    assert.deepEqual(codes(out), ['fail ERR_HTTP2_DUPLEX_RESUME_ACK']);
    assert.equal(out[0].message, 'ack 100 is outside 101..=101: an ack may not go backwards or beyond what was sent');
});

test('a resume resends the end the server lacks, after the bytes', () => {
    const c = client(0);
    let out = [];
    c.handle_write(10, out);
    c.handle_end();
    c.handle_ack(4, 0, out);
    c.handle_transport_failed(5, out);
    out = [];
    c.handle_resumed(6, 10, out);
    assert.deepEqual(out, [
        { type: 'resumed', attempt: 1, downtime: 5 },
        { type: 'drop', bytes: 2 },
        { type: 'resend', from: 6, end: true }
    ]);
});

// The duplex (websocket-resume.mjs) over stand-in WebSockets, the test playing the server.
class StandIn extends EventTarget {
    static made = [];

    constructor(url, protocols) {
        super();
        this.url = url;
        this.protocols = protocols;
        this.readyState = 0;
        this.bufferedAmount = 0;
        this.sent = [];
        this.closed_with = null;
        StandIn.made.push(this);
    }

    send(data) {
        this.sent.push(typeof data === 'string' ? data : Buffer.from(data));
    }

    close(code) {
        this.closed_with = code;
        this.readyState = 2;
    }

    opened(protocol = 'http2-duplex.2') {
        this.protocol = protocol;
        this.readyState = 1;
        this.dispatchEvent(new Event('open'));
    }

    message(data) {
        this.dispatchEvent(Object.assign(new Event('message'), { data }));
    }

    closed(code, reason = '', wasClean = code !== 1006) {
        this.readyState = 3;
        this.dispatchEvent(Object.assign(new Event('close'), { code, reason, wasClean }));
    }

    // Binary sent, joined; text sent, in order.
    bytes() {
        return Buffer.concat(this.sent.filter(d => typeof d !== 'string'));
    }

    texts() {
        return this.sent.filter(d => typeof d === 'string');
    }
}

const SECRET = 'abcdefghijklmnopqrstuv';

function open_resumable(keepalive_interval_ms = 0, resume_buffer = 100) {
    StandIn.made = [];
    const ws = new StandIn('wss://localhost/duplex');
    ws.opened();
    const duplex = new ResumableWebSocketDuplex('https://localhost/duplex', {
        ws, id: 'n1.x', early: [], stop_early() {},
        resumable: { secret: SECRET, resume_buffer, resume_timeout_ms: 30000, keepalive_interval_ms }
    }, {});
    return { ws, duplex };
}

const bytes = (from, n) => Buffer.from(Array.from({ length: n }, (_, i) => (from + i) % 251));
const tick = () => new Promise(resolve => setTimeout(resolve, 0));

test('duplex: a cut WebSocket is resumed on a new one, which gets what the server lacks, then new writes', async () => {
    const { ws, duplex } = open_resumable();
    const resumed = [];
    duplex.on('resumed', info => resumed.push(info));
    duplex.on('error', err => assert.fail(err));
    const received = [];
    duplex.on('data', d => received.push(d));
    duplex.write(bytes(0, 60));
    await tick();
    assert.deepEqual(ws.bytes(), bytes(0, 60));
    ws.message('ack 20');
    ws.message(new Uint8Array(bytes(0, 9)).buffer);
    ws.closed(1006);
    assert.equal(StandIn.made.length, 2, 'a new WebSocket at once');
    const ws2 = StandIn.made[1];
    assert.equal(ws2.url, 'wss://localhost/duplex?resume=n1', "a proxy's route: the id's node prefix");
    assert.equal(ws2.protocols, 'http2-duplex.2');
    // Written while detached: kept, sent after the resend.
    duplex.write(bytes(60, 10));
    await tick();
    ws2.opened();
    assert.deepEqual(ws2.texts(), [`resume n1.x ${SECRET} 9`]);
    ws2.message('resumed 30');
    assert.equal(resumed.length, 1);
    assert.equal(resumed[0].attempt, 1);
    assert.deepEqual(ws2.bytes(), Buffer.alloc(0), 'a resumed WebSocket gives the client no initial credit');
    ws2.message('credit 25');
    ws2.message('credit 1000');
    assert.deepEqual(ws2.bytes(), bytes(30, 40), 'bytes 30..70: the server had 30');
    // More data from the server, its end, our end; the server's final ack completes.
    ws2.message(new Uint8Array(bytes(9, 5)).buffer);
    ws2.message('end');
    assert.equal(ws2.texts().at(-1), 'ack 15', 'the end is acknowledged at once');
    let finished = false;
    duplex.on('finish', () => {
        finished = true;
    });
    duplex.end();
    await tick();
    assert.equal(ws2.texts().at(-1), 'end');
    assert.equal(finished, false, "'finish' waits for the server's ack of the end");
    ws2.message('ack 70');
    await tick();
    assert.equal(finished, false, 'an ack of the bytes is not enough');
    ws2.message('ack 71');
    await once(duplex, 'close');
    assert.equal(finished, true);
    assert.deepEqual(Buffer.concat(received), bytes(0, 14));
    assert.equal(ws.closed_with, null, 'the cut WebSocket was not closed by the client');
});

test('duplex: the end lost in a cut is resent after the bytes, and a duplex destroyed after both ends completes', async () => {
    const { ws, duplex } = open_resumable();
    duplex.on('error', err => assert.fail(err));
    duplex.resume();
    ws.message('end');
    duplex.end(bytes(0, 5));
    await tick();
    assert.deepEqual(ws.texts(), ['ack 1', 'end']);
    // Destroyed before the server's ack: the exchange goes on, resumes included.
    duplex.destroy();
    await once(duplex, 'close');
    ws.closed(1006);
    const ws2 = StandIn.made[1];
    ws2.opened();
    ws2.message('resumed 2');
    assert.deepEqual(ws2.texts(), [`resume n1.x ${SECRET} 1`], 'the end waits behind the bytes, for credit');
    ws2.message('credit 100');
    assert.deepEqual(ws2.texts(), [`resume n1.x ${SECRET} 1`, 'end']);
    assert.deepEqual(ws2.bytes(), bytes(2, 3));
    ws2.message('ack 6');
    assert.equal(duplex._complete, true);
    assert.equal(ws2.closed_with, null, 'it waits for the server to close');
    ws2.closed(1000);
});

for (const [reason, code] of [
    ['ERR_HTTP2_DUPLEX_RESUME_UNKNOWN', 'ERR_HTTP2_DUPLEX_RESUME_UNKNOWN'],
    ['ERR_HTTP2_DUPLEX_RESUME_REFUSED', 'ERR_HTTP2_DUPLEX_RESUME_REFUSED'],
    ['ERR_HTTP2_DUPLEX_RESUME_COUNT', 'ERR_HTTP2_DUPLEX_RESUME_COUNT']
]) {
    test(`duplex: a resume refused with Close 1008 ${reason} fails the duplex with ${code}`, async () => {
        const { ws, duplex } = open_resumable();
        ws.closed(1006);
        const ws2 = StandIn.made[1];
        ws2.opened();
        ws2.closed(1008, reason);
        const [err] = await once(duplex, 'error');
        assert.equal(err.code, code);
        assert.equal(StandIn.made.length, 2, 'no further attempt');
    });
}

test('duplex: a server Close ends the duplex as in http2-duplex.1; a failed attempt is retried after 250 ms', async () => {
    {
        const { ws, duplex } = open_resumable();
        ws.closed(1001, 'duplex destroyed');
        const [err] = await once(duplex, 'error');
        assert.equal(err.code, 'ERR_HTTP2_DUPLEX_WS_CLOSED');
        assert.equal(StandIn.made.length, 1);
    }
    const { ws, duplex } = open_resumable();
    duplex.on('error', err => assert.fail(err));
    ws.closed(1006);
    const started = performance.now();
    StandIn.made[1].closed(1006);
    while (StandIn.made.length < 3) {
        await new Promise(resolve => setTimeout(resolve, 10));
    }
    assert.ok(performance.now() - started >= 240, 'the second attempt waited its backoff');
    duplex.destroy();
});

test('duplex: a silent WebSocket is abandoned with Close 4001 after 2 × K + 1000 ms', async () => {
    const { ws, duplex } = open_resumable(50);
    duplex.on('error', err => assert.fail(err));
    duplex.resume();
    const started = performance.now();
    while (StandIn.made.length < 2) {
        await new Promise(resolve => setTimeout(resolve, 10));
    }
    const waited = performance.now() - started;
    assert.ok(waited >= 1090 && waited < 1500, `hung after ${waited} ms`);
    assert.equal(ws.closed_with, 4001);
    duplex.destroy();
});

test('duplex: writes beyond the resume buffer wait for acks (backpressure, never loss)', async () => {
    const { ws, duplex } = open_resumable(0, 100);
    duplex.on('error', err => assert.fail(err));
    let done = false;
    duplex.write(bytes(0, 150), () => {
        done = true;
    });
    await tick();
    assert.deepEqual(ws.bytes(), bytes(0, 100));
    assert.equal(done, false);
    ws.message('ack 80');
    await tick();
    assert.deepEqual(ws.bytes(), bytes(0, 150));
    assert.equal(done, true);
    duplex.destroy();
});

test("options: resume on every transport ('streaming' and 'per-write' through a tunnel); 'auto' tries the WebSocket first", () => {
    for (const transport of ['streaming', 'per-write']) {
        for (const resume of [true, false]) {
            assert.deepEqual(plan_transport({ transport, resume }, () => true), { transport, websocket: false });
        }
    }
    assert.throws(() => plan_transport({ resume: 'yes' }, () => true), { code: 'ERR_HTTP2_DUPLEX_INVALID_OPTION' });
    assert.deepEqual(plan_transport({ resume: true }, () => true), { transport: 'auto', websocket: true });
    assert.deepEqual(plan_transport({ transport: 'websocket', resume: true }, () => true), { transport: 'websocket', websocket: true });
    // An option only fetch honours: 'auto' uses the fetch paths, resuming through a tunnel
    // (make(), __test__/browser-tunnel.test.mjs).
    assert.deepEqual(plan_transport({ resume: true, headers: { a: 'b' } }, () => true), { transport: 'auto', websocket: false });
});

test('open: resume offers http2-duplex.2 first; the server selecting it is asked to open, and its answer read', async () => {
    StandIn.made = [];
    const opening = open_websocket('https://localhost/duplex', StandIn, undefined, undefined, true);
    const [ws] = StandIn.made;
    assert.deepEqual(ws.protocols, ['http2-duplex.2', 'http2-duplex.1']);
    ws.opened('http2-duplex.2');
    assert.deepEqual(ws.texts(), ['open']);
    ws.message(`resumable n1.x ${SECRET} 4194304 30000 20000`);
    const opened = await opening;
    assert.equal(opened.id, 'n1.x');
    assert.deepEqual(opened.resumable,
        { secret: SECRET, resume_buffer: 4194304, resume_timeout_ms: 30000, keepalive_interval_ms: 20000 });
    // A server without resume: http2-duplex.1 as without the option.
    const plain = open_websocket('https://localhost/duplex', StandIn, undefined, undefined, true);
    StandIn.made[1].opened('http2-duplex.1');
    assert.deepEqual(StandIn.made[1].texts(), []);
    StandIn.made[1].message('id n1.y');
    const opened_plain = await plain;
    assert.equal(opened_plain.id, 'n1.y');
    assert.equal(opened_plain.resumable, undefined);
    // An answer that is not `resumable …` fails the open.
    const bad = open_websocket('https://localhost/duplex', StandIn, undefined, undefined, true);
    StandIn.made[2].opened('http2-duplex.2');
    StandIn.made[2].message('id n1.z');
    await assert.rejects(bad, { code: 'ERR_HTTP2_DUPLEX_WS_CLOSED' });
});

test("resume_url: ?resume= and the id's node prefix, never the whole id", () => {
    assert.equal(resume_url('https://h:8443/duplex', 'n2.abc-1'), 'wss://h:8443/duplex?resume=n2');
    assert.equal(resume_url('http://h/duplex#x', 'n2.abc.d'), 'ws://h/duplex?resume=n2');
    assert.equal(resume_url('https://h/duplex', '527c8818-a79b'), 'wss://h/duplex', 'no prefix: no query');
    assert.equal(resume_url('https://h/duplex?room=1', 'n2.abc'), 'wss://h/duplex?room=1', 'a query of its own is kept');
});

// The port against the core itself: ResumeClient (this page's rules) and the server's
// ResumeServer (the core, through the addon) over a connection cut at random, attempts
// that fail at random, and hangs, as crates/core/src/resume/model_tests.rs does with
// both sides in Rust. Each side keeps real bytes (byte i of a direction is i % 251), so
// a wrong drop or resend shows as a wrong byte; both must receive exactly what the other
// wrote and complete.
const { ResumeServer } = createRequire(import.meta.url)('../lib/native.js');

function mulberry32(seed) {
    let state = seed >>> 0;
    return () => {
        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
    };
}

function run_model(seed) {
    const random = mulberry32(seed);
    const below = n => Math.floor(random() * n);
    const resume_buffer = 1 + below(64);
    const KEY = 7;
    // (budgets the duplex never reaches: its buffer bounds it)
    const server = new ResumeServer(resume_buffer, 2 ** 40, resume_buffer, resume_buffer);
    const secret = server.open(KEY, 'n1.duplex', 1);
    const client = new ResumeClient({ resume_buffer, resume_timeout_ms: 2 ** 40, keepalive_interval_ms: 1000 }, 0);
    let now = 0;
    let live = 1;       // the connection that carries messages
    let next = 1;
    const to_server = [];
    const to_client = [];
    const side = () => ({
        written: 0, waiting: 0, queue: [], queue_start: 0, app_ended: false, end_given: false,
        received: [], got_end: false, complete: false, transport: 1
    });
    const s = side();
    const c = side();
    let attempt = null; // the client's attempt in flight: its count, and whether the server saw it
    const send = (from, message) => {
        if (from.transport !== null && from.transport === live) {
            (from === s ? to_client : to_server).push(message);
        }
    };
    const room = who => (who === s ? server.room(KEY) : client.room());
    const carry_out = (who, actions) => {
        for (const action of actions) {
            const type = action.kind || action.type;
            if (type === 'drop') {
                who.queue.splice(0, action.bytes);
                who.queue_start += action.bytes;
            } else if (type === 'flow') {
                flush(who);
            } else if (type === 'ack') {
                send(who, { ack: action.count });
            } else if (type === 'close-transport') {
                if (who === c) {
                    // The hung connection, or the attempt's: what is in flight on it
                    // is never read.
                    attempt = null;
                    live = null;
                    to_server.length = 0;
                    to_client.length = 0;
                    c.transport = null;
                }
            } else if (type === 'reconnect') {
                assert.equal(action.count, c.received.length + (c.got_end ? 1 : 0));
                attempt = { count: action.count };
            } else if (type === 'resend') {
                assert.equal(action.from, who.queue_start);
                if (who.queue.length > 0) {
                    send(who, { data: who.queue.slice() });
                }
                if (action.end) {
                    send(who, { end: true });
                }
            } else if (type === 'complete') {
                who.complete = true;
            } else if (type === 'fail') {
                assert.fail(`${who === s ? 'server' : 'client'} failed: ${JSON.stringify(action)} (seed ${seed})`);
            }
        }
    };
    function flush(who) {
        for (;;) {
            const r = room(who);
            if (who.waiting === 0 || r === 0) {
                break;
            }
            const n = 1 + below(Math.min(who.waiting, r));
            const out = who === s ? server.handleWrite(KEY, n) : [];
            if (who === c) {
                assert.ok(client.handle_write(n, out));
            }
            const start = who.queue_start + who.queue.length;
            const bytes = Array.from({ length: n }, (_, i) => (start + i) % 251);
            who.queue.push(...bytes);
            who.waiting -= n;
            send(who, { data: bytes });
            carry_out(who, out);
        }
        if (who.app_ended && who.waiting === 0 && !who.end_given) {
            who.end_given = true;
            if (who === s) {
                server.handleEnd(KEY);
            } else {
                client.handle_end();
            }
            send(who, { end: true });
        }
    }
    const deliver = to => {
        const queue = to === s ? to_server : to_client;
        const message = queue.shift();
        if (!message) {
            return;
        }
        const out = [];
        if (message.resumed !== undefined) {
            // The client sends on the new connection from its answer on.
            const connection = live;
            client.handle_resumed(message.resumed, now, out);
            assert.ok(client.is_attached() || c.complete || client.is_done(), `an answer to the attempt in flight (seed ${seed})`);
            c.transport = connection;
        } else if (message.data) {
            assert.deepEqual(message.data, message.data.map((_, i) => (to.received.length + i) % 251), `${to === s ? 'server' : 'client'} received, seed ${seed}`);
            to.received.push(...message.data);
            if (to === s) {
                out.push(...server.handleData(KEY, message.data.length, now));
            } else {
                client.handle_data(message.data.length, now, out);
            }
        } else if (message.end) {
            assert.equal(to.got_end, false, `an end delivered twice (seed ${seed})`);
            to.got_end = true;
            if (to === s) {
                out.push(...server.handlePeerEnd(KEY, now));
            } else {
                client.handle_peer_end(now, out);
            }
        } else if (to === s) {
            out.push(...server.handleAck(KEY, message.ack, now));
        } else {
            client.handle_ack(message.ack, now, out);
        }
        carry_out(to, out);
    };
    const cut = () => {
        live = null;
        to_server.length = 0;
        to_client.length = 0;
        if (s.transport !== null) {
            s.transport = null;
            server.handleTransportFailed(KEY, now);
        }
        if (c.transport !== null || attempt) {
            const out = [];
            c.transport = null;
            attempt = null;
            client.handle_transport_failed(now, out);
            carry_out(c, out);
        }
    };
    const resolve_attempt = () => {
        if (!attempt || attempt.seen) {
            return;
        }
        if (below(4) === 0) {
            // It never reached the server.
            attempt = null;
            const out = [];
            client.handle_transport_failed(now, out);
            carry_out(c, out);
            return;
        }
        attempt.seen = true;
        live = ++next;
        to_server.length = 0;
        to_client.length = 0;
        const answer = server.handleResume('n1.duplex', secret, attempt.count, now);
        assert.equal(answer.kind, 'accepted', `seed ${seed}: ${JSON.stringify(answer)}`);
        s.transport = live;
        to_client.push({ resumed: answer.received });
        carry_out(s, answer.actions.filter(a => a.kind !== 'close-transport'));
        attempt = null;
    };
    const advance = ms => {
        now += ms;
        const out = [];
        client.handle_timeout(now, out);
        carry_out(c, out);
        carry_out(s, server.handleTimeout(now));
    };
    for (let step = 0; step < 20000 && !(s.complete && c.complete); step++) {
        const roll = below(100);
        const cuts = step < 3000;
        if (roll < 10 && !c.app_ended) {
            c.written += 1 + below(40);
            c.waiting = c.written - c.queue_start - c.queue.length;
            flush(c);
        } else if (roll < 20 && !s.app_ended) {
            s.written += 1 + below(40);
            s.waiting = s.written - s.queue_start - s.queue.length;
            flush(s);
        } else if (roll < 45) {
            deliver(s);
        } else if (roll < 70) {
            deliver(c);
        } else if (roll < 73 && cuts) {
            cut();
        } else if (roll < 85) {
            resolve_attempt();
        } else if (roll < 95) {
            advance(1 + below(400));
        } else if (step > 200) {
            const who = below(2) === 0 ? s : c;
            who.app_ended = true;
            flush(who);
        }
    }
    assert.ok(s.complete && c.complete, `both complete (seed ${seed}: server ${s.complete}, client ${c.complete})`);
    assert.equal(s.received.length, c.written, `seed ${seed}`);
    assert.equal(c.received.length, s.written, `seed ${seed}`);
    assert.ok(s.got_end && c.got_end);
}

test('model: the port and the core resume each other byte-exact through random cuts, failed attempts and hangs', () => {
    const first = (Math.random() * 2 ** 32) >>> 0;
    for (let i = 0; i < 200; i++) {
        run_model((first + i) >>> 0);
    }
});
