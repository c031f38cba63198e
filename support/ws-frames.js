'use strict';
// WebSocket frames (RFC 6455) written and read by hand, for tests that play
// one end of an http2-duplex.1 WebSocket: clients mask, servers do not.
const { randomBytes } = require('crypto');
const { once } = require('events');

// One final frame; `masked` with a random key, as a client sends it.
function ws_frame(opcode, payload, { masked = false } = {}) {
    const body = Buffer.from(payload);
    const length = body.length;
    let header;
    if (length < 126) {
        header = Buffer.from([0x80 | opcode, length]);
    } else if (length < 65536) {
        header = Buffer.from([0x80 | opcode, 126, length >> 8, length & 255]);
    } else {
        header = Buffer.alloc(10);
        header[0] = 0x80 | opcode;
        header[1] = 127;
        header.writeBigUInt64BE(BigInt(length), 2);
    }
    if (!masked) {
        return Buffer.concat([header, body]);
    }
    header[1] |= 0x80;
    const key = randomBytes(4);
    return Buffer.concat([header, key, body.map((b, i) => b ^ key[i % 4])]);
}

// Collects the frames read from `stream` as { opcode, payload } (unmasked);
// returns `until(done)`, which resolves to them once `done(frames)` is true
// and rejects if the stream ends first.
function read_frames(stream) {
    const frames = [];
    let buffered = Buffer.alloc(0);
    const waiters = [];
    const wake = () => waiters.splice(0).forEach(waiter => waiter());
    stream.on('data', chunk => {
        buffered = Buffer.concat([buffered, chunk]);
        for (;;) {
            const frame = parse(buffered);
            if (!frame) {
                break;
            }
            frames.push({ opcode: frame.opcode, payload: frame.payload });
            buffered = buffered.subarray(frame.size);
        }
        wake();
    });
    stream.on('end', wake);
    return done => new Promise((resolve, reject) => {
        const check = () => done(frames) ? resolve(frames) :
            stream.readableEnded ? reject(new Error('stream ended')) : waiters.push(check);
        check();
    });
}

// The first whole frame of `bytes`, or null.
function parse(bytes) {
    if (bytes.length < 2) {
        return null;
    }
    let length = bytes[1] & 0x7f;
    let at = 2;
    if (length === 126) {
        if (bytes.length < 4) {
            return null;
        }
        length = bytes.readUInt16BE(2);
        at = 4;
    } else if (length === 127) {
        if (bytes.length < 10) {
            return null;
        }
        length = Number(bytes.readBigUInt64BE(2));
        at = 10;
    }
    const key = bytes[1] & 0x80 ? bytes.subarray(at, at + 4) : null;
    const start = key ? at + 4 : at;
    if (bytes.length < start + length) {
        return null;
    }
    const payload = Buffer.from(bytes.subarray(start, start + length));
    if (key) {
        payload.forEach((b, i) => { payload[i] = b ^ key[i % 4]; });
    }
    return { opcode: bytes[0] & 0x0f, payload, size: start + length };
}

// Resolves to the code of the first Close frame read from `stream` (null
// without one); rejects if the stream ends first.
async function close_code(stream) {
    const frames = await read_frames(stream)(all => all.some(frame => frame.opcode === 8));
    const { payload } = frames.find(frame => frame.opcode === 8);
    return payload.length >= 2 ? payload.readUInt16BE(0) : null;
}

// Opens an http2-duplex.1 WebSocket (RFC 8441 extended CONNECT) on `session`,
// once the server has offered it: { stream, headers }.
async function open_rfc8441(session, path = '/duplex', protocols = 'http2-duplex.1') {
    // The server offers it in a SETTINGS frame after its first.
    while (!session.remoteSettings?.enableConnectProtocol) {
        await once(session, 'remoteSettings');
    }
    const stream = session.request({
        ':method': 'CONNECT', ':protocol': 'websocket', ':path': path,
        'sec-websocket-protocol': protocols, 'sec-websocket-version': '13'
    }, { endStream: false });
    stream.on('error', () => {});
    const [headers] = await once(stream, 'response');
    return { stream, headers };
}

module.exports = { ws_frame, read_frames, close_code, parse_frame: parse, open_rfc8441 };
