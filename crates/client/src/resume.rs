//! A resumable duplex: a WebSocket of subprotocol http2-duplex.2
//! (docs/protocol.md "Resume"), or a tunnel carrying its bytes over the
//! streaming transport (crate::tunnel), whose duplex outlives its
//! connection. The
//! core's `resume::Client` makes every decision (counts, acks, the resume
//! buffer's room, hang detection, reconnect and backoff, give-up,
//! completion); this module carries them out:
//!
//! - What the application writes is kept, as written (`Bytes`, never
//!   copied), in `unacked` until the server acknowledges it
//!   ([`ResumeAction::Drop`]); the sender task sends from it as far as the
//!   WebSocket's credit and the stream's room allow, and from the server's
//!   count again after a resume ([`ResumeAction::Resend`]).
//! - Each WebSocket is a [`Link`]: its own [`Endpoint`] (credit, framing),
//!   stream and reader task. When it fails, or the core finds it hung, the
//!   duplex detaches and the core says when to open the next one
//!   ([`ResumeAction::Reconnect`]): [`Dial`] opens it as the duplex's first
//!   WebSocket was opened (a tunnel once the duplex is on one, or where no
//!   WebSocket opens), and it asks to resume with the duplex's id, secret
//!   and count.
//! - A monotonic clock (ms since the duplex opened) is passed to the core;
//!   the timer task calls it back when it said.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::ops::Deref;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use http::HeaderMap;
use http2_duplex_core::protocol::websocket::RESUME_QUERY;
use http2_duplex_core::resume::{Action as ResumeAction, Client as Core, Config, Refusal};
use http2_duplex_core::websocket::{Action as WsAction, Endpoint, ResumableDuplex, MAX_HEADER_LEN};
use http2_duplex_core::Code;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::end::End;
use crate::pool::{Conn, Target};
use crate::ws::{
    close_destroyed, lost, masked_frame, AppSide, HasAppSide, Inlet, NoRoom, Opened, Outlet,
    Shared, WebSocketDuplex, WsDuplex, CLOSE_TIMEOUT, MAX_FRAME, WINDOW,
};
use crate::{tunnel, upgrade, Client, Error, Options};

/// How long the first WebSocket may take to answer `open`.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// How the duplex opens a WebSocket again: to the same URL, through the
/// same pool, the way the first was opened; a tunnel where the duplex is
/// on one, or where no WebSocket opens.
pub(crate) struct Dial {
    pub client: Client,
    pub target: Target,
    pub extra: HeaderMap,
    pub options: Options,
}

impl Dial {
    /// A WebSocket for a resume, or (`tunnel`, or where the connection
    /// does not carry WebSockets) a tunnel.
    async fn open(&self, tunnel: bool) -> Result<Opened, Error> {
        let Dial {
            client,
            target,
            extra,
            options,
        } = self;
        let conn = match client.conn(target, options).await {
            Ok(conn) => Some(conn),
            Err(Error::NoHttp2 { .. }) => None,
            Err(e) => return Err(e),
        };
        let opened = match &conn {
            Some(conn) if tunnel => return tunnel::resume(target, extra, conn.clone()).await,
            Some(conn) if conn.offers_websocket().await => {
                WsDuplex::connect(target, extra, conn.clone(), true).await
            }
            page => upgrade::open(target, extra, options, page.clone()).await,
        };
        match (opened, conn) {
            (Ok(opened), _) => Ok(opened),
            (Err(e), Some(conn)) if e.fall_back => tunnel::resume(target, extra, conn).await,
            (Err(e), _) => Err(e.error),
        }
    }
}

/// Where a resume's WebSocket goes: the duplex's URL with the query
/// `?resume=` and the id's node prefix (the part before its first `.`,
/// when it has one), for a proxy to route it to the duplex's node; the
/// whole id never goes into a URL. A URL with a query of its own is left
/// as it is.
fn resume_target(target: &Target, id: &str) -> Target {
    let prefix = id.split_once('.').map(|(prefix, _)| prefix);
    let Some(prefix) = prefix.filter(|p| !p.is_empty() && target.uri.query().is_none()) else {
        return target.clone();
    };
    let mut url = target.uri.to_string();
    url.push_str(RESUME_QUERY);
    for byte in prefix.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            url.push(byte as char);
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    Target::parse(&url).unwrap_or_else(|_| target.clone())
}

