//! The WebSocket transport over HTTP/1.1: an RFC 6455 upgrade (subprotocol
//! `http2-duplex.1`) on a connection of its own, one per duplex, as a
//! browser opens a WebSocket where the page's HTTP/2 connection offers no
//! RFC 8441 (behind nginx, or a server whose `websocket` option is
//! `'http1'`), or where the server speaks only HTTP/1.1. After the
//! handshake the connection carries the same frames as an extended CONNECT
//! stream: [`crate::ws`] runs both, this module makes the connection and
//! moves its bytes.
//!
//! Sending goes through a writer task: [`SocketOutlet`] queues frames and
//! counts the bytes not yet written, so a write waits while the socket's
//! queue is full (as h2's flow control makes it wait on HTTP/2).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use http2_duplex_core::websocket::{accept_key, VERSION};
use http2_duplex_core::Code;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::sync::mpsc;

use crate::duplex::HEADER_ID;
use crate::pool::{Conn, Target};
use crate::ws::{connection_failed, offered, selected, Inlet, OpenError, Opened, Outlet};
use crate::{tls, Error, Options};

/// A byte stream: TCP, or TLS over TCP.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}
pub(crate) type Io = Box<dyn Stream>;

/// How long the connection, the TLS handshake and the server's answer to
/// the upgrade may take: a server or proxy that never answers fails the
/// attempt ('auto' then takes the streaming transport) rather than hanging the open.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer head taken from the server.
const MAX_HEAD: usize = 16 * 1024;
/// Bytes queued for the socket beyond which writes wait.
const SEND_BUFFER: usize = 512 * 1024;
/// Queued frames up to this size go out in one write (one TLS record, one
/// segment where they fit) rather than one each.
const GATHER: usize = 64 * 1024;

/// Headers the handshake sets itself: the caller's `headers` option may
/// not change them.
const OWN_HEADERS: [&str; 8] = [
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "content-length",
    "transfer-encoding",
];

/// Why the upgrade found no WebSocket: the streaming transport may serve.
fn no_websocket(why: impl Into<String>) -> OpenError {
    OpenError {
        error: Error::NoWebSocket(why.into()),
        fall_back: true,
    }
}

/// Opens an HTTP/1.1 WebSocket to `target` (offering resume as `options`
/// say). `page`: the origin's HTTP/2 connection, if there is one, kept
/// while the duplex lives.
pub(crate) async fn open(
    target: &Target,
    extra: &HeaderMap,
    options: &Options,
    page: Option<Arc<Conn>>,
) -> Result<Opened, OpenError> {
    let switched = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(target, extra, options)).await;
    let (io, head, rest, resumable) = match switched {
        Ok(switched) => switched?,
        Err(_) => {
            return Err(no_websocket(format!(
                "no answer to the upgrade within {} s",
                HANDSHAKE_TIMEOUT.as_secs()
            )))
        }
    };
    let id = head
        .headers
        .get(HEADER_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let (read, write) = tokio::io::split(io);
    let inlet = Inlet::Socket {
        first: (!rest.is_empty()).then_some(rest),
        read,
        buffer: BytesMut::new(),
        _page: page,
    };
    Ok(Opened {
        outlet: Outlet::Socket(SocketOutlet::new(write)),
        inlet,
        id,
        resumable,
    })
}

/// Connects and upgrades: the connection, the server's 101, the bytes
/// that came after it (its first frames), and whether it selected resume.
async fn handshake(
    target: &Target,
    extra: &HeaderMap,
    options: &Options,
) -> Result<(Io, Head, Bytes, bool), OpenError> {
    let mut io = connect(target, options).await.map_err(|error| OpenError {
        error,
        fall_back: true,
    })?;
    let key = STANDARD.encode(uuid::Uuid::new_v4().as_bytes());
    io.write_all(&handshake_request(target, extra, &key, options.resume))
        .await
        .map_err(|e| no_websocket(format!("sending the upgrade: {e}")))?;
    io.flush()
        .await
        .map_err(|e| no_websocket(format!("sending the upgrade: {e}")))?;
    let (head, rest) = read_head(&mut io).await.map_err(no_websocket)?;
    let head = parse_head(&head).map_err(no_websocket)?;
    if head.status != 101 {
        // As over HTTP/2: our server names why it refuses a duplex, and the
        // fetch way would be refused too, unless what it refused is the
        // WebSocket itself.
        let code = head
            .headers
            .get(crate::HEADER_ERROR)
            .and_then(|v| v.to_str().ok());
        let fall_back = code.is_none_or(|code| code == Code::WsNeedsHttp2.as_str());
        return Err(OpenError {
            error: Error::Status {
                status: head.status,
                status_text: head.reason,
                headers: head.headers,
            },
            fall_back,
        });
    }
    let resumable = check_switch(&head.headers, &key, options.resume).map_err(no_websocket)?;
    Ok((io, head, rest, resumable))
}

