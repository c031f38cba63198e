'use strict';
// A raw tunnel client (docs/protocol.md "Resume on the fetch paths") over
// Node's http2: the carrier's framed GET gives the server's WebSocket
// frames, POSTs (one per frame, in seq order) carry the client's. For the
// server suites that play the client's end of http2-duplex.2 by hand.
const http = require('http');
const { once } = require('events');
const { PassThrough } = require('stream');
const { FRAME, HEADER, VALUE, WEBSOCKET } = require('../lib/protocol');
const { post } = require('./h2');

// The DATA payloads of a framed GET body (the preamble already read), as a stream.
function data_of(body) {
    const out = new PassThrough();
    let buffered = Buffer.alloc(0);
    body.on('data', chunk => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= FRAME.HEADER_BYTES) {
            const length = buffered.readUInt32BE(1);
            if (buffered.length < FRAME.HEADER_BYTES + length) {
                break;
            }
            if (buffered[0] === FRAME.DATA) {
                out.write(buffered.subarray(FRAME.HEADER_BYTES, FRAME.HEADER_BYTES + length));
            }
            buffered = buffered.subarray(FRAME.HEADER_BYTES + length);
        }
    });
    body.on('close', () => out.end());
    return out;
}

// Opens a tunnel's carrier on `session` (an HTTP/2 session, or the origin
// `http://host:port` to use HTTP/1.1 connections): { status, headers, id,
// stream, send(frame) }. `stream` gives the server's WebSocket bytes; send()
// POSTs one client frame and resolves to the POST's answer.
async function open_tunnel(session, { path = '/duplex', offer = WEBSOCKET.RESUME_SUBPROTOCOL, extra = {} } = {}) {
    const ask = { [HEADER.FRAMING]: VALUE.FRAMING_VERSION, [HEADER.TUNNEL]: offer, ...extra };
    const http1 = typeof session === 'string';
    const get = http1 ? http.get(new URL(path, session), { headers: ask }) :
        session.request({ ':path': path, ...ask });
    get.on('error', () => {});
    const [response, headers] = http1 ?
        await once(get, 'response').then(([res]) => [res, res.headers]) :
        await once(get, 'response').then(([h]) => [get, h]);
    const status = http1 ? response.statusCode : headers[':status'];
    const id = headers[HEADER.ID];
    if (status !== 200) {
        return { status, headers, id, get: response };
    }
    const [preamble] = await once(response, 'data');
    if (preamble[0] !== VALUE.PREAMBLE.charCodeAt(0)) {
        throw new Error(`bad preamble ${preamble.toString('hex')}`);
    }
    if (preamble.length > 1) {
        response.unshift(preamble.subarray(1));
    }
    let seq = 0;
    const send = frame => {
        const posted = { [HEADER.SEQ]: String(seq++) };
        return http1 ? post_http1(session, path, id, frame, posted) : post(session, id, frame, posted, path);
    };
    return { status, headers, id, get: response, stream: data_of(response), send };
}

// A POST over HTTP/1.1: resolves to { status, headers, body }.
async function post_http1(origin, path, id, body, extra) {
    const request = http.request(new URL(path, origin), {
        method: 'POST', headers: { [HEADER.ID]: id, 'content-length': body.length, ...extra }
    });
    request.end(body);
    const [response] = await once(request, 'response');
    const chunks = [];
    response.on('data', chunk => chunks.push(chunk));
    await once(response, 'end');
    return { status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks) };
}

module.exports = { open_tunnel };