/// One WebSocket carrying the duplex.
struct Link {
    endpoint: Endpoint,
    send: Option<Outlet>,
    reader: AbortHandle,
    /// The HTTP/2 connection of an RFC 8441 stream: retired when the link
    /// hangs, so that the resume goes on a new connection.
    conn: Option<Arc<Conn>>,
    /// The server answered (`resumable` or `resumed`): data may go.
    answered: bool,
}

impl Link {
    /// Drops the WebSocket at once (its stream reset, its socket closed).
    fn abandon(mut self) {
        self.reader.abort();
        if let Some(mut send) = self.send.take() {
            send.send_reset();
        }
    }
}

pub(crate) struct State {
    core: Core,
    secret: String,
    link: Option<Link>,
    /// Bumped for every reconnect: a link or attempt of an older one is
    /// stale.
    generation: u64,
    /// The attempt in flight, if any.
    attempt: Option<AbortHandle>,
    /// Bytes written and not acknowledged, from offset `acked`.
    unacked: VecDeque<Bytes>,
    acked: u64,
    /// Bytes written (`acked` + what `unacked` holds).
    written: u64,
    /// Bytes sent on the current link (an offset, `acked..=written`).
    wire: u64,
    /// The current link carried the end.
    end_on_wire: bool,
    /// Bytes delivered by earlier links and not yet given back: their
    /// credit is no later link's.
    stale: u64,
    /// What the application sees (its `write_end`: the core counts the
    /// end).
    app: AppSide,
    /// `(attempt, downtime ms)` of each resume, for `resumed()`.
    resumes: Vec<(u32, u64)>,
    /// The current (or last) link is a tunnel: its resumes go over tunnels.
    tunnel: bool,
    /// When the timer task is due (ms), as the core last said.
    timer_at: Option<u64>,
}

impl HasAppSide for State {
    fn app(&mut self) -> &mut AppSide {
        &mut self.app
    }
}

/// The duplex as a plain WebSocket duplex shares it (its state, change
/// signal and writers' turn), and what resuming adds.
struct Inner {
    shared: Shared<State>,
    /// The runtime the duplex's tasks run on: calls may come from other
    /// threads (the Node client's JS thread reads, writes and destroys).
    runtime: tokio::runtime::Handle,
    epoch: Instant,
    dial: Dial,
    /// Wakes the timer task when the core's next timeout came earlier.
    timer: Notify,
}

impl Deref for Inner {
    type Target = Shared<State>;

    fn deref(&self) -> &Shared<State> {
        &self.shared
    }
}

/// A resumable duplex. Cheap to clone; clones are the same duplex.
#[derive(Clone)]
pub(crate) struct ResumeDuplex {
    inner: Arc<Inner>,
}

fn endpoint() -> Endpoint {
    let mut endpoint = Endpoint::client(WINDOW as usize, WINDOW);
    endpoint.set_resumable();
    endpoint
}

