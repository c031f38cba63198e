//! The framed GET body (docs/protocol.md, "Framed GET body") against raw
//! HTTP/2 servers (prior knowledge) that answer one duplex with exactly the
//! bytes a test gives, split as it says.

use std::time::Duration;

use bytes::Bytes;
use http2_duplex_client::{Client, Code, Error, Options, HEADER_FRAMING};
use http2_duplex_core::framing::{frame_header, DATA, END, PING};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// How the server's GET answer finishes after its pieces.
#[derive(Clone, Copy)]
enum Close {
    /// END_STREAM.
    EndStream,
    /// RST_STREAM(NO_ERROR).
    ResetNoError,
    /// END_STREAM only after this long.
    Later(Duration),
}

struct Answer {
    /// Answer `http2-duplex-framing: 1`.
    framed: bool,
    /// The GET body, one DATA frame (or more, under flow control) per piece,
    /// with a pause between pieces.
    pieces: Vec<Vec<u8>>,
    close: Close,
}

/// Sends `data` as HTTP/2 flow control allows.
async fn send_all(stream: &mut h2::SendStream<Bytes>, data: Vec<u8>) {
    let mut rest = Bytes::from(data);
    while !rest.is_empty() {
        stream.reserve_capacity(rest.len());
        let cap = match std::future::poll_fn(|cx| stream.poll_capacity(cx)).await {
            Some(Ok(cap)) => cap,
            other => panic!("no capacity: {other:?}"),
        };
        stream
            .send_data(rest.split_to(cap.min(rest.len())), false)
            .unwrap();
    }
}

/// Serves one duplex; the receiver gets the GET's `http2-duplex-framing`
/// request header.
async fn serve(answer: Answer) -> (String, oneshot::Receiver<Option<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (asked_tx, asked) = oneshot::channel();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut conn = h2::server::handshake(tcp).await.unwrap();
        let (get, mut respond) = conn.accept().await.unwrap().unwrap();
        assert_eq!(get.method(), http::Method::GET);
        let header = get
            .headers()
            .get(HEADER_FRAMING)
            .map(|v| v.to_str().unwrap().to_string());
        let _ = asked_tx.send(header);
        let mut res = http::Response::builder()
            .status(200)
            .header("http2-duplex-id", "x");
        if answer.framed {
            res = res.header(HEADER_FRAMING, "1");
        }
        let mut body = respond.send_response(res.body(()).unwrap(), false).unwrap();
        tokio::spawn(async move {
            for piece in answer.pieces {
                send_all(&mut body, piece).await;
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            match answer.close {
                Close::EndStream => body.send_data(Bytes::new(), true).unwrap(),
                Close::ResetNoError => body.send_reset(h2::Reason::NO_ERROR),
                Close::Later(after) => {
                    tokio::time::sleep(after).await;
                    body.send_data(Bytes::new(), true).unwrap();
                }
            }
            // keep the stream's handle until the stream is over
            tokio::time::sleep(Duration::from_secs(3600)).await;
        });
        // the streaming POST: answered once its body ended
        while let Some(Ok((post, mut respond))) = conn.accept().await {
            tokio::spawn(async move {
                let mut body = post.into_body();
                while let Some(Ok(chunk)) = body.data().await {
                    let _ = body.flow_control().release_capacity(chunk.len());
                }
                let ok = http::Response::builder().status(200).body(()).unwrap();
                let _ = respond.send_response(ok, true);
            });
        }
    });
    (format!("http://127.0.0.1:{port}/dx"), asked)
}

fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = frame_header(kind, payload.len() as u32).to_vec();
    out.extend_from_slice(payload);
    out
}

/// The preamble and frames of a body, as one byte string.
fn framed_body(frames: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = b"a".to_vec();
    for (kind, payload) in frames {
        out.extend(frame(*kind, payload));
    }
    out
}

