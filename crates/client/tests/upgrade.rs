//! The client's WebSocket over HTTP/1.1 (RFC 6455 upgrade, subprotocol
//! http2-duplex.1) against an in-process TLS server: HTTP/1.1 only, or
//! HTTP/2 without RFC 8441 and HTTP/1.1 on the same port (as nginx, or a
//! Node server with `allowHTTP1` and `websocket: 'http1'`). The server's end
//! of the WebSocket is the core's `Endpoint`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http2_duplex_client::{Client, Code, Error, Options, Transport};
use http2_duplex_core::websocket::{accept_key, Action, Endpoint, INITIAL_CREDIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

mod common;
use common::{echo, read};
const ID: &str = "n1.upgrade-test";

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Echo every byte, granting credit as the echo goes out; end when the
    /// client ends.
    Echo,
    /// Never consume: no credit goes back to the client.
    Stall,
    /// Echo, and drop the connection (no Close) once `CUT` bytes came.
    Cut,
    /// Echo; after the close handshake, reset the connection (as a proxy
    /// closing both its sides may) instead of ending it.
    ResetAfterClose,
    /// Answer the upgrade 501, as a server that takes no HTTP/1.1 WebSocket.
    Refuse,
    /// Answer 101 with a `sec-websocket-accept` that is not the key's.
    BadAccept,
}

const CUT: u64 = 256 * 1024;

#[derive(Default)]
struct Seen {
    /// TCP connections, each a TLS handshake.
    connections: AtomicUsize,
    /// HTTP/1.1 connections that asked for an upgrade.
    upgrades: AtomicUsize,
    /// HTTP/2 connections.
    h2_connections: AtomicUsize,
    /// Bytes of data the server received.
    received: AtomicU64,
}

struct Server {
    url: String,
    seen: Arc<Seen>,
    /// How each WebSocket finished: (close code, why the server stopped).
    finished: mpsc::UnboundedReceiver<(Option<u16>, Option<String>)>,
}

/// A TLS server offering `alpn`: HTTP/1.1 upgrades on `/dx` as `mode`
/// says; HTTP/2 (without RFC 8441) answering every request 404.
async fn server(mode: Mode, alpn: &[&[u8]]) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = common::tls_acceptor(alpn);
    let seen = Arc::new(Seen::default());
    let (finished_tx, finished) = mpsc::unbounded_channel();
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            seen2.connections.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            let seen = seen2.clone();
            let finished_tx = finished_tx.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                    seen.h2_connections.fetch_add(1, Ordering::SeqCst);
                    let mut conn = h2::server::handshake(tls).await.unwrap();
                    while let Some(Ok((_, mut respond))) = conn.accept().await {
                        let answer = http::Response::builder().status(404).body(()).unwrap();
                        let _ = respond.send_response(answer, true);
                    }
                    return;
                }
                let outcome = upgrade(mode, tls, &seen).await;
                let _ = finished_tx.send(outcome);
            });
        }
    });
    Server {
        url: format!("https://localhost:{port}/dx"),
        seen,
        finished,
    }
}

type Tls = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;