impl ResumeDuplex {
    /// The WebSocket `opened` selected http2-duplex.2: asks for a new
    /// duplex and waits for the server's `resumable` answer.
    pub(crate) async fn start(opened: Opened, dial: Dial) -> Result<Self, Error> {
        let Opened {
            mut outlet,
            mut inlet,
            ..
        } = opened;
        let mut endpoint = endpoint();
        let mut actions = Vec::new();
        endpoint.send_open(&mut actions);
        endpoint.open(&mut actions);
        let answered = tokio::time::timeout(
            ANSWER_TIMEOUT,
            answer(&mut endpoint, &mut outlet, &mut inlet, actions),
        )
        .await;
        let (resumable, rest) = match answered {
            Ok(Ok(answered)) => answered,
            Ok(Err(err)) => {
                outlet.send_reset();
                return Err(err);
            }
            Err(_) => {
                outlet.send_reset();
                return Err(Error::WsClosed {
                    code: None,
                    reason: format!(
                        "the server did not answer open within {} s",
                        ANSWER_TIMEOUT.as_secs()
                    ),
                });
            }
        };
        let WsAction::Resumable(ResumableDuplex {
            id,
            secret,
            resume_buffer,
            resume_timeout_ms,
            keepalive_ms,
        }) = resumable
        else {
            unreachable!("answer() returns the Resumable action");
        };
        let config = Config {
            resume_buffer,
            resume_timeout_ms,
        };
        let dial = Dial {
            target: resume_target(&dial.target, &id),
            ..dial
        };
        let inner = Arc::new(Inner {
            shared: Shared::new(
                id,
                State {
                    core: Core::new(config, keepalive_ms, 0),
                    secret,
                    link: None,
                    generation: 0,
                    attempt: None,
                    unacked: VecDeque::new(),
                    acked: 0,
                    written: 0,
                    wire: 0,
                    end_on_wire: false,
                    stale: 0,
                    app: AppSide::default(),
                    resumes: Vec::new(),
                    tunnel: false,
                    timer_at: None,
                },
            ),
            runtime: tokio::runtime::Handle::current(),
            epoch: Instant::now(),
            dial,
            timer: Notify::new(),
        });
        {
            let mut state = inner.state.lock().unwrap();
            let state = &mut *state;
            install(&inner, state, endpoint, outlet, inlet, true);
            apply_ws(&inner, state, rest);
        }
        inner.runtime.spawn(timer(inner.clone()));
        inner.runtime.spawn(pump(inner.clone()));
        Ok(ResumeDuplex { inner })
    }

    /// Whether the duplex is on a tunnel now (its current or last link).
    pub fn tunnel(&self) -> bool {
        self.inner.state.lock().unwrap().tunnel
    }

    /// The next resume after the first `seen` ones: `(attempt, downtime
    /// ms)`; `None` once the duplex is over.
    pub async fn resumed(&self, seen: usize) -> Option<(u32, u64)> {
        let inner = &self.inner;
        inner
            .on_change(|| {
                let state = inner.state.lock().unwrap();
                match state.resumes.get(seen) {
                    Some(resume) => Some(Some(*resume)),
                    None => state.app.end.is_some().then_some(None),
                }
            })
            .await
            .flatten()
    }

    /// Resolves once all of `data` is in the resume buffer (the sender
    /// task sends it): it waits while the buffer is full, i.e. while the
    /// server has not acknowledged `resume_buffer` bytes.
    pub async fn write(&self, mut data: Bytes) -> Result<(), Error> {
        let inner = &self.inner;
        let _turn = inner.writer.lock().await;
        while !data.is_empty() {
            let mut changed = inner.changed.subscribe();
            {
                let mut state = inner.state.lock().unwrap();
                let state = &mut *state;
                state.app.check_writable()?;
                let room = state.core.room();
                if room > 0 {
                    let n = data.len().min(room as usize);
                    queue_write(inner, state, data.split_to(n));
                    continue;
                }
            }
            if changed.changed().await.is_err() {
                return Err(Error::Destroyed);
            }
        }
        Ok(())
    }

    /// Takes all of `data` into the resume buffer if it has room now (one
    /// copy); false (nothing taken) otherwise, or when the duplex cannot
    /// take writes: then [`ResumeDuplex::write`] does it or says why.
    pub fn try_write(&self, data: &[u8]) -> bool {
        let inner = &self.inner;
        // A write in progress goes first.
        let Ok(_turn) = inner.writer.try_lock() else {
            return false;
        };
        let mut state = inner.state.lock().unwrap();
        let state = &mut *state;
        if data.is_empty()
            || state.app.check_writable().is_err()
            || state.core.room() < data.len() as u64
        {
            return false;
        }
        queue_write(inner, state, Bytes::copy_from_slice(data));
        true
    }

