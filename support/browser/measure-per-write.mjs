// Measures per-write uploads, version 1 vs version 2, in Chromium against our server,
// with DevTools latency emulation (it delays each request's start). Not a test:
// node support/browser/measure-per-write.mjs [latency_ms]
import { start_server, OUR_CLIENT, DUPLEX_PATH } from './server.mjs';
import { launch_chromium } from './browsers.mjs';

const latency = Number(process.argv[2] || 20);
const workloads = [
    { name: '1000 × 100 B', count: 1000, size: 100 },
    { name: '256 × 16 KiB', count: 256, size: 16384 }
];

const server = await start_server();
server.duplex_server.on('duplex', duplex => {
    duplex.resume();
    duplex.on('end', () => duplex.end());
});
const browser = await launch_chromium();
const { page, call, close } = await browser.page(`${server.origin}/page.html`);
if (latency > 0) {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
        offline: false, latency, downloadThroughput: -1, uploadThroughput: -1
    });
}

console.log(`latency ${latency} ms`);
for (const workload of workloads) {
    for (const v1 of [true, false]) {
        const { id, ms, max_in_flight } = await call('timed_upload', OUR_CLIENT, DUPLEX_PATH, { v1, ...workload });
        const posts = server.posts.filter(h => h['http2-duplex-id'] === id).length;
        console.log(`${workload.name} ${v1 ? 'v1' : 'v2'}: ${ms.toFixed(0)} ms, ${posts} POSTs, at most ${max_in_flight} requests in flight`);
    }
}
await close();
await browser.close();
await server.close();