/// One HTTP/1.1 connection: the handshake, then the server's end of the
/// WebSocket. Returns how it finished.
async fn upgrade(mode: Mode, mut tls: Tls, seen: &Seen) -> (Option<u16>, Option<String>) {
    let mut buffer = BytesMut::new();
    let head_len = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if tls.read_buf(&mut buffer).await.unwrap_or(0) == 0 {
            return (None, Some("no request".to_string()));
        }
    };
    let head = String::from_utf8(buffer.split_to(head_len).to_vec()).unwrap();
    let header = |name: &str| {
        head.lines()
            .find_map(|line| {
                let (n, v) = line.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    assert!(head.starts_with("GET /dx HTTP/1.1\r\n"), "{head}");
    assert_eq!(header("upgrade"), "websocket");
    assert_eq!(header("connection"), "Upgrade");
    assert_eq!(header("sec-websocket-version"), "13");
    assert_eq!(header("sec-websocket-protocol"), "http2-duplex.1");
    assert!(header("host").starts_with("localhost:"), "{head}");
    seen.upgrades.fetch_add(1, Ordering::SeqCst);
    let accept = match mode {
        Mode::Refuse => {
            let answer = "HTTP/1.1 501 Not Implemented\r\n\
                          http2-duplex-error: ERR_HTTP2_DUPLEX_WS_NEEDS_HTTP2\r\n\
                          content-length: 0\r\nconnection: close\r\n\r\n";
            tls.write_all(answer.as_bytes()).await.unwrap();
            let _ = tls.shutdown().await;
            return (None, Some("refused".to_string()));
        }
        Mode::BadAccept => accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        _ => accept_key(&header("sec-websocket-key")),
    };
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
         sec-websocket-accept: {accept}\r\nsec-websocket-protocol: http2-duplex.1\r\n\
         http2-duplex-id: {ID}\r\n\r\n"
    );
    tls.write_all(answer.as_bytes()).await.unwrap();
    websocket(mode, tls, buffer.freeze(), seen).await
}

async fn websocket(
    mode: Mode,
    tls: Tls,
    first: Bytes,
    seen: &Seen,
) -> (Option<u16>, Option<String>) {
    if mode == Mode::ResetAfterClose {
        tls.get_ref().0.set_zero_linger().unwrap();
    }
    let (mut rd, mut wr) = tokio::io::split(tls);
    let mut endpoint = Endpoint::new(16 << 20, INITIAL_CREDIT);
    let mut out = Vec::new();
    endpoint.open_with_id(ID, &mut out);
    if !first.is_empty() {
        endpoint.receive(first, &mut out);
    }
    let mut to_echo: Vec<Bytes> = Vec::new();
    let mut buffer = BytesMut::new();
    loop {
        for action in out.drain(..) {
            match action {
                Action::Deliver(data) => {
                    let received = seen.received.fetch_add(data.len() as u64, Ordering::SeqCst)
                        + data.len() as u64;
                    if mode == Mode::Cut && received >= CUT {
                        // Dropped without a Close.
                        return (None, Some("cut".to_string()));
                    }
                    if mode != Mode::Stall {
                        to_echo.push(data);
                    }
                }
                Action::Send(frame) => wr.write_all(&frame).await.unwrap(),
                // The rest is http2-duplex.2's, which this server does not speak.
                Action::End
                | Action::Credit
                | Action::Ack { .. }
                | Action::Open
                | Action::Resume(_)
                | Action::Resumable(_)
                | Action::Resumed { .. }
                | Action::ResumeRefused { .. } => {}
                Action::Finished {
                    code, violation, ..
                } => {
                    if mode != Mode::ResetAfterClose {
                        let _ = wr.shutdown().await;
                    }
                    return (code, violation.map(|v| v.reason().to_string()));
                }
            }
        }
        // Echo what the client's credit allows.
        for mut payload in std::mem::take(&mut to_echo) {
            while !payload.is_empty() {
                let n = payload.len().min(endpoint.send_credit() as usize);
                if n == 0 {
                    break;
                }
                let (header, len) = endpoint.data_header(n as u64).unwrap();
                wr.write_all(&header[..len]).await.unwrap();
                wr.write_all(&payload.split_to(n)).await.unwrap();
                endpoint.consumed(n as u64, &mut out);
            }
            if !payload.is_empty() {
                to_echo.push(payload);
            }
        }
        if mode != Mode::Stall && endpoint.received_end() && to_echo.is_empty() {
            endpoint.end(&mut out);
        }
        if out.is_empty() {
            buffer.reserve(64 * 1024);
            match rd.read_buf(&mut buffer).await {
                Ok(n) if n > 0 => endpoint.receive(buffer.split().freeze(), &mut out),
                _ => return (None, Some("connection ended".to_string())),
            }
        }
    }
}

fn options(transport: Transport) -> Options {
    Options {
        transport,
        ca: Some(read("ca.pem")),
        ..Options::default()
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test]
async fn an_http1_only_server_gets_a_websocket_that_echoes_and_closes_cleanly() {
    let mut s = server(Mode::Echo, &[b"http/1.1"]).await;
    let client = Client::new();
    for transport in [Transport::Auto, Transport::WebSocket] {
        let duplex = client.open(&s.url, &options(transport)).await.unwrap();
        assert_eq!(duplex.transport(), Transport::WebSocket);
        assert_eq!(duplex.id(), ID);
        let data = pattern(3 << 20, 7);
        assert!(echo(&duplex, &data).await == data, "echoed bytes differ");
        assert!(duplex.closed().await.is_none());
        // The server saw the client's Close 1000, no violation.
        assert_eq!(s.finished.recv().await.unwrap(), (Some(1000), None));
    }
    assert_eq!(s.seen.upgrades.load(Ordering::SeqCst), 2);
    assert_eq!(s.seen.received.load(Ordering::SeqCst), 2 * (3 << 20));
    // The streaming transport needs HTTP/2.
    let err = client
        .open(&s.url, &options(Transport::Streaming))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, Error::NoHttp2 { .. }), "{err}");
}

