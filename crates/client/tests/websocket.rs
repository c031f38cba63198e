//! The client's WebSocket transport (RFC 8441 extended CONNECT, subprotocol
//! http2-duplex.1) against an in-process h2c server that offers it and
//! speaks the server's end with the core's `Endpoint`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http2_duplex_client::{Client, Code, Duplex, Error, Options, Transport};
use http2_duplex_core::websocket::{encode_header, Action, Endpoint, Opcode, INITIAL_CREDIT};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

mod common;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Echo every byte, granting credit as the echo goes out; end when the
    /// client ends.
    Echo,
    /// Never consume: no credit goes back to the client.
    Stall,
    /// Send `PUSH` bytes as far as the client's credit allows, then end.
    Push,
    /// Send a masked frame (servers must not mask).
    Masked,
    /// Read until `DROP_AFTER` bytes came, then drop the connection (no
    /// RST_STREAM, no GOAWAY: the TCP connection just closes).
    Drop,
}

const DROP_AFTER: u64 = 256 * 1024;

const PUSH: usize = 3 << 20;

#[derive(Default)]
struct Seen {
    /// Bytes of data the server received.
    received: AtomicU64,
    /// Bytes of data the server sent.
    sent: AtomicU64,
}

struct Server {
    url: String,
    seen: Arc<Seen>,
    /// How the WebSocket finished: (close code, violation).
    finished: Option<oneshot::Receiver<(Option<u16>, Option<String>)>>,
}

/// An h2c server on the path `/dx`: extended CONNECT if `offer`, every other
/// request answered 404.
async fn server(mode: Mode, offer: bool) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Seen::default());
    let (finished_tx, finished) = oneshot::channel();
    let seen2 = seen.clone();
    tokio::spawn(async move {
        let mut finished_tx = Some(finished_tx);
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut builder = h2::server::Builder::new();
            if offer {
                builder.enable_connect_protocol();
            }
            // 'auto' tries an HTTP/1.1 upgrade where RFC 8441 is not offered:
            // not HTTP/2, so no handshake.
            let Ok(mut conn) = builder.handshake::<_, Bytes>(tcp).await else {
                continue;
            };
            let seen = seen2.clone();
            let finished_tx = finished_tx.take();
            let drop_connection = Arc::new(tokio::sync::Notify::new());
            tokio::spawn(async move {
                let mut finished_tx = finished_tx;
                loop {
                    let accepted = tokio::select! {
                        accepted = conn.accept() => accepted,
                        _ = drop_connection.notified() => return,
                    };
                    let Some(Ok((req, mut respond))) = accepted else {
                        return;
                    };
                    let is_ws = req.method() == http::Method::CONNECT
                        && req
                            .extensions()
                            .get::<h2::ext::Protocol>()
                            .is_some_and(|p| p.as_str() == "websocket");
                    if !is_ws {
                        let answer = http::Response::builder().status(404).body(()).unwrap();
                        let _ = respond.send_response(answer, true);
                        continue;
                    }
                    assert_eq!(req.headers()["sec-websocket-protocol"], "http2-duplex.1");
                    assert_eq!(req.headers()["sec-websocket-version"], "13");
                    let answer = http::Response::builder()
                        .status(200)
                        .header("sec-websocket-protocol", "http2-duplex.1")
                        .body(())
                        .unwrap();
                    let send = respond.send_response(answer, false).unwrap();
                    let seen = seen.clone();
                    let tx = finished_tx.take();
                    let drop_connection = drop_connection.clone();
                    tokio::spawn(async move {
                        let mut recv = req.into_body();
                        let mut send = send;
                        let outcome = websocket(mode, &mut recv, &mut send, &seen).await;
                        if mode == Mode::Drop {
                            // The stream stays open (dropped, it would be
                            // reset) until the connection is gone.
                            drop_connection.notify_one();
                            while let Some(Ok(_)) = recv.data().await {}
                        }
                        if let Some(tx) = tx {
                            let _ = tx.send(outcome);
                        }
                    });
                }
            });
        }
    });
    Server {
        url: format!("http://127.0.0.1:{port}/dx"),
        seen,
        finished: Some(finished),
    }
}

