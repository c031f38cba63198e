import cjs from './index.js';

export const { Http2DuplexServer, connect, ResponseError, ConnectionPool, codes } = cjs;
export default cjs;
