'use strict';
// Protocol version 2: pipelined write POSTs numbered by http2-duplex-seq.
const test = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('events');
const { createHash, randomBytes } = require('crypto');
const { one_duplex, open, post, next_duplex, read_all } = require('../support/h2');

const sha256 = data => createHash('sha256').update(data).digest('hex');
const seq = n => ({ 'http2-duplex-seq': String(n) });

test('the GET response announces version 2 and its window', async t => {
    const { headers } = await one_duplex(t, { window: 8, window_bytes: 4096 });
    assert.equal(headers['http2-duplex-version'], '2');
    assert.equal(headers['http2-duplex-window'], '8');
    assert.equal(headers['http2-duplex-window-bytes'], '4096');
});

test('writes arriving out of order are delivered in seq order', async t => {
    const { session, id, duplex } = await one_duplex(t);
    const received = read_all(duplex);
    const answers = [];
    for (const n of [3, 1, 2]) {
        answers.push(post(session, id, `<${n}>`, seq(n)));
    }
    answers.push(post(session, id, undefined, { 'http2-duplex-end': 'true', ...seq(5) }));
    answers.push(post(session, id, '<4>', seq(4)));
    answers.push(post(session, id, '<0>', seq(0)));
    const statuses = (await Promise.all(answers)).map(r => r.status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200]);
    assert.equal((await received).toString(), '<0><1><2><3><4>');
});

test('the end POST is answered only after every counted write was delivered', async t => {
    const { session, id, duplex } = await one_duplex(t);
    const received = read_all(duplex);
    let end_answered = false;
    const end = post(session, id, undefined, { 'http2-duplex-end': 'true', ...seq(1) })
        .then(r => { end_answered = true; return r; });
    // A request sent after the end POST is answered after it would have been.
    assert.equal((await post(session, 'unknown', 'x')).status, 404);
    assert.equal(end_answered, false);
    assert.equal((await post(session, id, 'last', seq(0))).status, 200);
    assert.equal((await end).status, 200);
    assert.equal((await received).toString(), 'last');
});

