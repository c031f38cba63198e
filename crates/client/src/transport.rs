//! The duplex of [`crate::Client::open`]: over a WebSocket (an RFC 8441
//! extended CONNECT stream where the server offers it, else an HTTP/1.1
//! connection after an RFC 6455 upgrade), else over the streaming
//! protocol (a GET and a streaming POST; with resume, a tunnel through
//! them).

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::duplex::{extra_headers, StreamingDuplex};
use crate::pool::{Conn, Target};
use crate::resume::{Dial, ResumeDuplex};
use crate::tunnel::{self, Carried};
use crate::ws::{OpenError, Opened, WebSocketDuplex, WsDuplex};
use crate::{upgrade, Bytes, Client, Error, Options};

/// Which transport [`crate::Client::open`] uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transport {
    /// A WebSocket: over HTTP/2 where the server offers RFC 8441 (its
    /// SETTINGS), else over HTTP/1.1 (an RFC 6455 upgrade on a connection
    /// of its own); the streaming transport (with resume, a tunnel) where
    /// the WebSocket cannot open.
    #[default]
    Auto,
    /// Only a WebSocket (over HTTP/2 or HTTP/1.1, as for `Auto`): fails if
    /// the server serves neither.
    WebSocket,
    /// Only the streaming transport (what 6.x servers speak); with resume,
    /// a tunnel over it.
    Streaming,
}

impl Transport {
    /// `"websocket"` or `"streaming"` (`"auto"` for [`Transport::Auto`]):
    /// the browser client's names.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Auto => "auto",
            Transport::WebSocket => "websocket",
            Transport::Streaming => "streaming",
        }
    }
}

impl std::str::FromStr for Transport {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "auto" => Ok(Transport::Auto),
            "websocket" => Ok(Transport::WebSocket),
            // "fetch": 7.0.0's name.
            "streaming" | "fetch" => Ok(Transport::Streaming),
            other => Err(Error::InvalidOption(format!(
                "transport must be 'auto', 'websocket' or 'streaming', got {other:?}"
            ))),
        }
    }
}

#[derive(Clone)]
enum Kind {
    Streaming(StreamingDuplex),
    Ws(WsDuplex),
    Resume(ResumeDuplex),
}

/// A client duplex. Cheap to clone; clones are the same duplex.
///
/// `read` and `write` may run concurrently (from different tasks). Calls of
/// one kind are served in order.
#[derive(Clone)]
pub struct Duplex {
    kind: Kind,
}

impl Duplex {
    pub(crate) async fn open(client: &Client, url: &str, options: &Options) -> Result<Self, Error> {
        let target = Target::parse(url)?;
        let extra = extra_headers(options)?;
        let dial = || Dial {
            client: client.clone(),
            target: target.clone(),
            extra: extra.clone(),
            options: options.clone(),
        };
        let conn = match client.conn(&target, options).await {
            Ok(conn) => conn,
            // A server that speaks only HTTP/1.1: its WebSocket is the way in.
            Err(Error::NoHttp2 { .. }) if options.transport != Transport::Streaming => {
                let opened = upgrade::open(&target, &extra, options, None).await;
                return Duplex::ws(opened.map_err(|e| e.error)?, dial).await;
            }
            Err(e) => return Err(e),
        };
        match options.transport {
            Transport::Streaming => {}
            Transport::WebSocket => {
                if conn.offers_websocket().await {
                    let opened =
                        WsDuplex::connect(&target, &extra, conn.clone(), options.resume).await;
                    return Duplex::ws(opened.map_err(|e| e.error)?, dial).await;
                }
                return match upgrade::open(&target, &extra, options, Some(conn)).await {
                    Ok(opened) => Duplex::ws(opened, dial).await,
                    // An answer names its cause (a status, the server's code).
                    Err(e) if !e.fall_back || matches!(e.error, Error::Status { .. }) => Err(e.error),
                    Err(e) => Err(Error::NoWebSocket(format!(
                        "{} offers no extended CONNECT (RFC 8441), and the HTTP/1.1 upgrade failed: {}",
                        target.authority(),
                        e.error
                    ))),
                };
            }
            Transport::Auto => {
                let opened = if conn.offers_websocket().await {
                    let attempt = WsDuplex::connect(&target, &extra, conn.clone(), options.resume);
                    Duplex::decided(&conn.websockets_carried, attempt).await?
                } else if target.tls || !conn.usable() {
                    let attempt = upgrade::open(&target, &extra, options, Some(conn.clone()));
                    Duplex::decided(&conn.upgrades_carried, attempt).await?
                } else {
                    // Cleartext HTTP/2 with prior knowledge works: the port
                    // speaks HTTP/2 only (TLS ports choose by ALPN).
                    None
                };
                if let Some(opened) = opened {
                    return Duplex::ws(opened, dial).await;
                }
            }
        }
        Duplex::fetch(dial(), conn).await
    }

