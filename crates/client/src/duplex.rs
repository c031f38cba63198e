//! One duplex: a GET whose response body is the readable side, one streaming
//! POST (`http2-duplex-single: true`) whose body is the writable side.
//!
//! The GET asks for a framed body (`http2-duplex-framing: 1`, docs/protocol.md
//! "Framed GET body"); a server that answers the same header sends frames
//! after the preamble byte (decoded by `http2_duplex_core::framing`), one
//! that does not (6.x) sends the raw bytes.

use std::future::poll_fn;
use std::sync::{Arc, Mutex, Weak};
use std::task::Poll;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use h2::client::ResponseFuture;
use h2::{Reason, RecvStream, SendStream};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request};
use http2_duplex_core::framing::{wants_framing, Frame, FrameDecoder, FRAMING_VERSION};
use http2_duplex_core::protocol::{defaults, value};
use tokio::sync::watch;

use crate::end::End;
use crate::pool::{Conn, Target};
use crate::{Error, Options};

pub use http2_duplex_core::protocol::header::{
    DESTROYED as HEADER_DESTROYED, END as HEADER_END, FRAMING as HEADER_FRAMING, ID as HEADER_ID,
    SINGLE as HEADER_SINGLE,
};

const READ_STREAM: &str = "GET (read) stream";
const WRITE_STREAM: &str = "POST (write) stream";

/// How long a destroyed duplex keeps its connection open for the server's
/// answer to the end POST (the server's `close_timeout` default).
pub(crate) const END_ANSWER_TIMEOUT: Duration =
    Duration::from_millis(defaults::CLOSE_TIMEOUT_MS as u64);

#[derive(Clone, Debug, Default)]
struct Status {
    read_done: bool,
    write_answered: bool,
    end: Option<End>,
}

struct ReadSide {
    body: Option<RecvStream>,
    decode: BodyDecoder,
    /// Bytes handed out whose flow-control capacity is not yet released:
    /// released on the next `read`, i.e. once the application wants more.
    unreleased: usize,
    /// End of the GET body seen while gathering; reported on the next read.
    eof_pending: bool,
    /// An error seen while gathering; reported on the next read.
    error_pending: Option<Error>,
}

impl ReadSide {
    /// The server's side is over: the read side is done. After an END frame
    /// the stream itself may not have ended yet: it is drained (for a while)
    /// rather than reset under a server that is finishing cleanly.
    fn ended(&mut self, inner: &Arc<Inner>) -> Result<Option<Bytes>, Error> {
        if let Some(mut body) = self.body.take() {
            if !body.is_end_stream() {
                inner.runtime.spawn(async move {
                    let drain = async {
                        while let Some(Ok(chunk)) = body.data().await {
                            let _ = body.flow_control().release_capacity(chunk.len());
                        }
                    };
                    let _ = tokio::time::timeout(END_ANSWER_TIMEOUT, drain).await;
                });
            }
        }
        inner.update(|s| s.read_done = true);
        Ok(None)
    }

    /// The GET body ended (END_STREAM, or a reset with NO_ERROR): the end of
    /// the read side, unless it is framed and the END frame never came.
    fn body_ended(&mut self, inner: &Arc<Inner>) -> Result<Option<Bytes>, Error> {
        if self.decode.truncated() {
            return Err(inner.fail(Error::TruncatedResponse));
        }
        self.ended(inner)
    }

    /// An error or end seen while gathering, now due.
    fn take_pending(&mut self, inner: &Arc<Inner>) -> Option<Result<Option<Bytes>, Error>> {
        if let Some(err) = self.error_pending.take() {
            return Some(Err(inner.fail(err)));
        }
        if std::mem::take(&mut self.eof_pending) {
            return Some(self.body_ended(inner));
        }
        None
    }
}

