// A fetch() for code running in Node whose requests a Chromium page makes: the
// request, its streaming body and the answer's body cross over playwright one
// chunk at a time, each only when the other side asks for it (so backpressure
// is the browser's), and what the network does (HTTP/2, request streaming,
// resets, the errors fetch reports) is Chromium's own.

// Runs in each page: starts fetches and reads their answers on Node's behalf.
function install_page_side() {
    const requests = new Map();    // id → { abort, reader }
    const describe = err => ({ name: err.name, message: err.message });

    window.fetch_bridge = {
        async start(id, url, { method, headers, body, streaming, cache }) {
            const request = { abort: new AbortController(), reader: null };
            requests.set(id, request);
            const init = { method, headers, cache, signal: request.abort.signal };
            if (streaming) {
                init.duplex = 'half';
                init.body = new ReadableStream({
                    async pull(controller) {
                        const next = await window.fetch_bridge_pull(id);
                        if (next.done) {
                            controller.close();
                        } else {
                            controller.enqueue(Uint8Array.fromBase64(next.data));
                        }
                    },
                    cancel: () => window.fetch_bridge_cancel(id)
                }, { highWaterMark: 0 });
            } else if (body !== null) {
                init.body = Uint8Array.fromBase64(body);
            }
            try {
                const response = await fetch(url, init);
                request.reader = response.body && response.body.getReader();
                return {
                    status: response.status,
                    statusText: response.statusText,
                    headers: [...response.headers]
                };
            } catch (err) {
                requests.delete(id);
                return { error: describe(err) };
            }
        },

        async read(id) {
            const request = requests.get(id);
            try {
                const { done, value } = await request.reader.read();
                if (done) {
                    requests.delete(id);
                    return { done: true };
                }
                return { data: value.toBase64() };
            } catch (err) {
                requests.delete(id);
                return { error: describe(err) };
            }
        },

        cancel(id) {
            const request = requests.get(id);
            requests.delete(id);
            if (request && request.reader) {
                request.reader.cancel().catch(() => {});
            }
        },

        abort(id) {
            const request = requests.get(id);
            if (request) {
                request.abort.abort();
            }
        }
    };
}

function ignore() {}

// The page's rejection, rebuilt in Node with the same name and message.
function error_from({ name, message }) {
    return name === 'TypeError' ? new TypeError(message) : new DOMException(message, name);
}

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

// context: a playwright BrowserContext. Each origin fetched gets a page of that
// origin, so every request is same-origin as in an app's own page.
export async function open_fetch_bridge(context) {
    const upload_readers = new Map();  // id → reader of a streaming request body
    const pages = new Map();            // origin → Promise of its page
    let next_id = 0;

    await context.exposeFunction('fetch_bridge_pull', async id => {
        const { done, value } = await upload_readers.get(id).read();
        if (done) {
            upload_readers.delete(id);
            return { done: true };
        }
        return { data: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
    });
    await context.exposeFunction('fetch_bridge_cancel', id => {
        const reader = upload_readers.get(id);
        upload_readers.delete(id);
        if (reader) {
            reader.cancel().catch(ignore);
        }
    });

    // The page is served by playwright, not the server under test, which then
    // sees only the requests the client makes.
    function page_of(origin) {
        if (!pages.has(origin)) {
            pages.set(origin, (async () => {
                const page = await context.newPage();
                const url = `${origin}/fetch-bridge`;
                await page.route(url, route => route.fulfill({
                    contentType: 'text/html',
                    body: '<!DOCTYPE html><title>fetch bridge</title>'
                }));
                await page.goto(url);
                // Intercepting would hold back every request the page makes.
                await page.unrouteAll();
                await page.evaluate(install_page_side);
                return page;
            })());
        }
        return pages.get(origin);
    }

    function answer_body(page, id, done) {
        return new ReadableStream({
            async pull(controller) {
                const next = await page.evaluate(i => window.fetch_bridge.read(i), id);
                if (next.error) {
                    done();
                    controller.error(error_from(next.error));
                } else if (next.done) {
                    done();
                    controller.close();
                } else {
                    controller.enqueue(new Uint8Array(Buffer.from(next.data, 'base64')));
                }
            },
            cancel() {
                done();
                return page.evaluate(i => window.fetch_bridge.cancel(i), id).catch(ignore);
            }
        }, { highWaterMark: 0 });
    }

    async function bridged_fetch(input, init = {}) {
        const url = new URL(String(input));
        const page = await page_of(url.origin);
        const { signal, body } = init;
        signal?.throwIfAborted();
        const id = next_id++;
        const streaming = body instanceof ReadableStream;
        if (streaming) {
            upload_readers.set(id, body.getReader());
        }
        const abort = () => page.evaluate(i => window.fetch_bridge.abort(i), id).catch(ignore);
        signal?.addEventListener('abort', abort);
        const done = () => signal?.removeEventListener('abort', abort);
        const answer = await page.evaluate(([i, href, options]) => window.fetch_bridge.start(i, href, options), [id, url.href, {
            method: init.method || 'GET',
            headers: [...new Headers(init.headers)],
            cache: init.cache,
            streaming,
            body: streaming || body == null ? null : Buffer.from(body).toString('base64')
        }]);
        if (answer.error) {
            done();
            upload_readers.delete(id);
            throw error_from(answer.error);
        }
        const { status, statusText, headers } = answer;
        const has_body = !NULL_BODY_STATUSES.has(status);
        if (!has_body) {
            done();
        }
        return new Response(has_body ? answer_body(page, id, done) : null, { status, statusText, headers });
    }

    return { fetch: bridged_fetch };
}