    /// Ends the writable side: the `end` message goes after every write.
    /// Resolves once the server acknowledged the end (the duplex is
    /// complete): until then what was written may have to be sent again,
    /// so a caller that lets go of the duplex (Node's autoDestroy after
    /// 'finish') loses nothing.
    pub async fn end(&self) -> Result<(), Error> {
        let inner = &self.inner;
        let _turn = inner.writer.lock().await;
        inner.count_end();
        inner
            .on_change(|| {
                let state = inner.state.lock().unwrap();
                if let Some(end) = &state.app.end {
                    return Some(end.error().map_or(Ok(()), Err));
                }
                let counts = state.core.counts();
                (counts.peer_acked == counts.sent).then_some(Ok(()))
            })
            .await
            .unwrap_or(Err(Error::Destroyed))
    }
}

impl WebSocketDuplex for ResumeDuplex {
    type State = State;

    fn shared(&self) -> &Shared<State> {
        &self.inner
    }

    /// What earlier links delivered is no current link's credit.
    fn give_back(&self, state: &mut State, n: u64) {
        let stale = n.min(state.stale);
        state.stale -= stale;
        let consumed = n - stale;
        if let Some(link) = state.link.as_mut().filter(|_| consumed > 0) {
            let mut actions = Vec::new();
            link.endpoint.consumed(consumed, &mut actions);
            apply_ws(&self.inner, state, actions);
        }
    }

    /// The Close goes on the WebSocket in use; none while detached (the
    /// server gives up after its resume timeout).
    fn tell_destroyed(&self, state: &mut State) {
        let inner = &self.inner;
        if let Some(attempt) = state.attempt.take() {
            attempt.abort();
        }
        if let Some(link) = state.link.as_mut() {
            let actions = close_destroyed(&mut link.endpoint);
            apply_ws(inner, state, actions);
            close_later(inner, state.generation);
        }
        inner.timer.notify_one();
        inner.signal();
    }
}

/// Counts `data` (within the room) and queues it for the sender.
fn queue_write(inner: &Arc<Inner>, state: &mut State, data: Bytes) {
    let mut actions = Vec::new();
    let taken = state.core.handle_write(data.len() as u64, &mut actions);
    debug_assert!(taken, "within the room");
    state.written += data.len() as u64;
    state.unacked.push_back(data);
    apply_resume(inner, state, actions);
    inner.signal();
}

/// Reads the first WebSocket until the server's `resumable` answer:
/// returns it and the actions after it.
async fn answer(
    endpoint: &mut Endpoint,
    outlet: &mut Outlet,
    inlet: &mut Inlet,
    mut actions: Vec<WsAction>,
) -> Result<(WsAction, Vec<WsAction>), Error> {
    loop {
        let mut pending = std::mem::take(&mut actions).into_iter();
        while let Some(action) = pending.next() {
            if let WsAction::Send(frame) = action {
                if outlet.send_data(frame, false).is_err() {
                    return Err(crate::ws::connection_failed(&"the stream closed"));
                }
                continue;
            }
            match action {
                // What came with it (the credit grant, data, …) is the
                // duplex's.
                WsAction::Resumable(_) => {
                    return Ok((action, pending.collect()));
                }
                WsAction::Finished {
                    violation: Some(violation),
                    ..
                } => return Err(Error::WsViolation(violation)),
                WsAction::Finished { code, .. } => {
                    return Err(Error::WsClosed {
                        code,
                        reason: "the server closed the WebSocket before answering open".to_string(),
                    })
                }
                // Nothing else comes before the answer.
                _ => {}
            }
        }
        match inlet.data().await? {
            Some(chunk) => endpoint.receive(chunk, &mut actions),
            None => {
                return Err(Error::WsClosed {
                    code: None,
                    reason: "the server ended the WebSocket stream before answering open"
                        .to_string(),
                })
            }
        }
    }
}

/// Makes `outlet` and `inlet` the duplex's link, of the current
/// generation, and starts reading it.
fn install(
    inner: &Arc<Inner>,
    state: &mut State,
    endpoint: Endpoint,
    outlet: Outlet,
    inlet: Inlet,
    answered: bool,
) {
    let conn = inlet.h2_conn();
    state.tunnel = inlet.is_tunnel();
    let reader = inner
        .runtime
        .spawn(read_link(inner.clone(), state.generation, inlet))
        .abort_handle();
    state.link = Some(Link {
        endpoint,
        send: Some(outlet),
        reader,
        conn,
        answered,
    });
}

