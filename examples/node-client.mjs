// A Node client of the echo server: node node-client.mjs [url]
import { readFileSync } from 'node:fs';
import { text } from 'node:stream/consumers';
import { connect } from 'http2-duplex';

const url = process.argv[2] ?? 'https://localhost:7000/example';
const duplex = await connect(url, {
    // Trust the CA that signed the server's certificate (instead of the system's).
    ca: readFileSync(new URL('certs/ca.pem', import.meta.url)),
    // Outlive a dropped connection: reconnect and resume, byte-exact.
    resume: true
});
console.log(`duplex ${duplex.id} over ${duplex.transport}`);
duplex.end('hello from Node');
console.log(`echoed: ${await text(duplex)}`);
