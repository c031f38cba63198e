'use strict';
const { Http2DuplexServer } = require('./lib/server');
const { connect, ResponseError, ConnectionPool } = require('./lib/connect');

module.exports = { Http2DuplexServer, connect, ResponseError, ConnectionPool };
