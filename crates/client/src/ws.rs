//! One duplex over the WebSocket transport: an RFC 8441 extended CONNECT
//! stream (`:protocol websocket`, subprotocol `http2-duplex.1`,
//! docs/websocket.md) or an HTTP/1.1 connection after an RFC 6455 upgrade
//! (crate::upgrade) carries both directions. The core's client
//! [`Endpoint`] decides framing, masking, credit and the close handshake;
//! this module moves buffers between it and the stream ([`Outlet`],
//! [`Inlet`]).
//!
//! - Receive: h2 flow-control capacity is released as soon as data arrives
//!   (the WebSocket credit bounds what the server may have in flight: one
//!   window); credit goes back as [`WsDuplex::read`] is called again, i.e.
//!   as the application consumes.
//! - Send: a write goes out only as far as the server's credit and the
//!   stream's room (h2 flow control, or the upgraded socket's send buffer)
//!   allow, so a server that stops reading stops the writer.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, LazyLock, Mutex};
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use h2::{Reason, RecvStream, SendStream};
use http::{HeaderMap, HeaderValue, Method, Request};
use http2_duplex_core::protocol::websocket::RESUME_SUBPROTOCOL;
use http2_duplex_core::protocol::{close, value, wait};
use http2_duplex_core::websocket::{
    mask_in_place, Action, Endpoint, DESTROYED_REASON, INITIAL_CREDIT, MAX_HEADER_LEN, SUBPROTOCOL,
    VERSION,
};
use http2_duplex_core::Code;
use tokio::io::{AsyncReadExt, ReadHalf};
use tokio::sync::watch;

use crate::duplex::{
    request, status_error, END_ANSWER_TIMEOUT, HEADER_DESTROYED, HEADER_END, HEADER_ID,
};
use crate::end::End;
use crate::pool::{Conn, Target};
use crate::tunnel::TunnelInlet;
use crate::upgrade::{Io, SocketOutlet};
use crate::Error;

/// What the server may have in flight towards us (our receive window), and
/// the largest message we take from it (it never sends beyond our credit).
pub(crate) const WINDOW: u64 = INITIAL_CREDIT;
/// The largest binary message we send: well under any server's maximum
/// message size (the server's `max_write_bytes`, 16 MiB by default).
pub(crate) const MAX_FRAME: usize = 256 * 1024;
/// How long a closing WebSocket waits for the server's Close and the end of
/// its stream before the stream is reset.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_millis(wait::WS_CLOSE_MS as u64);

const STREAM: &str = "WebSocket stream";

/// Where the WebSocket's frames go.
pub(crate) enum Outlet {
    /// The extended CONNECT stream, or a tunnel's POST (crate::tunnel).
    H2(SendStream<Bytes>),
    /// The upgraded HTTP/1.1 connection.
    Socket(SocketOutlet),
}

/// Why an outlet has no room.
pub(crate) enum NoRoom {
    Failed(Error),
    /// The stream is closed for sending.
    Closed,
}

impl Outlet {
    pub(crate) fn reserve_capacity(&mut self, n: usize) {
        if let Outlet::H2(send) = self {
            send.reserve_capacity(n);
        }
    }

    fn capacity(&self) -> usize {
        match self {
            Outlet::H2(send) => send.capacity(),
            Outlet::Socket(socket) => socket.capacity(),
        }
    }

    /// Waits until the stream may take more than `more_than` bytes.
    pub(crate) fn poll_capacity(
        &mut self,
        cx: &mut std::task::Context<'_>,
        more_than: usize,
    ) -> Poll<Result<usize, NoRoom>> {
        match self {
            Outlet::H2(send) => loop {
                let capacity = send.capacity();
                if capacity > more_than {
                    return Poll::Ready(Ok(capacity));
                }
                match send.poll_capacity(cx) {
                    Poll::Ready(Some(Ok(_))) => continue,
                    Poll::Ready(Some(Err(e))) => {
                        return Poll::Ready(Err(NoRoom::Failed(Error::from_h2_on(e, STREAM))))
                    }
                    Poll::Ready(None) => return Poll::Ready(Err(NoRoom::Closed)),
                    Poll::Pending => return Poll::Pending,
                }
            },
            Outlet::Socket(socket) => socket.poll_capacity(cx, more_than).map_err(NoRoom::Failed),
        }
    }

