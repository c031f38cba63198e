'use strict';
// A secure HTTP/2 server with an Http2DuplexServer on it, and a raw protocol
// client over Node's own http2.connect, for the server suites.
const http2 = require('http2');
const { once } = require('events');
const { readFileSync } = require('fs');
const { join } = require('path');
const { Http2DuplexServer } = require('..');

const certs = join(__dirname, 'certs');
const key = readFileSync(join(certs, 'server.key'));
const cert = readFileSync(join(certs, 'server.crt'));

async function start_server(options = {}, path = '/duplex') {
    const http2_server = http2.createSecureServer({ key, cert });
    const server = new Http2DuplexServer(http2_server, path, options);
    http2_server.listen(0, '127.0.0.1');
    await once(http2_server, 'listening');
    const url = `https://127.0.0.1:${http2_server.address().port}`;
    const clients = new Set();
    const connect = () => {
        const session = http2.connect(url, { ca: cert });
        session.on('error', () => {});
        clients.add(session);
        return session;
    };
    const close = async () => {
        for (const session of clients) {
            session.destroy();
        }
        server.detach();
        for (const session of server.sessions) {
            session.destroy();
        }
        http2_server.close();
        await once(http2_server, 'close');
    };
    return { http2_server, server, url, path, connect, close };
}

// A server for test `t` (closed after it) without keep-alives unless asked,
// and the warnings it emits: { s, warnings }.
async function serve(t, options) {
    const s = await start_server({ keepalive_interval: 0, ...options });
    t.after(s.close);
    const warnings = [];
    s.server.on('warning', w => warnings.push(w));
    return { s, warnings };
}

// Sends a request and resolves to { status, headers, body }.
async function request(session, headers, body) {
    const stream = session.request(headers, { endStream: body === undefined });
    if (body !== undefined) {
        stream.end(body);
    }
    const chunks = [];
    stream.on('data', chunk => chunks.push(chunk));
    const ended = once(stream, 'end');
    const [response] = await once(stream, 'response');
    await ended;
    return { status: response[':status'], headers: response, body: Buffer.concat(chunks) };
}

// Opens a duplex; resolves to { id, headers, stream } once the preamble is read.
async function open(session, path = '/duplex') {
    const stream = session.request({ ':path': path });
    // The server resets the GET when it destroys a duplex; tests check that elsewhere.
    stream.on('error', () => {});
    const [headers] = await once(stream, 'response');
    const [preamble] = await once(stream, 'data');
    if (preamble.length !== 1 || preamble[0] !== 0x61) {
        throw new Error(`bad preamble ${preamble.toString('hex')}`);
    }
    return { id: headers['http2-duplex-id'], headers, stream };
}

function post(session, id, body = Buffer.alloc(0), extra = {}, path = '/duplex') {
    return request(session, {
        ':method': 'POST',
        ':path': path,
        'http2-duplex-id': id,
        ...extra
    }, body);
}

// Starts a server for test `t`, and opens one duplex on a new session.
async function one_duplex(t, options) {
    const s = await start_server(options);
    t.after(s.close);
    const session = s.connect();
    const opened = next_duplex(s.server);
    const client = await open(session);
    const { duplex } = await opened;
    return { s, session, ...client, duplex };
}

async function next_duplex(server) {
    const [duplex, id] = await once(server, 'duplex');
    return { duplex, id };
}

// Reads exactly `length` bytes from a readable, then pauses it.
function read_bytes(readable, length) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        let got = 0;
        const on_data = chunk => {
            chunks.push(chunk);
            got += chunk.length;
            if (got >= length) {
                readable.pause();
                readable.off('data', on_data).off('error', reject);
                const all = Buffer.concat(chunks);
                if (got > length) {
                    readable.unshift(all.subarray(length));
                }
                resolve(all.subarray(0, length));
            }
        };
        readable.on('data', on_data).on('error', reject);
        readable.resume();
    });
}

module.exports = {
    start_server, serve, one_duplex, request, open, post, next_duplex, read_bytes, cert
};

// Not `for await`: ending the loop destroys the stream, and a duplex whose
// readable side has ended may still be writing.
function read_all(readable) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        readable.on('data', chunk => chunks.push(chunk));
        readable.once('end', () => resolve(Buffer.concat(chunks)));
        readable.once('error', reject);
        readable.resume();
    });
}

module.exports.read_all = read_all;