/// Reads one link into its endpoint until it ends or fails.
async fn read_link(inner: Arc<Inner>, generation: u64, mut inlet: Inlet) {
    let mut connection = inlet.lost();
    loop {
        let data = tokio::select! {
            data = inlet.data() => data,
            reason = lost(&mut connection) => Err(Error::ConnectionLost(reason)),
        };
        let mut state = inner.state.lock().unwrap();
        let state = &mut *state;
        if state.generation != generation {
            return;
        }
        // The close handshake is over (`WsAction::Finished`).
        let Some(link) = state.link.as_mut() else {
            break;
        };
        match data {
            Ok(Some(chunk)) => {
                let mut actions = Vec::new();
                link.endpoint.receive(chunk, &mut actions);
                apply_ws(&inner, state, actions);
            }
            Ok(None) | Err(_) => {
                link_failed(&inner, state);
                return;
            }
        }
    }
    // The server ends its side after the Closes: reading it to its end
    // (for a while) ends the link without a reset.
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, inlet.finish()).await;
}

/// The link went without a Close: the duplex detaches, unless it is over.
fn link_failed(inner: &Arc<Inner>, state: &mut State) {
    drop_link(state, false);
    if state.app.end.is_none() {
        let mut actions = Vec::new();
        state
            .core
            .handle_transport_failed(inner.now(), &mut actions);
        apply_resume(inner, state, actions);
    }
    inner.signal();
}

/// Abandons the link (and, `hung`, its HTTP/2 connection): what it
/// delivered and the reader has not given back is no later link's credit.
fn drop_link(state: &mut State, hung: bool) {
    if let Some(mut link) = state.link.take() {
        if hung {
            if let Some(conn) = link.conn.take() {
                conn.retire();
            }
        }
        link.abandon();
        state.stale =
            state.app.unreported + state.app.queue.iter().map(|b| b.len() as u64).sum::<u64>();
    }
}

impl Inner {
    /// The core's clock: ms since the duplex opened.
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// The application ended its side: the core counts the end (once, on
    /// a duplex not over), and the sender sends it.
    fn count_end(&self) {
        let mut state = self.state.lock().unwrap();
        let state = &mut *state;
        if !state.app.write_end && state.app.end.is_none() {
            state.app.write_end = true;
            state.core.handle_end();
            reschedule(self, state);
            self.signal();
        }
    }
}

/// Carries out a link's endpoint actions, and the core's answers to them,
/// in order.
fn apply_ws(inner: &Arc<Inner>, state: &mut State, actions: Vec<WsAction>) {
    let now = inner.now();
    let mut out = Vec::new();
    for action in actions {
        match action {
            WsAction::Send(frame) => send_frame(state, frame),
            WsAction::Deliver(data) => {
                state.core.handle_data(data.len() as u64, now, &mut out);
                if state.app.end.is_none() {
                    state.app.queue.push_back(data);
                }
            }
            WsAction::End => {
                state.core.handle_peer_end(now, &mut out);
                state.app.read_end = true;
            }
            WsAction::Credit => state.core.handle_heard(now),
            WsAction::Ack { count } => state.core.handle_ack(count, now, &mut out),
            WsAction::Resumed { received } => {
                if let Some(link) = state.link.as_mut() {
                    link.answered = true;
                }
                state.core.handle_resumed(received, now, &mut out);
            }
            WsAction::ResumeRefused { code } => {
                let refusal = match code {
                    Code::ResumeUnknown => Refusal::Unknown,
                    Code::ResumeRefused => Refusal::Refused,
                    _ => Refusal::Count,
                };
                state.core.handle_refused(refusal, &mut out);
            }
            // Only ever the answer to `open` (see `answer`); the others are
            // the server's.
            WsAction::Resumable(_) | WsAction::Open | WsAction::Resume(_) => {}
            WsAction::Finished {
                code, violation, ..
            } => {
                // The close handshake is over: end the stream (the
                // reader reads the server's end, see `read_link`).
                if let Some(mut link) = state.link.take() {
                    if let Some(mut send) = link.send.take() {
                        let _ = send.send_data(Bytes::new(), true);
                    }
                }
                if state.app.end.is_none() {
                    let err = match violation {
                        Some(violation) => Error::WsViolation(violation),
                        None => Error::WsClosed {
                            code,
                            reason:
                                "the server closed the WebSocket before the duplex was complete"
                                    .to_string(),
                        },
                    };
                    fail(state, err);
                }
            }
        }
        if !out.is_empty() {
            apply_resume(inner, state, std::mem::take(&mut out));
        }
    }
    reschedule(inner, state);
    inner.signal();
}