    /// Queues `data`; `end` ends this direction of the stream. Err: the
    /// stream is closed for sending.
    pub(crate) fn send_data(&mut self, data: Bytes, end: bool) -> Result<(), ()> {
        match self {
            Outlet::H2(send) => send.send_data(data, end).map_err(|_| ()),
            Outlet::Socket(socket) => socket.send(data, end),
        }
    }

    /// Gives up on the stream at once.
    pub(crate) fn send_reset(&mut self) {
        match self {
            Outlet::H2(send) => send.send_reset(Reason::CANCEL),
            Outlet::Socket(socket) => socket.reset(),
        }
    }
}

/// Where the server's frames come from.
pub(crate) enum Inlet {
    /// The extended CONNECT stream, on `conn`.
    H2 { recv: RecvStream, conn: Arc<Conn> },
    /// The upgraded HTTP/1.1 connection: `first`, the bytes that came with
    /// the handshake's answer, then the socket. `page` is the origin's
    /// HTTP/2 connection, kept while the duplex lives as a browser keeps
    /// its page's connection.
    Socket {
        first: Option<Bytes>,
        read: ReadHalf<Io>,
        buffer: BytesMut,
        _page: Option<Arc<Conn>>,
    },
    /// A tunnel's GET (crate::tunnel).
    Tunnel(Box<TunnelInlet>),
}

/// How much one read of an upgraded socket may take.
const SOCKET_READ: usize = 64 * 1024;

/// An upgraded connection that failed: the WebSocket went without a Close.
pub(crate) fn connection_failed(e: &dyn std::fmt::Display) -> Error {
    Error::WsClosed {
        code: None,
        reason: format!("the WebSocket's connection failed: {e}"),
    }
}

impl Inlet {
    /// The next piece of the stream; `None` once the server ended it.
    pub(crate) async fn data(&mut self) -> Result<Option<Bytes>, Error> {
        match self {
            Inlet::H2 { recv, .. } => match recv.data().await {
                Some(Ok(chunk)) => {
                    let _ = recv.flow_control().release_capacity(chunk.len());
                    Ok(Some(chunk))
                }
                None => Ok(None),
                Some(Err(e)) if Error::is_no_error_reset(&e) => Ok(None),
                Some(Err(e)) => Err(Error::from_h2_on(e, STREAM)),
            },
            Inlet::Socket {
                first,
                read,
                buffer,
                ..
            } => {
                if let Some(first) = first.take() {
                    return Ok(Some(first));
                }
                buffer.reserve(SOCKET_READ);
                match read.read_buf(buffer).await {
                    Ok(0) => Ok(None),
                    Ok(_) => Ok(Some(buffer.split().freeze())),
                    Err(e) => Err(connection_failed(&e)),
                }
            }
            Inlet::Tunnel(tunnel) => tunnel.data().await,
        }
    }

    /// Reads the stream to its end, dropping what comes; for a tunnel,
    /// the POST's answer too.
    pub(crate) async fn finish(&mut self) {
        while let Ok(Some(_)) = self.data().await {}
        if let Inlet::Tunnel(tunnel) = self {
            tunnel.answered().await;
        }
    }

    /// The HTTP/2 connection's failure, for a stream on it.
    pub(crate) fn lost(&self) -> Option<watch::Receiver<Option<String>>> {
        match self {
            Inlet::H2 { conn, .. } => Some(conn.lost.clone()),
            Inlet::Tunnel(tunnel) => Some(tunnel.conn().lost.clone()),
            Inlet::Socket { .. } => None,
        }
    }

    /// The HTTP/2 connection the stream is on (none for an upgraded socket).
    pub(crate) fn h2_conn(&self) -> Option<Arc<Conn>> {
        match self {
            Inlet::H2 { conn, .. } => Some(conn.clone()),
            Inlet::Tunnel(tunnel) => Some(tunnel.conn().clone()),
            Inlet::Socket { .. } => None,
        }
    }

    /// Whether this is a tunnel's GET.
    pub(crate) fn is_tunnel(&self) -> bool {
        matches!(self, Inlet::Tunnel(_))
    }
}