/// TCP, and TLS offering only HTTP/1.1 (ALPN) for `https`.
async fn connect(target: &Target, options: &Options) -> Result<Io, Error> {
    let tcp = tls::tcp(target).await?;
    if !target.tls {
        return Ok(Box::new(tcp));
    }
    match tls::handshake(target, tcp, options, b"http/1.1").await {
        Ok(stream) => Ok(Box::new(stream)),
        Err(tls::HandshakeError::Setup(error)) => Err(error),
        Err(tls::HandshakeError::Tls(e)) => Err(Error::Tls {
            authority: target.authority(),
            reason: e.to_string(),
        }),
    }
}

/// The opening handshake (RFC 6455 §4.1) with the caller's extra headers.
fn handshake_request(target: &Target, extra: &HeaderMap, key: &str, resume: bool) -> Vec<u8> {
    let path = target
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let host = target
        .uri
        .authority()
        .map(|a| a.to_string())
        .unwrap_or_else(|| target.authority());
    let mut out = format!(
        "GET {path} HTTP/1.1\r\nhost: {host}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
         sec-websocket-key: {key}\r\nsec-websocket-version: {VERSION}\r\n\
         sec-websocket-protocol: {}\r\n",
        offered(resume)
    )
    .into_bytes();
    for (name, value) in extra {
        if OWN_HEADERS.contains(&name.as_str()) {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Reads the answer's head (up to its blank line); the bytes after it are
/// the server's first frames.
async fn read_head(io: &mut Io) -> Result<(Bytes, Bytes), String> {
    let mut buffer = BytesMut::with_capacity(4096);
    loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = buffer.split_to(at + 4).freeze();
            return Ok((head, buffer.freeze()));
        }
        let prefix = buffer.len().min(5);
        if buffer[..prefix] != b"HTTP/"[..prefix] {
            return Err("the server's answer to the upgrade is not HTTP/1.1".to_string());
        }
        if buffer.len() > MAX_HEAD {
            return Err(format!(
                "the server's answer to the upgrade has a head over {MAX_HEAD} bytes"
            ));
        }
        buffer.reserve(4096);
        match io.read_buf(&mut buffer).await {
            Ok(0) => {
                return Err("the server closed the connection without answering the upgrade".into())
            }
            Ok(_) => {}
            Err(e) => return Err(format!("reading the answer to the upgrade: {e}")),
        }
    }
}

struct Head {
    status: u16,
    reason: String,
    headers: HeaderMap,
}

fn parse_head(head: &[u8]) -> Result<Head, String> {
    let text = std::str::from_utf8(head)
        .map_err(|_| "the answer to the upgrade has a head that is not text".to_string())?;
    let mut lines = text.trim_end_matches("\r\n").split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|_| version.starts_with("HTTP/1."))
        .ok_or_else(|| format!("bad status line in the answer to the upgrade: {status_line:?}"))?;
    let reason = match parts.next().map(str::trim).filter(|r| !r.is_empty()) {
        Some(reason) => reason.to_string(),
        None => StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("")
            .to_string(),
    };
    let mut headers = HeaderMap::new();
    for line in lines {
        let bad = || format!("bad header line in the answer to the upgrade: {line:?}");
        let (name, value) = line.split_once(':').ok_or_else(bad)?;
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
        let value = HeaderValue::from_str(value.trim()).map_err(|_| bad())?;
        headers.append(name, value);
    }
    Ok(Head {
        status,
        reason,
        headers,
    })
}

