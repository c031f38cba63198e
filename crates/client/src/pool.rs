//! One HTTP/2 connection per origin (and TLS options), shared by the duplexes
//! of that origin, like a browser. The pool holds connections weakly: a
//! connection closes when its last duplex lets go of it. An origin whose
//! TLS handshake offered no HTTP/2 is remembered as such for a while.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::client::SendRequest;
use h2::PingPong;
use http2_duplex_core::protocol::wait::RETRY_AFTER_MS;
use tokio::sync::watch;

use crate::{tls, Error, Options};

/// Initial stream window: how much of a duplex's incoming data may wait
/// unread (by the application) before the server must stop sending.
const STREAM_WINDOW: u32 = 1024 * 1024;
/// Initial connection window, shared by every stream of the connection.
const CONNECTION_WINDOW: u32 = 32 * 1024 * 1024;

/// Where a duplex URL points.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub uri: http::Uri,
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl Target {
    pub fn parse(url: &str) -> Result<Self, Error> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| Error::InvalidUrl(format!("{url}: {e}")))?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            Some(other) => {
                return Err(Error::InvalidUrl(format!(
                    "{url}: scheme {other} is not http or https"
                )))
            }
            None => return Err(Error::InvalidUrl(format!("{url}: not an absolute URL"))),
        };
        let host = uri
            .host()
            .ok_or_else(|| Error::InvalidUrl(format!("{url}: no host")))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        Ok(Target {
            uri,
            tls,
            host,
            port,
        })
    }

    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    tls: bool,
    host: String,
    port: u16,
    ca: Option<Vec<u8>>,
    reject_unauthorized: bool,
}

/// A live HTTP/2 connection. Dropping the last `Arc<Conn>` drops the
/// request handle, and h2 then closes the connection once its streams end.
pub(crate) struct Conn {
    pub send: SendRequest<Bytes>,
    /// `Some(reason)` once the connection has failed or closed.
    pub lost: watch::Receiver<Option<String>>,
    /// Taken by the one PING that waits for the server's first SETTINGS.
    ping: tokio::sync::Mutex<Option<PingPong>>,
    /// Set once the server's SETTINGS frames sent before its answer to our
    /// PING are applied.
    settled: tokio::sync::OnceCell<()>,
    /// Whether WebSockets opened on this connection reach the server:
    /// `Some(false)` once one failed where the server offered them (a proxy
    /// hop that does not carry them). Transport 'auto' decides by it.
    pub websockets_carried: tokio::sync::Mutex<Option<bool>>,
    /// The same for HTTP/1.1 WebSockets (RFC 6455 upgrades) to this
    /// origin, tried where the connection offers no RFC 8441.
    pub upgrades_carried: tokio::sync::Mutex<Option<bool>>,
    /// A resumable duplex found the connection hung: the pool opens a new
    /// one for the next duplex (and for that duplex's resume).
    retired: AtomicBool,
}

/// How long the client waits for the PING answer that tells whether the
/// server offers RFC 8441 before it takes the streaming transport.
const SETTINGS_TIMEOUT: Duration = Duration::from_secs(2);

