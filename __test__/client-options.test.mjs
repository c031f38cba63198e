// The browser client's option rules (lib/browser/options.mjs), driven in Node: every
// make() option means the same on every transport make() may use. An option only the
// fetch paths honour steers 'auto' off the WebSocket and is refused with transport
// 'websocket'; then make() itself, with fakes for fetch and WebSocket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan_transport, fetch_only_options } from '../lib/browser/options.mjs';
import make from '../client.js';

const INVALID = 'ERR_HTTP2_DUPLEX_INVALID_OPTION';
const can_stream = () => true;
const cannot_stream = () => false;

// Options a browser WebSocket cannot honour, one per row: the client's own and a
// sample of what make() forwards to fetch (anything not a client or Duplex option).
const FETCH_ONLY = {
    fetch: { fetch: () => Promise.reject(new Error('not called')) },
    disable_request_streaming: { disable_request_streaming: true },
    headers: { headers: { authorization: 'Bearer x' } },
    credentials: { credentials: 'include' },
    mode: { mode: 'cors' },
    cache: { cache: 'reload' },
    referrer: { referrer: '' },
    referrerPolicy: { referrerPolicy: 'no-referrer' },
    integrity: { integrity: 'sha256-x' },
    keepalive: { keepalive: false },
    redirect: { redirect: 'error' },
    priority: { priority: 'high' },
    some_custom_fetch_option: { some_custom_fetch_option: 1 }
};

// Options that mean the same on a WebSocket (or do not apply to one), and options
// given as undefined or at their defaults.
const ANY_TRANSPORT = {
    'no options': undefined,
    'empty options': {},
    'Duplex options': { highWaterMark: 1024, allowHalfOpen: false, objectMode: false },
    signal: { signal: new AbortController().signal },
    WebSocket: { WebSocket: class {} },
    framing: { framing: true },
    ResponseError: { ResponseError: class extends Error {} },
    'disable_request_streaming: false': { disable_request_streaming: false },
    'fetch: undefined': { fetch: undefined },
    'headers: undefined': { headers: undefined }
};

function assert_invalid(fn, names) {
    assert.throws(fn, err => {
        assert.ok(err instanceof TypeError, err);
        assert.equal(err.code, INVALID);
        for (const name of names) {
            assert.ok(err.message.includes(name), `${err.message} names ${name}`);
        }
        return true;
    });
}

for (const [name, options] of Object.entries(ANY_TRANSPORT)) {
    test(`${name}: 'auto' and 'websocket' try the WebSocket`, () => {
        assert.deepEqual(fetch_only_options(options), []);
        assert.deepEqual(plan_transport(options, can_stream), { transport: 'auto', websocket: true });
        assert.deepEqual(plan_transport({ ...options, transport: 'websocket' }, can_stream),
            { transport: 'websocket', websocket: true });
    });
}

for (const [name, options] of Object.entries(FETCH_ONLY)) {
    test(`${name}: 'auto' uses the fetch paths; 'websocket' is refused naming it; the fetch transports take it`, () => {
        assert.deepEqual(fetch_only_options(options), [name]);
        assert.deepEqual(plan_transport(options, can_stream), { transport: 'auto', websocket: false });
        assert.deepEqual(plan_transport({ ...options, transport: 'auto' }, can_stream),
            { transport: 'auto', websocket: false });
        assert_invalid(() => plan_transport({ ...options, transport: 'websocket' }, can_stream), [name]);
        assert.deepEqual(plan_transport({ ...options, transport: 'per-write' }, can_stream),
            { transport: 'per-write', websocket: false });
        if (name !== 'disable_request_streaming') {
            assert.deepEqual(plan_transport({ ...options, transport: 'streaming' }, can_stream),
                { transport: 'streaming', websocket: false });
        }
    });
}

test('several fetch-only options with a WebSocket option: all named, the WebSocket one never', () => {
    const options = {
        fetch: FETCH_ONLY.fetch.fetch,
        headers: { a: 'b' },
        credentials: 'omit',
        highWaterMark: 10,
        WebSocket: class {}
    };
    assert.deepEqual(fetch_only_options(options), ['fetch', 'headers', 'credentials']);
    assert.deepEqual(plan_transport(options, can_stream), { transport: 'auto', websocket: false });
    assert_invalid(() => plan_transport({ ...options, transport: 'websocket' }, can_stream),
        ['fetch', 'headers', 'credentials']);
});

test("'streaming' is refused with disable_request_streaming, or where the browser cannot stream", () => {
    assert_invalid(() => plan_transport({ transport: 'streaming', disable_request_streaming: true }, can_stream),
        ['disable_request_streaming']);
    assert_invalid(() => plan_transport({ transport: 'streaming' }, cannot_stream), ['streaming']);
    // The feature test runs only when 'streaming' is asked for.
    const never = () => assert.fail('request streaming looked for');
    for (const transport of ['auto', 'websocket', 'per-write']) {
        assert.equal(plan_transport({ transport }, never).transport, transport);
    }
});

test('an unknown transport is refused', () => {
    for (const transport of ['WebSocket', 'fetch', '', 1]) {
        assert_invalid(() => plan_transport({ transport }, can_stream), ['transport']);
    }
});

// make() with a fetch that answers the GET as a duplex endpoint and records requests.
function fake_fetch(requests) {
    return async (url, init) => {
        requests.push({ method: init.method || 'GET', headers: new Headers(init.headers) });
        const body = new ReadableStream({ start: c => c.enqueue(new Uint8Array([97])) });
        return new Response(init.method === 'POST' ? null : body, {
            status: 200,
            headers: { 'http2-duplex-id': 'fake-1' }
        });
    };
}

// A WebSocket class that counts its constructions and never opens.
function counting_websocket() {
    const made = { count: 0 };
    made.WebSocket = class extends EventTarget {
        constructor() {
            super();
            made.count += 1;
        }

        close() {}
    };
    return made;
}

test("make() with fetch and headers under 'auto': no WebSocket, the GET through that fetch with the header", async () => {
    const requests = [];
    const made = counting_websocket();
    const duplex = await make('https://duplex.test/duplex', {
        fetch: fake_fetch(requests),
        headers: { authorization: 'Bearer x' },
        WebSocket: made.WebSocket
    });
    try {
        assert.equal(made.count, 0);
        assert.equal(duplex.id, 'fake-1');
        assert.equal(requests[0].method, 'GET');
        assert.equal(requests[0].headers.get('authorization'), 'Bearer x');
    } finally {
        duplex.destroy();
    }
});

test("make() with transport 'websocket' and fetch rejects before any request", async () => {
    const requests = [];
    const made = counting_websocket();
    await assert.rejects(make('https://duplex.test/duplex', {
        transport: 'websocket',
        fetch: fake_fetch(requests),
        WebSocket: made.WebSocket
    }), err => err instanceof TypeError && err.code === INVALID && /\bfetch\b/.test(err.message));
    assert.equal(made.count, 0);
    assert.equal(requests.length, 0);
});
