//! Node-API bindings of the http2-duplex core and client. Translation only:
//! every protocol decision is made by `http2_duplex_core`. One module per
//! bound class; what several share is in `refusal`.

mod client;
mod cors;
mod refusal;
mod registry;
mod request;
mod websocket;
