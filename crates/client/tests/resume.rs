//! The client's resume (WebSocket subprotocol http2-duplex.2) against a
//! scripted h2c server that speaks the server's end with the core's
//! `Endpoint`: the offer, `open` and its `resumable` answer, a resume after
//! the connection was dropped (the client's count, and its bytes the server
//! did not count sent again), and a refused resume; the same through a
//! tunnel (a GET asking for one and a streaming POST carrying the
//! WebSocket's bytes, docs/protocol.md "Resume on the fetch paths").

use std::time::Duration;

use bytes::Bytes;
use http2_duplex_client::{Client, Code, Duplex, Options, Transport};
use http2_duplex_core::framing::{data_header, PREAMBLE};
use http2_duplex_core::resume::Config;
use http2_duplex_core::websocket::{Action, Endpoint, ResumeRequest, INITIAL_CREDIT};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const ID: &str = "n1.d1";
const SECRET: &str = "abcdefghijklmnopqrstuv";
const WAIT: Duration = Duration::from_secs(10);

/// One WebSocket at the server: its endpoint, its stream, and the task
/// driving its connection (aborted: the connection is dropped).
struct Ws {
    endpoint: Endpoint,
    recv: h2::RecvStream,
    send: h2::SendStream<Bytes>,
    connection: JoinHandle<()>,
    /// The request's path and query.
    path: String,
    /// Data received and not yet taken.
    data: Vec<u8>,
    /// A tunnel: `send` is the GET's framed body, `recv` the POST's.
    tunnel: bool,
}

/// Accepts the next connection and its extended CONNECT, selecting
/// http2-duplex.2: the client must have offered it first.
async fn accept(listener: &TcpListener) -> Ws {
    let (tcp, _) = listener.accept().await.unwrap();
    let mut builder = h2::server::Builder::new();
    builder.enable_connect_protocol();
    let mut conn = builder.handshake::<_, Bytes>(tcp).await.unwrap();
    let (req, mut respond) = conn.accept().await.unwrap().unwrap();
    let connection = tokio::spawn(async move { while conn.accept().await.is_some() {} });
    let path = req.uri().path_and_query().unwrap().to_string();
    assert_eq!(req.method(), http::Method::CONNECT);
    assert_eq!(
        req.headers()["sec-websocket-protocol"],
        "http2-duplex.2, http2-duplex.1"
    );
    let answer = http::Response::builder()
        .status(200)
        .header("sec-websocket-protocol", "http2-duplex.2")
        .body(())
        .unwrap();
    let send = respond.send_response(answer, false).unwrap();
    let mut endpoint = Endpoint::new(16 << 20, INITIAL_CREDIT);
    endpoint.set_resumable();
    Ws {
        endpoint,
        recv: req.into_body(),
        send,
        connection,
        path,
        data: Vec::new(),
        tunnel: false,
    }
}

/// Accepts the next connection and its tunnel: a GET asking for one,
/// answered with it, then the duplex's streaming POST.
async fn accept_tunnel(listener: &TcpListener) -> Ws {
    let (tcp, _) = listener.accept().await.unwrap();
    let mut conn = h2::server::Builder::new()
        .handshake::<_, Bytes>(tcp)
        .await
        .unwrap();
    let (get, mut respond) = conn.accept().await.unwrap().unwrap();
    let path = get.uri().path_and_query().unwrap().to_string();
    assert_eq!(get.method(), http::Method::GET);
    assert_eq!(get.headers()["http2-duplex-tunnel"], "http2-duplex.2");
    assert_eq!(get.headers()["http2-duplex-framing"], "1");
    let answer = http::Response::builder()
        .status(200)
        .header("http2-duplex-id", "carrier-1")
        .header("http2-duplex-framing", "1")
        .header("http2-duplex-tunnel", "http2-duplex.2")
        .body(())
        .unwrap();
    let mut send = respond.send_response(answer, false).unwrap();
    send.send_data(Bytes::from_static(PREAMBLE), false).unwrap();
    let (post, _answer) = conn.accept().await.unwrap().unwrap();
    assert_eq!(post.method(), http::Method::POST);
    assert_eq!(post.headers()["http2-duplex-id"], "carrier-1");
    let connection = tokio::spawn(async move { while conn.accept().await.is_some() {} });
    let mut endpoint = Endpoint::new(16 << 20, INITIAL_CREDIT);
    endpoint.set_resumable();
    Ws {
        endpoint,
        recv: post.into_body(),
        send,
        connection,
        path,
        data: Vec::new(),
        tunnel: true,
    }
}

