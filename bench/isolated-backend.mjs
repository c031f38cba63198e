// support/proxy/backend.mjs, unchanged but for two response headers on the files
// it serves (not on the duplex path): COOP and COEP, so that a bench page loaded
// through a proxy is cross-origin isolated and its timers are fine enough for a
// ping-pong (bench/cases.mjs, ISOLATED). bench/proxies.mjs runs its backends with
// it through the harness's HTTP2_DUPLEX_BACKEND.
import http from 'node:http';
import http2 from 'node:http2';
import { DUPLEX_PATH } from '../support/proxy/harness.mjs';
import { ISOLATED } from './cases.mjs';

const page = path => path.split('?')[0] !== DUPLEX_PATH;

function wrap(module, name, isolate) {
    const create = module[name];
    module[name] = (...args) => {
        const server = create(...args);
        isolate(server);
        return server;
    };
}
// HTTP/2 (h2, h2c): the backend answers a page with stream.respond().
const isolate_streams = server => server.prependListener('stream', (stream, headers) => {
    if (page(headers[':path'])) {
        const respond = stream.respond;
        stream.respond = (response_headers, options) => respond.call(stream, { ...response_headers, ...ISOLATED }, options);
    }
});
// HTTP/1.1: with res.writeHead(), which keeps headers set before.
const isolate_requests = server => server.prependListener('request', (req, res) => {
    if (page(req.url)) {
        for (const [name, value] of Object.entries(ISOLATED)) {
            res.setHeader(name, value);
        }
    }
});
wrap(http2, 'createServer', isolate_streams);
wrap(http2, 'createSecureServer', isolate_streams);
wrap(http, 'createServer', isolate_requests);

await import('../support/proxy/backend.mjs');
