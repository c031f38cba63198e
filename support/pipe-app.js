'use strict';
// An application written like the README's example and http2-duplex 6.0.3's
// documented usage: every duplex is piped into itself, and (unless
// ERROR_LISTENER=1) nobody listens for a duplex's 'error'. __test__/no-crash.test.js
// forks it and proves that nothing a client sends or does ends this process.
//
// Environment:
//   HTTP2_DUPLEX_OPTIONS  JSON options for Http2DuplexServer (default {})
//   ERROR_LISTENER=1      also listen for each duplex's 'error' and report it
//   MODE=noread           never read a duplex (no pipe): what clients send stays buffered
//
// Reports one object per event: over IPC when forked (process.send), else as
// one JSON line on stdout. Events: listening {port}, duplex {id}, close {id},
// warning {code, status, message}, error {id, code, status, message}, and
// state {id, readableLength, destroyed} in answer to a {query: 'state', id} message.
const http2 = require('http2');
const { readFileSync } = require('fs');
const { join } = require('path');
const { Http2DuplexServer } = require('http2-duplex');

const certs = join(__dirname, 'certs');
const key = readFileSync(join(certs, 'server.key'));
const cert = readFileSync(join(certs, 'server.crt'));
const options = JSON.parse(process.env.HTTP2_DUPLEX_OPTIONS || '{}');
const error_listener = process.env.ERROR_LISTENER === '1';
const mode = process.env.MODE || 'pipe';

function report(event) {
    if (process.send) {
        process.send(event);
    } else {
        process.stdout.write(`${JSON.stringify(event)}\n`);
    }
}

const http2_server = http2.createSecureServer({ key, cert });
const server = new Http2DuplexServer(http2_server, '/duplex', options);
const duplexes = new Map();

server.on('duplex', (duplex, id) => {
    duplexes.set(id, duplex);
    report({ event: 'duplex', id });
    // Reporting only: a 'close' listener changes nothing about errors.
    duplex.on('close', () => {
        duplexes.delete(id);
        report({ event: 'close', id });
    });
    if (error_listener) {
        duplex.on('error', err => report({
            event: 'error', id, code: err.code, status: err.status, message: err.message
        }));
    }
    if (mode !== 'noread') {
        duplex.pipe(duplex);
    }
});

server.on('warning', err => report({
    event: 'warning', code: err.code, status: err.status, message: err.message
}));

process.on('message', message => {
    if (message && message.query === 'state') {
        const duplex = duplexes.get(message.id);
        report({
            event: 'state',
            id: message.id,
            readableLength: duplex ? duplex.readableLength : null,
            destroyed: duplex ? duplex.destroyed : null
        });
    }
});

// The test runner went away: do not linger.
process.on('disconnect', () => process.exit(0));

http2_server.listen(0, '127.0.0.1', () => {
    const { port } = http2_server.address();
    report({ event: 'listening', port });
    if (process.send) {
        process.stdout.write(`listening on https://127.0.0.1:${port}/duplex\n`);
    }
});
