//! Node-API bindings of the http2-duplex core and client. Translation only:
//! every protocol decision is made by `http2_duplex_core`. One module per
//! bound class; what several share is in `refusal`.

// napi-derive registers free functions and constants only outside cfg(test):
// the test build would call them unused.
#![cfg_attr(test, allow(dead_code))]

mod client;
mod cors;
mod refusal;
mod registry;
mod request;
mod resume;
mod websocket;
