'use strict';
// The Node client's WebSocket transport against a server that breaks the
// http2-duplex.1 protocol: the client closes with the right code, and the
// duplex fails with an error whose `code` names the cause.
const test = require('node:test');
const assert = require('node:assert/strict');
const http2 = require('http2');
const { once } = require('events');
const { readFileSync } = require('fs');
const { connect, ConnectionPool } = require('..');
const { ws_frame, close_code } = require('../support/ws-frames');

const certs = `${__dirname}/../support/certs`;
const CA = readFileSync(`${certs}/ca.pem`);

// A server's frames are not masked (a masked one is a protocol error).
const frame = (opcode, payload, masked = false) => ws_frame(opcode, payload, { masked });

// A server that answers the WebSocket CONNECT and then sends `bytes`.
async function breaking_server(t, bytes) {
    const server = http2.createSecureServer({
        key: readFileSync(`${certs}/key.pem`),
        cert: readFileSync(`${certs}/cert.pem`),
        settings: { enableConnectProtocol: true }
    });
    const closes = [];
    server.on('stream', (stream, headers) => {
        stream.on('error', () => {});
        assert.equal(headers[':protocol'], 'websocket');
        closes.push(close_code(stream));
        stream.respond({ ':status': 200, 'sec-websocket-protocol': 'http2-duplex.1', 'http2-duplex-id': 'x' });
        stream.write(bytes);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => new Promise(resolve => {
        server.close(resolve);
        for (const session of sessions) {
            session.destroy();
        }
    }));
    const sessions = new Set();
    server.on('session', session => sessions.add(session));
    return { url: `https://localhost:${server.address().port}/duplex`, closes };
}

const CASES = [
    { what: 'a masked server frame', bytes: frame(2, 'x', true), close: 1002, code: 'ERR_HTTP2_DUPLEX_WS_PROTOCOL' },
    { what: 'an unknown opcode', bytes: frame(3, 'x'), close: 1002, code: 'ERR_HTTP2_DUPLEX_WS_PROTOCOL' },
    { what: 'a text message that is not UTF-8', bytes: frame(1, Buffer.from([0xff, 0xfe])), close: 1007, code: 'ERR_HTTP2_DUPLEX_WS_INVALID_UTF8' },
    { what: 'a text message that is neither end nor credit', bytes: frame(1, 'hello'), close: 1008, code: 'ERR_HTTP2_DUPLEX_WS_MESSAGE' },
    { what: 'data after end', bytes: Buffer.concat([frame(1, 'end'), frame(2, 'x')]), close: 1008, code: 'ERR_HTTP2_DUPLEX_WS_MESSAGE' },
    {
        what: 'binary data beyond the credit granted (1 MiB)',
        bytes: Buffer.concat(Array.from({ length: 17 }, () => frame(2, Buffer.alloc(65535)))),
        close: 1008, code: 'ERR_HTTP2_DUPLEX_WS_CREDIT', pause: true
    }
];

for (const { what, bytes, close, code, pause } of CASES) {
    test(`Node client, WebSocket: ${what} → Close ${close}, duplex error ${code}`, async t => {
        const { url, closes } = await breaking_server(t, bytes);
        const duplex = await connect(url, { ca: CA, pool: new ConnectionPool(), transport: 'websocket' });
        assert.equal(duplex.transport, 'websocket');
        if (!pause) {
            duplex.resume();
        }
        const [err] = await once(duplex, 'error');
        assert.equal(err.code, code);
        assert.equal(await closes[0], close);
        duplex.destroy();
    });
}
