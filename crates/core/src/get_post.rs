//! The GET+POST transport's POSTs: one call in for each thing that happens
//! to a POST or to the duplex it writes to, a list of [`Action`]s out for the
//! adapter to carry out (quinn-proto's `handle_*` shape, as
//! [`crate::websocket::Endpoint`] has). The [`Registry`] pairs and budgets;
//! this decides what each POST is answered and when it may read on.

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;

use crate::code::Code;
use crate::get_close::{
    end_get, get_closed, session_closed, session_failed, DestroyedGet, GetClosed, GetEnd,
    GetOutcome, SessionOutcome,
};
use crate::inbound::Piece;
use crate::post::{BodyEnd, PostHeaders, PostKind};
use crate::registry::{DuplexKey, Registry, ScopeKey};
use crate::rejection::{Reason, Rejection};

/// A POST, as the adapter names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PostKey(pub u64);

/// What the adapter does, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Push these bytes (held out of order until now) into the duplex's
    /// readable side, after anything pushed before.
    Deliver { duplex: DuplexKey, data: Bytes },
    /// Read no further from the POST's body for now.
    Pause { post: PostKey },
    /// Read on.
    Resume { post: PostKey },
    /// Answer `200` once the duplex's reader has taken what is in it: the
    /// client's backpressure.
    AnswerWhenTaken { post: PostKey },
    /// Answer now: `200` (every byte taken) or `410` with its code (not).
    Answer {
        post: PostKey,
        status: u16,
        code: Option<Code>,
    },
    /// Answer the POST with the rejection's status and code and stop its
    /// upload; warn unless the rejection is quiet.
    Refuse { post: PostKey, rejection: Rejection },
    /// The duplex's byte stream is broken: destroy it with this error, and
    /// warn when `warn` (a `Refuse` before it already did otherwise).
    Fail {
        duplex: DuplexKey,
        rejection: Rejection,
        warn: bool,
    },
    /// The client ended: end the duplex's readable side.
    End { duplex: DuplexKey },
    /// Close the duplex's GET stream (6.x's `http2-duplex-destroyed`).
    CloseGet { duplex: DuplexKey },
    /// The GET closed and the client may still write: end only the
    /// duplex's writable side.
    EndWritable { duplex: DuplexKey },
    /// Destroy the duplex with the error its GET stream was destroyed with.
    DestroyWithGetError { duplex: DuplexKey },
    /// End the destroyed duplex's GET stream cleanly.
    EndGet { duplex: DuplexKey },
    /// Destroy the destroyed duplex's GET stream, with the duplex's error if any.
    ResetGet { duplex: DuplexKey },
    /// Close the POST's stream: its answer is out and nothing more is read.
    ClosePost { post: PostKey },
}

/// How a POST's body ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Whole: the client ended it.
    None,
    /// The client reset the request first (any code).
    Reset,
    /// Its connection went away under it.
    SessionGone,
}

/// A duplex whose GET a closed connection carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionDuplex {
    pub duplex: DuplexKey,
    /// It pairs beyond its connection (a scope other than the session).
    pub wider_scope: bool,
    /// The server had ended its writable side.
    pub server_ended: bool,
}

/// What a POST carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Body {
    /// One write (`seq`) or the streaming body (`streaming`).
    Data { seq: u64, streaming: bool },
    /// The client's end: no body to deliver.
    End,
}

#[derive(Debug)]
struct Post {
    duplex: DuplexKey,
    body: Body,
    /// `content-length`, if the request declared one.
    declared: Option<u64>,
    received: u64,
    /// A piece of it was held out of order (taken only once released).
    held: bool,
    /// Paused until its budgets have room again.
    waiting_for_room: bool,
    /// The body ended, or was refused: nothing more of it is read.
    done: bool,
    /// Every byte is in the duplex (its `200` may still wait for the reader).
    taken: bool,
    answered: bool,
    /// The duplex is gone: the POST is closed at this time (ms).
    close_at: Option<u64>,
}

/// The POSTs of one duplex.
#[derive(Debug, Default)]
struct Writes {
    /// Open POSTs of the duplex, by the write they carry.
    by_seq: HashMap<u64, PostKey>,
    /// The end POST that waits for earlier writes.
    end: Option<PostKey>,
    posts: BTreeSet<PostKey>,
}

