// lib/browser/tunnel.mjs, http2-duplex.2 over the GET and POST transports
// (docs/protocol.md "Resume on the fetch paths: a WebSocket tunnel"): the RFC 6455
// frame codec, the TunnelSocket over a stand-in carrier, a resumable duplex on
// tunnels (and one falling back to them from WebSockets), and make() choosing a
// tunnel through a stand-in fetch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Duplex } from 'node:stream';
import { Buffer } from 'node:buffer';
import protocol from '../lib/protocol.js';
import {
    FrameDecoder, OPCODE, frame_header, small_frame, close_payload, carrier_url, tunnel_class
} from '../lib/browser/tunnel.mjs';
import { handshake } from '../lib/browser/websocket-duplex.mjs';
import { ResumableWebSocketDuplex } from '../lib/browser/websocket-resume.mjs';
import make from '../lib/browser/client.mjs';

const { HEADER } = protocol;
const SECRET = 'abcdefghijklmnopqrstuv';
const tick = () => new Promise(resolve => setTimeout(resolve, 0));
const bytes = (from, n) => Buffer.from(Array.from({ length: n }, (_, i) => (from + i) % 251));

// A server's frame: unmasked; `fin` false for a fragment.
function server_frame(opcode, payload, fin = true) {
    const body = Buffer.from(payload);
    const n = body.length;
    const ext = n < 126 ? Buffer.from([n]) : n < 65536 ?
        Buffer.from([126, n >> 8, n & 255]) : Buffer.concat([Buffer.from([127]), u64(n)]);
    return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode]), ext, body]);
}

function u64(n) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(n));
    return b;
}

// The client's frames in `data`, checked: FIN, masked with the zero key.
function client_frames(data) {
    const frames = [];
    let at = 0;
    while (at < data.length) {
        assert.equal(data[at] & 0xf0, 0x80, 'FIN, no reserved bits');
        const opcode = data[at] & 0x0f;
        assert.equal(data[at + 1] & 0x80, 0x80, 'masked');
        let n = data[at + 1] & 0x7f;
        at += 2;
        if (n === 126) {
            n = data.readUInt16BE(at);
            at += 2;
        } else if (n === 127) {
            n = Number(data.readBigUInt64BE(at));
            at += 8;
        }
        assert.deepEqual(data.subarray(at, at + 4), Buffer.alloc(4), 'the zero masking key');
        at += 4;
        frames.push({ opcode, payload: data.subarray(at, at + n) });
        at += n;
    }
    return frames;
}

function decoder() {
    const seen = [];
    const d = new FrameDecoder({
        binary: view => seen.push(['binary', Buffer.from(view)]),
        text: text => seen.push(['text', text]),
        close: (code, reason) => seen.push(['close', code, reason]),
        ping: payload => seen.push(['ping', Buffer.from(payload)]),
        error: code => seen.push(['error', code])
    });
    return { d, seen };
}


test('codec: client headers for 7-bit, 16-bit and 64-bit lengths, masked with the zero key', () => {
    for (const [n, size] of [[0, 6], [125, 6], [126, 8], [65535, 8], [65536, 14], [2 ** 32 + 5, 14]]) {
        const header = frame_header(OPCODE.BINARY, n);
        assert.equal(header.length, size, `${n} bytes`);
        if (n < 2 ** 32) {
            const frame = client_frames(Buffer.concat([header, Buffer.alloc(n)]));
            assert.equal(frame.length, 1);
            assert.equal(frame[0].payload.length, n);
        } else {
            assert.equal(header.readUInt32BE(2) * 2 ** 32 + header.readUInt32BE(6), n);
        }
    }
    assert.deepEqual(client_frames(small_frame(OPCODE.CLOSE, close_payload(1000, 'bye'))),
        [{ opcode: OPCODE.CLOSE, payload: Buffer.from([0x03, 0xe8, 0x62, 0x79, 0x65]) }]);
    assert.deepEqual(close_payload(undefined), Buffer.alloc(0));
    assert.equal(carrier_url('wss://h:1/duplex?resume=n1'), 'https://h:1/duplex?resume=n1');
    assert.equal(carrier_url('ws://h/duplex'), 'http://h/duplex');
});