/// What the GET body carries: the preamble, then the raw data or frames.
pub(crate) struct BodyDecoder {
    /// The one-byte preamble `a` is still to be stripped.
    preamble: bool,
    /// Decodes the body after the preamble when the server answered
    /// `http2-duplex-framing: 1`; `None`: the body is the raw data.
    frames: Option<FrameDecoder>,
    /// Scratch space of the decoder's output.
    out: Vec<Frame>,
}

impl BodyDecoder {
    pub(crate) fn new(framed: bool) -> Self {
        BodyDecoder {
            preamble: true,
            frames: framed.then(FrameDecoder::new),
            out: Vec::new(),
        }
    }

    /// Whether a body that ends now ends without its END frame.
    pub(crate) fn truncated(&self) -> bool {
        self.frames
            .as_ref()
            .is_some_and(|frames| frames.finish().is_err())
    }

    /// Takes one piece of the GET body: appends the duplex data it carries
    /// to `out` (slices of `chunk`, not copies). True once the server's END
    /// frame came.
    pub(crate) fn take_chunk(&mut self, mut chunk: Bytes, out: &mut Vec<Bytes>) -> bool {
        if self.preamble && !chunk.is_empty() {
            self.preamble = false;
            chunk.advance(value::PREAMBLE.len());
        }
        let Some(decoder) = self.frames.as_mut() else {
            if !chunk.is_empty() {
                out.push(chunk);
            }
            return false;
        };
        // Bytes after the END frame (`FramingError::AfterEnd`) are ignored:
        // END already said the server ended, and is the last frame.
        let _ = decoder.feed(chunk, &mut self.out);
        let mut end = false;
        for frame in self.out.drain(..) {
            match frame {
                Frame::Data(data) => out.push(data),
                Frame::End => end = true,
            }
        }
        end
    }
}

/// The pieces of one read as one buffer: copied only when there are several.
fn concat(mut pieces: Vec<Bytes>) -> Bytes {
    if pieces.len() == 1 {
        return pieces.pop().expect("one piece");
    }
    let mut buf = BytesMut::with_capacity(pieces.iter().map(Bytes::len).sum());
    for piece in &pieces {
        buf.extend_from_slice(piece);
    }
    buf.freeze()
}

struct WriteSide {
    body: Option<SendStream<Bytes>>,
    ended: bool,
}

struct Inner {
    id: String,
    framed: bool,
    target: Target,
    extra: HeaderMap,
    runtime: tokio::runtime::Handle,
    reader: tokio::sync::Mutex<ReadSide>,
    writer: tokio::sync::Mutex<WriteSide>,
    status: watch::Sender<Status>,
    conn: Mutex<Option<Arc<Conn>>>,
}

/// A client duplex over the streaming transport (a GET and a streaming
/// POST). Cheap to clone; clones are the same duplex.
#[derive(Clone)]
pub(crate) struct StreamingDuplex {
    inner: Arc<Inner>,
}

pub(crate) fn extra_headers(options: &Options) -> Result<HeaderMap, Error> {
    let mut map = HeaderMap::new();
    for (name, value) in &options.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| Error::InvalidHeader(format!("{name}: {e}")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|e| Error::InvalidHeader(format!("{name}: {e}")))?;
        map.append(name, value);
    }
    Ok(map)
}

