// Compiled by __test__/types.test.js under bundler resolution without the
// browser condition: the bare name gives the Node entry's types, and
// 'http2-duplex/client' still the browser client's.
import { Http2DuplexServer, connect } from 'http2-duplex';
import make, { type FetchDuplex } from 'http2-duplex/client';

export const server_class = Http2DuplexServer;
export const node_connect = connect;
export async function open(url: string): Promise<FetchDuplex> {
    return make(url);
}