/// `bytes` cut into pieces of the given sizes, cycling, to the end.
fn split(bytes: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
    let mut pieces = Vec::new();
    let mut at = 0;
    for size in sizes.iter().cycle() {
        if at >= bytes.len() {
            break;
        }
        let end = (at + size).min(bytes.len());
        pieces.push(bytes[at..end].to_vec());
        at = end;
    }
    pieces
}

/// Everything read until the end or an error.
async fn read_all(duplex: &http2_duplex_client::Duplex) -> (Vec<u8>, Result<(), Error>) {
    let mut got = Vec::new();
    loop {
        match duplex.read().await {
            Ok(Some(chunk)) => got.extend_from_slice(&chunk),
            Ok(None) => return (got, Ok(())),
            Err(err) => return (got, Err(err)),
        }
    }
}

fn the_frames() -> Vec<u8> {
    framed_body(&[
        (DATA, b"hello"),
        (PING, b""),
        (0x7f, b"unknown \x02\x00\x00\x00\x00"),
        (DATA, b""),
        (DATA, b" wor"),
        (PING, b""),
        (DATA, b"ld"),
        (END, b""),
    ])
}

#[tokio::test]
async fn a_framed_answer_is_decoded_however_it_is_split() {
    let body = the_frames();
    for sizes in [
        vec![body.len()],
        vec![1],
        vec![2, 3],
        vec![6, 1, 4],
        vec![1, 5, 9, 2],
    ] {
        let (url, asked) = serve(Answer {
            framed: true,
            pieces: split(&body, &sizes),
            close: Close::EndStream,
        })
        .await;
        let duplex = Client::new().open(&url, &Options::default()).await.unwrap();
        assert_eq!(asked.await.unwrap().as_deref(), Some("1"));
        assert!(duplex.framed());
        let (got, outcome) = read_all(&duplex).await;
        outcome.unwrap_or_else(|err| panic!("split {sizes:?}: {err}"));
        assert_eq!(got, b"hello world", "split {sizes:?}");
        duplex.end().await.unwrap();
        assert!(duplex.closed().await.is_none());
    }
}

#[tokio::test]
async fn the_end_frame_ends_before_the_stream_does() {
    let (url, _) = serve(Answer {
        framed: true,
        pieces: vec![framed_body(&[(DATA, b"bye"), (END, b"")])],
        close: Close::Later(Duration::from_secs(30)),
    })
    .await;
    let duplex = Client::new().open(&url, &Options::default()).await.unwrap();
    let (got, outcome) = tokio::time::timeout(Duration::from_secs(5), read_all(&duplex))
        .await
        .expect("END ends the readable side without END_STREAM");
    outcome.unwrap();
    assert_eq!(got, b"bye");
    duplex.end().await.unwrap();
    assert!(duplex.closed().await.is_none());
}

#[tokio::test]
async fn bytes_after_the_end_frame_are_ignored() {
    let mut body = framed_body(&[(DATA, b"x"), (END, b"")]);
    body.extend(frame(DATA, b"late"));
    let (url, _) = serve(Answer {
        framed: true,
        pieces: vec![body],
        close: Close::EndStream,
    })
    .await;
    let duplex = Client::new().open(&url, &Options::default()).await.unwrap();
    let (got, outcome) = read_all(&duplex).await;
    outcome.unwrap();
    assert_eq!(got, b"x");
}

