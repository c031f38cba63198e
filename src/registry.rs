//! `Registry`: pairing scopes, the duplexes opened in them, their budgets,
//! and the GET+POST transport's POSTs (`core::get_post::Endpoint`), whose
//! every `handle*` call answers with the actions the adapter carries out.

use std::collections::HashMap;

use http2_duplex_core as core;
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

use core::get_post::{Action, Cut, PostKey, SessionDuplex};
use core::liveness::LivenessAction;
use core::protocol::defaults;
use core::tick::{KeepAlive, TickAction, Ticks};
use core::{ConnectionKey, DuplexKey, ScopeKey};
use core::{DestroyedGet, GetError};

use crate::refusal::{clamp_u32, header_map, Refusal};

/// Limits, all optional (the core's defaults apply). Checked by
/// `checkOption` first: integers within range.
#[napi(object)]
pub struct Limits {
    pub max_duplexes_per_session: Option<f64>,
    pub max_duplexes_per_connection: Option<f64>,
    pub max_duplexes: Option<f64>,
    pub window: Option<f64>,
    pub window_bytes: Option<f64>,
    pub max_held_bytes_per_session: Option<f64>,
    pub max_held_bytes_per_connection: Option<f64>,
    pub max_held_bytes: Option<f64>,
    pub max_write_bytes: Option<f64>,
    /// Ms without traffic after which a duplex ends (0, the default, is off).
    pub idle_timeout: Option<f64>,
    /// Ms a POST still open when its duplex closes stays open.
    pub close_timeout: Option<f64>,
    /// Ms of silence on a framed GET body before a PING frame (0 is off).
    pub keepalive_interval: Option<f64>,
}

#[napi(object, object_from_js = false)]
pub struct EffectiveLimits {
    pub max_duplexes_per_session: f64,
    pub max_duplexes_per_connection: f64,
    pub max_duplexes: f64,
    pub window: f64,
    pub window_bytes: f64,
    pub max_held_bytes_per_session: f64,
    pub max_held_bytes_per_connection: f64,
    pub max_held_bytes: f64,
    pub max_write_bytes: f64,
}

#[napi(object, object_from_js = false)]
pub struct Stats {
    pub sessions: u32,
    pub duplexes: u32,
    pub held_bytes: f64,
    pub writes_in_flight: u32,
}

/// A GET or WebSocket that asked to open a duplex.
#[napi(
    discriminant = "kind",
    discriminant_case = "kebab-case",
    object_from_js = false
)]
pub enum Opened {
    /// `headers` are the protocol headers of the answer; `framed`: the GET's
    /// body is framed (docs/protocol.md); `watched`: `handleTick` must run
    /// every `tickInterval()` ms while it is open.
    Opened {
        key: i64,
        id: String,
        framed: bool,
        watched: bool,
        headers: HashMap<String, String>,
        /// The GET is a tunnel's carrier (`key`, `id`), and this the duplex
        /// it carries.
        tunnelled: Option<Tunnelled>,
    },
    Refused {
        refusal: Refusal,
    },
}

/// The duplex a tunnel carries (docs/protocol.md "Resume on the fetch
/// paths"): a WebSocket duplex of the subprotocol `protocol` whose stream
/// is the carrier.
#[napi(object, object_from_js = false)]
pub struct Tunnelled {
    pub key: i64,
    pub id: String,
    pub watched: bool,
    pub protocol: String,
}