test('codec: server frames split at every byte, fragments, control frames amid them', () => {
    const big = bytes(0, 70000);
    const stream = Buffer.concat([
        server_frame(OPCODE.TEXT, 'credit 5'),
        server_frame(OPCODE.BINARY, big.subarray(0, 200)),
        server_frame(OPCODE.BINARY, big.subarray(200), false),
        server_frame(OPCODE.PING, 'p'),
        server_frame(OPCODE.CONTINUATION, 'xy'),
        server_frame(OPCODE.TEXT, 'ac', false),
        server_frame(OPCODE.PONG, ''),
        server_frame(OPCODE.CONTINUATION, 'k 7€'),
        server_frame(OPCODE.BINARY, ''),
        server_frame(OPCODE.CLOSE, close_payload(1001, 'gone'))
    ]);
    const expected = [
        ['text', 'credit 5'],
        ['binary', Buffer.concat([big, Buffer.from('xy')])],
        ['ping', Buffer.from('p')],
        ['text', 'ack 7€'],
        ['close', 1001, 'gone']
    ];
    for (const step of [1, 3, 1000, stream.length]) {
        const { d, seen } = decoder();
        for (let at = 0; at < stream.length; at += step) {
            d.feed(stream.subarray(at, at + step));
        }
        // Binary pieces joined, as the duplex sees them (a byte stream); the ping came
        // amid the message's fragments.
        const others = seen.filter(e => e[0] !== 'binary');
        const binary = Buffer.concat(seen.filter(e => e[0] === 'binary').map(e => e[1]));
        assert.deepEqual([others[0], ['binary', binary], ...others.slice(1)], expected, `read by ${step}`);
        assert.ok(seen.indexOf(others[1]) < seen.findLastIndex(e => e[0] === 'binary'), 'the ping is not held back');
    }
    // A binary piece is a view of the read, not a copy.
    const views = [];
    const d = new FrameDecoder({ binary: view => views.push(view) });
    const read = server_frame(OPCODE.BINARY, bytes(0, 300));
    d.feed(read);
    assert.equal(views.length, 1);
    assert.equal(views[0].buffer, read.buffer);
    assert.equal(views[0].length, 300);
});

test('codec: the server breaking RFC 6455 fails the parse with its Close code', () => {
    const cases = [
        ['masked', Buffer.from([0x82, 0x80, 0, 0, 0, 0]), 1002],
        ['reserved bit', Buffer.from([0xc2, 0x00]), 1002],
        ['unknown opcode', Buffer.from([0x83, 0x00]), 1002],
        ['fragmented control', Buffer.from([0x09, 0x00]), 1002],
        ['control > 125', Buffer.concat([Buffer.from([0x89, 126, 0, 126]), Buffer.alloc(126)]), 1002],
        ['continuation first', server_frame(OPCODE.CONTINUATION, 'x'), 1002],
        ['new message amid one', Buffer.concat([server_frame(OPCODE.TEXT, 'a', false), server_frame(OPCODE.TEXT, 'b')]), 1002],
        ['close of one byte', server_frame(OPCODE.CLOSE, 'x'), 1002],
        ['invalid UTF-8', server_frame(OPCODE.TEXT, Buffer.from([0xff])), 1007],
        ['text too long', Buffer.from([0x81, 127, 0, 0, 0, 0, 0, 1, 0, 1]), 1009]
    ];
    for (const [name, data, code] of cases) {
        const { d, seen } = decoder();
        d.feed(Buffer.concat([data, server_frame(OPCODE.TEXT, 'after')]));
        assert.deepEqual(seen, [['error', code]], name);
    }
});