pub(crate) fn request(
    method: Method,
    target: &Target,
    extra: &HeaderMap,
    more: &[(&'static str, &str)],
) -> Result<Request<()>, Error> {
    let mut req = Request::builder()
        .method(method)
        .uri(target.uri.clone())
        .body(())
        .map_err(|e| Error::InvalidUrl(e.to_string()))?;
    let headers = req.headers_mut();
    for (name, value) in extra {
        headers.append(name.clone(), value.clone());
    }
    for (name, value) in more {
        let value =
            HeaderValue::from_str(value).map_err(|e| Error::InvalidHeader(e.to_string()))?;
        headers.insert(*name, value);
    }
    Ok(req)
}

pub(crate) async fn send(
    conn: &Conn,
    req: Request<()>,
    end_of_stream: bool,
) -> Result<(ResponseFuture, SendStream<Bytes>), Error> {
    let ready = conn.send.clone().ready().await.map_err(Error::from_h2)?;
    let mut ready = ready;
    ready
        .send_request(req, end_of_stream)
        .map_err(Error::from_h2)
}

pub(crate) fn status_error<T>(response: &http::Response<T>) -> Error {
    let status = response.status();
    Error::Status {
        status: status.as_u16(),
        status_text: status.canonical_reason().unwrap_or("").to_string(),
        headers: response.headers().clone(),
    }
}

/// Sends the duplex's GET (framed, `more` headers besides) and waits for
/// its answer, which must be a success.
pub(crate) async fn get(
    conn: &Conn,
    target: &Target,
    extra: &HeaderMap,
    more: &[(&'static str, &str)],
) -> Result<http::Response<RecvStream>, Error> {
    let mut headers = vec![(HEADER_FRAMING, FRAMING_VERSION)];
    headers.extend_from_slice(more);
    // A GET refused unprocessed (REFUSED_STREAM) may be sent again (RFC
    // 9113 section 8.7): HAProxy refuses some in a burst of 100 opens.
    let mut refused = 0;
    let response = loop {
        let (response, _) =
            send(conn, request(Method::GET, target, extra, &headers)?, true).await?;
        match response.await {
            Err(e) if e.reason() == Some(h2::Reason::REFUSED_STREAM) && refused < 3 => {
                refused += 1;
            }
            answered => break answered.map_err(Error::from_h2)?,
        }
    };
    if !response.status().is_success() {
        return Err(status_error(&response));
    }
    Ok(response)
}

/// The duplex id a GET's answer names.
pub(crate) fn answer_id<T>(response: &http::Response<T>) -> Result<String, Error> {
    response
        .headers()
        .get(HEADER_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or(Error::MissingId)
}

/// Whether a GET's answer says its body is framed.
pub(crate) fn answer_framed<T>(response: &http::Response<T>) -> bool {
    wants_framing(
        response
            .headers()
            .get(HEADER_FRAMING)
            .and_then(|v| v.to_str().ok()),
    )
}

/// Starts the duplex `id`'s one streaming POST: its answer and its body.
pub(crate) async fn post(
    conn: &Conn,
    target: &Target,
    extra: &HeaderMap,
    id: &str,
) -> Result<(ResponseFuture, SendStream<Bytes>), Error> {
    let post = request(
        Method::POST,
        target,
        extra,
        &[
            (HEADER_ID, id),
            (HEADER_SINGLE, value::TRUE),
            ("content-type", value::CONTENT_TYPE),
        ],
    )?;
    send(conn, post, false).await
}

impl StreamingDuplex {
    pub(crate) async fn open(
        target: Target,
        extra: HeaderMap,
        conn: Arc<Conn>,
    ) -> Result<Self, Error> {
        let response = get(&conn, &target, &extra, &[]).await?;
        StreamingDuplex::answered(target, extra, conn, response).await
    }

    /// The duplex whose GET `response` answered: starts its POST.
    pub(crate) async fn answered(
        target: Target,
        extra: HeaderMap,
        conn: Arc<Conn>,
        response: http::Response<RecvStream>,
    ) -> Result<Self, Error> {
        let id = answer_id(&response)?;
        let framed = answer_framed(&response);
        let body = response.into_body();

        let (post_response, post_body) = post(&conn, &target, &extra, &id).await?;
        let lost = conn.lost.clone();

        let inner = Arc::new(Inner {
            id,
            framed,
            target,
            extra,
            runtime: tokio::runtime::Handle::current(),
            reader: tokio::sync::Mutex::new(ReadSide {
                body: Some(body),
                decode: BodyDecoder::new(framed),
                unreleased: 0,
                eof_pending: false,
                error_pending: None,
            }),
            writer: tokio::sync::Mutex::new(WriteSide {
                body: Some(post_body),
                ended: false,
            }),
            status: watch::channel(Status::default()).0,
            conn: Mutex::new(Some(conn)),
        });
        tokio::spawn(watch_post(
            Arc::downgrade(&inner),
            inner.status.subscribe(),
            post_response,
            lost,
        ));
        Ok(StreamingDuplex { inner })
    }

    /// The duplex id the server gave.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Whether the server answered with a framed GET body (a 7.x server);
    /// false for a raw body (a 6.x server).
    pub fn framed(&self) -> bool {
        self.inner.framed
    }

    /// Everything the server sent that is available now (waiting for at
    /// least one byte), or `None` once the server ended. Each call first
    /// releases the HTTP/2 flow-control capacity of what the previous call
    /// returned, so a caller that stops calling `read` stops the server.
    pub async fn read(&self) -> Result<Option<Bytes>, Error> {
        let inner = &self.inner;
        let mut ended = inner.status.subscribe();
        let mut side = inner.reader.lock().await;
        let side = &mut *side;
        if let Some(outcome) = side.take_pending(inner) {
            return outcome;
        }
        let Some(body) = side.body.as_mut() else {
            return inner
                .end()
                .and_then(|end| end.error())
                .map_or(Ok(None), Err);
        };
        if side.unreleased > 0 {
            let n = std::mem::take(&mut side.unreleased);
            if let Err(e) = body.flow_control().release_capacity(n) {
                return Err(inner.fail(Error::from_h2_on(e, READ_STREAM)));
            }
        }
        loop {
            let first = tokio::select! {
                data = body.data() => data,
                _ = ended.wait_for(|s| s.end.is_some()) => return Err(inner.end_error()),
            };
            let first = match first {
                // A server that ended its answer may close the stream with
                // RST_STREAM(NO_ERROR) rather than END_STREAM: an end.
                None => return side.body_ended(inner),
                Some(Err(e)) if Error::is_no_error_reset(&e) => return side.body_ended(inner),
                Some(Err(e)) => return Err(inner.fail(Error::from_h2_on(e, READ_STREAM))),
                Some(Ok(chunk)) => chunk,
            };
            side.unreleased += first.len();
            let mut pieces = Vec::new();
            let mut end = side.decode.take_chunk(first, &mut pieces);
            // Gather what else arrived already, up to the END frame.
            while !end {
                match poll_fn(|cx| Poll::Ready(body.poll_data(cx))).await {
                    Poll::Ready(Some(Ok(chunk))) => {
                        side.unreleased += chunk.len();
                        end = side.decode.take_chunk(chunk, &mut pieces);
                    }
                    Poll::Ready(Some(Err(e))) if Error::is_no_error_reset(&e) => {
                        side.eof_pending = true;
                        break;
                    }
                    Poll::Ready(Some(Err(e))) => {
                        side.error_pending = Some(Error::from_h2_on(e, READ_STREAM));
                        break;
                    }
                    Poll::Ready(None) => {
                        side.eof_pending = true;
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            if end {
                side.eof_pending = true;
            }
            if !pieces.is_empty() {
                return Ok(Some(concat(pieces)));
            }
            if side.error_pending.is_some() || side.eof_pending {
                break;
            }
            // Nothing for the application (the preamble, a PING, part of a
            // frame header): its flow-control capacity goes back now.
            let n = std::mem::take(&mut side.unreleased);
            if let Err(e) = body.flow_control().release_capacity(n) {
                return Err(inner.fail(Error::from_h2_on(e, READ_STREAM)));
            }
        }
        // Nothing gathered but an error or end: report it now.
        side.take_pending(inner)
            .expect("the loop ends only with an error or end pending")
    }

    /// Send `data` on the writable side. Resolves once HTTP/2 flow control
    /// let all of it go, so a server that stops reading makes this wait.
    pub async fn write(&self, mut data: Bytes) -> Result<(), Error> {
        let inner = &self.inner;
        let mut ended = inner.status.subscribe();
        let mut side = inner.writer.lock().await;
        if side.ended {
            return Err(Error::WriteAfterEnd);
        }
        // Over (failed or destroyed), even if the streams are not released
        // yet.
        if inner.end().is_some() {
            return Err(inner.end_error());
        }
        let Some(body) = side.body.as_mut() else {
            return Err(inner.end_error());
        };
        while !data.is_empty() {
            body.reserve_capacity(data.len());
            let capacity = loop {
                let capacity = body.capacity();
                if capacity > 0 {
                    break capacity;
                }
                let polled = tokio::select! {
                    polled = poll_fn(|cx| body.poll_capacity(cx)) => polled,
                    _ = ended.wait_for(|s| s.end.is_some()) => return Err(inner.end_error()),
                };
                match polled {
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(inner.fail(Error::from_h2_on(e, WRITE_STREAM))),
                    None => {
                        return Err(
                            inner.fail(Error::StreamReset("the write stream closed".to_string()))
                        )
                    }
                }
            };
            let chunk = data.split_to(capacity.min(data.len()));
            if let Err(e) = body.send_data(chunk, false) {
                return Err(inner.fail(Error::from_h2_on(e, WRITE_STREAM)));
            }
        }
        Ok(())
    }

    /// Sends all of `data` now if HTTP/2 flow control lets it go without
    /// waiting; false (nothing sent) when it would wait, or when the duplex
    /// cannot take writes, so that [`StreamingDuplex::write`] does it or reports
    /// why. Needs no async context.
    pub fn try_write(&self, data: &[u8]) -> bool {
        let inner = &self.inner;
        if data.is_empty() || inner.end().is_some() {
            return false;
        }
        // A write in progress goes first.
        let Ok(mut side) = inner.writer.try_lock() else {
            return false;
        };
        if side.ended {
            return false;
        }
        let Some(body) = side.body.as_mut() else {
            return false;
        };
        body.reserve_capacity(data.len());
        if body.capacity() < data.len() {
            return false;
        }
        if let Err(e) = body.send_data(Bytes::copy_from_slice(data), false) {
            // `write` reports it.
            inner.fail(Error::from_h2_on(e, WRITE_STREAM));
            return false;
        }
        true
    }

    /// End the writable side (end of the POST body) and wait for the
    /// server's answer to the POST, i.e. until it has taken every byte.
    pub async fn end(&self) -> Result<(), Error> {
        let inner = &self.inner;
        {
            let mut side = inner.writer.lock().await;
            if !side.ended {
                let Some(body) = side.body.as_mut() else {
                    return Err(inner.end_error());
                };
                if let Err(e) = body.send_data(Bytes::new(), true) {
                    return Err(inner.fail(Error::from_h2_on(e, WRITE_STREAM)));
                }
                side.ended = true;
            }
        }
        let mut status = inner.status.subscribe();
        let status = status
            .wait_for(|s| s.write_answered || s.end.is_some())
            .await
            .map_err(|_| Error::Destroyed)?
            .clone();
        if status.write_answered {
            Ok(())
        } else {
            Err(inner.end_error())
        }
    }

    /// Resolves when the duplex is over: `None` when it finished (both
    /// sides ended) or was destroyed, `Some(error)` when it failed.
    pub async fn closed(&self) -> Option<Error> {
        let mut status = self.inner.status.subscribe();
        status
            .wait_for(|s| s.end.is_some())
            .await
            .ok()
            .and_then(|s| s.end.as_ref().and_then(End::failure))
    }

    /// Destroy the duplex: tell the server (an end POST with
    /// `http2-duplex-destroyed: true`, unless the writable side already
    /// finished), reset both streams, and let go of the connection. Needs no
    /// async context; idempotent.
    pub fn destroy(&self) {
        let inner = self.inner.clone();
        let mut changed = false;
        let mut tell_server = false;
        inner.status.send_if_modified(|s| {
            if s.end.is_none() {
                tell_server = !s.write_answered;
                s.end = Some(End::Destroyed);
                changed = true;
            }
            changed
        });
        if !changed {
            return;
        }
        let runtime = inner.runtime.clone();
        runtime.spawn(async move {
            let conn = inner.conn.lock().unwrap().clone();
            let mut answer = None;
            if let (true, Some(conn)) = (tell_server, conn.as_ref()) {
                if conn.lost.borrow().is_none() {
                    if let Ok(req) = request(
                        Method::POST,
                        &inner.target,
                        &inner.extra,
                        &[
                            (HEADER_ID, &inner.id),
                            (HEADER_END, value::TRUE),
                            (HEADER_DESTROYED, value::TRUE),
                            ("content-type", value::CONTENT_TYPE),
                        ],
                    ) {
                        answer = send(conn, req, true).await.ok().map(|(r, _)| r);
                    }
                }
            }
            inner.release().await;
            if let Some(answer) = answer {
                let _ = tokio::time::timeout(END_ANSWER_TIMEOUT, answer).await;
            }
            drop(conn);
        });
    }
}

impl Inner {
    fn end(&self) -> Option<End> {
        self.status.borrow().end.clone()
    }

    fn end_error(&self) -> Error {
        self.end().map_or(Error::Destroyed, |end| end.write_error())
    }

    /// Apply `change`; when both sides are now done, the duplex is done.
    fn update(self: &Arc<Self>, change: impl FnOnce(&mut Status)) {
        let mut done = false;
        self.status.send_modify(|s| {
            change(s);
            if s.end.is_none() && s.read_done && s.write_answered {
                s.end = Some(End::Done);
                done = true;
            }
        });
        if done {
            let inner = self.clone();
            self.runtime.spawn(async move { inner.release().await });
        }
    }

    /// Record a failure (the first one wins) and release everything.
    fn fail(self: &Arc<Self>, err: Error) -> Error {
        let mut changed = false;
        self.status.send_if_modified(|s| {
            if s.end.is_none() {
                s.end = Some(End::Failed(err.clone()));
                changed = true;
            }
            changed
        });
        if changed {
            let inner = self.clone();
            self.runtime.spawn(async move { inner.release().await });
        }
        err
    }

    /// Reset what is still open and drop the connection handle. Pending
    /// reads and writes give up once `end` is set, freeing the locks.
    async fn release(&self) {
        if let Some(mut body) = self.writer.lock().await.body.take() {
            body.send_reset(Reason::CANCEL);
        }
        self.reader.lock().await.body.take();
        self.conn.lock().unwrap().take();
    }
}

/// Waits for the POST's answer and for the connection to be lost.
async fn watch_post(
    inner: Weak<Inner>,
    mut status: watch::Receiver<Status>,
    answer: ResponseFuture,
    mut lost: watch::Receiver<Option<String>>,
) {
    tokio::select! {
        answer = answer => {
            let Some(inner) = inner.upgrade() else { return };
            match answer {
                Ok(response) if response.status().is_success() => {
                    inner.update(|s| s.write_answered = true)
                }
                Ok(response) => {
                    inner.fail(status_error(&response));
                }
                Err(e) => {
                    if inner.end().is_none() {
                        inner.fail(Error::from_h2_on(e, "POST (write) answer"));
                    }
                }
            }
        }
        _ = status.wait_for(|s| s.end.is_some()) => return,
        reason = lost.wait_for(|l| l.is_some()) => {
            if let (Some(inner), Ok(reason)) = (inner.upgrade(), reason) {
                inner.fail(Error::ConnectionLost(reason.clone().unwrap_or_default()));
            }
            return;
        }
    }
    tokio::select! {
        _ = status.wait_for(|s| s.end.is_some()) => {}
        reason = lost.wait_for(|l| l.is_some()) => {
            if let (Some(inner), Ok(reason)) = (inner.upgrade(), reason) {
                inner.fail(Error::ConnectionLost(reason.clone().unwrap_or_default()));
            }
        }
    }
}