/// The POST side of every duplex of a server.
#[derive(Debug)]
pub struct Endpoint {
    posts: HashMap<PostKey, Post>,
    duplexes: HashMap<DuplexKey, Writes>,
    /// POSTs paused until their budgets have room.
    waiting: BTreeSet<PostKey>,
    /// Duplexes whose GET the core had closed (`CloseGet`).
    closing_gets: BTreeSet<DuplexKey>,
    /// POSTs of closed duplexes, by the time they are closed at.
    closing: BTreeSet<(u64, PostKey)>,
    /// How long a POST still open when its duplex closes stays open (ms).
    close_timeout: u64,
    next_key: u64,
}

/// `content-length` as a decimal below 10^15, as Node's parser gives it.
fn declared_length(value: Option<&str>) -> Option<u64> {
    value
        .filter(|text| {
            !text.is_empty() && text.len() <= 15 && text.bytes().all(|b| b.is_ascii_digit())
        })
        .and_then(|text| text.parse().ok())
}

impl Endpoint {
    pub fn new(close_timeout: u64) -> Self {
        Endpoint {
            posts: HashMap::new(),
            duplexes: HashMap::new(),
            waiting: BTreeSet::new(),
            closing_gets: BTreeSet::new(),
            closing: BTreeSet::new(),
            close_timeout,
            next_key: 0,
        }
    }

    /// Open POSTs (bodies still read or answers not yet closed).
    pub fn open_posts(&self) -> usize {
        self.posts.len()
    }

    /// A POST in `scope` arrived with these headers. Its key names it in
    /// every later call and action.
    pub fn handle_post(
        &mut self,
        registry: &mut Registry,
        scope: ScopeKey,
        headers: &PostHeaders<'_>,
        content_length: Option<&str>,
        out: &mut Vec<Action>,
    ) -> PostKey {
        self.next_key += 1;
        let post = PostKey(self.next_key);
        let route = match registry.route_post(scope, headers) {
            Ok(route) => route,
            Err((rejection, fatal)) => {
                refuse(post, rejection, fatal, out);
                return post;
            }
        };
        let duplex = route.key;
        let body = match route.kind {
            PostKind::Write { seq } => Body::Data {
                seq,
                streaming: false,
            },
            PostKind::Stream { seq } => Body::Data {
                seq,
                streaming: true,
            },
            PostKind::End { .. } => Body::End,
        };
        let writes = self.duplexes.entry(duplex).or_default();
        writes.posts.insert(post);
        let mut state = Post {
            duplex,
            body,
            declared: declared_length(content_length),
            received: 0,
            held: false,
            waiting_for_room: false,
            done: false,
            taken: false,
            answered: false,
            close_at: None,
        };
        match route.kind {
            PostKind::Write { seq } | PostKind::Stream { seq } => {
                writes.by_seq.insert(seq, post);
            }
            PostKind::End { destroyed, now } => {
                state.done = true;
                if destroyed {
                    self.closing_gets.insert(duplex);
                    out.push(Action::CloseGet { duplex });
                }
                if now {
                    state.taken = true;
                    out.push(Action::End { duplex });
                    out.push(Action::AnswerWhenTaken { post });
                } else {
                    writes.end = Some(post);
                }
            }
        }
        self.posts.insert(post, state);
        post
    }

    /// A piece of the POST's body arrived. `None`: push the caller's own
    /// buffer into the duplex now (the fast path: nothing is copied or
    /// allocated); otherwise what to do instead.
    pub fn handle_piece(
        &mut self,
        registry: &mut Registry,
        post: PostKey,
        data: &[u8],
    ) -> Option<Vec<Action>> {
        let mut out = Vec::new();
        let Some(state) = self.posts.get_mut(&post) else {
            return Some(out);
        };
        if state.done {
            return Some(out);
        }
        let Body::Data { seq, .. } = state.body else {
            return Some(out);
        };
        if state.close_at.is_some() {
            // The duplex is gone: these bytes are not taken.
            state.done = true;
            answer_untaken(post, state, &mut out);
            return Some(out);
        }
        state.received += data.len() as u64;
        match registry.piece(state.duplex, seq, data) {
            Ok(Piece::Deliver) => return None,
            Ok(Piece::Held) => state.held = true,
            Ok(Piece::HeldPause) => {
                state.held = true;
                if !state.waiting_for_room {
                    state.waiting_for_room = true;
                    self.waiting.insert(post);
                    out.push(Action::Pause { post });
                }
            }
            Err(rejection) => {
                state.done = true;
                let duplex = state.duplex;
                refuse(
                    post,
                    rejection.clone(),
                    rejection.fatal.then_some(duplex),
                    &mut out,
                );
            }
        }
        Some(out)
    }

