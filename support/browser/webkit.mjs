// WebKitGTK driven over plain WebDriver HTTP: Xvfb (WebKitGTK has no headless mode),
// WebKitWebDriver, and MiniBrowser sessions, with the same small surface as the
// other engines in browsers.mjs: page(url) → { call(name, ...args), close() }.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:net';

export const WEBDRIVER = process.env.WEBKIT_WEBDRIVER_PATH || '/usr/bin/WebKitWebDriver';
export const MINIBROWSER = process.env.WEBKIT_MINIBROWSER_PATH ||
    '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
export const XVFB = process.env.XVFB_PATH || '/usr/bin/Xvfb';

// Why WebKit cannot run here, or null.
export function webkit_missing() {
    for (const [path, apt_package] of [[WEBDRIVER, 'webkit2gtk-driver'], [MINIBROWSER, 'webkit2gtk-driver'],
        [XVFB, 'xvfb']]) {
        if (!existsSync(path)) {
            return `${path} not found: install it (apt-get install -y ${apt_package}) or point the test at it ` +
                'with WEBKIT_WEBDRIVER_PATH / WEBKIT_MINIBROWSER_PATH / XVFB_PATH';
        }
    }
    return null;
}

// Every child is the leader of its own process group (WebKitWebDriver's group holds
// MiniBrowser and its web and network processes): stopping it ends the whole group.
const running = new Set();

function spawn_group(file, args, options) {
    const child = spawn(file, args, { ...options, detached: true });
    running.add(child);
    child.once('exit', () => running.delete(child));
    return child;
}

function signal_group(child, signal) {
    try {
        process.kill(-child.pid, signal);
    } catch {
        // already gone
    }
}

// A test process that ends without close() (a crash, a hung hook) leaves nothing behind.
process.once('exit', () => {
    for (const child of running) {
        signal_group(child, 'SIGKILL');
    }
});

// Ends a child we started (and its group) and waits for it to exit.
async function stop(child) {
    if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        signal_group(child, 'SIGTERM');
        await exited;
    }
}

// Rejects once the child exits (it should outlive what we wait for).
function exit_of(child, name, output) {
    return once(child, 'exit').then(([code, signal]) => {
        throw new Error(`${name} exited (${signal || code}): ${output()}`);
    });
}

// Xvfb on a display it picks itself; it writes the number to fd 3 when ready.
async function start_xvfb() {
    const child = spawn_group(XVFB, ['-displayfd', '3', '-nolisten', 'tcp', '-screen', '0', '1280x1024x24'],
        { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', data => {
        stderr += data;
    });
    const display = (async () => {
        let text = '';
        for await (const data of child.stdio[3]) {
            text += data;
            if (text.includes('\n')) {
                return `:${text.trim()}`;
            }
        }
        throw new Error(`Xvfb gave no display: ${stderr}`);
    })();
    try {
        return { child, display: await Promise.race([display, exit_of(child, 'Xvfb', () => stderr)]) };
    } catch (err) {
        await stop(child);
        throw err;
    }
}

async function free_port() {
    const server = createServer();
    await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address();
    await new Promise(resolve => server.close(resolve));
    return port;
}

