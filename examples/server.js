// Echo example: every duplex pipes what the browser writes straight back.
// Run with `npm run example` (builds dist/client.mjs first), then open
// https://localhost:7000/client.html. Port: env PORT or the first argument.
'use strict';
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { createSecureServer } = require('node:http2');
const { Http2DuplexServer } = require('..');

const root = join(__dirname, '..');
const files = {
    '/client.html': [join(__dirname, 'client.html'), 'text/html; charset=utf-8'],
    '/client.js': [join(__dirname, 'client.js'), 'text/javascript'],
    '/dist/client.mjs': [join(root, 'dist', 'client.mjs'), 'text/javascript']
};

function start(port) {
    const http2_server = createSecureServer({
        key: readFileSync(join(__dirname, 'certs', 'server.key')),
        cert: readFileSync(join(__dirname, 'certs', 'server.crt'))
    });
    const duplex_server = new Http2DuplexServer(http2_server, '/example');

    duplex_server.on('duplex', duplex => duplex.pipe(duplex));

    duplex_server.on('unhandled_stream', (stream, headers) => {
        // A browser that goes away mid-response is no reason to stop the server.
        stream.on('error', () => {});
        const file = files[headers[':path']];
        if (!file) {
            return stream.respond({ ':status': 404 }, { endStream: true });
        }
        stream.respondWithFile(file[0], { 'content-type': file[1] }, {
            onError: () => stream.respond({ ':status': 404 }, { endStream: true })
        });
    });

    http2_server.listen(port, () => {
        const { port: actual } = http2_server.address();
        console.log(`Please visit https://localhost:${actual}/client.html`);
    });
    return http2_server;
}

if (require.main === module) {
    start(Number(process.argv[2] || process.env.PORT || 7000));
}

module.exports = { start };