#[tokio::test]
async fn a_framed_answer_without_end_is_truncated() {
    for close in [Close::EndStream, Close::ResetNoError] {
        // cut in the middle of a DATA frame, after a whole one, in a header
        for body in [
            framed_body(&[(DATA, b"partial")]),
            framed_body(&[(DATA, b"partial"), (PING, b"")])[..12].to_vec(),
            framed_body(&[(DATA, b"partial"), (END, b"")])[..14].to_vec(),
            b"a".to_vec(),
        ] {
            let (url, _) = serve(Answer {
                framed: true,
                pieces: split(&body, &[3]),
                close,
            })
            .await;
            let duplex = Client::new().open(&url, &Options::default()).await.unwrap();
            let (got, outcome) = read_all(&duplex).await;
            let err = outcome.expect_err("a truncated body is no end");
            assert!(matches!(err, Error::TruncatedResponse), "{err}");
            assert_eq!(err.code(), Code::TruncatedResponse);
            assert_eq!(err.code().as_str(), "ERR_HTTP2_DUPLEX_TRUNCATED_RESPONSE");
            assert!(b"partial".starts_with(&got), "{got:?}");
            let failed = duplex.closed().await.expect("the duplex failed");
            assert_eq!(failed.code(), Code::TruncatedResponse);
            // later reads and writes report it too
            assert_eq!(
                duplex.read().await.unwrap_err().code(),
                Code::TruncatedResponse
            );
            assert_eq!(
                duplex
                    .write(Bytes::from_static(b"x"))
                    .await
                    .unwrap_err()
                    .code(),
                Code::TruncatedResponse
            );
        }
    }
}

#[tokio::test]
async fn frames_the_client_ignores_do_not_use_up_the_window() {
    // an unknown frame three times the stream window (1 MiB), then data:
    // the server can only send it all if the client gives the window back
    // without the application reading anything
    let mut body = b"a".to_vec();
    body.extend(frame(0x42, &vec![7; 3 << 20]));
    body.extend(frame(DATA, b"after"));
    body.extend(frame(END, b""));
    let (url, _) = serve(Answer {
        framed: true,
        pieces: vec![body],
        close: Close::EndStream,
    })
    .await;
    let duplex = Client::new().open(&url, &Options::default()).await.unwrap();
    let (got, outcome) = tokio::time::timeout(Duration::from_secs(10), read_all(&duplex))
        .await
        .expect("the ignored frame's window came back");
    outcome.unwrap();
    assert_eq!(got, b"after");
}

#[tokio::test]
async fn large_data_frames_arrive_whole() {
    let data: Vec<u8> = (0..(5 << 20)).map(|i: u32| (i % 251) as u8).collect();
    let mut body = b"a".to_vec();
    for chunk in data.chunks(1 << 20) {
        body.extend(frame(DATA, chunk));
    }
    body.extend(frame(END, b""));
    let (url, _) = serve(Answer {
        framed: true,
        pieces: split(&body, &[100_000, 7]),
        close: Close::EndStream,
    })
    .await;
    let duplex = Client::new().open(&url, &Options::default()).await.unwrap();
    let (got, outcome) = read_all(&duplex).await;
    outcome.unwrap();
    assert!(got == data, "framed data differs");
}

#[tokio::test]
async fn an_answer_without_framing_is_read_raw() {
    // a 6.x server: it ignores the request header and sends the raw bytes,
    // which here look like frames but are the data
    let data = framed_body(&[(DATA, b"raw")])[1..].to_vec();
    let mut body = b"a".to_vec();
    body.extend(&data);
    let (url, asked) = serve(Answer {
        framed: false,
        pieces: split(&body, &[1, 4]),
        close: Close::EndStream,
    })
    .await;
    let duplex = Client::new().open(&url, &Options::default()).await.unwrap();
    assert_eq!(asked.await.unwrap().as_deref(), Some("1"));
    assert!(!duplex.framed());
    let (got, outcome) = read_all(&duplex).await;
    outcome.unwrap();
    assert_eq!(got, data);
    duplex.end().await.unwrap();
    assert!(duplex.closed().await.is_none());
}

#[tokio::test]
async fn an_unframed_answer_ends_with_its_stream() {
    for close in [Close::EndStream, Close::ResetNoError] {
        let (url, _) = serve(Answer {
            framed: false,
            pieces: vec![b"aplain".to_vec()],
            close,
        })
        .await;
        let duplex = Client::new().open(&url, &Options::default()).await.unwrap();
        let (got, outcome) = read_all(&duplex).await;
        outcome.unwrap();
        assert_eq!(got, b"plain");
    }
}
