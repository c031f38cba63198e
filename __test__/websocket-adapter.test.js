'use strict';
// The server's WebSocket adapter (lib/transport/websocket.js) fed by hand:
// what Node's streams hand it that a live connection reproduces only by
// chance.
const { test } = require('node:test');
const assert = require('node:assert');
const { EventEmitter } = require('node:events');
const { ServerWebSocketDuplex } = require('../lib/transport/websocket');

// Enough of an RFC 8441 CONNECT stream for the adapter.
class FakeHttp2Stream extends EventEmitter {
    session = {};
    closed = false;
    destroyed = false;
    writableEnded = false;
    write() {
        return true;
    }
    end() {
        this.writableEnded = true;
    }
    cork() {}
    uncork() {}
}

// A client's masked binary frame: its header and its payload.
function client_frame(payload) {
    const key = [1, 2, 3, 4];
    const masked = Buffer.from(payload).map((byte, i) => byte ^ key[i % 4]);
    return [Buffer.from([0x82, 0x80 | payload.length, ...key]), masked];
}

function adapter() {
    const stream = new FakeHttp2Stream();
    const failures = [];
    const duplex = new ServerWebSocketDuplex(stream, {},
        { id: 'replayed', max_message: 1 << 20, window: 1 << 20 }, err => failures.push(err));
    const received = [];
    duplex.on('data', chunk => received.push(chunk.toString()));
    return { stream, failures, received };
}

// Node's HTTP/2 session can emit a DATA chunk a second time as its connection
// goes (seen in fault-proxy's cut mid-transfer): the same memory, offset and
// length, in a new Buffer. Fed twice, a payload was parsed as the next
// frame's header (ERR_HTTP2_DUPLEX_WS_PROTOCOL) or a message was delivered twice.
test('a DATA chunk Node hands over twice is read once', async () => {
    const { stream, failures, received } = adapter();
    const [header, payload] = client_frame('the first message');
    const [next_header, next_payload] = client_frame('the second');
    // One socket read: the pieces are views of one ArrayBuffer.
    const memory = Buffer.concat([header, payload, next_header, next_payload]);
    const view = (start, length) => Buffer.from(memory.buffer, memory.byteOffset + start, length);
    stream.emit('data', view(0, header.length));
    stream.emit('data', view(header.length, payload.length));
    stream.emit('data', view(header.length, payload.length));
    // Overlapping what was seen: only its new part counts.
    stream.emit('data', view(header.length + payload.length - 3, 3 + next_header.length));
    stream.emit('data', view(header.length + payload.length + next_header.length, next_payload.length));
    await new Promise(setImmediate);   // what was pushed is emitted
    assert.deepStrictEqual(failures, []);
    assert.deepStrictEqual(received, ['the first message', 'the second']);
});

test('equal bytes in other memory are new data', async () => {
    const { stream, failures, received } = adapter();
    const frame = Buffer.concat(client_frame('again'));
    stream.emit('data', Buffer.from(frame));
    stream.emit('data', Buffer.from(frame));
    await new Promise(setImmediate);   // what was pushed is emitted
    assert.deepStrictEqual(failures, []);
    assert.deepStrictEqual(received, ['again', 'again']);
});