test('4 MiB in 16 concurrent streams of random-sized pipelined writes, checked by SHA-256', async t => {
    const { session, id, duplex } = await one_duplex(t);
    const data = randomBytes(4 * 1024 * 1024);
    const received = read_all(duplex);
    const chunks = [];
    for (let offset = 0; offset < data.length;) {
        const length = Math.min(data.length - offset, 1 + Math.floor(Math.random() * 60000));
        chunks.push(data.subarray(offset, offset + length));
        offset += length;
    }
    // Keep up to 16 POSTs (the window) in flight; they may complete in any order.
    let next = 0;
    const worker = async () => {
        while (next < chunks.length) {
            const n = next++;
            assert.equal((await post(session, id, chunks[n], seq(n))).status, 200);
        }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const end = await post(session, id, undefined,
        { 'http2-duplex-end': 'true', ...seq(chunks.length) });
    assert.equal(end.status, 200);
    assert.equal(sha256(await received), sha256(data));
});

async function refused(t, requests, status, message) {
    const { s, session, id, duplex } = await one_duplex(t, { window: 4, window_bytes: 1024 });
    const failed = once(duplex, 'error');
    const warned = once(s.server, 'warning');
    // Earlier requests may stay in flight; the last one is the bad one.
    const answers = requests.map(([body, headers]) => post(session, id, body, headers));
    assert.equal((await answers.at(-1)).status, status);
    assert.match((await warned)[0].message, message);
    const [err] = await failed;
    assert.equal(err.status, status);
    assert.match(err.message, message);
    assert.equal(s.server.stats().duplexes, 0);
    return s;
}

test('a malformed seq gets 400 and errors the duplex', async t => {
    await refused(t, [['x', { 'http2-duplex-seq': '1e3' }]], 400, /not a decimal integer/);
});

test('a repeated seq gets 409', async t => {
    await refused(t, [['a', seq(1)], ['b', seq(1)]], 409, /seq 1 was already used/);
});

test('a seq outside the window gets 429', async t => {
    await refused(t, [['a', seq(4)]], 429, /outside the window/);
});

test('bytes held out of order above the window get 413', async t => {
    await refused(t, [[Buffer.alloc(700), seq(1)], [Buffer.alloc(700), seq(2)]], 413,
        /held out of order/);
});

test('seq on some writes and not others gets 400', async t => {
    await refused(t, [['a', {}], ['b', seq(1)]], 400, /on some write POSTs/);
});

test('a write numbered at or after the end count gets 400', async t => {
    await refused(t, [
        [undefined, { 'http2-duplex-end': 'true', ...seq(1) }],
        ['late', seq(1)]
    ], 400, /after an end POST that counted 1/);
});

test('a bad duplex leaves the other duplexes of the session untouched', async t => {
    const { s, session, id, duplex } = await one_duplex(t);
    const opened = next_duplex(s.server);
    const other = await open(session);
    const { duplex: good } = await opened;
    duplex.on('error', () => {});
    const received = read_all(good);
    assert.equal((await post(session, other.id, 'fine-0', seq(0))).status, 200);
    assert.equal((await post(session, id, 'bad', { 'http2-duplex-seq': '-1' })).status, 400);
    assert.equal((await post(session, other.id, 'fine-1', seq(1))).status, 200);
    assert.equal((await post(session, other.id, undefined,
        { 'http2-duplex-end': 'true', ...seq(2) })).status, 200);
    assert.equal((await received).toString(), 'fine-0fine-1');
});

test('a session holding its budget of early bytes pauses POSTs instead of refusing them', async t => {
    const { s, session, id, duplex } = await one_duplex(t,
        { window_bytes: 1024, max_held_bytes_per_session: 1500 });
    const warnings = [];
    s.server.on('warning', err => warnings.push(err));
    const opened = next_duplex(s.server);
    const other = await open(session);
    const { duplex: second } = await opened;
    const received = [read_all(duplex), read_all(second)];
    // The core has seen the first piece of the next POST's body.
    const next_body_seen = () => new Promise(resolve =>
        s.http2_server.once('stream', stream => stream.once('data', resolve)));
    // Each duplex's write 1 is held while its write 0 has not come: 800 + 800 > 1500.
    let seen = next_body_seen();
    const held = post(session, id, Buffer.alloc(800, 1), seq(1));
    await seen;
    seen = next_body_seen();
    const paused = post(session, other.id, Buffer.alloc(800, 2), seq(1));
    await seen;
    assert.equal(s.server.stats().heldBytes, 1600);
    // The paused write becomes current when write 0 comes, and is taken.
    assert.equal((await post(session, other.id, 'b', seq(0))).status, 200);
    assert.equal((await paused).status, 200);
    assert.equal((await post(session, id, 'a', seq(0))).status, 200);
    assert.equal((await held).status, 200);
    assert.equal(s.server.stats().heldBytes, 0);
    for (const [side, n] of [[id, 2], [other.id, 2]]) {
        assert.equal((await post(session, side, undefined,
            { 'http2-duplex-end': 'true', ...seq(n) })).status, 200);
    }
    const [first_bytes, second_bytes] = await Promise.all(received);
    assert.deepEqual(first_bytes, Buffer.concat([Buffer.from('a'), Buffer.alloc(800, 1)]));
    assert.deepEqual(second_bytes, Buffer.concat([Buffer.from('b'), Buffer.alloc(800, 2)]));
    assert.deepEqual(warnings, []);
});

test('early bytes past twice the session budget: 413 SESSION_HELD_BYTES, the others untouched', async t => {
    const { s, session, id } = await one_duplex(t,
        { window_bytes: 1024, max_held_bytes_per_session: 500 });
    const warned = once(s.server, 'warning');
    const opened = next_duplex(s.server);
    const other = await open(session);
    const { duplex: second } = await opened;
    const failed = once(second, 'error');
    const body_seen = new Promise(resolve =>
        s.http2_server.once('stream', stream => stream.once('data', resolve)));
    const held_post = post(session, id, Buffer.alloc(600), seq(1));
    await body_seen;
    // 600 + 600 > 2 × 500: a client that sent this much early is refused.
    const answer = await post(session, other.id, Buffer.alloc(600), seq(1));
    assert.equal(answer.status, 413);
    assert.equal(answer.headers['http2-duplex-error'], 'ERR_HTTP2_DUPLEX_SESSION_HELD_BYTES');
    const [warning] = await warned;
    assert.deepEqual([warning.code, warning.status], ['ERR_HTTP2_DUPLEX_SESSION_HELD_BYTES', 413]);
    assert.match(warning.message, /more than twice max_held_bytes_per_session \(500 bytes\)/);
    assert.equal((await failed)[0].code, 'ERR_HTTP2_DUPLEX_SESSION_HELD_BYTES');
    // The first duplex is untouched: its write 0 releases what it held.
    assert.equal(s.server.stats().duplexes, 1);
    assert.equal((await post(session, id, 'x', seq(0))).status, 200);
    assert.equal((await held_post).status, 200);
    assert.equal(s.server.stats().heldBytes, 0);
});

test('an end POST counting fewer writes than were delivered: 400, the duplex errors', async t => {
    const { s, session, id, duplex } = await one_duplex(t);
    const warnings = [];
    s.server.on('warning', err => warnings.push(err));
    const failed = once(duplex, 'error');
    duplex.resume();
    assert.equal((await post(session, id, 'a', seq(0))).status, 200);
    assert.equal((await post(session, id, 'b', seq(1))).status, 200);
    const answer = await post(session, id, undefined, { 'http2-duplex-end': 'true', ...seq(1) });
    assert.equal(answer.status, 400);
    assert.equal(answer.headers['http2-duplex-error'], 'ERR_HTTP2_DUPLEX_BAD_END_COUNT');
    const [err] = await failed;
    assert.deepEqual([err.code, err.status], ['ERR_HTTP2_DUPLEX_BAD_END_COUNT', 400]);
    assert.equal(warnings.at(-1).code, 'ERR_HTTP2_DUPLEX_BAD_END_COUNT');
});
