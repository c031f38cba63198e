// Node-side counterparts of harness.mjs for the server's duplexes.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import h2 from '../h2.js';

export function read_all(duplex) {
    return new Promise((resolve, reject) => {
        const hash = createHash('sha256');
        let length = 0;
        duplex.on('data', data => {
            hash.update(data);
            length += data.length;
        });
        duplex.once('end', () => resolve({ length, sha256: hash.digest('hex') }));
        duplex.once('error', reject);
    });
}

// The first n bytes, as an array to compare with what the page reports.
export async function read_bytes(duplex, n) {
    return [...await h2.read_bytes(duplex, n)];
}

export async function send_random(duplex, total, max_chunk, end_after) {
    const hash = createHash('sha256');
    let sent = 0;
    while (sent < total) {
        const chunk = randomBytes(Math.min(total - sent, 1 + Math.floor(Math.random() * max_chunk)));
        hash.update(chunk);
        sent += chunk.length;
        if (!duplex.write(chunk)) {
            await once(duplex, 'drain');
        }
    }
    if (end_after) {
        duplex.end();
    }
    return { length: sent, sha256: hash.digest('hex') };
}

// Resolves with the first of the named events: 'end', 'close', 'error: …'.
export function first_event(emitter, names) {
    return new Promise(resolve => {
        for (const name of names) {
            emitter.once(name, err => resolve(name === 'error' ? `error: ${err.message}` : name));
        }
    });
}
