//! Rust client of http2-duplex: open a duplex to an http2-duplex server
//! (protocol version 1: one GET for the server's writes, one streaming POST
//! for the client's) over tokio + h2 + rustls (ring).
//!
//! Duplexes opened through one [`Client`] to one origin share one HTTP/2
//! connection, which closes when its last duplex does. Flow control is
//! HTTP/2's own in both directions: [`Duplex::write`] waits while the server
//! does not read, and the server stops when the caller stops calling
//! [`Duplex::read`].

mod duplex;
mod error;
mod pool;
mod tls;

pub use duplex::{Duplex, HEADER_DESTROYED, HEADER_END, HEADER_FRAMING, HEADER_ID, HEADER_SINGLE};
pub use error::{Error, HEADER_ERROR};
/// The table of stable error codes ([`Error::code`]).
pub use http2_duplex_core::Code;
pub use pool::Client;

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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ca: None,
            reject_unauthorized: true,
            headers: Vec::new(),
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
