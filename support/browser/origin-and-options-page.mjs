// Runs in the page for origin-and-options.browser.test.mjs: what a page (maybe on
// another origin than the duplex server) can do to a duplex endpoint.

// Opens an HTTP/2 session to `origin` as a credentialed request does. Chromium sends a
// WebSocket's extended CONNECT only on such a session (browser-testing-notes.md); without
// one, a WebSocket to another origin fails in the browser and never reaches the server.
export async function open_session(origin) {
    await fetch(`${origin}/page.html`, { credentials: 'include', mode: 'no-cors' });
}

// `new WebSocket(url, 'http2-duplex.1')`: whether it opened, else its close code.
export function try_websocket(url) {
    return new Promise(resolve => {
        const ws = new WebSocket(url, 'http2-duplex.1');
        ws.onopen = () => {
            ws.close();
            resolve({ opened: true });
        };
        ws.onclose = event => resolve({ opened: false, close_code: event.code });
    });
}

// A credentialed fetch GET of `url`: its status, or the name of the error it failed with.
export async function try_get(url) {
    try {
        const response = await fetch(url, { credentials: 'include' });
        await response.body?.cancel();
        return { status: response.status };
    } catch (err) {
        return { failed: err.name };
    }
}

// make(url, options): null once it opened (the duplex is then destroyed), else the
// rejection's name, code and message. `with_fetch`: options.fetch is the page's fetch
// (a function cannot be passed into the page).
export async function make_error(client_url, url, options, { with_fetch = false } = {}) {
    const { default: make } = await import(client_url);
    try {
        (await make(url, with_fetch ? { ...options, fetch: (...args) => fetch(...args) } : options)).destroy();
        return null;
    } catch (err) {
        return { name: err.name, code: err.code, message: err.message };
    }
}

function random_bytes(n) {
    return crypto.getRandomValues(new Uint8Array(n));
}

// make(url, options) against a server that echoes, then `writes` writes of up to 4 KiB,
// each sent once the one before has come back (so each is its own POST per write), then
// the end. `count_fetch`: options.fetch is a fetch that counts its calls. Resolves with
// the duplex's id and transport, the fetch calls, the bytes sent and echoed, and the
// events until 'close'.
export async function echo(client_url, url, options, { count_fetch = false, writes = 3 } = {}) {
    const { default: make } = await import(client_url);
    let fetch_calls = 0;
    const counting_fetch = (...args) => {
        fetch_calls += 1;
        return fetch(...args);
    };
    const duplex = await make(url, count_fetch ? { ...options, fetch: counting_fetch } : options);
    const sent = [];
    const echoed = [];
    const events = [];
    let echo_waiter = null;
    duplex.on('data', data => {
        echoed.push(...data);
        if (echo_waiter && echoed.length >= sent.length) {
            echo_waiter();
        }
    });
    const closed = new Promise(resolve => {
        for (const name of ['end', 'finish', 'error', 'close']) {
            duplex.once(name, err => {
                events.push(name === 'error' ? `error: ${err.code || err.message}` : name);
                if (name === 'close') {
                    resolve();
                }
            });
        }
    });
    for (let i = 0; i < writes && !duplex.destroyed; i++) {
        const chunk = random_bytes(1 + Math.floor(Math.random() * 4096));
        sent.push(...chunk);
        const back = new Promise(resolve => {
            echo_waiter = resolve;
        });
        duplex.write(chunk);
        await Promise.race([back, closed]);
    }
    duplex.end();
    await closed;
    return { id: duplex.id, transport: duplex.transport, fetch_calls, sent, echoed, events };
}
