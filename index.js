'use strict';
const { Http2DuplexServer } = require('./lib/server');
const { connect, ResponseError, ConnectionPool } = require('./lib/connect');
const codes = require('./lib/error-codes');

module.exports = { Http2DuplexServer, connect, ResponseError, ConnectionPool, codes };