    /// The duplex a POST writes to, if it was routed to one.
    pub fn duplex_of(&self, post: PostKey) -> Option<DuplexKey> {
        self.posts.get(&post).map(|state| state.duplex)
    }

    /// Whether the end of the POST's body tells a whole body at once: its
    /// length was declared, so a body cut short is told by its length.
    /// Otherwise a reset looks like an end until the transport closes the
    /// stream (Node ends a reset stream's readable side first), and the
    /// caller judges the end only once it could have seen that.
    pub fn end_is_final(&self, post: PostKey) -> bool {
        self.posts
            .get(&post)
            .is_some_and(|state| state.declared.is_some())
    }

    /// The POST's body ended: `reset` when the client reset it first,
    /// `session_gone` when its connection went away under it.
    pub fn handle_body_end(
        &mut self,
        registry: &mut Registry,
        post: PostKey,
        cut: Cut,
        out: &mut Vec<Action>,
    ) {
        let Some(state) = self.posts.get_mut(&post) else {
            return;
        };
        if state.done {
            return;
        }
        state.done = true;
        let reset = cut != Cut::None;
        if cut == Cut::SessionGone && state.close_at.is_none() {
            out.push(Action::Fail {
                duplex: state.duplex,
                rejection: Rejection::new(Reason::SessionClosed),
                warn: true,
            });
            return;
        }
        let Body::Data { seq, .. } = state.body else {
            return;
        };
        let end = BodyEnd {
            reset,
            received: state.received,
            declared: state.declared,
        };
        if state.close_at.is_some() {
            // Its duplex closed after it delivered its last byte: taken
            // whole, so `200` (the client's proof not to send it again).
            state.taken = end.check().is_ok() && !state.held;
            if state.taken {
                state.answered = true;
                out.push(Action::Answer {
                    post,
                    status: 200,
                    code: None,
                });
            } else {
                answer_untaken(post, state, out);
            }
            return;
        }
        let duplex = state.duplex;
        if state.waiting_for_room {
            state.waiting_for_room = false;
            self.waiting.remove(&post);
        }
        let completion = match registry.finish_body(duplex, seq, &end) {
            Ok(completion) => completion,
            Err(rejection) => {
                let fatal = rejection.fatal.then_some(duplex);
                refuse(post, rejection, fatal, out);
                return;
            }
        };
        for data in completion.released {
            out.push(Action::Deliver { duplex, data });
        }
        self.resume_waiting(registry, out);
        if let Some(writes) = self.duplexes.get_mut(&duplex) {
            for seq in completion.answered {
                if let Some(answered) = writes.by_seq.remove(&seq) {
                    if let Some(answered_state) = self.posts.get_mut(&answered) {
                        answered_state.taken = true;
                    }
                    out.push(Action::AnswerWhenTaken { post: answered });
                }
            }
            if completion.ended {
                out.push(Action::End { duplex });
                if let Some(end_post) = writes.end.take() {
                    if let Some(end_state) = self.posts.get_mut(&end_post) {
                        end_state.taken = true;
                    }
                    out.push(Action::AnswerWhenTaken { post: end_post });
                }
            }
        }
    }

    /// The POST's stream closed. One closed before its body ended was cut:
    /// `session_gone` when its connection went away.
    pub fn handle_post_closed(
        &mut self,
        registry: &mut Registry,
        post: PostKey,
        session_gone: bool,
        out: &mut Vec<Action>,
    ) {
        if self.posts.get(&post).is_some_and(|state| !state.done) {
            let cut = if session_gone {
                Cut::SessionGone
            } else {
                Cut::Reset
            };
            self.handle_body_end(registry, post, cut, out);
        }
        let Some(state) = self.posts.remove(&post) else {
            return;
        };
        if let Some(at) = state.close_at {
            self.closing.remove(&(at, post));
        }
        self.waiting.remove(&post);
        if let Some(writes) = self.duplexes.get_mut(&state.duplex) {
            writes.posts.remove(&post);
            if let Body::Data { seq, .. } = state.body {
                if writes.by_seq.get(&seq) == Some(&post) {
                    writes.by_seq.remove(&seq);
                }
            }
            if writes.end == Some(post) {
                writes.end = None;
            }
            if writes.posts.is_empty() && !registry.is_open(state.duplex) {
                self.duplexes.remove(&state.duplex);
            }
        }
    }