    /// The streaming transport: with resume, a tunnel, or the plain duplex
    /// a server without resume answers it with.
    async fn fetch(dial: Dial, conn: Arc<Conn>) -> Result<Self, Error> {
        if !dial.options.resume {
            let plain = StreamingDuplex::open(dial.target, dial.extra, conn).await?;
            return Ok(Duplex {
                kind: Kind::Streaming(plain),
            });
        }
        match tunnel::open(&dial.target, &dial.extra, conn).await? {
            Carried::Tunnel(opened) => Duplex::ws(opened, move || dial).await,
            Carried::Plain(plain) => Ok(Duplex {
                kind: Kind::Streaming(plain),
            }),
        }
    }

    /// The duplex of a WebSocket (or tunnel) that opened: resumable if the
    /// server selected http2-duplex.2.
    async fn ws(opened: Opened, dial: impl FnOnce() -> Dial) -> Result<Self, Error> {
        let kind = if opened.resumable {
            Kind::Resume(ResumeDuplex::start(opened, dial()).await?)
        } else {
            Kind::Ws(WsDuplex::start(opened.id, opened.outlet, opened.inlet))
        };
        Ok(Duplex { kind })
    }

    /// Transport 'auto': the WebSocket `attempt` opens, or `None` for the
    /// fetch way. The first attempt of a kind on a connection decides for
    /// the others (`verdict`), which wait for it: through a proxy hop that
    /// does not carry WebSockets, a burst of opens makes one refused
    /// attempt, not one each.
    async fn decided(
        verdict: &tokio::sync::Mutex<Option<bool>>,
        attempt: impl Future<Output = Result<Opened, OpenError>>,
    ) -> Result<Option<Opened>, Error> {
        let verdict = verdict.lock().await;
        let known = *verdict;
        if known == Some(false) {
            return Ok(None);
        }
        // The first attempt holds the verdict until it knows.
        let mut first = known.is_none().then_some(verdict);
        let opened = attempt.await;
        let carried = match &opened {
            Ok(_) => Some(true),
            Err(e) if e.fall_back => Some(false),
            Err(_) => None,
        };
        if let Some(verdict) = first.as_mut() {
            **verdict = carried;
        }
        match opened {
            Ok(opened) => Ok(Some(opened)),
            Err(e) if e.fall_back => Ok(None),
            Err(e) => Err(e.error),
        }
    }

    /// The transport in use: [`Transport::WebSocket`] or
    /// [`Transport::Streaming`] (a tunnel's carrier too). A resumable
    /// duplex's may change when it is resumed.
    pub fn transport(&self) -> Transport {
        match &self.kind {
            Kind::Streaming(_) => Transport::Streaming,
            Kind::Resume(d) if d.tunnel() => Transport::Streaming,
            Kind::Ws(_) | Kind::Resume(_) => Transport::WebSocket,
        }
    }

    /// Whether the duplex goes through a tunnel (http2-duplex.2 over the
    /// streaming transport) now; it may change when it is resumed.
    pub fn tunnel(&self) -> bool {
        matches!(&self.kind, Kind::Resume(d) if d.tunnel())
    }

    /// Whether the duplex outlives its connection: the server selected
    /// resume (http2-duplex.2) for its WebSocket or tunnel.
    pub fn resumable(&self) -> bool {
        matches!(self.kind, Kind::Resume(_))
    }