/// A WebSocket duplex, plain or resumable, as its callers and tasks share
/// it: its state (`S`, which holds what the application sees) and the
/// means to wait for its changes and to take turns writing.
pub(crate) struct Shared<S> {
    pub id: String,
    pub state: Mutex<S>,
    /// Bumped on every change a waiting call or task may care about.
    pub changed: watch::Sender<u64>,
    /// Serves writes (and `end`) one at a time, in order.
    pub writer: tokio::sync::Mutex<()>,
}

/// A duplex's state that holds what the application sees of it.
pub(crate) trait HasAppSide {
    fn app(&mut self) -> &mut AppSide;
}

/// A WebSocket duplex, plain or resumable: how it is read, closed and
/// destroyed.
pub(crate) trait WebSocketDuplex {
    type State: HasAppSide;

    fn shared(&self) -> &Shared<Self::State>;

    /// Gives back the credit of `n` bytes the application consumed.
    fn give_back(&self, state: &mut Self::State, n: u64);

    /// Whether the duplex ends on its own, so that a destroy does nothing.
    fn ends_on_its_own(_state: &Self::State) -> bool {
        false
    }

    /// Tells the server the duplex was destroyed (it is marked so): a
    /// Close 1001 ([`close_destroyed`]) where a WebSocket is in use.
    fn tell_destroyed(&self, state: &mut Self::State);

    fn id(&self) -> &str {
        &self.shared().id
    }

    /// Everything the server sent that is available now (waiting for at
    /// least one byte), or `None` once the server ended. Each call first
    /// gives back the credit of what the previous call returned.
    async fn read(&self) -> Result<Option<Bytes>, Error> {
        let shared = self.shared();
        shared
            .on_change(|| {
                let mut state = shared.state.lock().unwrap();
                let consumed = std::mem::take(&mut state.app().unreported);
                if consumed > 0 {
                    self.give_back(&mut state, consumed);
                }
                state.app().read_now()
            })
            .await
            .unwrap_or(Err(Error::Destroyed))
    }

    /// Resolves when the duplex is over: `None` when it was done or
    /// destroyed, `Some(error)` when it failed.
    async fn closed(&self) -> Option<Error> {
        let shared = self.shared();
        shared
            .on_change(|| shared.state.lock().unwrap().app().end.clone())
            .await
            .and_then(|end| end.failure())
    }

    /// Destroys the duplex: what was received and not read is dropped and
    /// the server told. Idempotent.
    fn destroy(&self) {
        let mut state = self.shared().state.lock().unwrap();
        if Self::ends_on_its_own(&state) || !state.app().destroy() {
            return;
        }
        self.tell_destroyed(&mut state);
    }
}

impl<S> Shared<S> {
    pub(crate) fn new(id: String, state: S) -> Self {
        Shared {
            id,
            state: Mutex::new(state),
            changed: watch::channel(0).0,
            writer: tokio::sync::Mutex::new(()),
        }
    }

    /// Wakes whatever waits for a change.
    pub(crate) fn signal(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    /// Calls `now` until it has an answer: at once, then after every
    /// change. `None`: the signal is gone.
    pub(crate) async fn on_change<T>(&self, mut now: impl FnMut() -> Option<T>) -> Option<T> {
        let mut seen = self.changed.subscribe();
        loop {
            if let Some(answer) = now() {
                return Some(answer);
            }
            if seen.changed().await.is_err() {
                return None;
            }
        }
    }
}

/// What the application sees of a WebSocket duplex, plain or resumable.
#[derive(Default)]
pub(crate) struct AppSide {
    /// Data received and not yet read.
    pub queue: VecDeque<Bytes>,
    /// Bytes handed to the reader whose credit is not yet given back: given
    /// back on the next read, i.e. once the application wants more.
    pub unreported: u64,
    /// The server ended its direction.
    pub read_end: bool,
    /// `end()` was called.
    pub write_end: bool,
    pub end: Option<End>,
}

impl AppSide {
    /// A read's answer now, if it has one: the data received (its credit
    /// given back on the next read), the end, or why no more comes.
    pub(crate) fn read_now(&mut self) -> Option<Result<Option<Bytes>, Error>> {
        if let Some(err) = self.end.as_ref().and_then(End::error) {
            return Some(Err(err));
        }
        if !self.queue.is_empty() {
            let data = concat(&mut self.queue);
            self.unreported = data.len() as u64;
            return Some(Ok(Some(data)));
        }
        // (A resumable duplex is done only after the server's end came.)
        (self.read_end || matches!(self.end, Some(End::Done))).then_some(Ok(None))
    }

