'use strict';
// Loads the Rust addon that `npm run build` (scripts/build-addon.mjs) puts next to package.json.
const { join } = require('path');

const addon = join(__dirname, '..', 'http2-duplex.node');
try {
    module.exports = require(addon);
} catch (err) {
    err.message = `http2-duplex: cannot load its native core ${addon} ` +
        `(run \`npm run build\` in a source checkout): ${err.message}`;
    throw err;
}
