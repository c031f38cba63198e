// Compiled by __test__/types.test.js: 6.x's deep import 'http2-duplex/server.js'
// gives the Node entry's types.
import { Http2DuplexServer, type ServerDuplex } from 'http2-duplex/server.js';
import * as main from 'http2-duplex';

const same: typeof main.Http2DuplexServer = Http2DuplexServer;
export function echo(duplex: ServerDuplex): void {
    duplex.pipe(duplex);
}
void same;
