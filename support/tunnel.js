'use strict';
// A raw tunnel client (docs/protocol.md "Resume on the fetch paths") over
// Node's http2: the carrier's framed GET gives the server's WebSocket
// frames, POSTs (one per frame, in seq order) carry the client's. For the
// server suites that play the client's end of http2-duplex.2 by hand.
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

// Opens a tunnel's carrier on `session`: { status, headers, id, stream, send(frame) }.
// `stream` gives the server's WebSocket bytes; send() POSTs one client frame
// and resolves to the POST's answer.
async function open_tunnel(session, { path = '/duplex', offer = WEBSOCKET.RESUME_SUBPROTOCOL, extra = {} } = {}) {
    const get = session.request({
        ':path': path, [HEADER.FRAMING]: VALUE.FRAMING_VERSION, [HEADER.TUNNEL]: offer, ...extra
    });
    get.on('error', () => {});
    const [headers] = await once(get, 'response');
    const status = headers[':status'];
    const id = headers[HEADER.ID];
    if (status !== 200) {
        return { status, headers, id, get };
    }
    const [preamble] = await once(get, 'data');
    if (preamble[0] !== VALUE.PREAMBLE.charCodeAt(0)) {
        throw new Error(`bad preamble ${preamble.toString('hex')}`);
    }
    if (preamble.length > 1) {
        get.unshift(preamble.subarray(1));
    }
    let seq = 0;
    const send = frame => post(session, id, frame, { [HEADER.SEQ]: String(seq++) }, path);
    return { status, headers, id, get, stream: data_of(get), send };
}

module.exports = { open_tunnel };
