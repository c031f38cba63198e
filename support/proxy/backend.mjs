// One Node backend behind a proxy: an Http2DuplexServer with a node_id and
// scope 'server', echoing every duplex (`duplex.pipe(duplex)`, nothing else).
// Forked by harness.mjs (one process per node); runnable by hand too.
//
// Environment:
//   NODE_ID        the node's name, [a-z0-9]+ (ids become `<NODE_ID>.<uuid>`)
//   TRANSPORT      h2c  — http2.createServer (HAProxy speaks h2c to it)
//                  http1 — http.createServer with requestTimeout 0 (nginx speaks HTTP/1.1)
//                  h2   — http2.createSecureServer (TLS, for direct connections)
//   PORT           port to listen on (default 0: any free port)
//   DUPLEX_OPTIONS JSON, merged into { node_id, scope: 'server' }
//   STATIC_DIR     files served on every other path (`/page.html` → STATIC_DIR/page.html)
//
// Reports one object per event: over IPC when forked, else one JSON line on
// stdout: listening {port}, duplex {id}, warning {code, status}.
import http from 'node:http';
import http2 from 'node:http2';
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';

const require = createRequire(import.meta.url);
const { Http2DuplexServer } = require('../../index.js');

export const DUPLEX_PATH = '/duplex';
const certs = new URL('../certs/', import.meta.url);
const node_id = process.env.NODE_ID || 'n1';
const transport = process.env.TRANSPORT || 'h2c';
const static_dir = process.env.STATIC_DIR;
const options = { node_id, scope: 'server', ...JSON.parse(process.env.DUPLEX_OPTIONS || '{}') };

function report(event) {
    if (process.send) {
        process.send(event);
    } else {
        process.stdout.write(`${JSON.stringify(event)}\n`);
    }
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.mjs': 'text/javascript', '.js': 'text/javascript' };

// The page, harness and client bundle for the browser cases: [status, headers, body].
function static_file(path) {
    const name = path.split('?')[0].slice(1);
    if (!static_dir || !/^[a-z0-9._-]+$/i.test(name) || !existsSync(join(static_dir, name))) {
        return [404, {}, ''];
    }
    return [200, { 'content-type': TYPES[extname(name)] || 'application/octet-stream' },
        readFileSync(join(static_dir, name))];
}

let server;
if (transport === 'http1') {
    // requestTimeout (300 s by default) would answer 408 to a long streaming POST.
    server = http.createServer({ requestTimeout: 0 });
    server.on('request', (req, res) => {
        if (req.url.split('?')[0] === DUPLEX_PATH) {
            return;     // the Http2DuplexServer's
        }
        const [status, headers, body] = static_file(req.url);
        res.writeHead(status, headers).end(body);
    });
} else {
    server = transport === 'h2' ?
        http2.createSecureServer({
            key: readFileSync(new URL('key.pem', certs)),
            cert: readFileSync(new URL('cert.pem', certs))
        }) :
        http2.createServer();
}

const duplex_server = new Http2DuplexServer(server, DUPLEX_PATH, options);
duplex_server.on('duplex', (duplex, id) => {
    duplex.pipe(duplex);
    report({ event: 'duplex', id });
});
duplex_server.on('unhandled_stream', (stream, headers) => {
    stream.on('error', () => {});
    const [status, response_headers, body] = static_file(headers[':path']);
    stream.respond({ ':status': status, ...response_headers });
    stream.end(body);
});
duplex_server.on('warning', err => report({ event: 'warning', code: err.code, status: err.status }));

server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
    report({ event: 'listening', port: server.address().port });
});
process.on('disconnect', () => process.exit(0));
