// Compiled by __test__/types.test.js with the README's tsconfig
// (examples/tsconfig.json: bundler resolution, the browser condition): the
// bare name, 'http2-duplex/client' and 6.x's 'http2-duplex/client.js' all give
// the browser client's types.
import make, { ResponseError } from 'http2-duplex';
import * as bare from 'http2-duplex';
import make_client, { ResponseError as ClientResponseError, type FetchDuplex } from 'http2-duplex/client';
import make_six from 'http2-duplex/client.js';

const from_bare: typeof make_client = make;
const from_client: typeof make = make_client;
const from_six: typeof make_client = make_six;
const error_class: typeof ClientResponseError = ResponseError;
void [from_bare, from_client, from_six, error_class];

// @ts-expect-error the browser entry has no server
void bare.Http2DuplexServer;

export async function open(url: string): Promise<string> {
    const duplex: FetchDuplex = await make(url, { transport: 'per-write', headers: { authorization: 'x' } });
    duplex.end();
    return `${duplex.id} ${duplex.transport}`;
}
