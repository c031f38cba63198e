// One echo server per child process, so process.cpuUsage() counts only that
// implementation's work: node bench/server.mjs ours|original|ws.
// Every duplex (or WebSocket stream) is piped into itself. Answers IPC messages:
// A second argument, JSON, adds options for our server (ours only).
// 'cpu' → { cpu } (user + system µs so far), 'exit' → closes and exits.
import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { start_server, original_server_class, OUR_CLIENT, ORIGINAL_CLIENT, DUPLEX_PATH } from '../__test__/browser/server.mjs';
import { ISOLATED, BENCH_SCRIPT } from './cases.mjs';

const page_script = readFileSync(new URL('page.mjs', import.meta.url), 'utf8');
const certs = new URL('../examples/certs/', import.meta.url);

function echo(duplex) {
    duplex.on('error', () => {});
    duplex.pipe(duplex);
}

async function start_duplex(original, options) {
    const server = await start_server({
        Server: original ? await original_server_class() : undefined,
        options,
        routes: { [BENCH_SCRIPT]: page_script },
        page_headers: ISOLATED
    });
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

const impl = process.argv[2];
const server = impl === 'ws' ? await start_ws() : await start_duplex(impl === 'original', impl === 'ours' ? JSON.parse(process.argv[3] || '{}') : undefined);

process.on('message', async msg => {
    if (msg === 'cpu') {
        server.reset();
        const { user, system } = process.cpuUsage();
        process.send({ cpu: user + system });
    } else if (msg === 'exit') {
        await server.close();
        process.exit(0);
    }
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true, page: server.page, target: server.target, bench_script: BENCH_SCRIPT });
