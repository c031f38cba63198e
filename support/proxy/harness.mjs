// Real HAProxy and nginx on loopback in front of three Node processes, for the
// proxy suites (__test__/haproxy.test.mjs, __test__/nginx.test.mjs) and
// bench/proxies.mjs.
//
// The proxy configurations are the files beside this one, exactly as
// docs/deploying.md quotes them. Only the addresses and paths a test machine
// must change are replaced (see render()).
import { fork, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = new URL('./', import.meta.url);
const certs = new URL('../certs/', import.meta.url);
export const DUPLEX_PATH = '/duplex';
export const NODE_IDS = ['n1', 'n2', 'n3'];
export const CA = readFileSync(new URL('ca.pem', certs));
const CERT = readFileSync(new URL('cert.pem', certs));
const KEY = readFileSync(new URL('key.pem', certs));

// The configuration templates, as docs/deploying.md quotes them.
export const TEMPLATES = {
    haproxy: 'haproxy.cfg',
    'haproxy-stick': 'haproxy-stick.cfg',
    'haproxy-h1': 'haproxy-h1.cfg',
    nginx: 'nginx-duplex.conf'
};
export function template(name) {
    return readFileSync(new URL(TEMPLATES[name], here), 'utf8');
}

// Every wait is on an event or a connection; this only bounds a missing one.
export function within(promise, ms, what) {
    let timer;
    const deadline = new Promise((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    });
    return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

// Round-trip times (ms, sorted) of 64 B messages on a duplex that echoes, each
// written once the previous one came back: `warmup` untimed, then `rounds`
// timed. Rejects if the duplex fails or a message is not back within `ms`.
export async function round_trips(duplex, { rounds, warmup = 0, ms }) {
    const message = Buffer.alloc(64, 1);
    const times = [];
    let pending = 0;
    let waiting = null;
    const on_data = data => {
        pending -= data.length;
        if (pending <= 0 && waiting) {
            const resolve = waiting;
            waiting = null;
            resolve();
        }
    };
    let on_error;
    const failed = new Promise((resolve, reject) => {
        on_error = reject;
    });
    failed.catch(() => {});
    duplex.on('data', on_data);
    duplex.once('error', on_error);
    try {
        for (let i = 0; i < warmup + rounds; i++) {
            const start = performance.now();
            pending += message.length;
            const back = new Promise(resolve => { waiting = resolve; });
            duplex.write(message);
            await within(Promise.race([back, failed]), ms, `ping-pong round ${i} (stalled)`);
            if (i >= warmup) {
                times.push(performance.now() - start);
            }
        }
    } finally {
        duplex.off('data', on_data);
        duplex.off('error', on_error);
    }
    return times.sort((a, b) => a - b);
}

// Children still running when this process exits are ended with it.
// (A SIGTERM or SIGINT, e.g. from the test runner's timeout, ends them too: else
// the proxies would outlive the tests.)
const running = new Set();
function end_children() {
    for (const child of running) {
        // SIGTERM: nginx's master then ends its workers (SIGKILL would orphan them).
        child.kill('SIGTERM');
    }
}
process.on('exit', end_children);
for (const signal of ['SIGTERM', 'SIGINT']) {
    process.once(signal, () => {
        end_children();
        process.kill(process.pid, signal);
    });
}
function track(child) {
    running.add(child);
    child.once('exit', () => running.delete(child));
    return child;
}

export async function free_port() {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address();
    server.close();
    await once(server, 'close');
    return port;
}

// Whether `tool` (haproxy, nginx) can run here: null, or why not. Under CI a
// missing proxy is a failure, never a skip: the suites call require_tool too.
export function missing(tool) {
    const result = spawnSync(tool, ['-v'], { stdio: 'ignore' });
    return result.error ? `${tool} is not installed (apt-get install -y ${tool}): ${result.error.code}` : null;
}

// For describe(…, { skip }): the reason to skip, printed, or false; under CI false
// always, so that the suite runs and fails at start.
export function skip_unless(...tools) {
    const reasons = tools.map(missing).filter(Boolean);
    if (reasons.length === 0 || process.env.CI) {
        return false;
    }
    const reason = reasons.join('; ');
    console.log(`# skipped: ${reason}`);
    return reason;
}

function require_tool(tool) {
    const reason = missing(tool);
    if (reason) {
        throw new Error(`${reason}${process.env.CI ? ' (CI is set: .ci/run must install it)' : ''}`);
    }
}

// ---------------------------------------------------------------- Node backends

// One forked support/proxy/backend.mjs and the events it reported.
export class Backend {
    constructor(node_id, transport, { options = {}, static_dir, port = 0 } = {}) {
        this.node_id = node_id;
        this.transport = transport;
        this.config = { options, static_dir, port };
        this.events = [];
        this.exited = null;
        this.stderr = '';
    }

    async start() {
        const { options, static_dir, port } = this.config;
        // HTTP2_DUPLEX_BACKEND: another backend script to run the suites against.
        const script = process.env.HTTP2_DUPLEX_BACKEND || fileURLToPath(new URL('backend.mjs', here));
        this.child = track(fork(script, [], {
            env: {
                ...process.env,
                NODE_ID: this.node_id,
                TRANSPORT: this.transport,
                PORT: String(port),
                DUPLEX_OPTIONS: JSON.stringify(options),
                ...(static_dir ? { STATIC_DIR: static_dir } : {})
            },
            stdio: ['ignore', 'inherit', 'pipe', 'ipc']
        }));
        this.child.stderr.setEncoding('utf8');
        this.child.stderr.on('data', text => {
            this.stderr = (this.stderr + text).slice(-8000);
        });
        this.child.on('message', event => this.events.push(event));
        this.exit = new Promise(resolve => this.child.once('exit', (code, signal) => {
            this.exited = { code, signal };
            resolve(this.exited);
        }));
        const listening = new Promise(resolve => this.child.on('message', event => {
            if (event.event === 'listening') {
                resolve(event);
            }
        }));
        const started = await within(Promise.race([
            listening,
            this.exit.then(() => {
                throw new Error(`backend ${this.node_id} exited at start: ${this.stderr}`);
            })
        ]), 20000, `backend ${this.node_id} to listen`);
        this.port = started.port;
        return this;
    }

    // Warnings reported since `mark` (an events.length taken earlier).
    warnings(mark = 0) {
        return this.events.slice(mark).filter(e => e.event === 'warning');
    }

    duplex_ids() {
        return this.events.filter(e => e.event === 'duplex').map(e => e.id);
    }

    // SIGKILL: the process dies as in a crash. Resolves once it has exited.
    async kill() {
        if (!this.exited) {
            this.child.kill('SIGKILL');
        }
        return this.exit;
    }

    // Starts again on the same port, as a supervisor restarts a crashed node.
    async restart() {
        await this.kill();
        this.exited = null;
        this.config.port = this.port;
        return this.start();
    }

    async stop() {
        if (this.child && !this.exited) {
            this.child.kill('SIGTERM');
            await this.exit;
        }
    }
}

// Three backends n1..n3 (TRANSPORT h2c for HAProxy, http1 for nginx).
export async function start_backends(transport, options = {}) {
    return Promise.all(NODE_IDS.map(id => new Backend(id, transport, options).start()));
}

// ---------------------------------------------------------------- proxies

// The template with this machine's addresses: the frontend's `:443` becomes
// 127.0.0.1:<port>, backend n<i>'s 127.0.0.1:900<i> its real port, and the
// certificate paths those of the test certificate.
export function render(name, { port, backend_ports, files }) {
    let text = template(name);
    backend_ports.forEach((backend_port, i) => {
        text = text.replaceAll(`127.0.0.1:${9001 + i}`, `127.0.0.1:${backend_port}`);
    });
    text = text.replace('bind :443 ', `bind 127.0.0.1:${port} `)
        .replace('listen 443 ', `listen 127.0.0.1:${port} `);
    for (const [from, to] of Object.entries(files)) {
        text = text.replaceAll(from, to);
    }
    return text;
}

// Resolves once `port` accepts connections, rejects if `exit` settles first.
// (Neither proxy says when it listens: this polls connect() every 20 ms.)
async function listening(port, exit, what) {
    let exited = false;
    exit.then(() => { exited = true; });
    const deadline = Date.now() + 10000;
    while (!exited) {
        const ok = await new Promise(resolve => {
            const socket = net.connect(port, '127.0.0.1');
            socket.once('connect', () => { socket.destroy(); resolve(true); });
            socket.once('error', () => resolve(false));
        });
        if (ok) {
            return;
        }
        if (Date.now() > deadline) {
            throw new Error(`${what} did not listen on ${port} within 10 s`);
        }
        await new Promise(resolve => setTimeout(resolve, 20));
    }
    throw new Error(`${what} exited at start`);
}

class Proxy {
    constructor(name, dir, port, config) {
        this.name = name;
        this.dir = dir;
        this.port = port;
        this.config = config;
        this.origin = `https://127.0.0.1:${port}`;
        this.url = `${this.origin}${DUPLEX_PATH}`;
        this.output = '';
    }

    run(command, args) {
        this.child = track(spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
        for (const stream of [this.child.stdout, this.child.stderr]) {
            stream.setEncoding('utf8');
            stream.on('data', text => {
                this.output = (this.output + text).slice(-8000);
            });
        }
        this.pid = this.child.pid;
        const spawn_error = new Promise(resolve => this.child.once('error', resolve));
        this.exit = Promise.race([once(this.child, 'exit'), spawn_error]);
        return listening(this.port, this.exit, this.name).catch(err => {
            err.message += `\n${this.name} said: ${this.output}\nconfig:\n${this.config}`;
            throw err;
        });
    }

    // Stops it by its pid (SIGTERM: both stop at once) and removes its files.
    async stop() {
        if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
            process.kill(this.pid, 'SIGTERM');
            await within(this.exit, 5000, `${this.name} to stop`).catch(() => process.kill(this.pid, 'SIGKILL'));
        }
        rmSync(this.dir, { recursive: true, force: true });
    }
}

// HAProxy (variant 'haproxy': routing on the id's node prefix; 'haproxy-stick':
// a stick table; both h2c to `backends`; 'haproxy-h1': prefix routing, HTTP/1.1
// to `backends`).
// `port`: one picked beforehand (free_port), when the backends must know the origin.
export async function start_haproxy(backends, variant = 'haproxy', port) {
    require_tool('haproxy');
    const dir = mkdtempSync(join(tmpdir(), 'http2-duplex-haproxy-'));
    const pem = join(dir, 'duplex.pem');
    writeFileSync(pem, Buffer.concat([CERT, KEY]));
    port = port || await free_port();
    const config = render(variant, {
        port,
        backend_ports: backends.map(b => b.port),
        files: { '/etc/haproxy/duplex.pem': pem }
    });
    const config_path = join(dir, 'haproxy.cfg');
    writeFileSync(config_path, config);
    const proxy = new Proxy(variant, dir, port, config);
    await proxy.run('haproxy', ['-db', '-f', config_path]);
    return proxy;
}

// nginx: the tests' main file (runtime paths under its own prefix directory)
// including the deployment's http-level file, in front of `backends` (http1).
export async function start_nginx(backends, port) {
    require_tool('nginx');
    const dir = mkdtempSync(join(tmpdir(), 'http2-duplex-nginx-'));
    mkdirSync(join(dir, 'tmp'));
    writeFileSync(join(dir, 'duplex.crt'), CERT);
    writeFileSync(join(dir, 'duplex.key'), KEY);
    port = port || await free_port();
    const config = render('nginx', {
        port,
        backend_ports: backends.map(b => b.port),
        files: { '/etc/nginx/duplex.crt': join(dir, 'duplex.crt'), '/etc/nginx/duplex.key': join(dir, 'duplex.key') }
    });
    writeFileSync(join(dir, 'duplex.conf'), config);
    writeFileSync(join(dir, 'nginx.conf'), readFileSync(new URL('nginx-main.conf', here)));
    const proxy = new Proxy('nginx', dir, port, config);
    await proxy.run('nginx', ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;']);
    return proxy;
}
