// The browser client's uploaders, driven in Node with a fake network. Per-write: window,
// byte bound, coalescing, seq numbering, callbacks and failures (docs/protocol.md, v1 and v2);
// streaming: pull-paced callbacks, end and early answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'buffer';
import { PostUpload, large_post_bytes } from '../lib/browser/post-upload.mjs';
import { StreamUpload } from '../lib/browser/stream-upload.mjs';

const tick = () => new Promise(resolve => setImmediate(resolve));

// A PostUpload whose POSTs wait until the test answers them.
function fake(options) {
    const posts = [];
    const ends = [];
    const errors = [];
    const upload = new PostUpload({
        ...options,
        send: (body, seq) => new Promise((resolve, reject) => {
            posts.push({ body: Buffer.from(body), seq, resolve, reject });
        }),
        send_end: count => {
            ends.push(count);
            return Promise.resolve();
        },
        on_error: err => errors.push(err)
    });
    return { upload, posts, ends, errors };
}

function write(upload, bytes) {
    const state = { done: false, err: undefined };
    upload.write(Buffer.from(bytes), err => {
        state.done = true;
        state.err = err;
    });
    return state;
}

test('v1: one POST at a time, no seq, callback when answered', async () => {
    const { upload, posts, ends } = fake({});
    const first = write(upload, [1]);
    await tick();
    assert.equal(posts.length, 1);
    assert.equal(posts[0].seq, undefined);
    assert.equal(first.done, false);
    posts[0].resolve();
    await tick();
    assert.deepEqual(first, { done: true, err: undefined });
    write(upload, [2]);
    const ended = upload.end();
    await tick();
    assert.deepEqual(ends, [], 'end waits for the last answer');
    posts[1].resolve();
    await ended;
    assert.deepEqual(ends, [undefined]);
});

test('v1: a failed POST fails its write and later ones', async () => {
    const { upload, posts, errors } = fake({});
    const first = write(upload, [1]);
    await tick();
    posts[0].reject(new Error('503'));
    await tick();
    assert.equal(first.err.message, '503');
    assert.equal(write(upload, [2]).err.message, '503');
    assert.deepEqual(errors, [], 'the write callback reports it');
    await assert.rejects(upload.end(), /503/);
});

test('v2: at most `window` POSTs in flight, numbered from 0', async () => {
    const { upload, posts } = fake({ pipelined: true, window: 3 });
    // Large writes each fill a POST of their own.
    const large = i => Buffer.alloc(large_post_bytes(Infinity), i);
    for (let i = 0; i < 5; i++) {
        assert.equal(write(upload, large(i)).done, true, 'accepted into the window at once');
        await tick();
    }
    assert.deepEqual(posts.map(p => p.seq), [0, 1, 2]);
    posts[1].resolve();
    await tick();
    assert.deepEqual(posts.map(p => p.seq), [0, 1, 2, 3]);
    // What queued while the window was full goes out together.
    assert.deepEqual(posts.map(p => p.body.length / large(0).length), [1, 1, 1, 2]);
    assert.deepEqual([posts[3].body[0], posts[3].body.at(-1)], [3, 4]);
});

test('v2: once two POSTs are in flight, small writes gather until one answers', async () => {
    const { upload, posts } = fake({ pipelined: true, window: 16 });
    for (let i = 0; i < 5; i++) {
        write(upload, [i]);
        await tick();
    }
    assert.deepEqual(posts.map(p => [...p.body]), [[0], [1]]);
    posts[0].resolve();
    await tick();
    assert.deepEqual(posts.map(p => [...p.body]), [[0], [1], [2, 3, 4]]);
    assert.deepEqual(posts.map(p => p.seq), [0, 1, 2]);
});

test('v2: a burst of writes is coalesced into one POST', async () => {
    const { upload, posts } = fake({ pipelined: true, window: 16 });
    for (let i = 0; i < 100; i++) {
        write(upload, [i]);
    }
    await tick();
    assert.equal(posts.length, 1);
    assert.deepEqual([...posts[0].body], Array.from({ length: 100 }, (_, i) => i));
});

test('v2: bytes in flight are bounded; the callback waits when the window is full', async () => {
    const { upload, posts } = fake({ pipelined: true, window: 16, window_bytes: 10 });
    write(upload, [1, 2, 3, 4, 5, 6]);
    await tick();
    const second = write(upload, [7, 8, 9, 10, 11, 12]);
    await tick();
    assert.equal(posts.length, 1, '6 + 6 bytes would exceed 10');
    assert.equal(second.done, false, 'not accepted while the window is full');
    posts[0].resolve();
    await tick();
    assert.equal(posts.length, 2);
    assert.equal(second.done, true);
});

test('v2: a chunk larger than the byte window goes alone when nothing is in flight', async () => {
    const { upload, posts } = fake({ pipelined: true, window: 16, window_bytes: 4 });
    const big = write(upload, [1, 2, 3, 4, 5, 6, 7, 8]);
    await tick();
    assert.equal(posts.length, 1);
    assert.equal(posts[0].body.length, 8);
    assert.equal(big.done, true);
});

test('v2: the end POST carries the count; its answer (sent once every write was taken) ends end()', async () => {
    const { upload, ends } = fake({ pipelined: true, window: 16 });
    write(upload, [1]);
    await tick();
    write(upload, [2]);
    await upload.end();
    // The write POSTs' own answers are still out (each may come on its own
    // connection, after the end POST's): 'finish' does not wait for them.
    assert.deepEqual(ends, [2], 'sent while writes are in flight');
});