// The carrier of a tunnel: what the client writes is kept (chunks as given); the test
// plays the server with server().
class StandInCarrier extends Duplex {
    constructor(tunnel_protocol = 'http2-duplex.2', transport = 'per-write') {
        super();
        this.tunnel_protocol = tunnel_protocol;
        this.transport = transport;
        this.chunks = [];
        this.ended = false;
    }

    _write(chunk, encoding, cb) {
        this.chunks.push(chunk);
        cb();
    }

    _read() {}

    // Our writes end after the Close each way: the server then ends the GET.
    _final(cb) {
        this.ended = true;
        this.push(null);
        cb();
    }

    server(...frames) {
        for (const frame of frames) {
            this.push(frame);
        }
    }

    frames() {
        return client_frames(Buffer.concat(this.chunks));
    }

    texts() {
        return this.frames().filter(f => f.opcode === OPCODE.TEXT).map(f => f.payload.toString());
    }

    data() {
        return Buffer.concat(this.frames().filter(f => f.opcode === OPCODE.BINARY).map(f => f.payload));
    }
}

// A Tunnel class whose carriers the test hands out: opens[i] = { url, offered, answer(carrier) }.
function tunnels() {
    const opens = [];
    const Tunnel = tunnel_class((url, offered) => new Promise((resolve, reject) => {
        opens.push({ url, offered, answer: resolve, refuse: reject });
    }));
    return { Tunnel, opens };
}

function events(ws) {
    const seen = [];
    for (const type of ['open', 'message', 'error', 'close']) {
        ws.addEventListener(type, e => seen.push(type === 'message' ? ['message', e.data] :
            type === 'close' ? ['close', e.code, e.reason, e.wasClean] : [type]));
    }
    return seen;
}

test('tunnel: opens once the GET answers with the tunnel header; frames each way; pings answered', async () => {
    const { Tunnel, opens } = tunnels();
    const ws = new Tunnel('wss://h/duplex?resume=n1', 'http2-duplex.2');
    const seen = events(ws);
    assert.equal(ws.readyState, 0);
    assert.throws(() => ws.send('x'), { name: 'InvalidStateError' });
    assert.deepEqual(opens.map(o => [o.url, o.offered]), [['https://h/duplex?resume=n1', 'http2-duplex.2']]);
    const carrier = new StandInCarrier('http2-duplex.2', 'streaming');
    opens[0].answer(carrier);
    await tick();
    assert.deepEqual(seen, [['open']]);
    assert.equal(ws.readyState, 1);
    assert.equal(ws.protocol, 'http2-duplex.2');
    assert.equal(ws.transport, 'streaming');
    assert.equal(ws.tunnel, true);
    ws.send('open');
    const payload = bytes(0, 70000);
    ws.send(payload.subarray(5));
    ws.send(new Uint8Array(payload.buffer, payload.byteOffset, 3).buffer.slice(0, 3));
    assert.equal(carrier.chunks[2].buffer, payload.buffer, 'the payload goes as it is: not copied');
    assert.deepEqual(carrier.texts(), ['open']);
    assert.deepEqual(carrier.data(), Buffer.concat([payload.subarray(5), payload.subarray(0, 3)]));
    carrier.server(server_frame(OPCODE.TEXT, 'credit 9'), server_frame(OPCODE.BINARY, 'abc'), server_frame(OPCODE.PING, 'k'));
    await tick();
    assert.deepEqual(seen.slice(1).map(([t, d]) => [t, Buffer.isBuffer(d) ? d.toString() : d]),
        [['message', 'credit 9'], ['message', 'abc']]);
    assert.deepEqual(carrier.frames().at(-1), { opcode: OPCODE.PONG, payload: Buffer.from('k') });
});

