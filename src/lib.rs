//! Node-API bindings of the http2-duplex core. Translation only: every
//! protocol decision is made by `http2_duplex_core`.

mod client;

use http2_duplex_core as core;
use napi::bindgen_prelude::{Buffer, Either};
use napi_derive::napi;
use std::collections::HashMap;

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
}

/// A refused request (`kind` "refused"): answer `status` (none for a reset
/// stream) with `code`; destroy `fatal_key`'s duplex if set; warn unless `quiet`.
#[napi(object)]
pub struct Rejection {
    pub kind: String,
    pub code: String,
    pub status: Option<u32>,
    pub message: String,
    pub fatal_key: Option<i64>,
    pub quiet: bool,
}

/// `kind` "opened"; `headers` are the protocol headers of the GET's answer.
#[napi(object)]
pub struct OpenedDuplex {
    pub kind: String,
    pub key: i64,
    pub id: String,
    /// The GET's body is framed (docs/protocol.md).
    pub framed: bool,
    pub headers: HashMap<String, String>,
}

/// The protocol headers a page on another origin may read (CORS).
#[napi]
pub const EXPOSED_HEADERS: &str = core::EXPOSED_HEADERS;

/// Where a POST goes. `kind` is "write", "stream" or "end"; `seq` is set for
/// writes and streams; `destroyed` and `ended_now` for ends.
#[napi(object)]
pub struct PostRoute {
    pub key: i64,
    pub kind: String,
    pub seq: i64,
    pub destroyed: bool,
    pub ended_now: bool,
}

/// `kind` "completed".
#[napi(object)]
pub struct Completion {
    pub kind: String,
    pub released: Vec<Buffer>,
    pub answered: Vec<i64>,
    pub ended: bool,
}

#[napi(object)]
pub struct Stats {
    pub sessions: u32,
    pub duplexes: u32,
    pub held_bytes: f64,
    pub writes_in_flight: u32,
}

#[napi(object)]
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

/// `Registry::piece`'s answer: deliver the caller's buffer now.
#[napi]
pub const PIECE_DELIVER: u32 = 0;
/// `Registry::piece`'s answer: the core holds a copy until it is in order.
#[napi]
pub const PIECE_HELD: u32 = 1;
/// `Registry::piece`'s answer: refused; `takeRejection()` says why.
#[napi]
pub const PIECE_REFUSED: u32 = 2;
/// Held; read no further from this POST until `mayRead` answers true.
#[napi]
pub const PIECE_HELD_PAUSE: u32 = 3;

