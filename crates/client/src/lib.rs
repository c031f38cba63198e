//! Rust client of http2-duplex: open a duplex to an http2-duplex server
//! over tokio + h2 + rustls (ring): one WebSocket (subprotocol
//! http2-duplex.1) over an RFC 8441 extended CONNECT stream where the
//! server offers it, else over an HTTP/1.1 connection of its own (RFC 6455
//! upgrade), else protocol version 1 (one GET for the server's writes, one
//! streaming POST for the client's). With resume ([`Options::resume`]),
//! http2-duplex.2 over the WebSocket, or through a tunnel over the GET and
//! POST where no WebSocket is used.
//!
//! Duplexes opened through one [`Client`] to one origin share one HTTP/2
//! connection, which closes when its last duplex does. Backpressure works in
//! both directions (HTTP/2 flow control, and the WebSocket's credit
//! messages): [`Duplex::write`] waits while the server does not read, and
//! the server stops when the caller stops calling [`Duplex::read`].

mod duplex;
mod end;
mod error;
mod pool;
mod resume;
mod tls;
mod transport;
mod tunnel;
mod upgrade;
mod ws;

pub use duplex::{HEADER_DESTROYED, HEADER_END, HEADER_FRAMING, HEADER_ID, HEADER_SINGLE};
pub use error::{Error, HEADER_ERROR};
/// The table of stable error codes ([`Error::code`]).
pub use http2_duplex_core::Code;
pub use pool::Client;
pub use transport::{Duplex, Transport};

/// The byte buffer type of [`Duplex::read`] and [`Duplex::write`].
pub use bytes::Bytes;

/// Options of [`Client::open`].
#[derive(Clone, Debug)]
pub struct Options {
    /// PEM certificates to trust instead of the default (Mozilla) roots.
    pub ca: Option<Vec<u8>>,
    /// Check the server's certificate (default true).
    pub reject_unauthorized: bool,
    /// Extra headers sent on every request of the duplex.
    pub headers: Vec<(String, String)>,
    /// Which transport to use (default [`Transport::Auto`]).
    pub transport: Transport,
    /// Offer resume (the WebSocket subprotocol http2-duplex.2): a duplex
    /// the server makes resumable outlives cuts and hangs of its
    /// connection (docs/protocol.md "Resume"). Where no WebSocket is used
    /// ([`Transport::Streaming`], or [`Transport::Auto`] falling back) it
    /// goes through a tunnel over the streaming transport (docs/protocol.md
    /// "Resume on the fetch paths").
    pub resume: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ca: None,
            reject_unauthorized: true,
            headers: Vec::new(),
            transport: Transport::Auto,
            resume: false,
        }
    }
}

impl Client {
    /// Open a duplex at `url` (`https://host:port/path`; `http://` speaks
    /// HTTP/2 with prior knowledge). Must run inside a tokio runtime.
    pub async fn open(&self, url: &str, options: &Options) -> Result<Duplex, Error> {
        Duplex::open(self, url, options).await
    }
}