impl Ws {
    /// Writes the frames among `actions`, returns the others.
    fn carry_out(&mut self, actions: Vec<Action>) -> Vec<Action> {
        let mut rest = Vec::new();
        for action in actions {
            match action {
                Action::Send(frame) => self.put(frame),
                Action::Deliver(data) => self.data.extend_from_slice(&data),
                other => rest.push(other),
            }
        }
        rest
    }

    /// Reads one piece of the stream: what the endpoint answered besides
    /// frames and data.
    async fn receive(&mut self) -> Vec<Action> {
        let chunk = tokio::time::timeout(WAIT, self.recv.data())
            .await
            .expect("the client went quiet")
            .expect("the stream ended")
            .unwrap();
        let _ = self.recv.flow_control().release_capacity(chunk.len());
        let mut out = Vec::new();
        self.endpoint.receive(chunk, &mut out);
        self.carry_out(out)
    }

    /// Reads until the endpoint answers something else than frames and
    /// data: that.
    async fn next(&mut self) -> Vec<Action> {
        loop {
            let rest = self.receive().await;
            if !rest.is_empty() {
                return rest;
            }
        }
    }

    /// Reads until `n` bytes of data came (acks and credit ignored).
    async fn take(&mut self, n: usize) -> Vec<u8> {
        while self.data.len() < n {
            self.receive().await;
        }
        self.data.drain(..n).collect()
    }

    fn act(&mut self, f: impl FnOnce(&mut Endpoint, &mut Vec<Action>)) {
        let mut out = Vec::new();
        f(&mut self.endpoint, &mut out);
        self.carry_out(out);
    }

    /// Sends WebSocket bytes: in a DATA frame of the GET body through a
    /// tunnel.
    fn put(&mut self, bytes: Bytes) {
        if self.tunnel {
            let header = data_header(bytes.len() as u32);
            self.send
                .send_data(Bytes::copy_from_slice(&header), false)
                .unwrap();
        }
        self.send.send_data(bytes, false).unwrap();
    }

    fn send_bytes(&mut self, data: &[u8]) {
        let (header, len) = self.endpoint.data_header(data.len() as u64).unwrap();
        let mut frame = header[..len].to_vec();
        frame.extend_from_slice(data);
        self.put(Bytes::from(frame));
    }

    /// Drops the connection (no Close, no RST_STREAM, no GOAWAY).
    fn drop_connection(self) {
        self.connection.abort();
    }
}

async fn read_exactly(duplex: &Duplex, n: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < n {
        let chunk = tokio::time::timeout(WAIT, duplex.read())
            .await
            .expect("nothing to read")
            .unwrap()
            .expect("not ended");
        got.extend_from_slice(&chunk);
    }
    got
}