test('v2: a failure after the write was accepted is reported through on_error', async () => {
    const { upload, posts, errors } = fake({ pipelined: true, window: 16 });
    write(upload, [1]);
    await tick();
    posts[0].reject(new Error('409'));
    await tick();
    assert.deepEqual(errors.map(e => e.message), ['409']);
    assert.equal(write(upload, [2]).err.message, '409');
});

// A StreamUpload whose POST is a body the test reads, answered when the test says.
function fake_stream() {
    const calls = { early: 0, errors: [] };
    let answer;
    let body;
    const upload = new StreamUpload({
        start: stream => {
            body = stream.getReader();
            return new Promise(resolve => {
                answer = resolve;
            });
        },
        on_early_answer: () => calls.early++,
        on_error: err => calls.errors.push(err)
    });
    return { upload, calls, body: () => body, answer: () => answer() };
}

test('streaming: a write is done when fetch pulls it; end() waits for the answer', async () => {
    const { upload, body, answer, calls } = fake_stream();
    const first = write(upload, [1, 2]);
    await tick();
    assert.equal(first.done, false, 'not pulled yet');
    assert.deepEqual([...(await body().read()).value], [1, 2]);
    assert.equal(first.done, true);
    let finished = false;
    const ended = upload.end().then(() => {
        finished = true;
    });
    assert.equal((await body().read()).done, true, 'end() closes the body');
    await tick();
    assert.equal(finished, false, 'finish waits for the server');
    answer();
    await ended;
    assert.equal(calls.early, 0);
});

test('streaming: an answer before end() fails writes the server never took', async () => {
    const { upload, answer, calls } = fake_stream();
    const pending = write(upload, [1]);
    answer();
    await tick();
    assert.match(pending.err.message, /before taking every write/);
    assert.equal(calls.early, 1);
    assert.match(write(upload, [2]).err.message, /before taking every write/);
});

test('streaming: writes queued while fetch is busy go out as one chunk of at most 256 KiB', async () => {
    const { upload, body } = fake_stream();
    const small = [write(upload, [1]), write(upload, [2, 3]), write(upload, [4])];
    assert.deepEqual([...(await body().read()).value], [1, 2, 3, 4]);
    await tick();
    assert.deepEqual(small.map(w => w.done), [true, true, true]);
    // Large writes are joined only up to the limit; the rest waits for the next read.
    const large = Array.from({ length: 3 }, (_, i) => write(upload, Buffer.alloc(100 * 1024, i)));
    const first = (await body().read()).value;
    assert.equal(first.length, 200 * 1024);
    assert.deepEqual([first[0], first.at(-1)], [0, 1]);
    await tick();
    assert.deepEqual(large.map(w => w.done), [true, true, false]);
    assert.equal((await body().read()).value[0], 2);
});

test('v2: with two POSTs in flight, writes gather until a quarter of the window (at most 4 MiB)', async () => {
    assert.equal(large_post_bytes(1024 * 1024), 256 * 1024);
    assert.equal(large_post_bytes(16 * 1024 * 1024), 4 * 1024 * 1024);
    assert.equal(large_post_bytes(1024 * 1024 * 1024), 4 * 1024 * 1024);
    const { upload, posts } = fake({ pipelined: true, window: 16, window_bytes: 64 });
    write(upload, [0]);
    await tick();
    write(upload, [1]);
    await tick();
    for (let i = 2; i < 2 + 16; i++) {
        write(upload, [i]);
        await tick();
        assert.equal(posts.length, i < 17 ? 2 : 3, `after write ${i}`);
    }
    assert.equal(posts[2].body.length, 16);
});

test('v2: POSTs that fail after destroy() (our own abort) report nothing new', async () => {
    const { upload, posts, errors } = fake({ pipelined: true, window: 16 });
    write(upload, [1]);
    await tick();
    const reason = new Error('destroyed by the application');
    upload.destroy(reason);
    posts[0].reject(Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' }));
    await tick();
    assert.deepEqual(errors, [], 'no on_error for the abort');
    assert.equal(write(upload, [2]).err, reason);
});

test('v1: a write under way when destroy() aborts it fails with the reason of the destroy', async () => {
    const { upload, posts, errors } = fake({});
    const pending = write(upload, [1]);
    await tick();
    upload.destroy();
    posts[0].reject(Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' }));
    await tick();
    assert.equal(pending.err.code, 'ERR_STREAM_DESTROYED');
    assert.deepEqual(errors, []);
});

test('streaming: a POST that fails after destroy() (our own abort) is not reported', async () => {
    const calls = { errors: [] };
    let fail;
    const upload = new StreamUpload({
        start: () => new Promise((resolve, reject) => {
            fail = reject;
        }),
        on_early_answer: () => {},
        on_error: err => calls.errors.push(err)
    });
    upload.destroy();
    fail(Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' }));
    await tick();
    assert.deepEqual(calls.errors, []);
});

test('streaming: a POST that fails before end() is reported', async () => {
    const calls = { errors: [] };
    let fail;
    new StreamUpload({
        start: () => new Promise((resolve, reject) => {
            fail = reject;
        }),
        on_early_answer: () => {},
        on_error: err => calls.errors.push(err)
    });
    const err = new Error('refused');
    fail(err);
    await tick();
    assert.deepEqual(calls.errors, [err]);
});