    /// The next resume of a resumable duplex after the first `seen` ones:
    /// `(attempt, downtime in ms)`, the attempt counted from 1 per
    /// detachment; `None` once the duplex is over (at once when it is not
    /// resumable).
    pub async fn resumed(&self, seen: usize) -> Option<(u32, u64)> {
        match &self.kind {
            Kind::Resume(d) => d.resumed(seen).await,
            _ => None,
        }
    }

    /// The duplex id the server gave (empty over a WebSocket when the server
    /// names none).
    pub fn id(&self) -> &str {
        match &self.kind {
            Kind::Streaming(d) => d.id(),
            Kind::Ws(d) => d.id(),
            Kind::Resume(d) => d.id(),
        }
    }

    /// Whether the server answered with a framed GET body (a 7.x server);
    /// false for a raw body (a 6.x server). A WebSocket is always framed.
    pub fn framed(&self) -> bool {
        match &self.kind {
            Kind::Streaming(d) => d.framed(),
            Kind::Ws(_) | Kind::Resume(_) => true,
        }
    }

    /// Everything the server sent that is available now (waiting for at
    /// least one byte), or `None` once the server ended. Each call first
    /// gives back the flow-control capacity (or WebSocket credit) of what
    /// the previous call returned, so a caller that stops calling `read`
    /// stops the server.
    pub async fn read(&self) -> Result<Option<Bytes>, Error> {
        match &self.kind {
            Kind::Streaming(d) => d.read().await,
            Kind::Ws(d) => d.read().await,
            Kind::Resume(d) => d.read().await,
        }
    }

    /// Resolves once flow control (and, over a WebSocket, the server's
    /// credit) let all of `data` go: it waits while the server does not
    /// read.
    pub async fn write(&self, data: Bytes) -> Result<(), Error> {
        match &self.kind {
            Kind::Streaming(d) => d.write(data).await,
            Kind::Ws(d) => d.write(data).await,
            Kind::Resume(d) => d.write(data).await,
        }
    }

    /// Hands all of `data` to HTTP/2 now if flow control (and, over a
    /// WebSocket, the server's credit) let it go without waiting. False
    /// means nothing was sent: the data would wait, or the duplex cannot
    /// take writes, and [`Duplex::write`] then does it or says why. Writes
    /// stay in order as long as the caller does not start one before the
    /// previous one is done. Needs no async context.
    pub fn try_write(&self, data: &[u8]) -> bool {
        match &self.kind {
            Kind::Streaming(d) => d.try_write(data),
            Kind::Ws(d) => d.try_write(data),
            Kind::Resume(d) => d.try_write(data),
        }
    }

    /// What [`Duplex::read`] gives right now, or `None` when it would wait
    /// (then call `read`). Needs no async context.
    pub fn try_read(&self) -> Option<Result<Option<Bytes>, Error>> {
        let read = std::pin::pin!(self.read());
        match read.poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(result) => Some(result),
            Poll::Pending => None,
        }
    }

    /// Ends the writable side. Streaming: resolves once the server answered the
    /// streaming POST (it took every byte). WebSocket: once the `end`
    /// message is sent, after every write.
    pub async fn end(&self) -> Result<(), Error> {
        match &self.kind {
            Kind::Streaming(d) => d.end().await,
            Kind::Ws(d) => d.end().await,
            Kind::Resume(d) => d.end().await,
        }
    }

    /// Resolves when the duplex is over: `None` when it finished (both
    /// sides ended) or was destroyed, `Some(error)` when it failed.
    pub async fn closed(&self) -> Option<Error> {
        match &self.kind {
            Kind::Streaming(d) => d.closed().await,
            Kind::Ws(d) => d.closed().await,
            Kind::Resume(d) => d.closed().await,
        }
    }

    /// Destroy the duplex and tell the server. Needs no async context;
    /// idempotent.
    pub fn destroy(&self) {
        match &self.kind {
            Kind::Streaming(d) => d.destroy(),
            Kind::Ws(d) => d.destroy(),
            Kind::Resume(d) => d.destroy(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streaming_transport_has_the_browser_clients_name_and_takes_7_0_0s() {
        for name in ["streaming", "fetch"] {
            assert_eq!(name.parse::<Transport>().ok(), Some(Transport::Streaming));
        }
        assert_eq!(Transport::Streaming.as_str(), "streaming");
        assert!("per-write".parse::<Transport>().is_err());
    }
}
