'use strict';
// 6.x's error paths of a server duplex (6.0.3's own suite checks them in a
// browser as "emit server end error" and "forward errors"): what end() throws
// and what the live GET stream emits become the duplex's 'error', and the
// duplex goes on; a client's reset reaches it only as the server's coded error.
const test = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('events');
const { one_duplex, post, read_all, read_bytes } = require('../support/h2');

const END = { 'http2-duplex-end': 'true' };

test("what end() throws becomes the duplex's 'error'; the duplex then ends normally", async t => {
    const { session, id, stream, duplex } = await one_duplex(t);
    const written = [];
    let write_done;
    duplex._write = (chunk, encoding, cb) => {
        write_done = cb;
        throw new Error(`refused ${chunk}`);
    };
    const errored = once(duplex, 'error');
    assert.equal(duplex.end('dummy'), duplex);
    const [err] = await errored;
    assert.equal(err.message, 'refused dummy');
    assert.equal(duplex.destroyed, false);
    // The application takes it from there, as 6.x's suite does.
    duplex._write = (chunk, encoding, cb) => {
        written.push(chunk.toString());
        cb();
    };
    write_done();
    const closed = once(duplex, 'close');
    duplex.end('after');
    duplex.resume();
    const body = read_all(stream);
    assert.equal((await post(session, id, undefined, END)).status, 200);
    await closed;
    assert.deepEqual(written, ['after']);
    assert.equal(duplex.errored, null);
    await body;
});

test("an error the GET stream emits is the duplex's 'error', the same object; the duplex goes on", async t => {
    const { stream, duplex } = await one_duplex(t);
    const errors = [];
    duplex.on('error', err => errors.push(err));
    const err = new Error('foo');
    duplex.stream.emit('error', err);
    assert.deepEqual(errors, [err]);
    assert.equal(duplex.destroyed, false);
    duplex.write('bye');
    assert.equal((await read_bytes(stream, 3)).toString(), 'bye');
});

test('a stream error is not forwarded where the application does not listen for the duplex\'s errors', async t => {
    const { duplex } = await one_duplex(t);
    assert.equal(duplex.listenerCount('error'), 0);
    duplex.stream.emit('error', new Error('nobody listens'));
    assert.equal(duplex.destroyed, false);
});

test("a client's reset of the GET reaches the duplex once, as the server's coded error", async t => {
    const { s, stream, duplex } = await one_duplex(t);
    const errors = [];
    duplex.on('error', err => errors.push(err));
    const warned = once(s.server, 'warning');
    const closed = new Promise(resolve => duplex.once('close', resolve));
    stream.close(0x8);  // CANCEL
    await closed;
    const [warning] = await warned;
    assert.deepEqual(errors.map(e => e.code), ['ERR_HTTP2_DUPLEX_CLIENT_RESET']);
    assert.equal(errors[0], warning);
});