    /// Whether the application may write.
    pub(crate) fn check_writable(&self) -> Result<(), Error> {
        match &self.end {
            Some(end) => Err(end.write_error()),
            None if self.write_end => Err(Error::WriteAfterEnd),
            None => Ok(()),
        }
    }

    /// Records a failure (the first end wins); what was not read is lost.
    pub(crate) fn fail(&mut self, err: Error) {
        if self.end.is_none() {
            self.end = Some(End::Failed(err));
            self.queue.clear();
        }
    }

    /// Marks the duplex destroyed, dropping what was not read; false when
    /// it had ended already.
    pub(crate) fn destroy(&mut self) -> bool {
        if self.end.is_some() {
            return false;
        }
        self.end = Some(End::Destroyed);
        self.queue.clear();
        true
    }
}

/// The Close a destroyed duplex sends the server: 1001, going away.
pub(crate) fn close_destroyed(endpoint: &mut Endpoint) -> Vec<Action> {
    let mut actions = Vec::new();
    endpoint.close(close::GOING_AWAY, DESTROYED_REASON, &mut actions);
    actions
}

/// One binary frame of `payload`, header and payload in one buffer (one
/// DATA frame, one write to a socket), counted as sent: `payload` must be
/// within the credit. The payload is copied, then masked in the frame:
/// `payload` stays as it is (a resume may send it again).
pub(crate) fn masked_frame(endpoint: &mut Endpoint, payload: &[u8]) -> Bytes {
    let (header, len) = endpoint
        .data_header(payload.len() as u64)
        .expect("within the credit");
    let mut frame = BytesMut::with_capacity(len + payload.len());
    frame.extend_from_slice(&header[..len]);
    frame.extend_from_slice(payload);
    // A client's header ends with the frame's mask key.
    let key = header[len - 4..len].try_into().expect("4 bytes");
    mask_in_place(&mut frame[len..], key, 0);
    frame.freeze()
}

pub(crate) struct State {
    endpoint: Endpoint,
    send: Option<Outlet>,
    /// The close handshake is over (or the stream failed).
    finished: bool,
    app: AppSide,
}

impl HasAppSide for State {
    fn app(&mut self) -> &mut AppSide {
        &mut self.app
    }
}

type Inner = Shared<State>;

/// A duplex over one WebSocket. Cheap to clone; clones are the same duplex.
#[derive(Clone)]
pub(crate) struct WsDuplex {
    inner: Arc<Inner>,
}

/// Why opening the WebSocket failed, and whether the streaming transport
/// may be tried instead (the server or a proxy does not serve the WebSocket
/// here, as opposed to our server refusing the duplex).
pub(crate) struct OpenError {
    pub error: Error,
    pub fall_back: bool,
}

impl From<Error> for OpenError {
    fn from(error: Error) -> Self {
        OpenError {
            error,
            fall_back: false,
        }
    }
}

/// A WebSocket whose handshake went through: its two sides, the duplex id
/// its answer named, and whether the server selected resume
/// (http2-duplex.2).
pub(crate) struct Opened {
    pub outlet: Outlet,
    pub inlet: Inlet,
    pub id: String,
    pub resumable: bool,
}

/// The subprotocols a client offers: with resume, http2-duplex.2 first.
pub(crate) fn offered(resume: bool) -> &'static str {
    static BOTH: LazyLock<String> =
        LazyLock::new(|| format!("{RESUME_SUBPROTOCOL}, {SUBPROTOCOL}"));
    if resume {
        BOTH.as_str()
    } else {
        SUBPROTOCOL
    }
}

/// The subprotocol the server selected, as "resumable": `None` for one we
/// did not offer.
pub(crate) fn selected(protocol: Option<&str>, resume: bool) -> Option<bool> {
    match protocol {
        Some(SUBPROTOCOL) => Some(false),
        Some(RESUME_SUBPROTOCOL) if resume => Some(true),
        _ => None,
    }
}