/// What the GET+POST adapter does, in order (`core::get_post::Action`).
#[napi(
    discriminant = "kind",
    discriminant_case = "kebab-case",
    object_from_js = false
)]
pub enum PostAction {
    /// Push `data` (held out of order until now) into the duplex.
    Deliver {
        duplex: i64,
        data: Buffer,
    },
    Pause {
        post: i64,
    },
    Resume {
        post: i64,
    },
    /// Answer 200 once the duplex's reader has taken what is in it.
    AnswerWhenTaken {
        post: i64,
    },
    Answer {
        post: i64,
        status: u32,
        code: Option<String>,
    },
    /// Answer with the refusal and stop the upload; warn unless quiet.
    Refuse {
        post: i64,
        refusal: Refusal,
    },
    /// Destroy the duplex with this error; warn when `warn`.
    Fail {
        duplex: i64,
        refusal: Refusal,
        warn: bool,
    },
    End {
        duplex: i64,
    },
    /// Write `data` to the duplex's GET body (a keep-alive).
    Write {
        duplex: i64,
        data: Buffer,
    },
    /// Send the resumable duplex's last ack again (a keep-alive).
    SendAck {
        duplex: i64,
    },
    CloseGet {
        duplex: i64,
    },
    EndWritable {
        duplex: i64,
    },
    /// Destroy the duplex with the error its GET stream was destroyed with.
    DestroyWithGetError {
        duplex: i64,
    },
    /// End the destroyed duplex's GET stream cleanly.
    EndGet {
        duplex: i64,
    },
    /// Destroy the destroyed duplex's GET stream, with the duplex's error if any.
    ResetGet {
        duplex: i64,
    },
    ClosePost {
        post: i64,
    },
}

/// The bytes that start every GET body, and the frame that ends a framed
/// one (docs/protocol.md).
#[napi(object, object_from_js = false)]
pub struct GetBody {
    pub preamble: Buffer,
    pub end: Buffer,
}

#[napi]
pub fn get_body() -> GetBody {
    GetBody {
        preamble: core::framing::PREAMBLE.to_vec().into(),
        end: core::framing::END_FRAME.to_vec().into(),
    }
}

/// The header of a DATA frame carrying a write of `len` bytes.
#[napi]
pub fn data_header(len: u32) -> Buffer {
    core::framing::data_header(len).to_vec().into()
}

/// A duplex whose GET a closed connection carried.
#[napi(object)]
pub struct ClosedSessionDuplex {
    pub duplex: i64,
    /// It pairs beyond its connection (a scope other than the session).
    pub wider_scope: bool,
    /// The server had ended its writable side.
    pub server_ended: bool,
}

/// Node's code for the error of a stream the peer reset.
const NODE_PEER_RESET: &str = "ERR_HTTP2_STREAM_ERROR";

/// A POST's key, the duplex it writes to (none when refused), and what to do first.
#[napi(object, object_from_js = false)]
pub struct PostOpened {
    pub post: i64,
    pub duplex: Option<i64>,
    /// The body's end is final when it comes (its length was declared);
    /// otherwise judge it a turn later, once a reset would have closed the stream.
    pub end_is_final: bool,
    pub actions: Vec<PostAction>,
}

fn key(value: i64) -> u64 {
    value as u64
}

fn post_actions(actions: Vec<Action>) -> Vec<PostAction> {
    let id = |key: u64| key as i64;
    actions
        .into_iter()
        .map(|action| match action {
            // Held pieces were copied once on arrival; handing them over moves the allocation.
            Action::Deliver { duplex, data } => PostAction::Deliver {
                duplex: id(duplex.0),
                data: Vec::from(data).into(),
            },
            Action::Pause { post } => PostAction::Pause { post: id(post.0) },
            Action::Resume { post } => PostAction::Resume { post: id(post.0) },
            Action::AnswerWhenTaken { post } => PostAction::AnswerWhenTaken { post: id(post.0) },
            Action::Answer { post, status, code } => PostAction::Answer {
                post: id(post.0),
                status: u32::from(status),
                code: code.map(|code| code.as_str().to_owned()),
            },
            Action::Refuse { post, rejection } => PostAction::Refuse {
                post: id(post.0),
                refusal: Refusal::from(&rejection),
            },
            Action::Fail {
                duplex,
                rejection,
                warn,
            } => PostAction::Fail {
                duplex: id(duplex.0),
                refusal: Refusal::from(&rejection),
                warn,
            },
            Action::End { duplex } => PostAction::End {
                duplex: id(duplex.0),
            },
            Action::CloseGet { duplex } => PostAction::CloseGet {
                duplex: id(duplex.0),
            },
            Action::EndWritable { duplex } => PostAction::EndWritable {
                duplex: id(duplex.0),
            },
            Action::DestroyWithGetError { duplex } => PostAction::DestroyWithGetError {
                duplex: id(duplex.0),
            },
            Action::EndGet { duplex } => PostAction::EndGet {
                duplex: id(duplex.0),
            },
            Action::ResetGet { duplex } => PostAction::ResetGet {
                duplex: id(duplex.0),
            },
            Action::ClosePost { post } => PostAction::ClosePost { post: id(post.0) },
        })
        .collect()
}

