// Node's HTTP/2 session can hand a stream the same DATA chunk twice as its
// connection goes (lib/transport/replay.js). A live connection reproduces it
// only by chance (4 runs in 50 of fault-proxy's cut mid-transfer), so here the
// chunk is handed over again the way Node did: the same memory, offset and
// length, right after the first time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { Http2DuplexServer, connect, ConnectionPool } from '../index.mjs';
import { ReplayFilter } from '../lib/transport/replay.js';

const certs = new URL('../support/certs/', import.meta.url);
const key = readFileSync(new URL('key.pem', certs));
const cert = readFileSync(new URL('cert.pem', certs));
const ca = readFileSync(new URL('ca.pem', certs));

test('ReplayFilter: only an exact repeat of the last chunk is a replay', () => {
    const filter = new ReplayFilter();
    const memory = Buffer.from('0123456789');
    const view = (start, length) => Buffer.from(memory.buffer, memory.byteOffset + start, length);
    assert.equal(filter.is_replay(view(0, 4)), false);
    assert.equal(filter.is_replay(view(0, 4)), true);
    assert.equal(filter.is_replay(view(4, 4)), false, 'the next chunk of the same read');
    assert.equal(filter.is_replay(view(4, 6)), false, 'another length');
    assert.equal(filter.is_replay(Buffer.from(view(4, 6))), false, 'equal bytes in other memory');
    assert.equal(filter.is_replay(view(0, 0)), false);
});

// Each transport whose chunks come from an HTTP/2 stream: a client's request
// body (a streaming POST) and an RFC 8441 WebSocket.
for (const [transport, method] of [['streaming', 'POST'], ['websocket', 'CONNECT']]) {
    test(`${transport}: a chunk the HTTP/2 stream hands over twice is delivered once`, async t => {
        const server = http2.createSecureServer({ key, cert });
        const duplex_server = new Http2DuplexServer(server, '/dx');
        const warnings = [];
        duplex_server.on('warning', w => warnings.push(w));
        duplex_server.on('duplex', duplex => duplex.pipe(duplex));
        let replayed = 0;
        // Registered after the duplex server's own listeners, so it runs
        // after them: the chunk arrives again once they have taken it.
        server.on('session', session => session.on('stream', (stream, headers) => {
            if (headers[':method'] !== method) {
                return;
            }
            stream.on('data', chunk => {
                if (replayed === 0) {
                    replayed += 1;
                    stream.emit('data', chunk);
                }
            });
        }));
        server.listen(0, '127.0.0.1');
        await once(server, 'listening');
        const pool = new ConnectionPool();
        t.after(() => {
            pool.close?.();
            duplex_server.detach();
            server.close();
        });
        const client = await connect(`https://localhost:${server.address().port}/dx`,
            { ca, pool, transport });
        assert.equal(client.transport, transport);
        const received = [];
        client.on('data', chunk => received.push(chunk));
        const ended = once(client, 'end');
        client.end('a message sent once');
        await ended;
        assert.equal(replayed, 1, 'the chunk was handed over again');
        assert.equal(Buffer.concat(received).toString(), 'a message sent once');
        assert.deepEqual(warnings, []);
    });
}