    /// The duplex closed (ended both ways, or destroyed: by the application,
    /// a client that broke it, a timeout). The registry forgets it; each POST
    /// still open is answered by what the duplex took of it (`200`, or `410`
    /// for bytes it did not take; a write whose body is still coming, all of
    /// it delivered so far, waits for its end) and closed after
    /// `close_timeout`.
    pub fn handle_duplex_closed(
        &mut self,
        registry: &mut Registry,
        duplex: DuplexKey,
        now: u64,
        out: &mut Vec<Action>,
    ) {
        registry.close_duplex(duplex);
        self.closing_gets.remove(&duplex);
        let posts: Vec<PostKey> = self
            .duplexes
            .get(&duplex)
            .map(|writes| writes.posts.iter().copied().collect())
            .unwrap_or_default();
        if posts.is_empty() {
            self.duplexes.remove(&duplex);
        }
        let at = now + self.close_timeout;
        for post in posts {
            let Some(state) = self.posts.get_mut(&post) else {
                continue;
            };
            state.close_at = Some(at);
            self.closing.insert((at, post));
            if state.taken {
                if !state.answered {
                    state.answered = true;
                    out.push(Action::Answer {
                        post,
                        status: 200,
                        code: None,
                    });
                }
                continue;
            }
            let write_on_its_way = !state.done
                && !state.held
                && matches!(
                    state.body,
                    Body::Data {
                        streaming: false,
                        ..
                    }
                );
            if !write_on_its_way {
                state.done = true;
                answer_untaken(post, state, out);
            }
        }
        self.resume_waiting(registry, out);
    }

    /// The duplex's GET stream closed: the client reset it (the duplex
    /// breaks), or only the duplex's writable side ends.
    pub fn handle_get_closed(
        &mut self,
        duplex: DuplexKey,
        closed: GetClosed,
        out: &mut Vec<Action>,
    ) {
        let closed = GetClosed {
            closed_by_server: closed.closed_by_server || self.closing_gets.remove(&duplex),
            ..closed
        };
        out.push(match get_closed(&closed) {
            GetOutcome::DestroyWithError => Action::DestroyWithGetError { duplex },
            GetOutcome::Reset(rejection) => Action::Fail {
                duplex,
                rejection,
                warn: true,
            },
            GetOutcome::EndWritable => Action::EndWritable { duplex },
        });
    }

    /// The duplex was destroyed: how its GET stream ends.
    pub fn handle_duplex_destroyed(
        &mut self,
        duplex: DuplexKey,
        get: &DestroyedGet,
        out: &mut Vec<Action>,
    ) {
        match end_get(get) {
            GetEnd::Leave => {}
            GetEnd::End => out.push(Action::EndGet { duplex }),
            GetEnd::Reset => out.push(Action::ResetGet { duplex }),
        }
    }

    /// The connection carrying these duplexes' GETs closed; `errored`: it had
    /// an error; `goaway_codes`: the GOAWAYs it received. Each duplex ends
    /// (`End`, as in 6.x), breaks (`Fail`) or lives on (nothing).
    pub fn handle_session_closed(
        &mut self,
        errored: bool,
        goaway_codes: &[u32],
        duplexes: &[SessionDuplex],
        out: &mut Vec<Action>,
    ) {
        let failed = session_failed(errored, goaway_codes);
        for closed in duplexes {
            let duplex = closed.duplex;
            match session_closed(failed, closed.wider_scope, closed.server_ended) {
                SessionOutcome::Keep => {}
                SessionOutcome::End => out.push(Action::End { duplex }),
                SessionOutcome::Fail(rejection) => out.push(Action::Fail {
                    duplex,
                    rejection,
                    warn: true,
                }),
            }
        }
    }

    /// When the next POST is due to close (ms), if any.
    pub fn next_timeout(&self) -> Option<u64> {
        self.closing.first().map(|(at, _)| *at)
    }

    /// Time passed: POSTs of closed duplexes whose `close_timeout` is over
    /// are answered (`410` if not yet) and closed.
    pub fn handle_timeout(&mut self, now: u64, out: &mut Vec<Action>) {
        while let Some(&(at, post)) = self.closing.first() {
            if at > now {
                break;
            }
            self.closing.remove(&(at, post));
            if let Some(state) = self.posts.get_mut(&post) {
                state.close_at = None;
                state.done = true;
                answer_untaken(post, state, out);
            }
            out.push(Action::ClosePost { post });
        }
    }