/// Writes a frame to the link's stream. A stream closed for sending says
/// why on its receive side.
fn send_frame(state: &mut State, frame: Bytes) {
    if let Some(link) = state.link.as_mut() {
        if let Some(send) = link.send.as_mut() {
            if send.send_data(frame, false).is_err() {
                link.send = None;
            }
        }
    }
}

/// Carries out the core's actions, in order.
fn apply_resume(inner: &Arc<Inner>, state: &mut State, actions: Vec<ResumeAction>) {
    for action in actions {
        match action {
            ResumeAction::Drop { bytes } => drop_front(state, bytes),
            // Writes wait on the core's room; the change wakes them.
            ResumeAction::Hold | ResumeAction::Flow => {}
            ResumeAction::Ack { count } => {
                if let Some(link) = state.link.as_mut() {
                    let mut frames = Vec::new();
                    link.endpoint.send_ack(count, &mut frames);
                    for frame in frames {
                        if let WsAction::Send(frame) = frame {
                            send_frame(state, frame);
                        }
                    }
                }
            }
            ResumeAction::CloseTransport => {
                if let Some(attempt) = state.attempt.take() {
                    attempt.abort();
                }
                drop_link(state, true);
            }
            ResumeAction::Reconnect { count, .. } => {
                if let Some(attempt) = state.attempt.take() {
                    attempt.abort();
                }
                drop_link(state, false);
                state.generation += 1;
                let task = inner
                    .runtime
                    .spawn(reconnect(inner.clone(), state.generation, count));
                state.attempt = Some(task.abort_handle());
            }
            ResumeAction::Resumed {
                attempt,
                downtime_ms,
            } => {
                // Nothing to send again unless a Resend follows.
                state.wire = state.written;
                state.end_on_wire = state.app.write_end;
                state.resumes.push((attempt.unwrap_or(0), downtime_ms));
            }
            ResumeAction::Resend { from, end } => {
                debug_assert_eq!(from, state.acked, "the queue starts at the resend");
                state.wire = from;
                state.end_on_wire = state.app.write_end && !end;
            }
            ResumeAction::Complete => {
                if state.app.end.is_none() {
                    state.app.end = Some(End::Done);
                }
                if let Some(link) = state.link.as_mut() {
                    let mut frames = Vec::new();
                    link.endpoint.complete(&mut frames);
                    for frame in frames {
                        if let WsAction::Send(frame) = frame {
                            send_frame(state, frame);
                        }
                    }
                    close_later(inner, state.generation);
                }
            }
            ResumeAction::Fail(error) => {
                fail(state, Error::Resume(error));
                drop_link(state, false);
            }
        }
    }
    reschedule(inner, state);
    inner.signal();
}

/// Records a failure (the first one wins); the duplex is over.
fn fail(state: &mut State, err: Error) {
    state.app.fail(err);
    if let Some(attempt) = state.attempt.take() {
        attempt.abort();
    }
}

/// Drops `bytes` acknowledged bytes from the front of the queue.
fn drop_front(state: &mut State, mut bytes: u64) {
    state.acked += bytes;
    state.wire = state.wire.max(state.acked);
    while bytes > 0 {
        let Some(front) = state.unacked.front_mut() else {
            break;
        };
        let len = front.len() as u64;
        if len <= bytes {
            bytes -= len;
            state.unacked.pop_front();
        } else {
            front.advance(bytes as usize);
            bytes = 0;
        }
    }
}