test('tunnel: a GET answered as a plain duplex is a failed open, its carrier destroyed; a refused GET too', async () => {
    const { Tunnel, opens } = tunnels();
    const ws = new Tunnel('wss://h/duplex', 'http2-duplex.2');
    const seen = events(ws);
    const plain = new StandInCarrier(null);
    opens[0].answer(plain);
    await tick();
    assert.deepEqual(seen, [['error'], ['close', 1006, '', false]]);
    assert.equal(plain.destroyed, true);
    const refused = new Tunnel('wss://h/duplex', 'http2-duplex.2');
    const seen2 = events(refused);
    opens[1].refuse(new Error('503'));
    await tick();
    assert.deepEqual(seen2, [['error'], ['close', 1006, '', false]]);
    // Closed while connecting: the carrier that comes later is destroyed.
    const early = new Tunnel('wss://h/duplex', 'http2-duplex.2');
    const seen3 = events(early);
    early.close();
    assert.deepEqual(seen3, [['error'], ['close', 1006, '', false]]);
    const late = new StandInCarrier();
    opens[2].answer(late);
    await tick();
    assert.equal(late.destroyed, true);
});

async function open_tunnel() {
    const { Tunnel, opens } = tunnels();
    const ws = new Tunnel('wss://h/duplex', 'http2-duplex.2');
    const carrier = new StandInCarrier();
    opens[0].answer(carrier);
    await once(ws, 'open');
    return { ws, carrier, seen: events(ws) };
}

test('tunnel: the Close handshake each way ends the carrier cleanly', async () => {
    {
        // The server closes: answered with its code, our writes end.
        const { ws, carrier, seen } = await open_tunnel();
        carrier.server(server_frame(OPCODE.CLOSE, close_payload(1000, 'done')));
        await tick();
        assert.deepEqual(seen, [['close', 1000, 'done', true]]);
        assert.equal(ws.readyState, 3);
        assert.deepEqual(carrier.frames(), [{ opcode: OPCODE.CLOSE, payload: close_payload(1000) }]);
        assert.equal(carrier.ended, true);
        ws.send('late');
        assert.equal(carrier.frames().length, 1, 'nothing is sent after the Close');
    }
    {
        // We close: the server's Close answers it.
        const { ws, carrier, seen } = await open_tunnel();
        ws.close(4008, 'ERR_HTTP2_DUPLEX_WS_MESSAGE');
        assert.equal(ws.readyState, 2);
        assert.deepEqual(carrier.frames(), [{ opcode: OPCODE.CLOSE, payload: close_payload(4008, 'ERR_HTTP2_DUPLEX_WS_MESSAGE') }]);
        carrier.server(server_frame(OPCODE.CLOSE, close_payload(4008)));
        await tick();
        assert.deepEqual(seen, [['close', 4008, '', true]]);
        assert.equal(carrier.frames().length, 1, 'no second Close');
        assert.equal(carrier.ended, true);
    }
});

test('tunnel: close(4001) tears the carrier down at once; a carrier lost without a Close is 1006', async () => {
    {
        const { ws, carrier, seen } = await open_tunnel();
        ws.close(4001);
        assert.equal(carrier.destroyed, true);
        assert.equal(ws.readyState, 3);
        assert.deepEqual(seen, [['error'], ['close', 1006, '', false]]);
        assert.deepEqual(carrier.chunks, [], 'no Close frame for a hung carrier');
    }
    {
        const { carrier, seen } = await open_tunnel();
        carrier.push(null);
        carrier.resume();
        await once(carrier, 'end');
        assert.deepEqual(seen, [['error'], ['close', 1006, '', false]]);
    }
    {
        const { carrier, seen } = await open_tunnel();
        carrier.destroy(new Error('POST cut'));
        await tick();
        assert.deepEqual(seen, [['error'], ['close', 1006, '', false]]);
    }
    {
        // The server breaks RFC 6455: a Close naming why is written, and the tunnel fails.
        const { carrier, seen } = await open_tunnel();
        carrier.server(Buffer.from([0x82, 0x80, 0, 0, 0, 0]));
        await tick();
        assert.deepEqual(seen, [['error'], ['close', 1006, '', false]]);
        assert.deepEqual(carrier.frames(), [{ opcode: OPCODE.CLOSE, payload: close_payload(1002) }]);
        assert.equal(carrier.destroyed, true);
    }
});