fn connect_request(target: &Target, extra: &HeaderMap, resume: bool) -> Result<Request<()>, Error> {
    let mut req = Request::builder()
        .method(Method::CONNECT)
        .uri(target.uri.clone())
        .body(())
        .map_err(|e| Error::InvalidUrl(e.to_string()))?;
    req.extensions_mut()
        .insert(h2::ext::Protocol::from_static("websocket"));
    let headers = req.headers_mut();
    for (name, value) in extra {
        headers.append(name.clone(), value.clone());
    }
    headers.insert(
        "sec-websocket-protocol",
        HeaderValue::from_static(offered(resume)),
    );
    headers.insert("sec-websocket-version", HeaderValue::from_static(VERSION));
    Ok(req)
}

impl WsDuplex {
    /// Opens the WebSocket: the server must offer RFC 8441 on `conn`.
    /// `resume`: offer http2-duplex.2 too.
    pub(crate) async fn connect(
        target: &Target,
        extra: &HeaderMap,
        conn: Arc<Conn>,
        resume: bool,
    ) -> Result<Opened, OpenError> {
        let req = connect_request(target, extra, resume)?;
        let ready = conn.send.clone().ready().await.map_err(Error::from_h2)?;
        let mut ready = ready;
        let (response, send) = ready.send_request(req, false).map_err(|e| OpenError {
            fall_back: !e.is_io() && !e.is_go_away(),
            error: Error::from_h2(e),
        })?;
        let response = response.await.map_err(|e| OpenError {
            // A reset CONNECT (REFUSED_STREAM, PROTOCOL_ERROR, …): a server
            // or proxy that does not serve it.
            fall_back: e.is_reset() && !e.is_io() && !e.is_go_away(),
            error: Error::from_h2_on(e, STREAM),
        })?;
        if !response.status().is_success() {
            let error = status_error(&response);
            // Our server names why it refuses a duplex: the streaming
            // transport would be refused too, unless what it refused is the
            // WebSocket itself (an HTTP/1.1 hop on the way).
            let code = response
                .headers()
                .get(crate::HEADER_ERROR)
                .and_then(|v| v.to_str().ok());
            return Err(OpenError {
                error,
                fall_back: code.is_none_or(|code| code == Code::WsNeedsHttp2.as_str()),
            });
        }
        let protocol = response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok());
        let Some(resumable) = selected(protocol, resume) else {
            // An HTTP/1.1 hop that dropped the upgrade made it a GET, and the
            // server opened a duplex for it: tell the server it is gone, as
            // a destroy does, before the stream is reset.
            if let Some(id) = response
                .headers()
                .get(HEADER_ID)
                .and_then(|v| v.to_str().ok())
            {
                let destroyed = request(
                    Method::POST,
                    target,
                    extra,
                    &[
                        (HEADER_ID, id),
                        (HEADER_END, value::TRUE),
                        (HEADER_DESTROYED, value::TRUE),
                        ("content-type", value::CONTENT_TYPE),
                    ],
                );
                if let Ok(req) = destroyed {
                    if let Ok((answer, _)) = crate::duplex::send(&conn, req, true).await {
                        let _ = tokio::time::timeout(END_ANSWER_TIMEOUT, answer).await;
                    }
                }
            }
            return Err(OpenError {
                error: Error::NoWebSocket(format!(
                    "the server did not accept the WebSocket subprotocol {SUBPROTOCOL}"
                )),
                fall_back: true,
            });
        };
        let id = response
            .headers()
            .get(HEADER_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let recv = response.into_body();
        Ok(Opened {
            outlet: Outlet::H2(send),
            inlet: Inlet::H2 { recv, conn },
            id,
            resumable,
        })
    }

    /// The WebSocket is open: runs it over `outlet` and `inlet`.
    pub(crate) fn start(id: String, outlet: Outlet, inlet: Inlet) -> Self {
        let mut endpoint = Endpoint::client(WINDOW as usize, WINDOW);
        let mut actions = Vec::new();
        endpoint.open(&mut actions);
        let inner = Arc::new(Shared::new(
            id,
            State {
                endpoint,
                send: Some(outlet),
                finished: false,
                app: AppSide::default(),
            },
        ));
        {
            let mut state = inner.state.lock().unwrap();
            inner.apply(&mut state, actions);
        }
        tokio::spawn(drive(inner.clone(), inlet));
        WsDuplex { inner }
    }