fn tick_actions(actions: Vec<TickAction>) -> Vec<PostAction> {
    actions
        .into_iter()
        .map(|action| match action {
            TickAction::Fail { duplex, rejection } => PostAction::Fail {
                duplex: duplex.0 as i64,
                refusal: Refusal::from(&rejection),
                warn: true,
            },
            TickAction::Write { duplex, data } => PostAction::Write {
                duplex: duplex.0 as i64,
                data: data.to_vec().into(),
            },
            TickAction::SendAck { duplex } => PostAction::SendAck {
                duplex: duplex.0 as i64,
            },
        })
        .collect()
}

/// What a check of the client connections (HTTP/2 sessions, HTTP/1.1
/// WebSockets' sockets) asks of the server.
#[napi(
    discriminant = "kind",
    discriminant_case = "kebab-case",
    object_from_js = false
)]
pub enum SessionAction {
    /// Send the connection (its key) a PING: an HTTP/2 PING, or the
    /// WebSocket's Ping frame (`WsEndpoint.ping`).
    Ping { session: i64 },
    /// The connection did not answer its PING: fail its duplexes with this
    /// error (warning) and destroy it.
    Destroy { session: i64, refusal: Refusal },
}

#[napi(js_name = "Registry")]
pub struct JsRegistry {
    inner: core::Registry,
    posts: core::get_post::Endpoint,
    ticks: Ticks,
}

#[napi]
impl JsRegistry {
    /// `session_scoped`: each HTTP/2 session is its own pairing scope.
    #[napi(constructor)]
    pub fn new(limits: Limits, session_scoped: bool) -> Self {
        let mut effective = core::Limits::for_scopes(session_scoped);
        let set = |value: Option<f64>, field: &mut usize| {
            if let Some(v) = value {
                *field = v as usize;
            }
        };
        set(
            limits.max_duplexes_per_session,
            &mut effective.max_duplexes_per_scope,
        );
        set(limits.max_duplexes, &mut effective.max_duplexes);
        set(limits.window_bytes, &mut effective.window_bytes);
        set(
            limits.max_held_bytes_per_session,
            &mut effective.max_held_bytes_per_scope,
        );
        set(limits.max_held_bytes, &mut effective.max_held_bytes);
        set(limits.max_write_bytes, &mut effective.max_write_bytes);
        if let Some(v) = limits.window {
            effective.window = v as u64;
        }
        if let Some(v) = limits.max_duplexes_per_connection {
            effective.max_duplexes_per_connection = Some(v as usize);
        }
        if let Some(v) = limits.max_held_bytes_per_connection {
            effective.max_held_bytes_per_connection = Some(v as usize);
        }
        JsRegistry {
            inner: core::Registry::new(effective),
            posts: core::get_post::Endpoint::new(
                limits
                    .close_timeout
                    .unwrap_or(f64::from(defaults::CLOSE_TIMEOUT_MS)) as u64,
            ),
            ticks: Ticks::new(
                limits.idle_timeout.unwrap_or(0.0) as u64,
                limits
                    .keepalive_interval
                    .unwrap_or(f64::from(defaults::KEEPALIVE_INTERVAL_MS)) as u64,
            ),
        }
    }

    #[napi]
    pub fn limits(&self) -> EffectiveLimits {
        let limits = self.inner.limits();
        EffectiveLimits {
            max_duplexes_per_session: limits.max_duplexes_per_scope as f64,
            max_duplexes_per_connection: limits.duplexes_per_connection() as f64,
            max_duplexes: limits.max_duplexes as f64,
            window: limits.window as f64,
            window_bytes: limits.window_bytes as f64,
            max_held_bytes_per_session: limits.max_held_bytes_per_scope as f64,
            max_held_bytes_per_connection: limits.held_bytes_per_connection() as f64,
            max_held_bytes: limits.max_held_bytes as f64,
            max_write_bytes: limits.max_write_bytes as f64,
        }
    }

    /// Names this node (ids become `<node>.<uuid>`); `Some(message)` if invalid.
    #[napi]
    pub fn set_node_id(&mut self, node: String) -> Option<String> {
        self.inner.set_node_id(&node).err()
    }

