// The browser client's entry (package.json "browser", "./client", 6.x's
// "http2-duplex/client.js"): make(url, options) and ResponseError.
export { default, ResponseError } from './lib/browser/client.mjs';