// A resumable duplex opened on a tunnel, as make() opens it.
async function open_resumable_tunnel() {
    const { Tunnel, opens } = tunnels();
    const carrier = new StandInCarrier();
    const opening = handshake(new Tunnel('wss://localhost/duplex', 'http2-duplex.2', carrier), undefined, undefined, true);
    await tick();
    assert.deepEqual(carrier.texts(), ['open']);
    carrier.server(server_frame(OPCODE.TEXT, `resumable n1.x ${SECRET} 100 30000 0`));
    const duplex = new ResumableWebSocketDuplex('https://localhost/duplex', await opening, {});
    return { duplex, carrier, opens };
}

test('duplex on tunnels: a cut carrier is resumed on a new tunnel (?resume=), which gets what the server lacks', async () => {
    const { duplex, carrier, opens } = await open_resumable_tunnel();
    assert.equal(duplex.resumable, true);
    assert.equal(duplex.tunnel, true);
    assert.equal(duplex.transport, 'per-write');
    const resumed = [];
    duplex.on('resumed', info => resumed.push(info));
    duplex.on('error', err => assert.fail(err));
    const received = [];
    duplex.on('data', d => received.push(d));
    duplex.write(bytes(0, 60));
    await tick();
    assert.deepEqual(carrier.data(), bytes(0, 60));
    carrier.server(server_frame(OPCODE.TEXT, 'ack 20'), server_frame(OPCODE.BINARY, bytes(0, 9)));
    await tick();
    carrier.destroy(new Error('GET reset'));
    await tick();
    assert.equal(opens.length, 1, 'a new tunnel at once');
    assert.deepEqual([opens[0].url, opens[0].offered], ['https://localhost/duplex?resume=n1', 'http2-duplex.2']);
    const carrier2 = new StandInCarrier('http2-duplex.2', 'streaming');
    opens[0].answer(carrier2);
    await tick();
    assert.deepEqual(carrier2.texts(), [`resume n1.x ${SECRET} 9`]);
    carrier2.server(server_frame(OPCODE.TEXT, 'resumed 30'), server_frame(OPCODE.TEXT, 'credit 1000'));
    await tick();
    assert.equal(resumed.length, 1);
    assert.equal(duplex.transport, 'streaming', "the carrier now: the new tunnel's");
    assert.deepEqual(carrier2.data(), bytes(30, 30), 'bytes 30..60: the server had 30');
    carrier2.server(server_frame(OPCODE.BINARY, bytes(9, 5)), server_frame(OPCODE.TEXT, 'end'));
    await tick();
    assert.equal(carrier2.texts().at(-1), 'ack 15');
    duplex.end();
    await tick();
    carrier2.server(server_frame(OPCODE.TEXT, 'ack 61'), server_frame(OPCODE.CLOSE, close_payload(1000)));
    await once(duplex, 'close');
    assert.deepEqual(Buffer.concat(received), bytes(0, 14));
    assert.equal(carrier2.ended, true, 'the Close each way ends the carrier');
});

test('duplex on tunnels: a resume answered by a plain duplex is a failed attempt, retried', async () => {
    const { duplex, carrier, opens } = await open_resumable_tunnel();
    duplex.on('error', err => assert.fail(err));
    carrier.destroy(new Error('cut'));
    await tick();
    const plain = new StandInCarrier(null);
    opens[0].answer(plain);
    await tick();
    assert.equal(plain.destroyed, true, 'abandoned');
    const started = performance.now();
    while (opens.length < 2) {
        await new Promise(resolve => setTimeout(resolve, 10));
    }
    assert.ok(performance.now() - started >= 200, 'after the backoff');
    duplex.destroy();
});