    /// A key for a new client connection (HTTP/2 session or HTTP/1.1 socket).
    #[napi]
    pub fn connection_key(&mut self) -> i64 {
        self.inner.connection_key().0 as i64
    }

    #[napi]
    pub fn open_scope(&mut self) -> i64 {
        self.inner.open_scope().0 as i64
    }

    /// Forgets a scope; returns the keys of the duplexes that were open in it.
    #[napi]
    pub fn close_scope(&mut self, scope: i64) -> Vec<i64> {
        self.inner
            .close_scope(ScopeKey(key(scope)))
            .into_iter()
            .map(|duplex| duplex.0 as i64)
            .collect()
    }

    /// A GET on `connection` opens a duplex in `scope` at `now` (ms, the
    /// caller's clock); `framing` is its `http2-duplex-framing` header,
    /// `tunnel` its `http2-duplex-tunnel`; `resumes`: the server offers
    /// resume (a tunnel carries only the subprotocol with resume).
    #[napi]
    pub fn open_duplex(
        &mut self,
        scope: i64,
        connection: i64,
        framing: Option<String>,
        tunnel: Option<String>,
        resumes: bool,
        now: f64,
    ) -> Opened {
        let framed = core::framing::wants_framing(framing.as_deref());
        let limits = self.inner.limits().clone();
        let keepalive = if framed {
            KeepAlive::PingFrame
        } else {
            KeepAlive::None
        };
        let Some(carried) = core::resume_subprotocol(tunnel.as_deref(), resumes) else {
            return self.open(scope, connection, framed, keepalive, now, |id| {
                core::open_answer_headers(id, &limits, framed, None)
            });
        };
        match self
            .inner
            .open_tunnel(ScopeKey(key(scope)), ConnectionKey(key(connection)))
        {
            Ok((tunnelled, carrier)) => Opened::Opened {
                key: carrier.key.0 as i64,
                framed,
                watched: self.ticks.watch(carrier.key, now as u64, keepalive),
                headers: header_map(core::open_answer_headers(
                    &carrier.id,
                    &limits,
                    framed,
                    Some(carried),
                )),
                id: carrier.id,
                tunnelled: Some(Tunnelled {
                    key: tunnelled.key.0 as i64,
                    watched: self.ticks.watch(tunnelled.key, now as u64, KeepAlive::Ack),
                    id: tunnelled.id,
                    protocol: carried.to_owned(),
                }),
            },
            Err(refused) => Opened::Refused {
                refusal: Refusal::from(&refused),
            },
        }
    }

    /// A WebSocket opens a duplex at `now`; `protocols` is its
    /// `sec-websocket-protocol`; `resumes`: the server offers resume.
    #[napi]
    pub fn open_web_socket(
        &mut self,
        scope: i64,
        connection: i64,
        protocols: Option<String>,
        resumes: bool,
        now: f64,
    ) -> Opened {
        let keepalive = if core::resume_subprotocol(protocols.as_deref(), resumes).is_some() {
            KeepAlive::Ack
        } else {
            KeepAlive::None
        };
        self.open(scope, connection, false, keepalive, now, |id| {
            core::websocket_answer_headers(id, protocols.as_deref(), resumes)
        })
    }

    fn open(
        &mut self,
        scope: i64,
        connection: i64,
        framed: bool,
        keepalive: KeepAlive,
        now: f64,
        headers: impl FnOnce(&str) -> Vec<(&'static str, String)>,
    ) -> Opened {
        match self
            .inner
            .open_duplex(ScopeKey(key(scope)), ConnectionKey(key(connection)))
        {
            Ok(opened) => Opened::Opened {
                key: opened.key.0 as i64,
                framed,
                watched: self.ticks.watch(opened.key, now as u64, keepalive),
                headers: header_map(headers(&opened.id)),
                id: opened.id,
                tunnelled: None,
            },
            Err(refused) => Opened::Refused {
                refusal: Refusal::from(&refused),
            },
        }
    }

    /// A POST arrived in `scope` with these protocol headers.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn handle_post(
        &mut self,
        scope: i64,
        id: Option<String>,
        seq: Option<String>,
        single: Option<String>,
        end: Option<String>,
        destroyed: Option<String>,
        content_length: Option<String>,
    ) -> PostOpened {
        let headers = core::PostHeaders {
            id: id.as_deref(),
            seq: seq.as_deref(),
            single: single.as_deref(),
            end: end.as_deref(),
            destroyed: destroyed.as_deref(),
        };
        let mut out = Vec::new();
        let post = self.posts.handle_post(
            &mut self.inner,
            ScopeKey(key(scope)),
            &headers,
            content_length.as_deref(),
            &mut out,
        );
        PostOpened {
            post: post.0 as i64,
            duplex: self.posts.duplex_of(post).map(|duplex| duplex.0 as i64),
            end_is_final: self.posts.end_is_final(post),
            actions: post_actions(out),
        }
    }