/// The server's end of one WebSocket; returns how it finished.
async fn websocket(
    mode: Mode,
    recv: &mut h2::RecvStream,
    send: &mut h2::SendStream<Bytes>,
    seen: &Seen,
) -> (Option<u16>, Option<String>) {
    let mut endpoint = Endpoint::new(16 << 20, INITIAL_CREDIT);
    let mut out = Vec::new();
    endpoint.open(&mut out);
    if mode == Mode::Masked {
        let key = [9, 8, 7, 6];
        let (header, len) = encode_header(Opcode::Binary, true, 1, Some(key));
        let mut frame = header[..len].to_vec();
        frame.push(b'x' ^ key[0]);
        send.send_data(Bytes::from(frame), false).unwrap();
    }
    let mut to_echo: Vec<Bytes> = Vec::new();
    let mut pushed = 0usize;
    loop {
        // Send what the client's credit allows.
        let mut payloads = std::mem::take(&mut to_echo);
        if mode == Mode::Push && pushed < PUSH {
            payloads.push(Bytes::from(vec![b'p'; PUSH - pushed]));
        }
        for mut payload in payloads {
            while !payload.is_empty() {
                let n = payload.len().min(endpoint.send_credit() as usize);
                if n == 0 {
                    break;
                }
                let (header, len) = endpoint.data_header(n as u64).unwrap();
                send.send_data(Bytes::copy_from_slice(&header[..len]), false)
                    .unwrap();
                send.send_data(payload.split_to(n), false).unwrap();
                seen.sent.fetch_add(n as u64, Ordering::SeqCst);
                if mode == Mode::Echo {
                    // Echoed: consumed.
                    endpoint.consumed(n as u64, &mut out);
                } else {
                    pushed += n;
                }
            }
            if !payload.is_empty() && mode == Mode::Echo {
                to_echo.push(payload);
            }
        }
        if mode == Mode::Push && pushed == PUSH {
            pushed += 1;
            endpoint.end(&mut out);
        }
        if mode == Mode::Echo && endpoint.received_end() && to_echo.is_empty() {
            // Everything was echoed: end our side too (once).
            endpoint.end(&mut out);
        }
        if out.is_empty() {
            match recv.data().await {
                Some(Ok(chunk)) => {
                    let _ = recv.flow_control().release_capacity(chunk.len());
                    endpoint.receive(chunk, &mut out);
                }
                _ => return (None, Some("stream ended".to_string())),
            }
        }
        for action in out.drain(..) {
            match action {
                Action::Deliver(data) => {
                    let received = seen.received.fetch_add(data.len() as u64, Ordering::SeqCst);
                    if mode == Mode::Drop && received + data.len() as u64 >= DROP_AFTER {
                        return (None, None);
                    }
                    if mode == Mode::Echo {
                        to_echo.push(data);
                    }
                }
                Action::Send(frame) => {
                    send.send_data(frame, false).unwrap();
                }
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
                    let _ = send.send_data(Bytes::new(), true);
                    return (code, violation.map(|v| v.reason().to_string()));
                }
            }
        }
    }
}

fn options(transport: Transport) -> Options {
    Options {
        transport,
        ..Options::default()
    }
}

/// A WebSocket duplex to a server offering RFC 8441 and behaving as `mode`.
async fn websocket_duplex(mode: Mode) -> (Server, Client, Duplex) {
    let s = server(mode, true).await;
    let client = Client::new();
    let duplex = client
        .open(&s.url, &options(Transport::WebSocket))
        .await
        .unwrap();
    (s, client, duplex)
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test]
async fn auto_opens_a_websocket_and_echoes_then_closes_cleanly() {
    let mut s = server(Mode::Echo, true).await;
    let client = Client::new();
    let duplex = client
        .open(&s.url, &options(Transport::Auto))
        .await
        .unwrap();
    assert_eq!(duplex.transport(), Transport::WebSocket);
    let data = pattern(3 << 20, 5);
    let got = common::echo(&duplex, &data).await;
    assert!(got == data, "echoed bytes differ");
    assert!(duplex.closed().await.is_none());
    // The server saw the client's Close 1000, no violation.
    let finished = s.finished.take().unwrap().await.unwrap();
    assert_eq!(finished, (Some(1000), None));
    assert_eq!(s.seen.received.load(Ordering::SeqCst), data.len() as u64);
}