// A WebSocket stand-in (as browser-resume.test.mjs's), for a duplex opened on one.
class StandInWebSocket extends EventTarget {
    static made = [];

    constructor(url, protocols) {
        super();
        Object.assign(this, { url, protocols, readyState: 0, bufferedAmount: 0, sent: [], closed_with: null });
        StandInWebSocket.made.push(this);
    }

    send(data) {
        this.sent.push(data);
    }

    close(code) {
        this.closed_with = code;
        this.readyState = 2;
    }

    opened() {
        this.protocol = 'http2-duplex.2';
        this.readyState = 1;
        this.dispatchEvent(new Event('open'));
    }

    closed(code) {
        this.readyState = 3;
        this.dispatchEvent(Object.assign(new Event('close'), { code, reason: '', wasClean: code !== 1006 }));
    }
}

// Waits for the core's backoff to make the next attempt (250 ms and up).
async function next_attempt(made) {
    const before = made.length;
    while (made.length === before) {
        await new Promise(resolve => setTimeout(resolve, 10));
    }
}

test("duplex on a WebSocket ('auto'): resumes on the kind that last resumed it, each failed attempt trying the other", async () => {
    StandInWebSocket.made = [];
    const { Tunnel, opens } = tunnels();
    const ws = new StandInWebSocket('wss://localhost/duplex');
    ws.opened();
    const duplex = new ResumableWebSocketDuplex('https://localhost/duplex', {
        ws, id: 'n1.x', early: [], stop_early() {}, fallback: Tunnel,
        resumable: { secret: SECRET, resume_buffer: 100, resume_timeout_ms: 30000, keepalive_interval_ms: 0 }
    }, {});
    assert.deepEqual([duplex.transport, duplex.tunnel], ['websocket', false]);
    duplex.on('error', err => assert.fail(err));
    ws.closed(1006);
    // First a WebSocket, which opens and resumes.
    const ws2 = StandInWebSocket.made[1];
    assert.ok(ws2, 'the first resume is on a WebSocket');
    ws2.opened();
    ws2.dispatchEvent(Object.assign(new Event('message'), { data: 'resumed 0' }));
    assert.deepEqual([duplex.transport, duplex.tunnel], ['websocket', false]);
    ws2.closed(1006);
    // The next attempt is a WebSocket again; it opens, then is cut before the answer:
    // the one after is a tunnel.
    const ws3 = StandInWebSocket.made[2];
    ws3.opened();
    ws3.closed(1006);
    await next_attempt(opens);
    assert.equal(StandInWebSocket.made.length, 3);
    assert.equal(opens[0].url, 'https://localhost/duplex?resume=n1');
    // A tunnel that cannot work (WebKit's POSTs on other connections): back to WebSockets.
    opens[0].refuse(new TypeError('Load failed'));
    await next_attempt(StandInWebSocket.made);
    assert.equal(opens.length, 1);
    // That one fails before it opens: a tunnel again, which resumes.
    StandInWebSocket.made[3].closed(1006);
    await next_attempt(opens);
    const carrier = new StandInCarrier();
    opens[1].answer(carrier);
    await tick();
    assert.deepEqual(carrier.texts(), [`resume n1.x ${SECRET} 0`]);
    carrier.server(server_frame(OPCODE.TEXT, 'resumed 0'));
    await tick();
    assert.deepEqual([duplex.transport, duplex.tunnel], ['per-write', true]);
    duplex.destroy();
    assert.deepEqual(carrier.frames().at(-1), { opcode: OPCODE.CLOSE, payload: close_payload(1000) });
    carrier.server(server_frame(OPCODE.CLOSE, close_payload(1000)));
});