fn header_map(headers: Vec<(&'static str, String)>) -> HashMap<String, String> {
    headers
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

/// What a stream's close means for its duplex: `kind` "reset" (the duplex
/// breaks with `code` and `message`), "end-writable" (a GET: only the duplex's
/// writable side ends) or "clean" (a WebSocket whose both ends were done).
#[napi(object)]
pub struct CloseOutcome {
    pub kind: String,
    pub code: Option<String>,
    pub message: Option<String>,
}

#[napi]
pub fn get_closed(
    rst_code: u32,
    server_ended: bool,
    closed_by_server: bool,
    session_gone: bool,
    duplex_done: bool,
) -> CloseOutcome {
    let closed = core::GetClosed {
        rst_code,
        server_ended,
        closed_by_server,
        session_gone,
        duplex_done,
    };
    match core::get_closed(&closed) {
        core::GetOutcome::Reset(reset) => CloseOutcome::reset(&reset),
        core::GetOutcome::EndWritable => CloseOutcome::quiet("end-writable"),
    }
}

impl CloseOutcome {
    fn reset(reset: &core::Rejection) -> Self {
        CloseOutcome {
            kind: "reset".to_owned(),
            code: Some(reset.code().as_str().to_owned()),
            message: Some(reset.to_string()),
        }
    }

    // A WebSocket's end: a break, or clean.
    fn of(broke: Option<core::Rejection>) -> Self {
        match broke {
            Some(reset) => CloseOutcome::reset(&reset),
            None => CloseOutcome::quiet("clean"),
        }
    }

    fn quiet(kind: &str) -> Self {
        CloseOutcome {
            kind: kind.to_owned(),
            code: None,
            message: None,
        }
    }
}

fn rejection(rejection: core::Rejection, fatal: Option<core::DuplexKey>) -> Rejection {
    let code = rejection.code();
    Rejection {
        kind: "refused".to_owned(),
        code: code.as_str().to_owned(),
        status: code.status().map(u32::from),
        message: rejection.to_string(),
        fatal_key: fatal.map(|key| key.0 as i64),
        quiet: rejection.is_quiet(),
    }
}

/// `kind` "open", "websocket" or "post": what an accepted request asks for.
#[napi(object)]
pub struct RequestClass {
    pub kind: String,
}

/// What a request on the duplex path asks for (`core::classify`): a
/// `RequestClass`, or a `Rejection` to answer. `websockets`: how the
/// connection can carry a WebSocket, "extended-connect" (an HTTP/2 session
/// offering RFC 8441), "upgrade" (an HTTP/1.1 upgrade the server may take)
/// or null.
#[napi]
pub fn classify_request(
    method: String,
    protocol: Option<String>,
    upgrade: Option<String>,
    websocket_key: Option<String>,
    websocket_version: Option<String>,
    websockets: Option<String>,
) -> Either<RequestClass, Rejection> {
    let head = core::RequestHead {
        method: &method,
        protocol: protocol.as_deref(),
        upgrade: upgrade.as_deref(),
        websocket_key: websocket_key.as_deref(),
        websocket_version: websocket_version.as_deref(),
        websockets: match websockets.as_deref() {
            Some("extended-connect") => core::WebSocketOffer::ExtendedConnect,
            Some("upgrade") => core::WebSocketOffer::Upgrade,
            _ => core::WebSocketOffer::None,
        },
    };
    match core::classify(&head) {
        Ok(request) => Either::A(RequestClass {
            kind: match request {
                core::Request::Open => "open",
                core::Request::WebSocket => "websocket",
                core::Request::Post => "post",
            }
            .to_owned(),
        }),
        Err(refused) => Either::B(rejection(refused, None)),
    }
}

/// The `sec-websocket-accept` answering an HTTP/1.1 WebSocket's key (RFC 6455 §4.2.2).
#[napi]
pub fn websocket_accept(key: String) -> String {
    core::websocket::accept_key(&key)
}

/// `kind` "same-origin" (nothing to add), "ask" (ask the application, then
/// decide again with its answer), "allowed" (`headers` go on every answer to
/// the request) or "preflight" (answer 204 with `headers`).
#[napi(object)]
pub struct CorsAnswer {
    pub kind: String,
    pub headers: HashMap<String, String>,
}

/// The `cors` option, decided by the core.
#[napi(js_name = "CorsPolicy")]
pub struct JsCorsPolicy {
    inner: core::cors::CorsPolicy,
}

#[napi]
impl JsCorsPolicy {
    /// `origins`: the allowed origins, or null when the application decides.
    #[napi(constructor)]
    pub fn new(
        origins: Option<Vec<String>>,
        check_origin: bool,
        credentials: bool,
        max_age: f64,
    ) -> Self {
        JsCorsPolicy {
            inner: core::cors::CorsPolicy {
                origins: match origins {
                    Some(listed) => core::cors::Origins::Listed(listed.into_iter().collect()),
                    None => core::cors::Origins::Application,
                },
                check_origin,
                credentials,
                max_age: max_age as u64,
            },
        }
    }

    #[napi]
    pub fn decide(
        &self,
        method: String,
        origin: Option<String>,
        authority: Option<String>,
        request_headers: Option<String>,
        application_allows: Option<bool>,
    ) -> Either<CorsAnswer, Rejection> {
        use core::cors::CorsDecision;
        let request = core::cors::CorsRequest {
            method: &method,
            origin: origin.as_deref(),
            authority: authority.as_deref(),
            request_headers: request_headers.as_deref(),
            application_allows,
        };
        let answer = |kind: &str, headers: core::cors::Headers| {
            Either::A(CorsAnswer {
                kind: kind.to_owned(),
                headers: header_map(headers),
            })
        };
        match self.inner.decide(&request) {
            CorsDecision::SameOrigin => answer("same-origin", Vec::new()),
            CorsDecision::Ask => answer("ask", Vec::new()),
            CorsDecision::Allowed(headers) => answer("allowed", headers),
            CorsDecision::Preflight(headers) => answer("preflight", headers),
            CorsDecision::Refused(refused) => Either::B(rejection(refused, None)),
        }
    }
}

/// `Err(message)` when `value` is out of range for the numeric option `name`.
#[napi]
pub fn check_option(name: String, value: f64) -> Option<String> {
    core::check_option(&name, value).err()
}

/// The table of error codes, for tests that compare it with lib/error-codes.js.
#[napi]
pub fn error_codes() -> Vec<String> {
    core::Code::ALL
        .iter()
        .map(|code| code.as_str().to_owned())
        .collect()
}

fn duplex_key(key: i64) -> core::DuplexKey {
    core::DuplexKey(key as u64)
}

fn clamp_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[napi(js_name = "Registry")]
pub struct JsRegistry {
    inner: core::Registry,
    idle: core::IdleDeadlines,
    // Why the last `piece` was refused: kept here so that the hot path
    // returns a number, not an object.
    refused: Option<Rejection>,
}

#[napi]
impl JsRegistry {
    /// `session_scoped`: each HTTP/2 session is its own pairing scope.
    #[napi(constructor)]
    pub fn new(limits: Option<Limits>, session_scoped: bool) -> Self {
        let mut effective = core::Limits::for_scopes(session_scoped);
        let idle_timeout = limits.as_ref().and_then(|l| l.idle_timeout).unwrap_or(0.0);
        if let Some(limits) = limits {
            if let Some(v) = limits.max_duplexes_per_session {
                effective.max_duplexes_per_scope = v as usize;
            }
            if let Some(v) = limits.max_duplexes_per_connection {
                effective.max_duplexes_per_connection = Some(v as usize);
            }
            if let Some(v) = limits.max_duplexes {
                effective.max_duplexes = v as usize;
            }
            if let Some(v) = limits.max_held_bytes_per_connection {
                effective.max_held_bytes_per_connection = Some(v as usize);
            }
            if let Some(v) = limits.max_held_bytes {
                effective.max_held_bytes = v as usize;
            }
            if let Some(v) = limits.window {
                effective.window = v as u64;
            }
            if let Some(v) = limits.window_bytes {
                effective.window_bytes = v as usize;
            }
            if let Some(v) = limits.max_held_bytes_per_session {
                effective.max_held_bytes_per_scope = v as usize;
            }
            if let Some(v) = limits.max_write_bytes {
                effective.max_write_bytes = v as usize;
            }
        }
        JsRegistry {
            inner: core::Registry::new(effective),
            idle: core::IdleDeadlines::new(idle_timeout as u64),
            refused: None,
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
    pub fn open_session(&mut self) -> i64 {
        self.inner.open_scope().0 as i64
    }

    /// Returns the keys of the duplexes that were open in the session.
    #[napi]
    pub fn close_session(&mut self, session: i64) -> Vec<i64> {
        self.inner
            .close_scope(core::ScopeKey(session as u64))
            .into_iter()
            .map(|key| key.0 as i64)
            .collect()
    }

    /// A GET opened a duplex; `framing` is its `http2-duplex-framing` header.
    #[napi]
    pub fn open_duplex(
        &mut self,
        session: i64,
        connection: i64,
        framing: Option<String>,
    ) -> Either<OpenedDuplex, Rejection> {
        let framed = core::framing::wants_framing(framing.as_deref());
        let limits = self.inner.limits().clone();
        self.open(session, connection, framed, |id| {
            core::open_answer_headers(id, &limits, framed)
        })
    }

    /// A WebSocket (extended CONNECT) opened a duplex; `protocols` is its
    /// `sec-websocket-protocol` header.
    #[napi]
    pub fn open_web_socket(
        &mut self,
        session: i64,
        connection: i64,
        protocols: Option<String>,
    ) -> Either<OpenedDuplex, Rejection> {
        self.open(session, connection, false, |id| {
            core::websocket_answer_headers(id, protocols.as_deref())
        })
    }

    /// Opens a duplex in `session`, answered with `headers(id)`.
    fn open(
        &mut self,
        session: i64,
        connection: i64,
        framed: bool,
        headers: impl FnOnce(&str) -> Vec<(&'static str, String)>,
    ) -> Either<OpenedDuplex, Rejection> {
        match self.inner.open_duplex(
            core::ScopeKey(session as u64),
            core::ConnectionKey(connection as u64),
        ) {
            Ok(opened) => Either::A(OpenedDuplex {
                kind: "opened".to_owned(),
                key: opened.key.0 as i64,
                framed,
                headers: header_map(headers(&opened.id)),
                id: opened.id,
            }),
            Err(refused) => Either::B(rejection(refused, None)),
        }
    }

    #[napi]
    pub fn close_duplex(&mut self, key: i64) {
        self.inner.close_duplex(duplex_key(key));
    }

    #[napi]
    pub fn route_post(
        &mut self,
        session: i64,
        id: Option<String>,
        seq: Option<String>,
        single: Option<String>,
        end: Option<String>,
        destroyed: Option<String>,
    ) -> Either<PostRoute, Rejection> {
        let headers = core::PostHeaders {
            id: id.as_deref(),
            seq: seq.as_deref(),
            single: single.as_deref(),
            end: end.as_deref(),
            destroyed: destroyed.as_deref(),
        };
        match self
            .inner
            .route_post(core::ScopeKey(session as u64), &headers)
        {
            Ok(route) => {
                let (kind, seq, destroyed, ended_now) = match route.kind {
                    core::PostKind::Write { seq } => ("write", seq as i64, false, false),
                    core::PostKind::Stream { seq } => ("stream", seq as i64, false, false),
                    core::PostKind::End { destroyed, now } => ("end", -1, destroyed, now),
                };
                Either::A(PostRoute {
                    key: route.key.0 as i64,
                    kind: kind.to_owned(),
                    seq,
                    destroyed,
                    ended_now,
                })
            }
            Err((refused, fatal)) => Either::B(rejection(refused, fatal)),
        }
    }

    /// A piece of write `seq`'s body: `PIECE_DELIVER`, `PIECE_HELD`,
    /// `PIECE_HELD_PAUSE` or `PIECE_REFUSED`.
    #[napi]
    pub fn piece(&mut self, key: i64, seq: i64, data: &[u8]) -> u32 {
        match self.inner.piece(duplex_key(key), seq as u64, data) {
            Ok(core::Piece::Deliver) => PIECE_DELIVER,
            Ok(core::Piece::Held) => PIECE_HELD,
            Ok(core::Piece::HeldPause) => PIECE_HELD_PAUSE,
            Err(refused) => {
                self.refused = Some(rejection(refused, Some(duplex_key(key))));
                PIECE_REFUSED
            }
        }
    }

    /// Whether a POST paused by `PIECE_HELD_PAUSE` may read on.
    #[napi]
    pub fn may_read(&self, key: i64, seq: i64) -> bool {
        self.inner.may_read(duplex_key(key), seq as u64)
    }

    /// Why the last `piece` answered `PIECE_REFUSED`.
    #[napi]
    pub fn take_rejection(&mut self) -> Option<Rejection> {
        self.refused.take()
    }

    /// Write `seq`'s body ended: `reset` if the client reset it, after
    /// `received` bytes of the `declared` content-length.
    #[napi]
    pub fn finish_body(
        &mut self,
        key: i64,
        seq: i64,
        reset: bool,
        received: f64,
        declared: Option<f64>,
    ) -> Either<Completion, Rejection> {
        let end = core::BodyEnd {
            reset,
            received: received as u64,
            declared: declared.map(|d| d as u64),
        };
        match self.inner.finish_body(duplex_key(key), seq as u64, &end) {
            Ok(done) => Either::A(Completion {
                kind: "completed".to_owned(),
                // Held pieces were copied once on arrival; handing them over moves the allocation.
                released: done
                    .released
                    .into_iter()
                    .map(|bytes| Buffer::from(Vec::from(bytes)))
                    .collect(),
                answered: done.answered.into_iter().map(|seq| seq as i64).collect(),
                ended: done.ended,
            }),
            Err(refused) => Either::B(rejection(refused, Some(duplex_key(key)))),
        }
    }

    /// How often to call `checkIdle` while a duplex is watched; none when
    /// the idle timeout is off.
    #[napi]
    pub fn idle_interval(&self) -> Option<u32> {
        self.idle
            .is_on()
            .then(|| self.idle.interval().min(u32::MAX as u64) as u32)
    }

    /// A duplex opened at `now` (ms, the caller's clock).
    #[napi]
    pub fn watch_idle(&mut self, key: i64, now: f64) {
        self.idle.watch(duplex_key(key), now as u64);
    }

    #[napi]
    pub fn unwatch_idle(&mut self, key: i64) {
        self.idle.unwatch(duplex_key(key));
    }

    /// The periodic check: `active` saw traffic since the last one. Returns
    /// the duplexes to end for `ERR_HTTP2_DUPLEX_IDLE_TIMEOUT`.
    #[napi]
    pub fn check_idle(&mut self, now: f64, active: Vec<i64>) -> Vec<i64> {
        self.idle
            .check(now as u64, active.into_iter().map(duplex_key))
            .into_iter()
            .map(|key| key.0 as i64)
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

/// What the WebSocket transport must do (`kind`: "deliver" with `data`,
/// "end", "send" with `data`, "credit", or "finished" with `closeCode` and,
/// when the client broke the protocol, `code` and `message`).
#[napi(object)]
pub struct WsAction {
    pub kind: String,
    pub data: Option<Buffer>,
    pub close_code: Option<u32>,
    pub code: Option<String>,
    pub message: Option<String>,
}

fn ws_actions(actions: Vec<core::websocket::Action>) -> Vec<WsAction> {
    use core::websocket::Action;
    let action = |kind: &str, data: Option<Buffer>| WsAction {
        kind: kind.to_owned(),
        data,
        close_code: None,
        code: None,
        message: None,
    };
    actions
        .into_iter()
        .map(|a| match a {
            // A unique Bytes becomes the Buffer's memory without a copy.
            Action::Deliver(bytes) => action("deliver", Some(Vec::from(bytes).into())),
            Action::Send(bytes) => action("send", Some(Vec::from(bytes).into())),
            Action::End => action("end", None),
            Action::Credit => action("credit", None),
            Action::Finished { code, violation } => WsAction {
                close_code: code.map(u32::from),
                code: violation.map(|v| v.error_code().as_str().to_owned()),
                message: violation.map(|v| v.reason().to_owned()),
                ..action("finished", None)
            },
        })
        .collect()
}

/// The server's end of one http2-duplex.1 WebSocket (an extended CONNECT
/// stream): the JS adapter feeds it and carries out its actions.
#[napi(js_name = "WsEndpoint")]
pub struct JsWsEndpoint {
    inner: core::websocket::Endpoint,
}

#[napi]
impl JsWsEndpoint {
    #[napi(constructor)]
    pub fn new(max_message: f64, window: f64) -> Self {
        JsWsEndpoint {
            inner: core::websocket::Endpoint::new(max_message as usize, window as u64),
        }
    }

    #[napi]
    pub fn open(&mut self, id: Option<String>) -> Vec<WsAction> {
        let mut out = Vec::new();
        match id {
            Some(id) => self.inner.open_with_id(&id, &mut out),
            None => self.inner.open(&mut out),
        }
        ws_actions(out)
    }

    #[napi]
    pub fn receive(&mut self, input: &[u8]) -> Vec<WsAction> {
        let mut out = Vec::new();
        // One copy: the client's payload is masked and is unmasked in place.
        self.inner
            .receive(bytes::Bytes::copy_from_slice(input), &mut out);
        ws_actions(out)
    }

    #[napi]
    pub fn consumed(&mut self, n: f64) -> Vec<WsAction> {
        let mut out = Vec::new();
        self.inner.consumed(n as u64, &mut out);
        ws_actions(out)
    }

    /// The stream closed (reset, or its session went) with `rst_code`; null:
    /// the connection of an HTTP/1.1 WebSocket closed.
    #[napi]
    pub fn stream_closed(&mut self, rst_code: Option<u32>) -> CloseOutcome {
        CloseOutcome::of(match rst_code {
            Some(code) => self.inner.stream_closed(code),
            None => self.inner.connection_closed(),
        })
    }

    /// The peer's side of the stream ended (END_STREAM, or a TCP half-close).
    #[napi]
    pub fn peer_ended(&mut self) -> CloseOutcome {
        CloseOutcome::of(self.inner.peer_ended())
    }

    #[napi]
    pub fn send_credit(&self) -> f64 {
        self.inner.send_credit() as f64
    }

    /// The header of a binary frame of `len` bytes, counted as sent; null
    /// beyond the credit.
    #[napi]
    pub fn data_header(&mut self, len: f64) -> Option<Buffer> {
        self.inner
            .data_header(len as u64)
            .map(|(header, n)| header[..n].to_vec().into())
    }

    #[napi]
    pub fn end(&mut self) -> Vec<WsAction> {
        let mut out = Vec::new();
        self.inner.end(&mut out);
        ws_actions(out)
    }

    #[napi]
    pub fn close(&mut self, code: u32, reason: String) -> Vec<WsAction> {
        let mut out = Vec::new();
        self.inner.close(code as u16, &reason, &mut out);
        ws_actions(out)
    }
}