    /// A piece of the POST's body. null: push this very buffer into the
    /// duplex (the fast path: no copy, no allocation); otherwise the actions.
    #[napi]
    pub fn handle_piece(&mut self, post: i64, data: &[u8]) -> Option<Vec<PostAction>> {
        self.posts
            .handle_piece(&mut self.inner, PostKey(key(post)), data)
            .map(post_actions)
    }

    /// The POST's body ended; `reset` when the client reset it first,
    /// `session_gone` when its connection went away under it.
    #[napi]
    pub fn handle_body_end(
        &mut self,
        post: i64,
        reset: bool,
        session_gone: bool,
    ) -> Vec<PostAction> {
        let cut = match (session_gone, reset) {
            (true, _) => Cut::SessionGone,
            (false, true) => Cut::Reset,
            (false, false) => Cut::None,
        };
        let mut out = Vec::new();
        self.posts
            .handle_body_end(&mut self.inner, PostKey(key(post)), cut, &mut out);
        post_actions(out)
    }

    /// The POST's stream closed; `session_gone` when its connection went away.
    #[napi]
    pub fn handle_post_closed(&mut self, post: i64, session_gone: bool) -> Vec<PostAction> {
        let mut out = Vec::new();
        self.posts
            .handle_post_closed(&mut self.inner, PostKey(key(post)), session_gone, &mut out);
        post_actions(out)
    }

    /// The duplex closed at `now` (ms, the caller's clock).
    #[napi]
    pub fn handle_duplex_closed(&mut self, duplex: i64, now: f64) -> Vec<PostAction> {
        let mut out = Vec::new();
        let duplex = DuplexKey(key(duplex));
        self.ticks.unwatch(duplex);
        self.posts
            .handle_duplex_closed(&mut self.inner, duplex, now as u64, &mut out);
        post_actions(out)
    }

    /// The duplex's GET stream closed with `rst_code`; `error_code`: the
    /// code of the error it was destroyed with (`""` for an error without
    /// one), if any; `server_ended`: its response had ended; `session_gone`:
    /// its session is destroyed (its own close decides); `duplex_done`: both
    /// directions were done.
    #[napi]
    pub fn handle_get_closed(
        &mut self,
        duplex: i64,
        rst_code: u32,
        error_code: Option<String>,
        server_ended: bool,
        session_gone: bool,
        duplex_done: bool,
    ) -> Vec<PostAction> {
        let mut out = Vec::new();
        let error = match error_code.as_deref() {
            None => GetError::None,
            Some(NODE_PEER_RESET) => GetError::PeerReset,
            Some(_) => GetError::Other,
        };
        let closed = core::GetClosed {
            error,
            rst_code,
            server_ended,
            closed_by_server: false,
            session_gone,
            duplex_done,
        };
        self.posts
            .handle_get_closed(DuplexKey(key(duplex)), closed, &mut out);
        post_actions(out)
    }

    /// The duplex was destroyed (`failed`: with an error): how its GET stream
    /// ends; `framed`: its body is framed; `server_ended`: the response was
    /// ended; `stream_gone`: the stream was destroyed already.
    #[napi]
    pub fn handle_duplex_destroyed(
        &mut self,
        duplex: i64,
        framed: bool,
        server_ended: bool,
        stream_gone: bool,
        failed: bool,
    ) -> Vec<PostAction> {
        let mut out = Vec::new();
        let get = DestroyedGet {
            framed,
            server_ended,
            stream_gone,
            failed,
        };
        self.posts
            .handle_duplex_destroyed(DuplexKey(key(duplex)), &get, &mut out);
        post_actions(out)
    }