    /// Resolves once all of `data` is handed to the stream, as far as the
    /// server's credit and the stream's room let it go.
    pub async fn write(&self, data: Bytes) -> Result<(), Error> {
        let inner = &self.inner;
        let _turn = inner.writer.lock().await;
        // Zero-copy when the caller hands over the only reference: the
        // payload is masked in place.
        let mut data = BytesMut::from(data);
        let result = async {
            while !data.is_empty() {
                let mut changed = inner.changed.subscribe();
                // The server's credit.
                let want = {
                    let mut state = inner.state.lock().unwrap();
                    let closed_under_us = state.send.is_none() && state.app.end.is_none();
                    if !closed_under_us {
                        inner.check_writable(&state)?;
                    }
                    let credit = state.endpoint.send_credit();
                    if closed_under_us {
                        // The receive side learns why (the server's reset,
                        // the connection's loss) and ends the duplex with it.
                        None
                    } else if credit > 0 {
                        let want = data.len().min(MAX_FRAME).min(credit as usize);
                        if let Some(send) = state.send.as_mut() {
                            send.reserve_capacity(want + MAX_HEADER_LEN);
                        }
                        Some(want)
                    } else {
                        None
                    }
                };
                if want.is_none() {
                    if changed.changed().await.is_err() {
                        return Err(Error::Destroyed);
                    }
                    continue;
                }
                // HTTP/2 flow control, or room in the socket's send buffer.
                let capacity = tokio::select! {
                    capacity = poll_fn(|cx| inner.poll_capacity(cx)) => capacity?,
                    _ = changed.changed() => continue,
                };
                let Some(capacity) = capacity else {
                    continue;
                };
                let mut state = inner.state.lock().unwrap();
                let state = &mut *state;
                if state.send.is_none() && state.app.end.is_none() {
                    continue;
                }
                inner.check_writable(state)?;
                let n = data
                    .len()
                    .min(MAX_FRAME)
                    .min(state.endpoint.send_credit() as usize)
                    .min(capacity - MAX_HEADER_LEN);
                if n == 0 {
                    continue;
                }
                let mut payload = data.split_to(n);
                let (header, len) = state
                    .endpoint
                    .data_frame(&mut payload)
                    .expect("within the credit");
                let send = state.send.as_mut().expect("checked");
                let sent = send
                    .send_data(Bytes::copy_from_slice(&header[..len]), false)
                    .and_then(|()| send.send_data(payload.freeze(), false));
                if sent.is_err() {
                    // The stream closed under the write (see `apply`): the
                    // next turn waits for the receive side's verdict.
                    state.send = None;
                }
            }
            Ok(())
        }
        .await;
        if let Some(send) = inner.state.lock().unwrap().send.as_mut() {
            send.reserve_capacity(0);
        }
        result
    }

    /// Sends all of `data` now if the server's credit and HTTP/2 flow
    /// control let it go without waiting, as one frame; false (nothing
    /// sent) when it would wait, or when the duplex cannot take writes, so
    /// that [`WsDuplex::write`] does it or reports why. Needs no async
    /// context.
    pub fn try_write(&self, data: &[u8]) -> bool {
        if data.is_empty() || data.len() > MAX_FRAME {
            return false;
        }
        let inner = &self.inner;
        // A write in progress goes first.
        let Ok(_turn) = inner.writer.try_lock() else {
            return false;
        };
        let mut state = inner.state.lock().unwrap();
        let state = &mut *state;
        if inner.check_writable(state).is_err() || state.endpoint.send_credit() < data.len() as u64
        {
            return false;
        }
        let send = state.send.as_mut().expect("checked");
        let need = data.len() + MAX_HEADER_LEN;
        send.reserve_capacity(need);
        if send.capacity() < need {
            send.reserve_capacity(0);
            return false;
        }
        let frame = masked_frame(&mut state.endpoint, data);
        let sent = send.send_data(frame, false);
        send.reserve_capacity(0);
        if sent.is_err() {
            // The stream closed under the write (see `apply`): `write`
            // reports why, once the receive side knows.
            state.send = None;
            return false;
        }
        true
    }