/// A 101 must switch to a WebSocket answering our key, and to a
/// subprotocol we offered (RFC 6455 §4.1, the client's checks): whether it
/// is the resumable one.
fn check_switch(headers: &HeaderMap, key: &str, resume: bool) -> Result<bool, String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if !header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return Err("the server switched protocols, but not to websocket".to_string());
    }
    if !header("connection").is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
    }) {
        return Err("the server's 101 has no connection: upgrade".to_string());
    }
    if header("sec-websocket-accept") != Some(accept_key(key).as_str()) {
        return Err("the server's sec-websocket-accept does not answer our key".to_string());
    }
    selected(header("sec-websocket-protocol"), resume).ok_or_else(|| {
        format!(
            "the server did not accept the WebSocket subprotocol {}",
            offered(resume)
        )
    })
}

enum Command {
    Data(Bytes),
    /// Ends our direction (TCP FIN, after TLS close_notify).
    Shutdown,
}

/// What the writer task shares with the outlet.
#[derive(Default)]
struct Shared {
    /// Bytes queued and not yet written.
    queued: AtomicUsize,
    /// A write waiting for room.
    waker: Mutex<Option<Waker>>,
    /// Why writing failed.
    failed: Mutex<Option<String>>,
}

impl Shared {
    fn wake(&self) {
        if let Some(waker) = self.waker.lock().unwrap().take() {
            waker.wake();
        }
    }
}

/// The sending side of an upgraded connection.
pub(crate) struct SocketOutlet {
    commands: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
    writer: tokio::task::AbortHandle,
    ended: bool,
}

