import cjs from './index.js';

export const { Http2DuplexServer, connect, ResponseError, ConnectionPool } = cjs;
export default cjs;