#[tokio::test]
async fn without_rfc_8441_auto_takes_the_fetch_transport_and_websocket_fails() {
    let s = server(Mode::Echo, false).await;
    let client = Client::new();
    // The fetch transport's GET is what the server answers 404.
    let err = client
        .open(&s.url, &options(Transport::Auto))
        .await
        .err()
        .unwrap();
    assert_eq!(err.status(), Some(404));
    let err = client
        .open(&s.url, &options(Transport::WebSocket))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, Error::NoWebSocket(_)), "{err}");
    assert_eq!(err.code(), Code::Connection);
}

#[tokio::test]
async fn writes_stop_at_the_servers_credit() {
    let (s, _client, duplex) = websocket_duplex(Mode::Stall).await;
    let writer = duplex.clone();
    let write = tokio::spawn(async move {
        writer.write(Bytes::from(vec![1u8; 3 << 20])).await.unwrap();
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!write.is_finished(), "the write went beyond the credit");
    assert_eq!(s.seen.received.load(Ordering::SeqCst), INITIAL_CREDIT);
    duplex.destroy();
    assert!(write.await.is_err(), "the waiting write fails");
}

#[tokio::test]
async fn the_server_sends_only_as_far_as_reads_grant_credit() {
    let (s, _client, duplex) = websocket_duplex(Mode::Push).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Nothing read: the server holds at most the initial credit.
    assert_eq!(s.seen.sent.load(Ordering::SeqCst), INITIAL_CREDIT);
    let mut got = 0;
    while let Some(chunk) = duplex.read().await.unwrap() {
        assert!(chunk.iter().all(|&b| b == b'p'));
        got += chunk.len();
    }
    assert_eq!(got, PUSH);
    duplex.end().await.unwrap();
    assert!(duplex.closed().await.is_none());
}

#[tokio::test]
async fn a_server_breaking_the_protocol_fails_the_duplex_with_its_code() {
    let (mut s, _client, duplex) = websocket_duplex(Mode::Masked).await;
    let err = duplex.read().await.err().unwrap();
    assert_eq!(err.code(), Code::WsProtocol);
    assert_eq!(err.code().as_str(), "ERR_HTTP2_DUPLEX_WS_PROTOCOL");
    // The client closed with 1002.
    let finished = s.finished.take().unwrap().await.unwrap();
    assert_eq!(finished, (Some(1002), None));
}

#[tokio::test]
async fn try_write_takes_only_what_the_credit_lets_go_and_try_read_does_not_wait() {
    let (s, _client, duplex) = websocket_duplex(Mode::Stall).await;
    assert!(
        duplex.try_read().is_none(),
        "nothing came: try_read waits not"
    );
    assert!(!duplex.try_write(&[]), "an empty write goes the long way");
    // Within the server's credit (and HTTP/2 flow control), writes go at
    // once; past it, nothing goes.
    let chunk = vec![3u8; 16 * 1024];
    let mut taken = 0u64;
    while duplex.try_write(&chunk) {
        taken += chunk.len() as u64;
        assert!(taken <= INITIAL_CREDIT, "try_write went beyond the credit");
    }
    assert!(taken > 0, "no write went at once");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(s.seen.received.load(Ordering::SeqCst), taken);
    duplex.destroy();
    assert!(!duplex.try_write(b"x"), "a destroyed duplex takes no write");
    assert!(matches!(duplex.try_read(), Some(Err(_))));
}

// A lost connection is the connection's loss, not a reset by the server:
// neither the write it breaks nor the duplex may say SERVER_RESET (h2 also
// reports the streams it gives up on as resets, made by itself).
#[tokio::test]
async fn a_connection_lost_mid_write_is_a_lost_connection() {
    let (_s, _client, duplex) = websocket_duplex(Mode::Drop).await;
    let writer = duplex.clone();
    let write = tokio::spawn(async move {
        let chunk = Bytes::from(vec![7u8; 64 * 1024]);
        loop {
            if let Err(err) = writer.write(chunk.clone()).await {
                return err;
            }
        }
    });
    let err = write.await.unwrap();
    assert_eq!(err.code(), Code::Connection, "{err}");
    let err = duplex.closed().await.expect("the duplex failed");
    assert_eq!(err.code(), Code::Connection, "{err}");
}