    /// Ends the writable side: the `end` message goes after every write.
    pub async fn end(&self) -> Result<(), Error> {
        let inner = &self.inner;
        let _turn = inner.writer.lock().await;
        let mut state = inner.state.lock().unwrap();
        let state = &mut *state;
        if state.app.write_end {
            return Ok(());
        }
        if let Some(err) = state.app.end.as_ref().and_then(End::error) {
            return Err(err);
        }
        state.app.write_end = true;
        let mut actions = Vec::new();
        state.endpoint.end(&mut actions);
        inner.apply(state, actions);
        Ok(())
    }
}

impl WebSocketDuplex for WsDuplex {
    type State = State;

    fn shared(&self) -> &Shared<State> {
        &self.inner
    }

    fn give_back(&self, state: &mut State, n: u64) {
        if !state.finished {
            let mut actions = Vec::new();
            state.endpoint.consumed(n, &mut actions);
            self.inner.apply(state, actions);
        }
    }

    /// Both directions ended: the close handshake finishes on its own.
    fn ends_on_its_own(state: &State) -> bool {
        state.endpoint.both_ended()
    }

    fn tell_destroyed(&self, state: &mut State) {
        let actions = close_destroyed(&mut state.endpoint);
        self.inner.apply(state, actions);
    }
}

/// The pieces of one read as one buffer: copied only when there are several.
fn concat(queue: &mut VecDeque<Bytes>) -> Bytes {
    if queue.len() == 1 {
        return queue.pop_front().expect("one piece");
    }
    let mut buf = BytesMut::with_capacity(queue.iter().map(Bytes::len).sum());
    for piece in queue.drain(..) {
        buf.extend_from_slice(&piece);
    }
    buf.freeze()
}

impl Shared<State> {
    fn check_writable(&self, state: &State) -> Result<(), Error> {
        state.app.check_writable()?;
        if state.send.is_none() || state.endpoint.close_sent() {
            return Err(Error::WsClosed {
                code: None,
                reason: "the WebSocket is closing".to_string(),
            });
        }
        Ok(())
    }

