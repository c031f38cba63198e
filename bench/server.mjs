// One echo server per child process, so process.cpuUsage() counts only that
// server's work: node bench/server.mjs ours|ours-h1|original|ws [JSON].
// Every duplex (or WebSocket stream) is piped into itself.
// ours-h1 is ours on an Http2SecureServer with allowHTTP1 and `websocket: 'http1'`:
// its HTTP/2 sessions offer no RFC 8441, so a browser's WebSocket to it opens its
// own HTTP/1.1 connection (the page itself still comes over HTTP/2).
// A second argument, JSON, adds options for our servers (ours, ours-h1).
// Answers IPC messages: 'cpu' → { cpu, websockets } (user + system µs so far; the
// WebSockets opened to the duplex path so far, { h2, h1 }: RFC 8441 CONNECTs and
// RFC 6455 upgrades, so the bench can check which one the browser used),
// 'exit' → closes and exits.
import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { start_server, original_server_class, OUR_CLIENT, ORIGINAL_CLIENT, DUPLEX_PATH } from '../support/browser/server.mjs';
import { ISOLATED, BENCH_SCRIPT } from './cases.mjs';

const page_script = readFileSync(new URL('page.mjs', import.meta.url), 'utf8');
const certs = new URL('../examples/certs/', import.meta.url);
const websockets = { h2: 0, h1: 0 };

// Counts WebSocket openings on `path`; the package's own listeners answer them.
// An 'upgrade' listener of ours makes the duplex server leave upgrades to other
// paths to us: there are none here.
function count_websockets(server, path) {
    server.on('stream', (stream, headers) => {
        if (headers[':method'] === 'CONNECT' && headers[':protocol'] === 'websocket' && headers[':path'] === path) {
            websockets.h2 += 1;
        }
    });
    server.on('upgrade', req => {
        if (/^websocket$/i.test(req.headers.upgrade ?? '') && req.url === path) {
            websockets.h1 += 1;
        }
    });
}

function echo(duplex) {
    duplex.on('error', () => {});
    duplex.pipe(duplex);
}

async function start_duplex(original, options, server_options) {
    const server = await start_server({
        Server: original ? await original_server_class() : undefined,
        options,
        server_options,
        routes: { [BENCH_SCRIPT]: page_script },
        page_headers: ISOLATED
    });
    count_websockets(server.http2_server, DUPLEX_PATH);
    server.duplex_server.on('duplex', echo);
    server.duplex_server.on('warning', err => process.stderr.write(`server warning: ${err.message}\n`));
    return {
        page: `${server.origin}/page.html`,
        target: { kind: 'duplex', client_url: original ? ORIGINAL_CLIENT : OUR_CLIENT, url: DUPLEX_PATH },
        // start_server records every POST's headers; drop them between cases.
        reset: () => { server.posts.length = 0; },
        close: () => server.close()
    };
}

// HTTPS (HTTP/1.1, as WebSockets need) serving the bench page and wss:// echo.
async function start_ws() {
    const server = createServer({
        key: readFileSync(new URL('server.key', certs)),
        cert: readFileSync(new URL('server.crt', certs))
    }, (req, res) => {
        const script = req.url === BENCH_SCRIPT;
        res.writeHead(200, { 'content-type': script ? 'text/javascript' : 'text/html; charset=utf-8', ...ISOLATED });
        res.end(script ? page_script : '<!DOCTYPE html><meta charset="utf-8"><title>ws bench</title>');
    });
    const wss = new WebSocketServer({ server });
    count_websockets(server, '/');
    wss.on('connection', ws => echo(createWebSocketStream(ws)));
    await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
    const origin = `127.0.0.1:${server.address().port}`;
    return {
        page: `https://${origin}/page.html`,
        target: { kind: 'ws', url: `wss://${origin}/` },
        reset: () => {},
        close: () => {
            for (const ws of wss.clients) {
                ws.terminate();
            }
            return new Promise(resolve => server.close(resolve));
        }
    };
}

function start(kind, ours_options) {
    switch (kind) {
    case 'ws': return start_ws();
    case 'original': return start_duplex(true);
    case 'ours': return start_duplex(false, ours_options);
    case 'ours-h1': return start_duplex(false, { ...ours_options, websocket: 'http1' }, { allowHTTP1: true });
    default: throw new Error(`bench/server.mjs: unknown server ${kind}`);
    }
}

const server = await start(process.argv[2], JSON.parse(process.argv[3] || '{}'));

process.on('message', async msg => {
    if (msg === 'cpu') {
        server.reset();
        const { user, system } = process.cpuUsage();
        process.send({ cpu: user + system, websockets: { ...websockets } });
    } else if (msg === 'exit') {
        await server.close();
        process.exit(0);
    }
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true, page: server.page, target: server.target, bench_script: BENCH_SCRIPT });