#[tokio::test]
async fn an_origin_without_http2_is_asked_for_it_once_until_the_verdict_expires() {
    let s = server(Mode::Echo, &[b"http/1.1"]).await;
    let connections = || s.seen.connections.load(Ordering::SeqCst);
    let open_and_echo = |client: Client, transport| {
        let url = s.url.clone();
        async move {
            let duplex = client.open(&url, &options(transport)).await.unwrap();
            assert_eq!(duplex.transport(), Transport::WebSocket);
            let data = pattern(10_000, 5);
            assert!(echo(&duplex, &data).await == data, "echoed bytes differ");
        }
    };
    let client = Client::new();
    // Opens at once wait for the first one's HTTP/2 probe and take its answer.
    futures_join((0..5).map(|_| open_and_echo(client.clone(), Transport::Auto))).await;
    assert_eq!(connections(), 1 + 5);
    for transport in [Transport::Auto, Transport::WebSocket] {
        open_and_echo(client.clone(), transport).await;
    }
    assert_eq!(
        connections(),
        1 + 7,
        "one HTTP/2 probe, then one upgrade per duplex"
    );
    let err = client
        .open(&s.url, &options(Transport::Streaming))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, Error::NoHttp2 { .. }), "{err}");
    assert_eq!(connections(), 1 + 7);
    // A verdict that has expired makes each open probe again.
    let client = Client::new().with_http2_retry_after(Duration::ZERO);
    for _ in 0..2 {
        open_and_echo(client.clone(), Transport::Auto).await;
    }
    assert_eq!(connections(), 1 + 7 + 2 * 2);
    assert_eq!(s.seen.upgrades.load(Ordering::SeqCst), 7 + 2);
}

#[tokio::test]
async fn without_rfc_8441_auto_upgrades_one_connection_per_duplex_and_keeps_the_http2_one() {
    let mut s = server(Mode::Echo, &[b"h2", b"http/1.1"]).await;
    let client = Client::new();
    let mut duplexes = Vec::new();
    for _ in 0..10 {
        let duplex = client
            .open(&s.url, &options(Transport::Auto))
            .await
            .unwrap();
        assert_eq!(duplex.transport(), Transport::WebSocket);
        duplexes.push(duplex);
    }
    assert_eq!(s.seen.upgrades.load(Ordering::SeqCst), 10);
    // One HTTP/2 connection told that RFC 8441 is not offered; the duplexes
    // hold it, as a page holds its own.
    assert_eq!(s.seen.h2_connections.load(Ordering::SeqCst), 1);
    assert_eq!(client.connections(), 1);
    let echoes = duplexes
        .into_iter()
        .enumerate()
        .map(|(i, duplex)| async move {
            let data = pattern(200_000 + i * 1000, i as u8);
            assert!(
                echo(&duplex, &data).await == data,
                "duplex {i}: echoed bytes differ"
            );
            assert!(duplex.closed().await.is_none());
        });
    futures_join(echoes).await;
    for _ in 0..10 {
        assert_eq!(s.finished.recv().await.unwrap(), (Some(1000), None));
    }
}

