// Compiled by tsc in example.browser.test.mjs: the client's types as a user sees them.
import make, { ResponseError, type FetchDuplex, type NoIdError } from 'http2-duplex/client';

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
            const code: string = err.code;
            console.log(status, err.status, code, err.name, err.message);
        } else if ((err as NoIdError).code === 'ERR_HTTP2_DUPLEX_NO_ID_IN_RESPONSE') {
            console.log('not a duplex endpoint', (err as NoIdError).status);
        }
    }
}

main();