/// A link whose WebSocket is closing gets [`CLOSE_TIMEOUT`] for the
/// server's Close, then is dropped.
fn close_later(inner: &Arc<Inner>, generation: u64) {
    let inner = inner.clone();
    inner.runtime.clone().spawn(async move {
        tokio::time::sleep(CLOSE_TIMEOUT).await;
        let mut state = inner.state.lock().unwrap();
        if state.generation == generation {
            drop_link(&mut state, false);
        }
    });
}

/// Wakes the timer task if the core's next timeout came earlier than the
/// one it sleeps for (or the duplex is over).
fn reschedule(inner: &Inner, state: &State) {
    let due = state.core.poll_timeout();
    let earlier = match (due, state.timer_at) {
        (Some(due), Some(at)) => due < at,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if earlier || state.app.end.is_some() {
        inner.timer.notify_one();
    }
}

/// Calls the core back when it said, until the duplex is over.
async fn timer(inner: Arc<Inner>) {
    loop {
        let due = {
            let mut state = inner.state.lock().unwrap();
            if state.app.end.is_some() {
                return;
            }
            state.timer_at = state.core.poll_timeout();
            state.timer_at
        };
        let at = match due {
            Some(at) => inner.epoch + Duration::from_millis(at),
            None => {
                inner.timer.notified().await;
                continue;
            }
        };
        tokio::select! {
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => {}
            _ = inner.timer.notified() => continue,
        }
        let mut state = inner.state.lock().unwrap();
        let state = &mut *state;
        let mut actions = Vec::new();
        state.core.handle_timeout(inner.now(), &mut actions);
        state.timer_at = None;
        apply_resume(&inner, state, actions);
    }
}

/// One resume attempt: a new WebSocket asking to resume the duplex,
/// having received `count` units.
async fn reconnect(inner: Arc<Inner>, generation: u64, count: u64) {
    let tunnel = inner.state.lock().unwrap().tunnel;
    let opened = inner.dial.open(tunnel).await;
    let mut state = inner.state.lock().unwrap();
    let state = &mut *state;
    if state.generation != generation || state.app.end.is_some() {
        if let Ok(mut opened) = opened {
            opened.outlet.send_reset();
        }
        return;
    }
    state.attempt = None;
    match opened {
        Ok(opened) if opened.resumable => {
            let mut endpoint = endpoint();
            let mut actions = Vec::new();
            endpoint.send_resume(&inner.id, &state.secret, count, &mut actions);
            endpoint.open(&mut actions);
            install(&inner, state, endpoint, opened.outlet, opened.inlet, false);
            apply_ws(&inner, state, actions);
        }
        // Another server (or a proxy's answer), or no connection: the
        // attempt failed.
        other => {
            if let Ok(mut opened) = other {
                opened.outlet.send_reset();
            }
            let mut actions = Vec::new();
            state
                .core
                .handle_transport_failed(inner.now(), &mut actions);
            apply_resume(&inner, state, actions);
        }
    }
}

/// Sends what the current link lacks (the queue from `wire`, then the
/// end) as far as its credit and room allow, until the duplex is over.
async fn pump(inner: Arc<Inner>) {
    let mut changed = inner.changed.subscribe();
    loop {
        let want = {
            let mut state = inner.state.lock().unwrap();
            let state = &mut *state;
            if state.app.end.is_some() {
                return;
            }
            next_send(&inner, state)
        };
        let Some((generation, want)) = want else {
            if changed.changed().await.is_err() {
                return;
            }
            continue;
        };
        // HTTP/2 flow control, or room in the socket's send buffer.
        let capacity = tokio::select! {
            capacity = poll_fn(|cx| poll_capacity(&inner, generation, want, cx)) => capacity,
            _ = changed.changed() => continue,
        };
        let sent = {
            let mut state = inner.state.lock().unwrap();
            let state = &mut *state;
            match capacity {
                _ if state.generation != generation => continue,
                Err(()) => {
                    link_failed(&inner, state);
                    continue;
                }
                Ok(capacity) => send_data(state, capacity),
            }
        };
        // Nothing went (the stream closed for sending, …): wait for a
        // change rather than spin.
        if !sent && changed.changed().await.is_err() {
            return;
        }
    }
}

/// What the sender may send now: `(generation, bytes)`; sends the end when
/// that is what is due.
fn next_send(inner: &Arc<Inner>, state: &mut State) -> Option<(u64, usize)> {
    let link = state
        .link
        .as_mut()
        .filter(|l| l.answered && l.send.is_some())?;
    if state.wire < state.written {
        let credit = link.endpoint.send_credit();
        let want = (state.written - state.wire)
            .min(credit)
            .min(MAX_FRAME as u64) as usize;
        return (want > 0).then_some((state.generation, want));
    }
    if state.app.write_end && !state.end_on_wire {
        state.end_on_wire = true;
        let mut actions = Vec::new();
        link.endpoint.end(&mut actions);
        apply_ws(inner, state, actions);
    }
    None
}

/// Waits until the link's stream may take a frame of `want` bytes (or
/// less). Err: it failed.
fn poll_capacity(
    inner: &Inner,
    generation: u64,
    want: usize,
    cx: &mut std::task::Context<'_>,
) -> Poll<Result<usize, ()>> {
    let mut state = inner.state.lock().unwrap();
    if state.generation != generation {
        return Poll::Ready(Ok(0));
    }
    let Some(link) = state.link.as_mut() else {
        return Poll::Ready(Ok(0));
    };
    let Some(send) = link.send.as_mut() else {
        return Poll::Ready(Ok(0));
    };
    send.reserve_capacity(want + MAX_HEADER_LEN);
    match send.poll_capacity(cx, MAX_HEADER_LEN) {
        Poll::Ready(Ok(capacity)) => Poll::Ready(Ok(capacity)),
        // The receive side learns why and detaches the duplex.
        Poll::Ready(Err(NoRoom::Closed)) => {
            link.send = None;
            Poll::Ready(Ok(0))
        }
        Poll::Ready(Err(NoRoom::Failed(_))) => Poll::Ready(Err(())),
        Poll::Pending => Poll::Pending,
    }
}

/// Sends one frame from the queue at `wire`, within `capacity`: one
/// piece of one write, copied once as it is masked (the queue keeps it as
/// written, for a resend). Whether it sent one.
fn send_data(state: &mut State, capacity: usize) -> bool {
    let Some(link) = state.link.as_mut().filter(|l| l.answered) else {
        return false;
    };
    let Some(send) = link.send.as_mut() else {
        return false;
    };
    let mut offset = (state.wire - state.acked) as usize;
    let mut piece = None;
    for chunk in &state.unacked {
        if offset < chunk.len() {
            piece = Some(&chunk[offset..]);
            break;
        }
        offset -= chunk.len();
    }
    let Some(piece) = piece else {
        return false;
    };
    let n = piece
        .len()
        .min(MAX_FRAME)
        .min(link.endpoint.send_credit() as usize)
        .min(capacity.saturating_sub(MAX_HEADER_LEN));
    if n == 0 {
        send.reserve_capacity(0);
        return false;
    }
    let frame = masked_frame(&mut link.endpoint, &piece[..n]);
    let sent = send.send_data(frame, false);
    send.reserve_capacity(0);
    if sent.is_err() {
        link.send = None;
        return false;
    }
    state.wire += n as u64;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resume_asks_for_the_url_with_the_ids_node_prefix_only() {
        let url = |target: Target| target.uri.to_string();
        let target = Target::parse("https://example.test:8443/dx").unwrap();
        assert_eq!(
            url(resume_target(&target, "node-2.4f9c")),
            "https://example.test:8443/dx?resume=node-2"
        );
        // No prefix, an empty one, or a query of the URL's own: as it is.
        for id in ["4f9c", ".4f9c"] {
            assert_eq!(
                url(resume_target(&target, id)),
                "https://example.test:8443/dx"
            );
        }
        let queried = Target::parse("https://example.test/dx?room=1").unwrap();
        assert_eq!(
            url(resume_target(&queried, "n.1")),
            "https://example.test/dx?room=1"
        );
        assert_eq!(
            url(resume_target(&target, "a b.1")),
            "https://example.test:8443/dx?resume=a%20b"
        );
    }
}