    /// POSTs paused for their budgets that may read on now.
    fn resume_waiting(&mut self, registry: &Registry, out: &mut Vec<Action>) {
        let posts = &mut self.posts;
        self.waiting.retain(|&post| {
            let Some(state) = posts.get_mut(&post) else {
                return false;
            };
            let may = match state.body {
                Body::Data { seq, .. } => registry.may_read(state.duplex, seq),
                Body::End => true,
            };
            if may {
                state.waiting_for_room = false;
                out.push(Action::Resume { post });
            }
            !may
        });
    }
}

fn refuse(post: PostKey, rejection: Rejection, fatal: Option<DuplexKey>, out: &mut Vec<Action>) {
    out.push(Action::Refuse {
        post,
        rejection: rejection.clone(),
    });
    if let Some(duplex) = fatal {
        out.push(Action::Fail {
            duplex,
            rejection,
            warn: false,
        });
    }
}

/// `410`, unless answered already.
fn answer_untaken(post: PostKey, state: &mut Post, out: &mut Vec<Action>) {
    if !state.answered {
        state.answered = true;
        out.push(Action::Answer {
            post,
            status: Code::Destroyed.status().unwrap_or(410),
            code: Some(Code::Destroyed),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use crate::registry::ConnectionKey;

    struct Fixture {
        registry: Registry,
        posts: Endpoint,
        scope: ScopeKey,
        duplex: DuplexKey,
        id: String,
    }

    fn fixture(limits: Limits) -> Fixture {
        let mut registry = Registry::new(limits);
        let scope = registry.open_scope();
        let opened = registry.open_duplex(scope, ConnectionKey(1)).unwrap();
        Fixture {
            registry,
            posts: Endpoint::new(1000),
            scope,
            duplex: opened.key,
            id: opened.id,
        }
    }

    impl Fixture {
        fn post(
            &mut self,
            seq: Option<&str>,
            extra: PostHeaders<'_>,
            length: Option<&str>,
        ) -> (PostKey, Vec<Action>) {
            let headers = PostHeaders {
                id: Some(&self.id),
                seq,
                ..extra
            };
            let mut out = Vec::new();
            let key =
                self.posts
                    .handle_post(&mut self.registry, self.scope, &headers, length, &mut out);
            (key, out)
        }

        fn write(&mut self, seq: Option<&str>, length: Option<&str>) -> PostKey {
            let (key, out) = self.post(seq, PostHeaders::default(), length);
            assert_eq!(out, []);
            key
        }

        fn piece(&mut self, post: PostKey, data: &[u8]) -> Option<Vec<Action>> {
            self.posts.handle_piece(&mut self.registry, post, data)
        }

        fn body_end(&mut self, post: PostKey, reset: bool) -> Vec<Action> {
            let mut out = Vec::new();
            self.posts.handle_body_end(
                &mut self.registry,
                post,
                if reset { Cut::Reset } else { Cut::None },
                &mut out,
            );
            out
        }

        fn duplex_closed(&mut self, now: u64) -> Vec<Action> {
            let mut out = Vec::new();
            self.posts
                .handle_duplex_closed(&mut self.registry, self.duplex, now, &mut out);
            out
        }
    }

    fn answer(post: PostKey, status: u16) -> Action {
        Action::Answer {
            post,
            status,
            code: (status == 410).then_some(Code::Destroyed),
        }
    }

    #[test]
    fn an_in_order_write_is_delivered_uncopied_and_answered_once_taken() {
        let mut f = fixture(Limits::default());
        let post = f.write(None, Some("3"));
        assert_eq!(f.piece(post, b"abc"), None);
        assert_eq!(f.body_end(post, false), [Action::AnswerWhenTaken { post }]);
        let (end, out) = f.post(
            None,
            PostHeaders {
                end: Some("true"),
                destroyed: Some("true"),
                ..PostHeaders::default()
            },
            None,
        );
        let duplex = f.duplex;
        assert_eq!(
            out,
            [
                Action::CloseGet { duplex },
                Action::End { duplex },
                Action::AnswerWhenTaken { post: end }
            ]
        );
    }

    #[test]
    fn early_writes_are_held_then_released_and_an_end_waits_for_them() {
        let mut f = fixture(Limits::default());
        let second = f.write(Some("1"), None);
        assert_eq!(f.piece(second, b"B"), Some(vec![]));
        assert_eq!(f.body_end(second, false), []);
        let (end, out) = f.post(
            Some("2"),
            PostHeaders {
                end: Some("true"),
                ..PostHeaders::default()
            },
            None,
        );
        assert_eq!(out, []);
        let first = f.write(Some("0"), None);
        assert_eq!(f.piece(first, b"A"), None);
        let duplex = f.duplex;
        assert_eq!(
            f.body_end(first, false),
            [
                Action::Deliver {
                    duplex,
                    data: Bytes::from_static(b"B")
                },
                Action::AnswerWhenTaken { post: first },
                Action::AnswerWhenTaken { post: second },
                Action::End { duplex },
                Action::AnswerWhenTaken { post: end },
            ]
        );
    }

    #[test]
    fn taken_means_200_and_untaken_410_when_the_duplex_closes() {
        let mut f = fixture(Limits::default());
        // Delivered whole before the app destroyed the duplex (in its
        // 'data' handler, say): 200 once its end arrives.
        let whole = f.write(None, Some("2"));
        assert_eq!(f.piece(whole, b"ab"), None);
        assert_eq!(f.duplex_closed(0), []);
        assert_eq!(f.body_end(whole, false), [answer(whole, 200)]);
        // Bytes after the close are not taken.
        let mut f = fixture(Limits::default());
        let late = f.write(None, Some("4"));
        assert_eq!(f.piece(late, b"ab"), None);
        assert_eq!(f.duplex_closed(0), []);
        assert_eq!(f.piece(late, b"cd"), Some(vec![answer(late, 410)]));
        assert_eq!(f.body_end(late, false), []);
        // A streaming body is not waited for; a held write is not taken.
        let mut f = fixture(Limits::default());
        let (stream, _) = f.post(
            None,
            PostHeaders {
                single: Some("true"),
                ..PostHeaders::default()
            },
            None,
        );
        assert_eq!(f.piece(stream, b"x"), None);
        assert_eq!(f.duplex_closed(5), [answer(stream, 410)]);
        let mut f = fixture(Limits::default());
        let held = f.write(Some("1"), None);
        assert_eq!(f.piece(held, b"x"), Some(vec![]));
        assert_eq!(f.body_end(held, false), []);
        assert_eq!(f.duplex_closed(0), [answer(held, 410)]);
    }

    #[test]
    fn posts_of_a_closed_duplex_are_closed_after_close_timeout() {
        let mut f = fixture(Limits::default());
        let open = f.write(None, Some("10"));
        assert_eq!(f.piece(open, b"ab"), None);
        assert_eq!(f.duplex_closed(100), []);
        assert_eq!(f.posts.next_timeout(), Some(1100));
        let mut out = Vec::new();
        f.posts.handle_timeout(1099, &mut out);
        assert_eq!(out, []);
        f.posts.handle_timeout(1100, &mut out);
        assert_eq!(out, [answer(open, 410), Action::ClosePost { post: open }]);
        assert_eq!(f.posts.next_timeout(), None);
        let mut out = Vec::new();
        f.posts
            .handle_post_closed(&mut f.registry, open, false, &mut out);
        assert_eq!(out, []);
        assert_eq!(f.posts.open_posts(), 0);
    }

    #[test]
    fn only_a_declared_length_makes_an_end_final() {
        let mut f = fixture(Limits::default());
        let declared = f.write(None, Some("3"));
        let undeclared = f.write(None, None);
        assert!(f.posts.end_is_final(declared));
        assert!(!f.posts.end_is_final(undeclared));
    }

    #[test]
    fn a_reset_or_short_body_breaks_the_duplex() {
        let mut f = fixture(Limits::default());
        let cut = f.write(None, Some("5"));
        assert_eq!(f.piece(cut, b"ab"), None);
        let out = f.body_end(cut, false);
        let [Action::Refuse { post, rejection }, Action::Fail { duplex, .. }] = &out[..] else {
            panic!("{out:?}");
        };
        assert_eq!((*post, *duplex), (cut, f.duplex));
        assert_eq!(rejection.code(), Code::TruncatedBody);
        // A stream that closes before its end was reset.
        let mut f = fixture(Limits::default());
        let reset = f.write(None, None);
        let mut out = Vec::new();
        f.posts
            .handle_post_closed(&mut f.registry, reset, false, &mut out);
        let [Action::Refuse { rejection, .. }, Action::Fail { .. }] = &out[..] else {
            panic!("{out:?}");
        };
        assert_eq!(rejection.code(), Code::ClientReset);
    }

    #[test]
    fn a_refused_post_names_its_duplex_only_when_fatal() {
        let mut f = fixture(Limits::default());
        let (post, out) = f.post(Some("x"), PostHeaders::default(), None);
        let [Action::Refuse { rejection, .. }, Action::Fail { duplex, .. }] = &out[..] else {
            panic!("{out:?}");
        };
        assert_eq!((rejection.code(), *duplex), (Code::SeqMalformed, f.duplex));
        assert_eq!(f.posts.open_posts(), 0, "{post:?} keeps nothing");
        let mut f = fixture(Limits::default());
        f.id = "unknown".into();
        let (_, out) = f.post(None, PostHeaders::default(), None);
        let [Action::Refuse { rejection, .. }] = &out[..] else {
            panic!("{out:?}");
        };
        assert_eq!(rejection.code(), Code::UnknownId);
    }

    #[test]
    fn a_get_destroyed_with_its_own_error_destroys_the_duplex_with_it() {
        let mut f = fixture(Limits::default());
        let duplex = f.duplex;
        let mut out = Vec::new();
        let own = GetClosed {
            error: crate::get_close::GetError::Other,
            server_ended: true,
            ..GetClosed::default()
        };
        f.posts.handle_get_closed(duplex, own, &mut out);
        assert_eq!(out, [Action::DestroyWithGetError { duplex }]);
    }

    #[test]
    fn a_destroyed_duplex_says_how_its_get_ends() {
        let mut f = fixture(Limits::default());
        let duplex = f.duplex;
        let mut out = Vec::new();
        let framed = DestroyedGet {
            framed: true,
            ..DestroyedGet::default()
        };
        f.posts.handle_duplex_destroyed(duplex, &framed, &mut out);
        let ended = DestroyedGet {
            server_ended: true,
            ..DestroyedGet::default()
        };
        f.posts.handle_duplex_destroyed(duplex, &ended, &mut out);
        f.posts
            .handle_duplex_destroyed(duplex, &DestroyedGet::default(), &mut out);
        assert_eq!(
            out,
            [Action::EndGet { duplex }, Action::ResetGet { duplex }]
        );
    }

    #[test]
    fn a_closed_session_ends_breaks_or_keeps_each_duplex() {
        let mut f = fixture(Limits::default());
        let [a, b, c] = [DuplexKey(10), DuplexKey(11), DuplexKey(12)];
        let duplexes = [
            SessionDuplex {
                duplex: a,
                wider_scope: false,
                server_ended: true,
            },
            SessionDuplex {
                duplex: b,
                wider_scope: true,
                server_ended: false,
            },
            SessionDuplex {
                duplex: c,
                wider_scope: true,
                server_ended: true,
            },
        ];
        let mut out = Vec::new();
        f.posts
            .handle_session_closed(false, &[0], &duplexes, &mut out);
        assert_eq!(out, [Action::End { duplex: a }, Action::End { duplex: b }]);
        let mut out = Vec::new();
        f.posts
            .handle_session_closed(false, &[0, 11], &duplexes[2..], &mut out);
        let [Action::Fail {
            duplex,
            rejection,
            warn: true,
        }] = &out[..]
        else {
            panic!("{out:?}");
        };
        assert_eq!((*duplex, rejection.code()), (c, Code::SessionClosed));
    }

    #[test]
    fn a_post_paused_at_its_budget_resumes_when_there_is_room() {
        let mut f = fixture(Limits {
            window_bytes: 10,
            max_held_bytes_per_scope: 4,
            ..Limits::default()
        });
        let early = f.write(Some("1"), None);
        assert_eq!(
            f.piece(early, b"wxyz"),
            Some(vec![Action::Pause { post: early }])
        );
        let first = f.write(Some("0"), None);
        assert_eq!(f.piece(first, b"a"), None);
        let duplex = f.duplex;
        assert_eq!(
            f.body_end(first, false),
            [
                Action::Deliver {
                    duplex,
                    data: Bytes::from_static(b"wxyz")
                },
                Action::Resume { post: early },
                Action::AnswerWhenTaken { post: first },
            ]
        );
    }
}
