// The paths bench/proxies.mjs measures, each started once for the whole run:
// 'direct' (one Node backend, TLS + HTTP/2, no proxy) and the proxy suites'
// configurations in front of three backends (support/proxy/harness.mjs):
// HAProxy with h2c backends routing on the id's node prefix ('haproxy') or by a
// stick table ('haproxy-stick'), HAProxy with HTTP/1.1 backends ('haproxy-h1'),
// nginx with HTTP/1.1 backends ('nginx'). With `static_dir`, every backend also
// serves the files in it, so a page loaded through the path is same-origin with
// its duplexes.
import { Backend, DUPLEX_PATH, missing, start_backends, start_haproxy, start_nginx } from '../support/proxy/harness.mjs';

export const PATHS = ['direct', 'haproxy', 'haproxy-stick', 'haproxy-h1', 'nginx'];
export const PATH_LABELS = {
    direct: 'direct',
    haproxy: 'HAProxy, h2c, prefix',
    'haproxy-stick': 'HAProxy, h2c, stick table',
    'haproxy-h1': 'HAProxy, HTTP/1.1 backends',
    nginx: 'nginx'
};

// Why the path cannot run here (its proxy is not installed), or null.
export function path_missing(name) {
    return name === 'direct' ? null : missing(name.split('-')[0]);
}

// Starts the backends and the proxy of a path: { name, origin, url, pids, stop() }
// (pids: { proxy, n1, n2, n3 } of the processes the path runs).
export async function start_path(name, static_dir) {
    const options = static_dir ? { static_dir } : {};
    if (name === 'direct') {
        const backend = await new Backend('n1', 'h2', options).start();
        const origin = `https://127.0.0.1:${backend.port}`;
        return { name, origin, url: `${origin}${DUPLEX_PATH}`, pids: { n1: backend.child.pid }, stop: () => backend.stop() };
    }
    const backends = await start_backends(name === 'nginx' || name === 'haproxy-h1' ? 'http1' : 'h2c', options);
    const proxy = name === 'nginx' ? await start_nginx(backends) : await start_haproxy(backends, name);
    return {
        name,
        origin: proxy.origin,
        url: proxy.url,
        pids: { proxy: proxy.pid, ...Object.fromEntries(backends.map(b => [b.node_id, b.child.pid])) },
        stop: async () => {
            await proxy.stop();
            await Promise.all(backends.map(b => b.stop()));
        }
    };
}