#[tokio::test]
async fn a_dropped_connection_is_resumed_sending_again_what_the_server_did_not_count() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/dx",
        listener.local_addr().unwrap().port()
    );
    let options = Options {
        transport: Transport::WebSocket,
        resume: true,
        ..Options::default()
    };
    let client = Client::new();
    let open = tokio::spawn(async move { client.open(&url, &options).await });

    let mut ws = accept(&listener).await;
    assert_eq!(ws.path, "/dx");
    assert_eq!(ws.next().await, [Action::Open]);
    let config = Config {
        resume_buffer: 1 << 20,
        resume_timeout_ms: 5_000,
    };
    ws.act(|e, out| e.send_resumable(ID, SECRET, config, 0, out));
    let duplex = open.await.unwrap().unwrap();
    assert!(duplex.resumable());
    assert_eq!(duplex.id(), ID);

    duplex
        .write(Bytes::from_static(b"hello world"))
        .await
        .unwrap();
    assert_eq!(ws.take(11).await, b"hello world");
    ws.send_bytes(b"abc");
    assert_eq!(read_exactly(&duplex, 3).await, b"abc");
    // The client acknowledges the 3 bytes within the ack delay.
    assert_eq!(ws.next().await, [Action::Ack { count: 3 }]);
    ws.drop_connection();

    // The resume: the client received 3; the server claims 6 of its 11
    // (within what it sent and had acknowledged: none), so "world" comes
    // again, once. The URL names the id's node prefix, for a proxy.
    let mut ws = accept(&listener).await;
    assert_eq!(ws.path, "/dx?resume=n1");
    let request = ResumeRequest {
        id: ID.to_string(),
        secret: SECRET.to_string(),
        received: 3,
    };
    assert_eq!(ws.next().await, [Action::Resume(request.clone())]);
    ws.act(|e, out| e.send_resumed(6, 0, out));
    assert_eq!(ws.take(5).await, b"world");
    let (attempt, _downtime) = tokio::time::timeout(WAIT, duplex.resumed(0))
        .await
        .unwrap()
        .expect("resumed");
    assert_eq!(attempt, 1);
    ws.send_bytes(b"def");
    assert_eq!(read_exactly(&duplex, 3).await, b"def", "nothing twice");
    ws.drop_connection();

    // A server that does not know the duplex: the client fails with its code.
    let mut ws = accept(&listener).await;
    let request = ResumeRequest {
        received: 6,
        ..request
    };
    assert_eq!(ws.next().await, [Action::Resume(request)]);
    ws.act(|e, out| e.refuse_resume(Code::ResumeUnknown, out));
    let err = tokio::time::timeout(WAIT, duplex.closed())
        .await
        .unwrap()
        .expect("failed");
    assert_eq!(err.code(), Code::ResumeUnknown, "{err}");
}

#[tokio::test]
async fn the_streaming_transport_with_resume_goes_through_a_tunnel_and_resumes_on_one() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/dx",
        listener.local_addr().unwrap().port()
    );
    let options = Options {
        transport: Transport::Streaming,
        resume: true,
        ..Options::default()
    };
    let client = Client::new();
    let open = tokio::spawn(async move { client.open(&url, &options).await });

    let mut ws = accept_tunnel(&listener).await;
    assert_eq!(ws.path, "/dx");
    assert_eq!(ws.next().await, [Action::Open]);
    let config = Config {
        resume_buffer: 1 << 20,
        resume_timeout_ms: 5_000,
    };
    ws.act(|e, out| e.send_resumable(ID, SECRET, config, 0, out));
    let duplex = open.await.unwrap().unwrap();
    assert!(duplex.resumable());
    assert!(duplex.tunnel());
    assert_eq!(duplex.transport(), Transport::Streaming);
    assert_eq!(duplex.id(), ID);

    duplex.write(Bytes::from_static(b"hello")).await.unwrap();
    assert_eq!(ws.take(5).await, b"hello");
    ws.send_bytes(b"abc");
    assert_eq!(read_exactly(&duplex, 3).await, b"abc");
    assert_eq!(ws.next().await, [Action::Ack { count: 3 }]);
    ws.drop_connection();

    // The resume is a new tunnel, to the URL naming the node.
    let mut ws = accept_tunnel(&listener).await;
    assert_eq!(ws.path, "/dx?resume=n1");
    let request = ResumeRequest {
        id: ID.to_string(),
        secret: SECRET.to_string(),
        received: 3,
    };
    assert_eq!(ws.next().await, [Action::Resume(request)]);
    ws.act(|e, out| e.send_resumed(0, 0, out));
    assert_eq!(ws.take(5).await, b"hello", "sent again: not counted");
    tokio::time::timeout(WAIT, duplex.resumed(0))
        .await
        .unwrap()
        .expect("resumed");
    assert!(duplex.tunnel());
    ws.send_bytes(b"def");
    assert_eq!(read_exactly(&duplex, 3).await, b"def");
}
