// Compiled (never run) by __test__/types.test.js with tsc --strict: a typical
// use of every option and member of the Node entry, through the package name
// as an application imports it. Lines marked @ts-expect-error must not compile.
import { createSecureServer, ServerHttp2Session, ServerHttp2Stream } from 'http2';
import {
    Http2DuplexServer, Http2DuplexServerOptions, Http2DuplexLimits, Http2DuplexStats,
    Http2DuplexError, ServerDuplex, DuplexMap, codes, Http2DuplexCode,
    connect, ResponseError, ConnectionPool, ConnectOptions, ClientDuplex, ClientResponse, ClientError
} from 'http2-duplex';

const http2_server = createSecureServer({ key: '', cert: '' });

const options: Http2DuplexServerOptions = {
    close_timeout: 1000,
    autoDestroy: true,
    idle_timeout: 0,
    session_window: 8 << 20,
    stream_window: 1 << 20,
    max_duplexes_per_session: 1000,
    window: 16,
    window_bytes: 16 << 20,
    max_held_bytes_per_session: 64 << 20,
    max_write_bytes: 16 << 20,
    // Node Duplex options
    highWaterMark: 64 * 1024,
    allowHalfOpen: true
};
// @ts-expect-error close_timeout is a number
const bad_options: Http2DuplexServerOptions = { close_timeout: '1000' };
void bad_options;

const server = new Http2DuplexServer(http2_server, '/dx', options);
new Http2DuplexServer(http2_server, '/dx');

const path: string = server.path;
const same_server: typeof http2_server | object = server.http2_server;
const close_timeout: number | undefined = server.options.close_timeout;
const limits: Http2DuplexLimits = server.limits;
const limit_numbers: number[] = [limits.maxDuplexesPerSession, limits.window, limits.windowBytes,
    limits.maxHeldBytesPerSession, limits.maxWriteBytes];
for (const session of server.sessions) {
    session.close();
}
server.common_headers['x-frame-options'] = 'DENY';
const common: Record<string, string> = server.common_headers;
server.attach();
server.detach();
const stats: Http2DuplexStats = server.stats();
const stat_numbers: number[] = [stats.sessions, stats.duplexes, stats.heldBytes, stats.writesInFlight];
void [path, same_server, close_timeout, limit_numbers, common, stat_numbers];

server.on('duplex', (duplex, id, headers, flags, raw_headers, duplexes, response_headers) => {
    const stream: ServerHttp2Stream = duplex.stream;
    const method: string | undefined = headers[':method'];
    const n: number = flags + raw_headers.length;
    const map: DuplexMap = duplexes;
    const same: ServerDuplex | undefined = duplexes.get(id);
    response_headers['x-test'] = 'yes';
    duplex.pipe(duplex);
    void [stream, method, n, map, same];
});
server.once('duplex', (duplex: ServerDuplex, id: string) => {
    duplex.end(id);
});
server.on('unhandled_stream', (stream, headers, flags, raw_headers, duplexes, response_headers) => {
    stream.respond({ ':status': 404, ...response_headers }, { endStream: true });
    void [headers, flags, raw_headers, duplexes.size];
});
server.on('warning', (err) => {
    const code: string = err.code;
    const status: number | undefined = err.status;
    const as_error: Http2DuplexError = err;
    void [code, status, as_error];
});
// The listeners' arguments are typed, not any (an unused @ts-expect-error fails).
server.on('duplex', (duplex, id) => {
    // @ts-expect-error a duplex's id is a string
    const wrong: number = id;
    // @ts-expect-error a duplex is not a stream
    const not_stream: ServerHttp2Stream = duplex;
    void [wrong, not_stream];
});
server.prependListener('warning', err => {
    // @ts-expect-error a warning's status is a number
    const wrong: string | undefined = err.status;
    void wrong;
});
server.off('unhandled_stream', () => {});
server.emit('warning', Object.assign(new Error('x'), { code: 'ERR_HTTP2_DUPLEX_DESTROYED' }));
server.on('some-other-event', (...args: unknown[]) => void args);

// The 6.x methods an application may override or call.
async function six(session: ServerHttp2Session, stream: ServerHttp2Stream) {
    server.own_stream(stream);
    const none: void = await server.process_session(session);
    const duplexes: DuplexMap = new Map();
    const headers = { ':method': 'GET', ':path': '/dx' };
    const handled: boolean = await server.process_stream(stream, headers, 0, [], duplexes,
        { ...server.common_headers });
    const duplex: ServerDuplex | undefined = await server.new_stream(stream, headers, 0, [],
        duplexes, {});
    server.destroy(session);
    server.destroy(stream);
    server.destroy({ destroy() {} });
    // @ts-expect-error destroy needs something with a destroy() method
    server.destroy({});
    void [none, handled, duplex];
}
void six;

class Subclass extends Http2DuplexServer {
    override async process_stream(...args: Parameters<Http2DuplexServer['process_stream']>) {
        return super.process_stream(...args);
    }
}
void Subclass;

// The Node-side client.
async function client() {
    const pool = new ConnectionPool();
    const live: number = pool.connections;
    const connect_options: ConnectOptions = {
        ca: [Buffer.from(''), ''],
        rejectUnauthorized: true,
        headers: { 'x-test': 'yes', 'x-n': 1 },
        pool,
        highWaterMark: 1024,
        ResponseError
    };
    try {
        const duplex: ClientDuplex = await connect('https://localhost/dx', connect_options);
        const id: string = duplex.id;
        duplex.on('error', (err: ClientError | ResponseError) => {
            const code: string = err.code;
            void code;
        });
        duplex.end(id);
        await connect(new URL('https://localhost/dx'));
    } catch (err) {
        if (err instanceof ResponseError) {
            const name: string = err.name;
            const code: string = err.code;
            const status: number = err.status;
            const response: ClientResponse = err.response;
            const header: string | undefined = response.headers?.['http2-duplex-error'];
            const fields: [number, string, boolean] = [response.status, response.statusText, response.ok];
            await err.init();
            void [name, code, status, header, fields];
        }
    }
    class MyError extends ResponseError {
        override async init() {
            this.message = `${this.code}: ${this.status}`;
        }
    }
    await connect('https://localhost/dx', { ResponseError: MyError });
    // @ts-expect-error rejectUnauthorized is a boolean
    await connect('https://localhost/dx', { rejectUnauthorized: 'no' });
    void live;
}
void client;

const unknown_id: Http2DuplexCode = codes.ERR_HTTP2_DUPLEX_UNKNOWN_ID;
const unknown_status: number | null = unknown_id.status;
void unknown_status;
