//! The client against an in-process HTTP/2 server (h2 + tokio-rustls)
//! speaking protocol version 1: GET answers an id and the preamble `a`, then
//! echoes what the streaming POST brings.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use h2::server::SendResponse;
use http2_duplex_client::{Client, Code, Error, Options, Transport};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Mutex};

mod common;
use common::read;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Echo every POST byte back on the GET body.
    Echo,
    /// Never read POST bodies (no flow-control capacity released).
    Stall,
    /// Answer every GET 404.
    NotFound,
    /// Answer every GET 429 naming the cause in `http2-duplex-error`.
    Refuse,
    /// Answer every GET 200 without an id.
    NoId,
    /// Answer the streaming POST 413 naming the cause.
    RefusePost,
    /// Reset the GET stream once the POST arrives.
    ResetGet,
}

#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    closed_connections: AtomicUsize,
    end_posts: Mutex<Vec<(String, String)>>,
}

type Gets = Arc<Mutex<std::collections::HashMap<String, h2::SendStream<Bytes>>>>;

async fn server(mode: Mode) -> (u16, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = common::tls_acceptor(&[b"h2"]);
    let seen = Arc::new(Seen::default());
    let seen2 = seen.clone();
    tokio::spawn(async move {
        let mut next_id = 0u64;
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let seen = seen2.clone();
            seen.connections.fetch_add(1, Ordering::SeqCst);
            next_id += 1_000_000;
            let base = next_id;
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    seen.closed_connections.fetch_add(1, Ordering::SeqCst);
                    return;
                };
                let mut conn = h2::server::handshake(tls).await.unwrap();
                let gets: Gets = Default::default();
                let mut n = base;
                while let Some(Ok((req, respond))) = conn.accept().await {
                    n += 1;
                    tokio::spawn(stream(mode, req, respond, gets.clone(), n, seen.clone()));
                }
                seen.closed_connections.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (port, seen)
}

async fn stream(
    mode: Mode,
    req: http::Request<h2::RecvStream>,
    mut respond: SendResponse<Bytes>,
    gets: Gets,
    n: u64,
    seen: Arc<Seen>,
) {
    let ok = || http::Response::builder().status(200).body(()).unwrap();
    if req.method() == http::Method::GET {
        if mode == Mode::NotFound {
            let res = http::Response::builder().status(404).body(()).unwrap();
            respond.send_response(res, true).unwrap();
            return;
        }
        if mode == Mode::Refuse {
            let res = http::Response::builder()
                .status(429)
                .header("http2-duplex-error", "ERR_HTTP2_DUPLEX_TOO_MANY_DUPLEXES")
                .body(())
                .unwrap();
            respond.send_response(res, true).unwrap();
            return;
        }
        if mode == Mode::NoId {
            let mut body = respond.send_response(ok(), false).unwrap();
            body.send_data(Bytes::from_static(b"a"), true).unwrap();
            return;
        }
        let id = format!("id-{n}");
        let res = http::Response::builder()
            .status(200)
            .header("http2-duplex-id", &id)
            .body(())
            .unwrap();
        let mut body = respond.send_response(res, false).unwrap();
        body.send_data(Bytes::from_static(b"a"), false).unwrap();
        gets.lock().await.insert(id, body);
        return;
    }
    let id = req.headers()["http2-duplex-id"]
        .to_str()
        .unwrap()
        .to_string();
    if req.headers().get("http2-duplex-end").is_some() {
        let destroyed = req
            .headers()
            .get("http2-duplex-destroyed")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        seen.end_posts.lock().await.push((id, destroyed));
        respond.send_response(ok(), true).unwrap();
        return;
    }
    assert_eq!(req.headers()["http2-duplex-single"], "true");
    if mode == Mode::RefusePost {
        let res = http::Response::builder()
            .status(413)
            .header("http2-duplex-error", "ERR_HTTP2_DUPLEX_WRITE_TOO_LARGE")
            .body(())
            .unwrap();
        respond.send_response(res, true).unwrap();
        let _keep = gets.lock().await.remove(&id);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return;
    }
    if mode == Mode::ResetGet {
        if let Some(mut get) = gets.lock().await.remove(&id) {
            get.send_reset(h2::Reason::INTERNAL_ERROR);
        }
        let _keep = (req, respond);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return;
    }
    if mode == Mode::Stall {
        let _keep = req;
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return;
    }
    let Some(mut get) = gets.lock().await.remove(&id) else {
        let res = http::Response::builder().status(404).body(()).unwrap();
        respond.send_response(res, true).unwrap();
        return;
    };
    let mut body = req.into_body();
    while let Some(chunk) = body.data().await {
        let Ok(chunk) = chunk else { return };
        let len = chunk.len();
        let mut rest = chunk;
        while !rest.is_empty() {
            get.reserve_capacity(rest.len());
            let cap = match std::future::poll_fn(|cx| get.poll_capacity(cx)).await {
                Some(Ok(c)) => c,
                _ => return,
            };
            let part = rest.split_to(cap.min(rest.len()));
            get.send_data(part, false).unwrap();
        }
        body.flow_control().release_capacity(len).unwrap();
    }
    get.send_data(Bytes::new(), true).unwrap();
    respond.send_response(ok(), true).unwrap();
}

// The fetch transport, which this server speaks ('auto' would first try an
// HTTP/1.1 WebSocket on a connection of its own: tests/upgrade.rs).
fn options() -> Options {
    Options {
        ca: Some(read("ca.pem")),
        transport: Transport::Streaming,
        ..Options::default()
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn echo(client: &Client, url: &str, len: usize, seed: u8) {
    let duplex = client.open(url, &options()).await.unwrap();
    let data = pattern(len, seed);
    let got = common::echo(&duplex, &data).await;
    assert_eq!(got.len(), data.len());
    assert!(got == data, "echoed bytes differ");
    assert!(duplex.closed().await.is_none());
}

#[tokio::test]
async fn echoes_over_tls() {
    let (port, seen) = server(Mode::Echo).await;
    let client = Client::new();
    echo(&client, &format!("https://localhost:{port}/dx"), 3 << 20, 7).await;
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
    // the last duplex let go: the connection closes
    for _ in 0..100 {
        if seen.closed_connections.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen.closed_connections.load(Ordering::SeqCst), 1);
    assert_eq!(client.connections(), 0);
}

#[tokio::test]
async fn many_duplexes_share_one_connection() {
    let (port, seen) = server(Mode::Echo).await;
    let client = Client::new();
    let url = format!("https://127.0.0.1:{port}/dx");
    let mut tasks = Vec::new();
    for i in 0..100u8 {
        let client = client.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            echo(&client, &url, 20_000 + i as usize, i).await
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
    // a separate pool opens its own connection
    echo(&Client::new(), &url, 10, 1).await;
    assert_eq!(seen.connections.load(Ordering::SeqCst), 2);
}

// What opening `url` fails with, on a pool of its own.
async fn open_error(url: &str, options: &Options) -> Error {
    match Client::new().open(url, options).await {
        Ok(_) => panic!("opening {url} succeeded"),
        Err(err) => err,
    }
}

#[tokio::test]
async fn non_2xx_is_a_status_error() {
    let (port, _) = server(Mode::NotFound).await;
    let err = open_error(&format!("https://localhost:{port}/dx"), &options()).await;
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.to_string(), "Not Found");
    assert_eq!(err.code(), Code::Response);
}

#[tokio::test]
async fn a_refusal_carries_the_servers_code() {
    let (port, _) = server(Mode::Refuse).await;
    let err = open_error(&format!("https://localhost:{port}/dx"), &options()).await;
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.code(), Code::TooManyDuplexes);
}

#[tokio::test]
async fn an_answer_without_id_is_no_id_in_response() {
    let (port, _) = server(Mode::NoId).await;
    let err = open_error(&format!("https://localhost:{port}/dx"), &options()).await;
    assert!(matches!(err, Error::MissingId), "{err}");
    assert_eq!(err.code(), Code::NoIdInResponse);
}

#[tokio::test]
async fn a_refused_post_fails_the_duplex_with_the_servers_code() {
    let (port, _) = server(Mode::RefusePost).await;
    let duplex = Client::new()
        .open(&format!("https://localhost:{port}/dx"), &options())
        .await
        .unwrap();
    let err = duplex.closed().await.expect("the duplex failed");
    assert_eq!(err.status(), Some(413));
    assert_eq!(err.code(), Code::WriteTooLarge);
    let err = duplex.write(Bytes::from_static(b"x")).await.unwrap_err();
    assert_eq!(err.code(), Code::WriteTooLarge);
}

#[tokio::test]
async fn a_reset_get_is_server_reset() {
    let (port, _) = server(Mode::ResetGet).await;
    let duplex = Client::new()
        .open(&format!("https://localhost:{port}/dx"), &options())
        .await
        .unwrap();
    let err = duplex.read().await.unwrap_err();
    assert_eq!(err.code(), Code::ServerReset, "{err}");
    assert_eq!(duplex.closed().await.unwrap().code(), Code::ServerReset);
}

#[tokio::test]
async fn a_bad_url_is_an_invalid_option() {
    let err = open_error("ftp://localhost/dx", &options()).await;
    assert_eq!(err.code(), Code::InvalidOption);
}

#[tokio::test]
async fn unknown_certificate_fails_tls() {
    let (port, _) = server(Mode::Echo).await;
    let url = format!("https://localhost:{port}/dx");
    let err = open_error(&url, &Options::default()).await;
    assert!(matches!(err, Error::Tls { .. }), "{err}");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    assert_eq!(err.code(), Code::Connection);
    // accepted when told not to check
    let insecure = Options {
        reject_unauthorized: false,
        ..Options::default()
    };
    let duplex = Client::new().open(&url, &insecure).await.unwrap();
    duplex.destroy();
}

#[tokio::test]
async fn refused_connection() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = open_error(&format!("https://127.0.0.1:{port}/dx"), &options()).await;
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    assert!(err.to_string().contains("refused"), "{err}");
    assert_eq!(err.code(), Code::Connection);
}

#[tokio::test]
async fn writes_wait_while_the_server_does_not_read() {
    let (port, _) = server(Mode::Stall).await;
    let duplex = Client::new()
        .open(&format!("https://localhost:{port}/dx"), &options())
        .await
        .unwrap();
    // the first window's worth goes through
    tokio::time::timeout(
        Duration::from_secs(5),
        duplex.write(Bytes::from(vec![1; 32 * 1024])),
    )
    .await
    .expect("first write")
    .unwrap();
    let big = duplex.write(Bytes::from(vec![2; 8 << 20]));
    assert!(
        tokio::time::timeout(Duration::from_millis(500), big)
            .await
            .is_err(),
        "an 8 MiB write finished although the server reads nothing"
    );
    duplex.destroy();
    assert!(duplex.closed().await.is_none());
    assert!(matches!(duplex.read().await, Err(Error::Destroyed)));
    assert_eq!(Error::Destroyed.code(), Code::Destroyed);
}

#[tokio::test]
async fn destroy_sends_an_end_post_and_frees_the_connection() {
    let (port, seen) = server(Mode::Echo).await;
    let client = Client::new();
    let duplex = client
        .open(&format!("https://localhost:{port}/dx"), &options())
        .await
        .unwrap();
    let id = duplex.id().to_string();
    let reader = duplex.clone();
    let pending = tokio::spawn(async move { reader.read().await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    duplex.destroy();
    assert!(matches!(pending.await.unwrap(), Err(Error::Destroyed)));
    for _ in 0..100 {
        if seen.closed_connections.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(*seen.end_posts.lock().await, vec![(id, "true".to_string())]);
    assert_eq!(seen.closed_connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn lost_connection_is_reported() {
    // a server that accepts one GET then drops the connection
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, mut rx) = mpsc::channel::<()>(1);
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut conn = h2::server::handshake(tcp).await.unwrap();
        let (_req, mut respond) = conn.accept().await.unwrap().unwrap();
        let res = http::Response::builder()
            .status(200)
            .header("http2-duplex-id", "x")
            .body(())
            .unwrap();
        let mut body = respond.send_response(res, false).unwrap();
        body.send_data(Bytes::from_static(b"ahello"), false)
            .unwrap();
        let _post = conn.accept().await;
        let drive = async { while conn.accept().await.is_some() {} };
        tokio::select! { _ = drive => {}, _ = rx.recv() => {} }
        // dropping everything closes the TCP connection abruptly
    });
    let duplex = Client::new()
        .open(
            &format!("http://127.0.0.1:{port}/dx"),
            &Options {
                transport: Transport::Streaming,
                ..Options::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(&duplex.read().await.unwrap().unwrap()[..], b"hello");
    tx.send(()).await.unwrap();
    let err = duplex.read().await.err().unwrap();
    assert!(err.to_string().contains("connection"), "{err}");
    assert_eq!(err.code(), Code::Connection);
    let err = duplex.closed().await.unwrap();
    assert!(err.to_string().contains("connection"), "{err}");
    assert_eq!(err.code(), Code::Connection);
}