    /// Waits until the stream may take a frame header and some payload.
    /// `None`: the stream closed for sending (see `apply`).
    fn poll_capacity(&self, cx: &mut std::task::Context<'_>) -> Poll<Result<Option<usize>, Error>> {
        let mut state = self.state.lock().unwrap();
        let Some(send) = state.send.as_mut() else {
            return Poll::Ready(Ok(None));
        };
        match send.poll_capacity(cx, MAX_HEADER_LEN) {
            Poll::Ready(Err(NoRoom::Failed(err))) => Poll::Ready(Err(self.fail(&mut state, err))),
            Poll::Ready(Err(NoRoom::Closed)) => {
                state.send = None;
                Poll::Ready(Ok(None))
            }
            Poll::Ready(Ok(capacity)) => Poll::Ready(Ok(Some(capacity))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Carries out the endpoint's actions (with the state locked, so frames
    /// go out in the order the endpoint made them).
    fn apply(&self, state: &mut State, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Deliver(data) => {
                    if state.app.end.is_none() {
                        state.app.queue.push_back(data);
                    }
                }
                Action::End => state.app.read_end = true,
                Action::Send(frame) => {
                    if let Some(send) = state.send.as_mut() {
                        // The stream is closed for sending: the server (or a
                        // proxy) reset it or ended it. Nothing more can go;
                        // the receive side says how it ended (a Close that
                        // completed the handshake first is a clean end).
                        if send.send_data(frame, false).is_err() {
                            state.send = None;
                        }
                    }
                }
                Action::Credit => {}
                // http2-duplex.2 only: a resumable duplex is crate::resume's.
                Action::Ack { .. }
                | Action::Open
                | Action::Resume(_)
                | Action::Resumable(_)
                | Action::Resumed { .. }
                | Action::ResumeRefused { .. } => {}
                Action::Finished {
                    code, violation, ..
                } => {
                    state.finished = true;
                    if let Some(mut send) = state.send.take() {
                        let _ = send.send_data(Bytes::new(), true);
                    }
                    let outcome = if let Some(violation) = violation {
                        End::Failed(Error::WsViolation(violation))
                    } else if state.endpoint.both_ended() {
                        End::Done
                    } else {
                        End::Failed(Error::WsClosed {
                            code,
                            reason:
                                "the server closed the WebSocket before both directions had ended"
                                    .to_string(),
                        })
                    };
                    if state.app.end.is_none() {
                        state.app.end = Some(outcome);
                    }
                }
            }
        }
        self.signal();
    }

    /// Records a failure (the first one wins) and resets the stream; returns
    /// the failure the duplex ended with. Data received before a clean
    /// finish stays readable: a connection reset after the close handshake
    /// (a proxy closing its side) loses nothing.
    fn fail(&self, state: &mut State, err: Error) -> Error {
        state.app.fail(err.clone());
        state.finished = true;
        if let Some(mut send) = state.send.take() {
            send.send_reset();
        }
        self.signal();
        state.app.end.as_ref().and_then(End::error).unwrap_or(err)
    }
}

/// Resolves once the HTTP/2 connection under the stream failed (never
/// for an upgraded socket: its own reads tell).
pub(crate) async fn lost(lost: &mut Option<watch::Receiver<Option<String>>>) -> String {
    match lost {
        Some(lost) => lost
            .wait_for(|l| l.is_some())
            .await
            .map(|r| r.clone().unwrap_or_default())
            .unwrap_or_default(),
        None => std::future::pending().await,
    }
}

/// Reads the stream into the endpoint until the WebSocket is over; holds
/// the connection meanwhile.
async fn drive(inner: Arc<Inner>, mut inlet: Inlet) {
    let mut connection = inlet.lost();
    let mut changed = inner.changed.subscribe();
    // Once the WebSocket is closing (destroyed, or finished), how long the
    // server has to end its stream.
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        {
            let state = inner.state.lock().unwrap();
            let closing = state.finished || matches!(state.app.end, Some(End::Destroyed));
            if closing && deadline.is_none() {
                deadline = Some(tokio::time::Instant::now() + CLOSE_TIMEOUT);
            }
        }
        let timeout = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let data = tokio::select! {
            data = inlet.data() => data,
            _ = changed.changed() => continue,
            _ = timeout => break,
            reason = lost(&mut connection) => {
                let mut state = inner.state.lock().unwrap();
                inner.fail(&mut state, Error::ConnectionLost(reason));
                return;
            }
        };
        match data {
            Ok(Some(chunk)) => {
                let mut state = inner.state.lock().unwrap();
                let state = &mut *state;
                if state.endpoint.is_finished() {
                    continue;
                }
                let mut actions = Vec::new();
                state.endpoint.receive(chunk, &mut actions);
                inner.apply(state, actions);
            }
            Ok(None) => break,
            Err(err) => {
                let mut state = inner.state.lock().unwrap();
                inner.fail(&mut state, err);
                return;
            }
        }
    }
    // The stream ended (or the server took too long to end it).
    let mut state = inner.state.lock().unwrap();
    if !state.finished {
        let err = Error::WsClosed {
            code: None,
            reason: "the server ended the WebSocket stream without closing".to_string(),
        };
        inner.fail(&mut state, err);
    } else if let Some(mut send) = state.send.take() {
        send.send_reset();
    }
    drop(state);
    drop(inlet);
}

#[cfg(test)]
mod tests {
    use super::*;
    use http2_duplex_core::websocket::{encode_header, Opcode};

    #[test]
    fn a_masked_frame_is_the_header_then_the_payload_masked_with_its_key() {
        let mut endpoint = Endpoint::client(WINDOW as usize, WINDOW);
        endpoint.open(&mut Vec::new());
        // Not a multiple of the key's length.
        let payload: Vec<u8> = (0..3 * 8 * 1024 + 5).map(|i| (i * 7 % 251) as u8).collect();
        let frame = masked_frame(&mut endpoint, &payload);
        let key: [u8; 4] = frame[4..8].try_into().unwrap();
        let (header, len) = encode_header(Opcode::Binary, true, payload.len() as u64, Some(key));
        assert_eq!(len, 8);
        assert_eq!(frame[..len], header[..len]);
        let mut unmasked = frame[len..].to_vec();
        mask_in_place(&mut unmasked, key, 0);
        assert_eq!(unmasked, payload);
        assert_eq!(
            endpoint.send_credit(),
            INITIAL_CREDIT - payload.len() as u64,
            "counted as sent"
        );
    }
}
