//! Node-API bindings of the Rust client (`crates/client`). Translation only:
//! `lib/connect.js` wraps these in a Node `Duplex`.

use std::collections::HashMap;

use http2_duplex_client as client;
use napi::bindgen_prelude::{Buffer, Either};
use napi_derive::napi;

/// Options of `ClientPool.open`.
#[napi(object)]
pub struct ClientOpenOptions {
    /// PEM certificates trusted instead of the default roots.
    pub ca: Option<String>,
    /// Check the server's certificate (default true).
    pub reject_unauthorized: Option<bool>,
    /// Extra headers sent on every request of the duplex.
    pub headers: Option<HashMap<String, String>>,
}

/// The server answered the GET outside 2xx.
#[napi(object)]
pub struct ClientHttpStatus {
    pub status: u32,
    pub status_text: String,
}

fn js_error(err: client::Error) -> napi::Error {
    napi::Error::from_reason(err.to_string())
}

/// A connection pool: duplexes opened through one pool to one origin share
/// one HTTP/2 connection.
#[napi]
pub struct ClientPool {
    inner: client::Client,
}

impl Default for ClientPool {
    fn default() -> Self {
        Self::new()
    }
}

#[napi]
impl ClientPool {
    #[napi(constructor)]
    pub fn new() -> Self {
        ClientPool {
            inner: client::Client::new(),
        }
    }

    /// Live HTTP/2 connections of this pool.
    #[napi(getter)]
    pub fn connections(&self) -> u32 {
        self.inner.connections() as u32
    }

    /// Open a duplex; resolves with the duplex or, for a non-2xx answer,
    /// with its status. Other failures reject.
    #[napi]
    pub async fn open(
        &self,
        url: String,
        options: Option<ClientOpenOptions>,
    ) -> napi::Result<Either<ClientDuplex, ClientHttpStatus>> {
        let options = options.map_or_else(client::Options::default, |o| client::Options {
            ca: o.ca.map(String::into_bytes),
            reject_unauthorized: o.reject_unauthorized.unwrap_or(true),
            headers: o.headers.unwrap_or_default().into_iter().collect(),
        });
        match self.inner.open(&url, &options).await {
            Ok(inner) => Ok(Either::A(ClientDuplex { inner })),
            Err(client::Error::Status {
                status,
                status_text,
            }) => Ok(Either::B(ClientHttpStatus {
                status: status.into(),
                status_text,
            })),
            Err(err) => Err(js_error(err)),
        }
    }
}

#[napi]
pub struct ClientDuplex {
    inner: client::Duplex,
}

#[napi]
impl ClientDuplex {
    #[napi(getter)]
    pub fn id(&self) -> String {
        self.inner.id().to_string()
    }

    /// All data available now (waiting for some), or null at the end.
    /// Calling it again releases the flow-control capacity of the last batch.
    #[napi]
    pub async fn read(&self) -> napi::Result<Option<Buffer>> {
        match self.inner.read().await {
            Ok(Some(bytes)) => Ok(Some(Buffer::from(Vec::from(bytes)))),
            Ok(None) => Ok(None),
            Err(err) => Err(js_error(err)),
        }
    }

    /// Resolves once HTTP/2 flow control has let all of `chunks` go. The
    /// bytes are copied once, into one buffer the network side owns.
    #[napi]
    pub async fn write(&self, chunks: Vec<Buffer>) -> napi::Result<()> {
        let mut data = Vec::with_capacity(chunks.iter().map(|chunk| chunk.len()).sum());
        for chunk in &chunks {
            data.extend_from_slice(chunk);
        }
        drop(chunks);
        self.inner
            .write(client::Bytes::from(data))
            .await
            .map_err(js_error)
    }

    /// Ends the writable side; resolves when the server answered the POST.
    #[napi]
    pub async fn end(&self) -> napi::Result<()> {
        self.inner.end().await.map_err(js_error)
    }

    /// Resolves when the duplex is over: null, or the failure's message.
    #[napi]
    pub async fn closed(&self) -> Option<String> {
        self.inner.closed().await.map(|err| err.to_string())
    }

    #[napi]
    pub fn destroy(&self) {
        self.inner.destroy();
    }
}
