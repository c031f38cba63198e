// An echo server: node server.mjs [port], then open https://localhost:7000/
import { readFileSync } from 'node:fs';
import { createSecureServer } from 'node:http2';
import { fileURLToPath } from 'node:url';
import { Http2DuplexServer } from 'http2-duplex';

// A key and certificate for localhost (these are the repository's examples/certs).
const http2_server = createSecureServer({
    key: readFileSync(new URL('certs/server.key', import.meta.url)),
    cert: readFileSync(new URL('certs/server.crt', import.meta.url)),
    // HTTP/1.1 WebSockets too: a browser resumes over one once its connection was lost.
    allowHTTP1: true
});

const duplex_server = new Http2DuplexServer(http2_server, '/example');
duplex_server.on('duplex', duplex => duplex.pipe(duplex));   // echo every byte back
duplex_server.on('warning', err => console.warn(err.code, err.message));

// Every other path: the page, and the browser client prebuilt as an ES module.
const files = {
    '/': [new URL('index.html', import.meta.url), 'text/html; charset=utf-8'],
    '/http2-duplex.mjs': [import.meta.resolve('http2-duplex/dist/client.mjs'), 'text/javascript']
};
duplex_server.on('unhandled_stream', (stream, headers) => {
    stream.on('error', () => {});   // a browser may leave mid-answer
    const [url, type] = files[headers[':path']] ?? [];
    if (!url) {
        return stream.respond({ ':status': 404 }, { endStream: true });
    }
    stream.respondWithFile(fileURLToPath(url), { 'content-type': type });
});

const port = Number(process.argv[2] ?? process.env.PORT ?? 7000);
http2_server.listen(port, () => {
    console.log(`open https://localhost:${http2_server.address().port}/`);
});
