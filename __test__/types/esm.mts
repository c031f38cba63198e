// The ESM entry (index.mjs) as an ES module application imports it.
import { createServer } from 'node:http2';
import { Http2DuplexServer, connect, ResponseError, ConnectionPool } from 'http2-duplex';
import type { ServerDuplex, ClientDuplex } from 'http2-duplex';

const server = new Http2DuplexServer(createServer(), '/dx', { window: 16 });
server.on('duplex', (duplex: ServerDuplex) => duplex.pipe(duplex));
const duplex: ClientDuplex = await connect('http://localhost/dx', { pool: new ConnectionPool() });
duplex.on('error', err => {
    if (err instanceof ResponseError) {
        const status: number = err.status;
        void status;
    }
});
