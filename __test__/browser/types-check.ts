// Compiled by tsc in example.browser.test.mjs: the client's types as a user sees them.
import make, { ResponseError, type FetchDuplex } from 'http2-duplex/client';

async function main(): Promise<void> {
    try {
        const duplex: FetchDuplex = await make('https://localhost:7000/example', {
            disable_request_streaming: true,
            highWaterMark: 1024,
            credentials: 'include',
            fetch: (input, init) => fetch(input, init),
            ResponseError
        });
        const id: string = duplex.id;
        duplex.write(new Uint8Array([1, 2, 3]));
        duplex.on('data', (data: Uint8Array) => console.log(id, data.length));
        duplex.end();
    } catch (err) {
        if (err instanceof ResponseError) {
            const status: number = err.response.status;
            console.log(status, err.message);
        }
    }
}

main();
