'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const v8 = require('v8');
const vm = require('vm');
const { soak } = require('../bench/soak');

// `npm run soak` runs the full 10,000-duplex cycle; this is its short form.
test('1,000 duplexes ended in every way leave the registry empty and the heap flat', async () => {
    v8.setFlagsFromString('--expose-gc');
    global.gc = vm.runInNewContext('gc');
    const { before, after, stats } = await soak(1000);
    assert.deepEqual(stats, { sessions: 0, duplexes: 0, heldBytes: 0, writesInFlight: 0 });
    assert.ok(after.heapUsed - before.heapUsed < 8 * 1048576,
        `heap grew from ${before.heapUsed} to ${after.heapUsed}`);
});
