'use strict';
// Echo server for bench/load.js: an HTTPS HTTP/2 server on 127.0.0.1 whose
// Http2DuplexServer pipes every duplex into itself. Prints its URL on stdout;
// answers 'rss' IPC messages with its resident set size.
const http2 = require('http2');
const fs = require('fs');
const path = require('path');
const { Http2DuplexServer } = require('..');

const certs = path.join(__dirname, '..', 'support', 'certs');
const server = http2.createSecureServer({
    key: fs.readFileSync(path.join(certs, 'key.pem')),
    cert: fs.readFileSync(path.join(certs, 'cert.pem')),
    settings: { maxConcurrentStreams: 1 << 20 },
    maxSessionMemory: 1024,
    peerMaxConcurrentStreams: 1 << 20
});
const duplex_server = new Http2DuplexServer(server, '/load', {
    max_duplexes_per_session: 1 << 20,
    max_duplexes: 1 << 20
});
let held = 0;
let peak = 0;
duplex_server.on('duplex', duplex => {
    held++;
    peak = Math.max(peak, held);
    duplex.on('error', () => {});
    duplex.on('close', () => held--);
    duplex.pipe(duplex);
});
duplex_server.on('warning', err => process.stderr.write(`server warning: ${err.message}\n`));
server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`https://localhost:${server.address().port}/load\n`);
});
process.on('message', msg => {
    if (msg === 'rss') {
        process.send({ rss: process.memoryUsage().rss, held, peak });
    }
});
process.on('disconnect', () => process.exit(0));