// make() through a stand-in fetch: a GET answered with (or without) the tunnel header.
function stand_in_fetch(tunnel) {
    const requests = [];
    const fetch = async (url, init) => {
        const headers = new Headers(init.headers);
        requests.push({ url, method: init.method || 'GET', headers, body: init.body, signal: init.signal });
        if ((init.method || 'GET') === 'GET') {
            let controller;
            const body = new ReadableStream({ start: c => { controller = c; } });
            controller.enqueue(new TextEncoder().encode('a'));
            fetch.server = frame => controller.enqueue(new Uint8Array(frame));
            fetch.end = () => controller.close();
            return new Response(body, {
                headers: { [HEADER.ID]: 'n1.x', [HEADER.VERSION]: '2', ...(tunnel ? { [HEADER.TUNNEL]: tunnel } : {}) }
            });
        }
        return new Response(null, { status: 200 });
    };
    fetch.requests = requests;
    return fetch;
}

test("make(): transport 'per-write' with resume tunnels (the carrier takes the fetch options); a plain answer is a plain duplex", async () => {
    const fetch = stand_in_fetch('http2-duplex.2');
    const making = make('https://h/duplex', { resume: true, transport: 'per-write', fetch, headers: { 'x-a': 'b' } });
    while (fetch.requests.filter(r => r.method === 'POST').length < 1) {
        await tick();
    }
    const [get] = fetch.requests;
    assert.equal(get.headers.get(HEADER.TUNNEL), 'http2-duplex.2');
    assert.equal(get.headers.get('x-a'), 'b');
    const post = fetch.requests[1];
    assert.equal(post.headers.get(HEADER.ID), 'n1.x');
    assert.deepEqual(client_frames(Buffer.from(post.body)).map(f => f.payload.toString()), ['open']);
    fetch.server(server_frame(OPCODE.TEXT, `resumable n1.y ${SECRET} 100 30000 0`));
    const duplex = await making;
    assert.deepEqual([duplex.resumable, duplex.tunnel, duplex.transport, duplex.id], [true, true, 'per-write', 'n1.y']);
    duplex.destroy();
    fetch.server(server_frame(OPCODE.CLOSE, close_payload(1000)));
    fetch.end();
    await once(duplex, 'close');

    const plain_fetch = stand_in_fetch(null);
    const plain = await make('https://h/duplex', { resume: true, transport: 'per-write', fetch: plain_fetch });
    assert.deepEqual([plain.resumable, plain.tunnel, plain.transport, plain.id], [false, false, 'per-write', 'n1.x']);
    assert.equal(plain_fetch.requests.length, 1, 'the one GET is the duplex');
    plain.destroy();

    // Without resume nothing asks for a tunnel.
    const no_resume = stand_in_fetch('http2-duplex.2');
    const d = await make('https://h/duplex', { transport: 'per-write', fetch: no_resume });
    assert.equal(no_resume.requests[0].headers.get(HEADER.TUNNEL), null);
    assert.deepEqual([d.resumable, d.tunnel], [false, false]);
    d.destroy();
});

test('make(): a signal aborted while the tunnel opens rejects; the tunnel closes (a Close each way), then its carrier', async () => {
    const fetch = stand_in_fetch('http2-duplex.2');
    const abort = new AbortController();
    const making = make('https://h/duplex', { resume: true, transport: 'per-write', fetch, signal: abort.signal });
    const posts = () => fetch.requests.filter(r => r.method === 'POST');
    while (posts().length < 1) {
        await tick();
    }
    abort.abort();
    await assert.rejects(making, { code: 'ERR_HTTP2_DUPLEX_WS_CLOSED' });
    while (posts().length < 2) {
        await tick();
    }
    // close() without a code, as a failed open closes a WebSocket: a Close without a status.
    assert.deepEqual(client_frames(Buffer.from(posts()[1].body)), [{ opcode: OPCODE.CLOSE, payload: Buffer.alloc(0) }]);
    fetch.server(server_frame(OPCODE.CLOSE, close_payload(1000)));
    while (!posts().some(r => r.headers.get(HEADER.END) === 'true')) {
        await tick();
    }
    fetch.end();
});