impl SocketOutlet {
    fn new(io: WriteHalf<Io>) -> Self {
        let (commands, queue) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let writer = tokio::spawn(write_queue(io, queue, shared.clone())).abort_handle();
        SocketOutlet {
            commands,
            shared,
            writer,
            ended: false,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        if self.shared.failed.lock().unwrap().is_some() {
            return 0;
        }
        SEND_BUFFER.saturating_sub(self.shared.queued.load(Ordering::Acquire))
    }

    /// Waits until the queue has room for more than `more_than` bytes.
    pub(crate) fn poll_capacity(
        &self,
        cx: &mut Context<'_>,
        more_than: usize,
    ) -> Poll<Result<usize, Error>> {
        for attempt in 0..2 {
            if let Some(why) = self.shared.failed.lock().unwrap().clone() {
                return Poll::Ready(Err(connection_failed(&why)));
            }
            let capacity = self.capacity();
            if capacity > more_than {
                return Poll::Ready(Ok(capacity));
            }
            // Registered, then checked again: the writer may have made room
            // in between.
            if attempt == 0 {
                *self.shared.waker.lock().unwrap() = Some(cx.waker().clone());
            }
        }
        Poll::Pending
    }

    pub(crate) fn send(&mut self, data: Bytes, end: bool) -> Result<(), ()> {
        if self.ended || self.shared.failed.lock().unwrap().is_some() {
            return Err(());
        }
        if !data.is_empty() {
            self.shared.queued.fetch_add(data.len(), Ordering::AcqRel);
            self.commands.send(Command::Data(data)).map_err(|_| ())?;
        }
        if end {
            self.ended = true;
            self.commands.send(Command::Shutdown).map_err(|_| ())?;
        }
        Ok(())
    }

    /// Drops the connection's sending side now, whatever is queued.
    pub(crate) fn reset(&mut self) {
        self.ended = true;
        self.writer.abort();
    }
}

/// Writes the queued frames in order, gathering small ones.
async fn write_queue(
    mut io: WriteHalf<Io>,
    mut queue: mpsc::UnboundedReceiver<Command>,
    shared: Arc<Shared>,
) {
    let mut batch: Vec<Bytes> = Vec::new();
    while let Some(first) = queue.recv().await {
        let mut next = Some(first);
        let mut bytes = 0;
        let mut shutdown = false;
        while let Some(command) = next.take() {
            match command {
                Command::Data(data) => {
                    bytes += data.len();
                    batch.push(data);
                }
                Command::Shutdown => {
                    shutdown = true;
                    break;
                }
            }
            if bytes < GATHER {
                next = queue.try_recv().ok();
            }
        }
        let written = write_batch(&mut io, &mut batch, bytes).await;
        shared.queued.fetch_sub(bytes, Ordering::AcqRel);
        if let Err(e) = written {
            *shared.failed.lock().unwrap() = Some(e.to_string());
            shared.wake();
            return;
        }
        shared.wake();
        if shutdown {
            let _ = io.shutdown().await;
            return;
        }
    }
}

async fn write_batch(
    io: &mut WriteHalf<Io>,
    batch: &mut Vec<Bytes>,
    bytes: usize,
) -> std::io::Result<()> {
    if batch.len() > 1 && bytes <= GATHER {
        let mut joined = BytesMut::with_capacity(bytes);
        for piece in batch.drain(..) {
            joined.extend_from_slice(&piece);
        }
        io.write_all(&joined).await?;
    } else {
        for piece in batch.drain(..) {
            io.write_all(&piece).await?;
        }
    }
    io.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_parsed_and_its_reason_kept() {
        let head = parse_head(
            b"HTTP/1.1 501 Not Implemented\r\nhttp2-duplex-error: ERR_HTTP2_DUPLEX_WS_NEEDS_HTTP2\r\nx: a\r\nx: b\r\n\r\n",
        )
        .unwrap();
        assert_eq!(head.status, 501);
        assert_eq!(head.reason, "Not Implemented");
        assert_eq!(
            head.headers["http2-duplex-error"],
            "ERR_HTTP2_DUPLEX_WS_NEEDS_HTTP2"
        );
        assert_eq!(head.headers.get_all("x").iter().count(), 2);
        // No reason phrase: the canonical one.
        assert_eq!(
            parse_head(b"HTTP/1.1 404\r\n\r\n").unwrap().reason,
            "Not Found"
        );
    }

    #[test]
    fn a_bad_head_is_refused() {
        for bad in [
            &b"HTTP/2 101 x\r\n\r\n"[..],
            b"HTTP/1.1 abc x\r\n\r\n",
            b"HTTP/1.1 101 x\r\nno colon\r\n\r\n",
            b"HTTP/1.1 101 x\r\nbad name: y\r\n\r\n",
        ] {
            assert!(
                parse_head(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn a_101_must_answer_the_key_with_our_subprotocol() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let switch = |lines: &str| {
            parse_head(format!("HTTP/1.1 101 Switching Protocols\r\n{lines}\r\n").as_bytes())
                .unwrap()
                .headers
        };
        let good = "upgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\n\
                    sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
                    sec-websocket-protocol: http2-duplex.1\r\n";
        assert_eq!(check_switch(&switch(good), key, false), Ok(false));
        assert_eq!(check_switch(&switch(good), key, true), Ok(false));
        let resumable = good.replace("http2-duplex.1", "http2-duplex.2");
        assert_eq!(check_switch(&switch(&resumable), key, true), Ok(true));
        assert!(
            check_switch(&switch(&resumable), key, false).is_err(),
            "http2-duplex.2 was not offered"
        );
        for bad in [
            good.replace("WebSocket", "h2c"),
            good.replace("keep-alive, Upgrade", "keep-alive"),
            good.replace("s3pP", "AAAA"),
            good.replace("http2-duplex.1", "chat"),
        ] {
            assert!(check_switch(&switch(&bad), key, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_request_carries_the_callers_headers_but_not_over_its_own() {
        let target = Target::parse("https://example.test:8443/duplex?x=1").unwrap();
        let mut extra = HeaderMap::new();
        extra.insert("authorization", HeaderValue::from_static("Bearer t"));
        extra.insert("host", HeaderValue::from_static("evil.test"));
        extra.insert("upgrade", HeaderValue::from_static("h2c"));
        let text = String::from_utf8(handshake_request(&target, &extra, "k", false)).unwrap();
        assert!(text.starts_with("GET /duplex?x=1 HTTP/1.1\r\nhost: example.test:8443\r\n"));
        assert!(text.contains("\r\nauthorization: Bearer t\r\n"));
        assert!(!text.contains("evil.test") && !text.contains("h2c"));
        assert!(text.contains("\r\nsec-websocket-protocol: http2-duplex.1\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
        let text = String::from_utf8(handshake_request(&target, &extra, "k", true)).unwrap();
        assert!(text.contains("\r\nsec-websocket-protocol: http2-duplex.2, http2-duplex.1\r\n"));
    }
}