/// Runs the futures at once.
async fn futures_join<F: std::future::Future<Output = ()> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) {
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test]
async fn a_refused_upgrade_makes_auto_fetch_after_one_attempt_and_websocket_fail_with_the_code() {
    let s = server(Mode::Refuse, &[b"h2", b"http/1.1"]).await;
    let client = Client::new();
    // The fetch transport's GET is what the HTTP/2 side answers 404: five
    // opens at once, one upgrade attempt.
    let opens = (0..5).map(|_| {
        let client = client.clone();
        let url = s.url.clone();
        async move {
            let err = client
                .open(&url, &options(Transport::Auto))
                .await
                .err()
                .unwrap();
            assert_eq!(err.status(), Some(404), "{err}");
        }
    });
    futures_join(opens).await;
    assert_eq!(s.seen.upgrades.load(Ordering::SeqCst), 1);
    let err = client
        .open(&s.url, &options(Transport::WebSocket))
        .await
        .err()
        .unwrap();
    assert_eq!(err.status(), Some(501));
    assert_eq!(err.code(), Code::WsNeedsHttp2);
    assert_eq!(err.to_string(), "Not Implemented");
}

#[tokio::test]
async fn a_101_that_does_not_answer_the_key_is_no_websocket() {
    let s = server(Mode::BadAccept, &[b"http/1.1"]).await;
    let err = Client::new()
        .open(&s.url, &options(Transport::WebSocket))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, Error::NoWebSocket(_)), "{err}");
    assert!(err.to_string().contains("sec-websocket-accept"), "{err}");
    assert_eq!(err.code(), Code::Connection);
}

#[tokio::test]
async fn writes_stop_at_the_servers_credit() {
    let s = server(Mode::Stall, &[b"http/1.1"]).await;
    let duplex = Client::new()
        .open(&s.url, &options(Transport::WebSocket))
        .await
        .unwrap();
    let writer = duplex.clone();
    let write = tokio::spawn(async move { writer.write(Bytes::from(vec![1u8; 3 << 20])).await });
    // The server's credit (1 MiB) is all that may arrive.
    while s.seen.received.load(Ordering::SeqCst) < INITIAL_CREDIT {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!write.is_finished(), "the write went beyond the credit");
    assert_eq!(s.seen.received.load(Ordering::SeqCst), INITIAL_CREDIT);
    duplex.destroy();
    assert!(write.await.unwrap().is_err(), "the waiting write fails");
}

#[tokio::test]
async fn a_connection_dropped_without_a_close_fails_the_duplex_at_once() {
    let mut s = server(Mode::Cut, &[b"http/1.1"]).await;
    let duplex = Client::new()
        .open(&s.url, &options(Transport::WebSocket))
        .await
        .unwrap();
    let writer = duplex.clone();
    tokio::spawn(async move {
        while writer
            .write(Bytes::from(vec![2u8; 64 * 1024]))
            .await
            .is_ok()
        {}
    });
    assert_eq!(
        s.finished.recv().await.unwrap(),
        (None, Some("cut".to_string()))
    );
    let cut_at = tokio::time::Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(2), duplex.closed())
        .await
        .expect("the duplex fails within 2 s")
        .expect("an error, not a clean end");
    assert!(
        cut_at.elapsed() < Duration::from_millis(500),
        "{:?}",
        cut_at.elapsed()
    );
    assert_eq!(err.code(), Code::WsClosed, "{err}");
}

#[tokio::test]
async fn data_read_after_the_close_handshake_survives_a_reset_connection() {
    let mut s = server(Mode::ResetAfterClose, &[b"http/1.1"]).await;
    let duplex = Client::new()
        .open(&s.url, &options(Transport::WebSocket))
        .await
        .unwrap();
    let data = pattern(512 * 1024, 3);
    duplex.write(Bytes::from(data.clone())).await.unwrap();
    duplex.end().await.unwrap();
    // Nothing read yet: the echo waits in the client when the server, its
    // Close sent and answered, resets the connection.
    assert_eq!(s.finished.recv().await.unwrap(), (Some(1000), None));
    assert!(duplex.closed().await.is_none());
    // The reset has no event of its own to wait for.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut got = Vec::new();
    while let Some(chunk) = duplex.read().await.unwrap() {
        got.extend_from_slice(&chunk);
    }
    assert!(got == data, "{} of {} bytes read", got.len(), data.len());
}