// One WebDriver command; resolves with its value, rejects with the WebDriver error.
async function command(base, method, path, body) {
    const response = await fetch(`${base}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body)
    });
    const { value } = await response.json();
    if (!response.ok) {
        const err = new Error(`WebDriver ${method} ${path}: ${value?.error}: ${value?.message}`);
        err.webdriver_error = value?.error;
        throw err;
    }
    return value;
}

// WebKitWebDriver with DISPLAY set; resolves once it listens (it prints nothing, so
// each connection refused is retried when the previous attempt failed).
async function start_webdriver(display) {
    const port = await free_port();
    const child = spawn_group(WEBDRIVER, [`--port=${port}`, '--host=127.0.0.1'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, DISPLAY: display }
    });
    let output = '';
    const keep = data => {
        output += data;
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const base = `http://127.0.0.1:${port}`;
    const exited = exit_of(child, 'WebKitWebDriver', () => output);
    exited.catch(() => {});
    const ready = (async () => {
        for (let attempt = 0; ; attempt++) {
            try {
                const status = await command(base, 'GET', '/status');
                if (status.ready !== false) {
                    return;
                }
            } catch (err) {
                if (attempt >= 200 || child.exitCode !== null) {
                    throw err;
                }
            }
            // The driver announces nothing: a short pause between probes of its port.
            await new Promise(resolve => setTimeout(resolve, 25));
        }
    })();
    try {
        await Promise.race([ready, exited]);
    } catch (err) {
        await stop(child);
        throw err;
    }
    return { child, base };
}

// Plain values cross WebDriver as JSON, which drops `undefined`: the page marks it
// and revive() puts it back, so results compare as they do in the other engines.
const UNDEFINED = '\u0000undefined';

function revive(value) {
    if (value === UNDEFINED) {
        return undefined;
    }
    if (Array.isArray(value)) {
        return value.map(revive);
    }
    if (value && typeof value === 'object') {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v)]));
    }
    return value;
}

// Runs in the page (as the body of an async script): calls window.harness[name] and
// hands back { value } or { error }.
const CALL = `
const [name, args, UNDEFINED, done] = arguments;
const mark = value => {
    if (value === undefined) return UNDEFINED;
    if (Array.isArray(value)) return value.map(mark);
    if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mark(v)]));
    }
    return value;
};
Promise.resolve().then(() => window.harness[name](...args)).then(
    value => done({ value: mark(value) }),
    // WebKit's stack has no message line.
    err => done({ error: String(err) + (err && err.stack ? '\\n' + err.stack : '') }));
`;

export async function launch_webkit() {
    const missing = webkit_missing();
    if (missing) {
        throw new Error(missing);
    }
    const xvfb = await start_xvfb();
    let driver;
    try {
        driver = await start_webdriver(xvfb.display);
    } catch (err) {
        await stop(xvfb.child);
        throw err;
    }
    const sessions = new Set();

    async function new_session() {
        const { sessionId } = await command(driver.base, 'POST', '/session', {
            capabilities: {
                alwaysMatch: {
                    acceptInsecureCerts: true,
                    timeouts: { script: 120000, pageLoad: 30000 },
                    'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] }
                }
            }
        });
        sessions.add(sessionId);
        return sessionId;
    }

    async function delete_session(id) {
        if (sessions.delete(id)) {
            await command(driver.base, 'DELETE', `/session/${id}`).catch(() => {});
        }
    }

    return {
        display: xvfb.display,
        // A new WebDriver session is a new browser (and new connections to the server).
        async page(url, { harness = true } = {}) {
            const id = await new_session();
            const session = (method, path, body) => command(driver.base, method, `/session/${id}${path}`, body);
            try {
                await session('POST', '/url', { url });
                // A certificate WebKit refuses leaves about:blank with no error.
                const at = await session('GET', '/url');
                if (at !== url) {
                    throw new Error(`WebKit did not load ${url} (at ${at})`);
                }
                // Navigation waits for 'load', which waits for the page's module script.
                if (harness && !await session('POST', '/execute/sync', {
                    script: 'return window.harness !== undefined', args: []
                })) {
                    throw new Error(`no harness in ${url}`);
                }
            } catch (err) {
                await delete_session(id);
                throw err;
            }
            return {
                session,
                execute: (script, args = []) => session('POST', '/execute/async', { script, args }),
                async call(name, ...args) {
                    const result = await session('POST', '/execute/async', {
                        script: CALL,
                        args: [name, args, UNDEFINED]
                    });
                    if (result.error !== undefined) {
                        throw new Error(`page: ${result.error}`);
                    }
                    return revive(result.value);
                },
                close: () => delete_session(id)
            };
        },
        async close() {
            // A session with a script still pending (a case that timed out) may not
            // answer DELETE: ending the driver's group ends its browsers too.
            await Promise.race([
                Promise.all([...sessions].map(delete_session)),
                new Promise(resolve => setTimeout(resolve, 2000).unref())
            ]);
            await stop(driver.child);
            await stop(xvfb.child);
        }
    };
}