impl Conn {
    /// Whether the server lets this connection open WebSockets (RFC 8441's
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL). On a new connection the server's
    /// SETTINGS may not have arrived yet (a Node server sends the setting in
    /// a second SETTINGS frame): the first call sends a PING and waits for
    /// its answer, which comes after every SETTINGS frame the server sent
    /// before reading the PING, and h2 applies frames in order.
    pub async fn offers_websocket(&self) -> bool {
        if self.send.is_extended_connect_protocol_enabled() {
            return true;
        }
        self.settled
            .get_or_init(|| async {
                if let Some(mut ping) = self.ping.lock().await.take() {
                    let _ =
                        tokio::time::timeout(SETTINGS_TIMEOUT, ping.ping(h2::Ping::opaque())).await;
                }
            })
            .await;
        self.send.is_extended_connect_protocol_enabled()
    }

    pub fn usable(&self) -> bool {
        self.lost.borrow().is_none() && !self.retired.load(Ordering::Relaxed)
    }

    /// Takes the connection out of the pool: its duplexes keep it, new ones
    /// get another.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::Relaxed);
    }

    async fn open(target: &Target, options: &Options) -> Result<Conn, Error> {
        let tcp = tls::tcp(target).await?;
        if !target.tls {
            return Self::handshake(tcp).await;
        }
        let authority = target.authority();
        let stream = match tls::handshake(target, tcp, options, b"h2").await {
            Ok(stream) => stream,
            Err(tls::HandshakeError::Setup(error)) => return Err(error),
            Err(tls::HandshakeError::Tls(e)) => {
                // A server that knows ALPN but not h2 refuses the handshake
                // rather than pick nothing.
                let refused_h2 = e
                    .get_ref()
                    .and_then(|e| e.downcast_ref::<rustls::Error>())
                    .is_some_and(|e| {
                        *e == rustls::Error::AlertReceived(
                            rustls::AlertDescription::NoApplicationProtocol,
                        )
                    });
                return Err(if refused_h2 {
                    Error::NoHttp2 { authority }
                } else {
                    Error::Tls {
                        authority,
                        reason: e.to_string(),
                    }
                });
            }
        };
        if stream.get_ref().1.alpn_protocol() != Some(b"h2") {
            return Err(Error::NoHttp2 { authority });
        }
        Self::handshake(stream).await
    }

    async fn handshake<T>(io: T) -> Result<Conn, Error>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (send, mut connection) = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .max_concurrent_reset_streams(100_000)
            .handshake::<T, Bytes>(io)
            .await
            .map_err(Error::from_h2)?;
        let ping = connection.ping_pong();
        let (lost_tx, lost) = watch::channel(None);
        tokio::spawn(async move {
            let reason = match connection.await {
                Ok(()) => "the connection closed".to_string(),
                Err(e) => e.to_string(),
            };
            let _ = lost_tx.send(Some(reason));
        });
        Ok(Conn {
            send,
            lost,
            ping: tokio::sync::Mutex::new(ping),
            settled: tokio::sync::OnceCell::new(),
            websockets_carried: tokio::sync::Mutex::new(None),
            upgrades_carried: tokio::sync::Mutex::new(None),
            retired: AtomicBool::new(false),
        })
    }
}

/// What the pool knows of one origin.
#[derive(Default)]
struct Origin {
    conn: Weak<Conn>,
    /// When the origin's TLS handshake last offered no h2.
    no_http2_since: Option<Instant>,
}

/// Locked across a connection's opening, so that concurrent opens of an
/// origin share its connection, or its answer that it has no HTTP/2.
type Slot = Arc<tokio::sync::Mutex<Origin>>;

/// A connection pool. Clones share the pool. Duplexes opened through one
/// pool to one origin (with the same TLS options) share one HTTP/2
/// connection; separate pools never share.
#[derive(Clone)]
pub struct Client {
    slots: Arc<Mutex<HashMap<PoolKey, Slot>>>,
    no_http2_for: Duration,
}

impl Default for Client {
    fn default() -> Self {
        Client {
            slots: Arc::default(),
            no_http2_for: Duration::from_millis(RETRY_AFTER_MS.into()),
        }
    }
}

impl Client {
    pub fn new() -> Self {
        Self::default()
    }

    /// How long after an origin's TLS handshake offered no HTTP/2 the pool
    /// asks it for HTTP/2 again; until then its duplexes go straight to
    /// HTTP/1.1 (default 5 minutes, as long as the browser client keeps a
    /// WebSocket's failure).
    pub fn with_http2_retry_after(mut self, duration: Duration) -> Self {
        self.no_http2_for = duration;
        self
    }

    /// The number of live connections held by this pool.
    pub fn connections(&self) -> usize {
        let slots: Vec<Slot> = self.slots.lock().unwrap().values().cloned().collect();
        slots
            .iter()
            .filter(|slot| {
                slot.try_lock()
                    .map(|origin| origin.conn.upgrade().is_some_and(|c| c.usable()))
                    .unwrap_or(true)
            })
            .count()
    }

    pub(crate) async fn conn(
        &self,
        target: &Target,
        options: &Options,
    ) -> Result<Arc<Conn>, Error> {
        let key = PoolKey {
            tls: target.tls,
            host: target.host.clone(),
            port: target.port,
            ca: if target.tls { options.ca.clone() } else { None },
            reject_unauthorized: options.reject_unauthorized || !target.tls,
        };
        let slot = self.slots.lock().unwrap().entry(key).or_default().clone();
        let mut origin = slot.lock().await;
        if let Some(conn) = origin.conn.upgrade() {
            if conn.usable() {
                return Ok(conn);
            }
        }
        if origin
            .no_http2_since
            .is_some_and(|since| since.elapsed() < self.no_http2_for)
        {
            return Err(Error::NoHttp2 {
                authority: target.authority(),
            });
        }
        let conn = match Conn::open(target, options).await {
            Ok(conn) => Arc::new(conn),
            Err(e) => {
                if let Error::NoHttp2 { .. } = e {
                    origin.no_http2_since = Some(Instant::now());
                }
                return Err(e);
            }
        };
        *origin = Origin {
            conn: Arc::downgrade(&conn),
            no_http2_since: None,
        };
        Ok(conn)
    }
}