    /// The connection carrying these duplexes' GETs closed; `errored`: it had
    /// an error; `goaway_codes`: the GOAWAYs it received. Answers `end` or
    /// `fail` for each duplex that does not live on.
    #[napi]
    pub fn handle_session_closed(
        &mut self,
        errored: bool,
        goaway_codes: Vec<u32>,
        duplexes: Vec<ClosedSessionDuplex>,
    ) -> Vec<PostAction> {
        let duplexes: Vec<SessionDuplex> = duplexes
            .iter()
            .map(|closed| SessionDuplex {
                duplex: DuplexKey(key(closed.duplex)),
                wider_scope: closed.wider_scope,
                server_ended: closed.server_ended,
            })
            .collect();
        let mut out = Vec::new();
        self.posts
            .handle_session_closed(errored, &goaway_codes, &duplexes, &mut out);
        post_actions(out)
    }

    /// When (ms) `handleTimeout` is next due for POSTs, if at all.
    #[napi]
    pub fn next_timeout(&self) -> Option<f64> {
        self.posts.next_timeout().map(|at| at as f64)
    }

    #[napi]
    pub fn handle_timeout(&mut self, now: f64) -> Vec<PostAction> {
        let mut out = Vec::new();
        self.posts.handle_timeout(now as u64, &mut out);
        post_actions(out)
    }

    /// How often to call `handleTick` while a duplex is watched; none when
    /// neither the idle timeout nor the keep-alives are on.
    #[napi]
    pub fn tick_interval(&self) -> Option<u32> {
        self.ticks
            .interval()
            .map(|interval| interval.min(u32::MAX as u64) as u32)
    }

    /// The periodic check at `now`: `active` saw traffic and `written` had
    /// their GET body written to since the last one. Answers with the
    /// duplexes idle for the timeout (`fail`) and the keep-alives (`write`).
    #[napi]
    pub fn handle_tick(
        &mut self,
        now: f64,
        active: Vec<i64>,
        written: Vec<i64>,
    ) -> Vec<PostAction> {
        let mut out = Vec::new();
        self.ticks.handle_tick(
            now as u64,
            active.into_iter().map(|duplex| DuplexKey(key(duplex))),
            written.into_iter().map(|duplex| DuplexKey(key(duplex))),
            &mut out,
        );
        tick_actions(out)
    }

    /// An HTTP/2 session, or an HTTP/1.1 WebSocket's socket (its connection
    /// key), first seen at `now`. Returns whether it is watched:
    /// `handleSessionTick` must run every `tickInterval()` ms until
    /// `unwatchSession`.
    #[napi]
    pub fn watch_session(&mut self, session: i64, now: f64) -> bool {
        self.ticks
            .watch_session(ConnectionKey(key(session)), now as u64)
    }

    #[napi]
    pub fn unwatch_session(&mut self, session: i64) {
        self.ticks.unwatch_session(ConnectionKey(key(session)));
    }

    /// The connections' periodic check at `now`: `heard` received something
    /// since the last one. Answers `ping` for the silent ones and `destroy`
    /// for those whose PING went unanswered.
    #[napi]
    pub fn handle_session_tick(&mut self, now: f64, heard: Vec<i64>) -> Vec<SessionAction> {
        let mut out = Vec::new();
        self.ticks.handle_session_tick(
            now as u64,
            heard.into_iter().map(|session| ConnectionKey(key(session))),
            &mut out,
        );
        out.into_iter()
            .map(|action| match action {
                LivenessAction::Ping { session } => SessionAction::Ping {
                    session: session.0 as i64,
                },
                LivenessAction::Destroy { session, rejection } => SessionAction::Destroy {
                    session: session.0 as i64,
                    refusal: Refusal::from(&rejection),
                },
            })
            .collect()
    }

    #[napi]
    pub fn stats(&self) -> Stats {
        let stats = self.inner.stats();
        Stats {
            sessions: clamp_u32(stats.scopes),
            duplexes: clamp_u32(stats.duplexes),
            held_bytes: stats.held_bytes as f64,
            writes_in_flight: clamp_u32(stats.writes_in_flight),
        }
    }
}
