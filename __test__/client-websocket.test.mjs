// The browser client's WebSocket duplex (lib/browser/websocket-duplex.mjs), driven in Node
// over a stand-in WebSocket: how it reads the server's Close (the close code, and for
// POLICY_VIOLATION the code the reason names: never words), and the Close it answers a
// server's violation with. The constants come from lib/protocol.js, generated from the core.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WebSocketDuplex } from '../lib/browser/websocket-duplex.mjs';
import protocol from '../lib/protocol.js';

const { CLOSE, WEBSOCKET } = protocol;

// What the duplex uses of a browser WebSocket; records what it sends and how it closes.
class StandInWebSocket extends EventTarget {
    constructor() {
        super();
        this.readyState = 1;
        this.bufferedAmount = 0;
        this.sent = [];
        this.closed_with = null;
    }

    send(data) {
        this.sent.push(data);
    }

    close(code, reason) {
        this.closed_with = { code, reason };
        this.readyState = 2;
    }

    // The server's side.
    server_message(data) {
        this.dispatchEvent(Object.assign(new Event('message'), { data }));
    }

    server_close(code, reason) {
        this.readyState = 3;
        this.dispatchEvent(Object.assign(new Event('close'), { code, reason }));
    }
}

function open() {
    const ws = new StandInWebSocket();
    const duplex = new WebSocketDuplex('https://localhost/duplex',
        { ws, id: 'n1.x', early: [], stop_early() {} }, {});
    return { ws, duplex };
}

const SERVER_CLOSES = [
    { close: CLOSE.PROTOCOL_ERROR, reason: 'reserved bits set', code: 'ERR_HTTP2_DUPLEX_WS_PROTOCOL' },
    { close: CLOSE.INVALID_DATA, reason: 'invalid UTF-8', code: 'ERR_HTTP2_DUPLEX_WS_INVALID_UTF8' },
    { close: CLOSE.TOO_BIG, reason: 'message too big', code: 'ERR_HTTP2_DUPLEX_WS_TOO_BIG' },
    { close: CLOSE.POLICY_VIOLATION, reason: 'ERR_HTTP2_DUPLEX_WS_CREDIT', code: 'ERR_HTTP2_DUPLEX_WS_CREDIT' },
    { close: CLOSE.POLICY_VIOLATION, reason: 'ERR_HTTP2_DUPLEX_WS_MESSAGE', code: 'ERR_HTTP2_DUPLEX_WS_MESSAGE' },
    // A reason naming no policy code (another server's words) is read as a message violation.
    { close: CLOSE.POLICY_VIOLATION, reason: 'credit exceeded', code: 'ERR_HTTP2_DUPLEX_WS_MESSAGE' },
    { close: CLOSE.POLICY_VIOLATION, reason: 'ERR_HTTP2_DUPLEX_WS_TOO_BIG', code: 'ERR_HTTP2_DUPLEX_WS_MESSAGE' },
    { close: CLOSE.NORMAL, reason: '', code: 'ERR_HTTP2_DUPLEX_WS_CLOSED' },
    { close: CLOSE.GOING_AWAY, reason: 'duplex destroyed', code: 'ERR_HTTP2_DUPLEX_WS_CLOSED' }
];

for (const { close, reason, code } of SERVER_CLOSES) {
    test(`a server Close ${close} '${reason}' before both ends fails the duplex with ${code}`, async () => {
        const { ws, duplex } = open();
        ws.server_close(close, reason);
        const [err] = await once(duplex, 'error');
        assert.equal(err.code, code);
        assert.equal(err.close_code, close);
    });
}

test('a server past the credit it was granted gets PAGE_VIOLATION naming the code', async () => {
    const { ws, duplex } = open();
    ws.server_message(new ArrayBuffer(WEBSOCKET.INITIAL_CREDIT + 1));
    const [err] = await once(duplex, 'error');
    assert.equal(err.code, 'ERR_HTTP2_DUPLEX_WS_CREDIT');
    assert.deepEqual(ws.closed_with, { code: 4008, reason: 'ERR_HTTP2_DUPLEX_WS_CREDIT' });
    assert.equal(CLOSE.PAGE_VIOLATION, 4008);
});

test('a text message that is not one of http2-duplex.1 gets PAGE_VIOLATION', async () => {
    const { ws, duplex } = open();
    ws.server_message(`${WEBSOCKET.CREDIT_PREFIX}0`);
    const [err] = await once(duplex, 'error');
    assert.equal(err.code, 'ERR_HTTP2_DUPLEX_WS_MESSAGE');
    assert.deepEqual(ws.closed_with, { code: 4008, reason: 'ERR_HTTP2_DUPLEX_WS_MESSAGE' });
});

test('both ends and the server Close NORMAL: a clean end, messages as the core spells them', async () => {
    const { ws, duplex } = open();
    const closed = once(duplex, 'close');
    const ended = once(duplex, 'end');
    duplex.resume();
    ws.server_message(WEBSOCKET.END_MESSAGE);
    duplex.end();
    await Promise.all([once(duplex, 'finish'), ended, closed]);
    assert.deepEqual(ws.sent, [WEBSOCKET.END_MESSAGE]);
    // The server's Close is awaited rather than overtaken by one of ours.
    ws.server_close(CLOSE.NORMAL, '');
    assert.equal(duplex.errored, null);
    assert.equal(ws.closed_with, null);
});
