//! Scopes (HTTP/2 sessions), the duplex ids opened in each, and the routing of
//! a POST to its duplex.

use std::collections::{HashMap, VecDeque};

use uuid::Uuid;

use crate::inbound::{Completion, Inbound, Piece};
use crate::limits::Limits;
use crate::post::{flag, parse_seq, BodyEnd, PostHeaders, PostKind, PostRoute};
use crate::rejection::{Reason, Rejection};

/// A pairing scope: ids opened in one scope are unknown in every other. The
/// Node server uses one per HTTP/2 session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ScopeKey(pub u64);

/// A duplex, as the caller names it (the id on the wire is a secret; this is not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DuplexKey(pub u64);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedDuplex {
    pub key: DuplexKey,
    pub id: String,
}

/// Counts for operators and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub scopes: usize,
    pub duplexes: usize,
    pub held_bytes: usize,
    pub writes_in_flight: usize,
}

struct Duplex {
    scope: ScopeKey,
    id: String,
    inbound: Inbound,
}

/// How many closed ids a scope remembers, to tell a late POST of a
/// well-behaved client (quiet 404) from a wrong id (404 and a warning).
const REMEMBERED_CLOSED_IDS: usize = 128;

#[derive(Default)]
struct Scope {
    ids: HashMap<String, DuplexKey>,
    held_bytes: usize,
    closed: VecDeque<String>,
}

impl Scope {
    fn unknown(&self, id: &str) -> Rejection {
        if self.closed.iter().any(|closed| closed == id) {
            Rejection::new(Reason::DuplexClosed)
        } else {
            Rejection::new(Reason::UnknownId)
        }
    }
}

pub struct Registry {
    limits: Limits,
    /// Prefix of every id (`<node>.<uuid>`), so that a proxy can route a POST
    /// to the process that opened its duplex.
    node_id: Option<String>,
    scopes: HashMap<ScopeKey, Scope>,
    duplexes: HashMap<DuplexKey, Duplex>,
    next_key: u64,
}

impl Registry {
    pub fn new(limits: Limits) -> Self {
        Registry {
            limits,
            node_id: None,
            scopes: HashMap::new(),
            duplexes: HashMap::new(),
            next_key: 0,
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Names this node: ids become `<node>.<uuid>`. A node name is 1 to 32
    /// characters of `[a-z0-9]`, so it is a valid header token and a dot ends it.
    pub fn set_node_id(&mut self, node: &str) -> Result<(), String> {
        let valid = !node.is_empty()
            && node.len() <= 32
            && node
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !valid {
            return Err(format!(
                "option node_id must be 1 to 32 characters of [a-z0-9], got {node:?}"
            ));
        }
        self.node_id = Some(node.to_owned());
        Ok(())
    }

    /// A POST's id whose node prefix names another node.
    fn wrong_node(&self, id: &str) -> Option<Rejection> {
        let own = self.node_id.as_deref()?;
        let (node, _) = id.split_once('.')?;
        (node != own).then(|| {
            Rejection::new(Reason::WrongNode {
                node: node.chars().take(32).collect(),
            })
        })
    }

    pub fn open_scope(&mut self) -> ScopeKey {
        let key = ScopeKey(self.take_key());
        self.scopes.insert(key, Scope::default());
        key
    }

    /// Forgets a scope; returns the duplexes that were open in it, to be ended.
    pub fn close_scope(&mut self, scope: ScopeKey) -> Vec<DuplexKey> {
        let Some(closed) = self.scopes.remove(&scope) else {
            return Vec::new();
        };
        let mut keys: Vec<DuplexKey> = closed.ids.into_values().collect();
        keys.sort_unstable();
        for key in &keys {
            self.forget(*key);
        }
        keys
    }

    /// A GET opened a duplex in `scope`.
    pub fn open_duplex(&mut self, scope: ScopeKey) -> Result<OpenedDuplex, Rejection> {
        let limit = self.limits.max_duplexes_per_scope;
        let open = self
            .scopes
            .get(&scope)
            .ok_or_else(|| Rejection::new(Reason::UnknownId))?
            .ids
            .len();
        if open >= limit {
            return Err(Rejection::new(Reason::TooManyDuplexes { limit }));
        }
        let key = DuplexKey(self.take_key());
        // 122 random bits: wider than a session, the id is the credential.
        let id = match &self.node_id {
            Some(node) => format!("{node}.{}", Uuid::new_v4()),
            None => Uuid::new_v4().to_string(),
        };
        self.scopes
            .get_mut(&scope)
            .expect("scope checked above")
            .ids
            .insert(id.clone(), key);
        self.duplexes.insert(
            key,
            Duplex {
                scope,
                id: id.clone(),
                inbound: Inbound::new(),
            },
        );
        Ok(OpenedDuplex { key, id })
    }

    /// The duplex is gone (closed or destroyed): forget it and what it held.
    pub fn close_duplex(&mut self, key: DuplexKey) {
        self.forget(key);
    }

    /// Routes a POST in `scope` by its headers. On a fatal rejection the
    /// caller must destroy the duplex named by `fatal_key`.
    pub fn route_post(
        &mut self,
        scope: ScopeKey,
        headers: &PostHeaders<'_>,
    ) -> Result<PostRoute, (Rejection, Option<DuplexKey>)> {
        let id = headers
            .id
            .ok_or((Rejection::new(Reason::MissingId), None))?;
        if let Some(wrong) = self.wrong_node(id) {
            return Err((wrong, None));
        }
        let known = self
            .scopes
            .get(&scope)
            .ok_or((Rejection::new(Reason::UnknownId), None))?;
        let key = *known.ids.get(id).ok_or((known.unknown(id), None))?;
        let fail = |rejection: Rejection| {
            let fatal = rejection.fatal.then_some(key);
            (rejection, fatal)
        };
        let seq = parse_seq(headers.seq).map_err(fail)?;
        let limits = &self.limits;
        let inbound = &mut self
            .duplexes
            .get_mut(&key)
            .expect("id maps to a duplex")
            .inbound;
        let kind = if flag(headers.end) {
            let completion = inbound.end(seq).map_err(fail)?;
            let now = completion.ended;
            if now {
                self.forget(key);
            }
            PostKind::End {
                destroyed: flag(headers.destroyed),
                now,
            }
        } else if flag(headers.single) {
            PostKind::Stream {
                seq: inbound.begin_stream(limits).map_err(fail)?,
            }
        } else {
            PostKind::Write {
                seq: inbound.begin_write(seq, limits).map_err(fail)?,
            }
        };
        Ok(PostRoute { key, kind })
    }

    /// A piece of write `seq`'s body arrived.
    pub fn piece(&mut self, key: DuplexKey, seq: u64, data: &[u8]) -> Result<Piece, Rejection> {
        let (inbound, scope) = inbound_and_scope(&mut self.duplexes, &mut self.scopes, key)?;
        let before = inbound.held_bytes();
        let piece = inbound.piece(seq, data, &self.limits, scope.held_bytes)?;
        scope.held_bytes += inbound.held_bytes() - before;
        Ok(piece)
    }

    /// Whether a POST paused by `Piece::HeldPause` may read on: its write is
    /// now current (delivered as it comes), or its scope is under budget
    /// again. A closed duplex's POSTs may read on: their answer is decided.
    pub fn may_read(&self, key: DuplexKey, seq: u64) -> bool {
        let Some(duplex) = self.duplexes.get(&key) else {
            return true;
        };
        duplex.inbound.is_current(seq)
            || self
                .scopes
                .get(&duplex.scope)
                .is_none_or(|scope| scope.held_bytes < self.limits.max_held_bytes_per_scope)
    }

    /// Write or stream `seq`'s body ended as `end` says: a reset or a short
    /// body breaks the duplex's byte stream (a fatal rejection); otherwise
    /// the write completes.
    pub fn finish_body(
        &mut self,
        key: DuplexKey,
        seq: u64,
        end: &BodyEnd,
    ) -> Result<Completion, Rejection> {
        end.check()?;
        self.complete(key, seq)
    }

    /// Write `seq`'s body ended. When the completion says `ended`, the id is
    /// forgotten: the client's end has been delivered.
    pub fn complete(&mut self, key: DuplexKey, seq: u64) -> Result<Completion, Rejection> {
        let (inbound, scope) = inbound_and_scope(&mut self.duplexes, &mut self.scopes, key)?;
        let before = inbound.held_bytes();
        let completion = inbound.complete(seq)?;
        scope.held_bytes -= before - inbound.held_bytes();
        if completion.ended {
            // The client's side is over: later POSTs with this id get 404.
            self.forget(key);
        }
        Ok(completion)
    }

    pub fn stats(&self) -> Stats {
        Stats {
            scopes: self.scopes.len(),
            duplexes: self.duplexes.len(),
            held_bytes: self.scopes.values().map(|s| s.held_bytes).sum(),
            writes_in_flight: self
                .duplexes
                .values()
                .map(|d| d.inbound.writes_in_flight())
                .sum(),
        }
    }

    fn forget(&mut self, key: DuplexKey) {
        if let Some(duplex) = self.duplexes.remove(&key) {
            // A closed scope is already gone, and with it what its duplexes held.
            if let Some(scope) = self.scopes.get_mut(&duplex.scope) {
                scope.ids.remove(&duplex.id);
                scope.held_bytes -= duplex.inbound.held_bytes();
                if scope.closed.len() == REMEMBERED_CLOSED_IDS {
                    scope.closed.pop_front();
                }
                scope.closed.push_back(duplex.id);
            }
        }
    }

    fn take_key(&mut self) -> u64 {
        self.next_key += 1;
        self.next_key
    }
}

// A scope outlives its duplexes: close_scope forgets them first.
fn inbound_and_scope<'a>(
    duplexes: &'a mut HashMap<DuplexKey, Duplex>,
    scopes: &'a mut HashMap<ScopeKey, Scope>,
    key: DuplexKey,
) -> Result<(&'a mut Inbound, &'a mut Scope), Rejection> {
    let duplex = duplexes
        .get_mut(&key)
        .ok_or_else(|| Rejection::new(Reason::DuplexClosed))?;
    let scope = scopes
        .get_mut(&duplex.scope)
        .expect("an open duplex's scope is open");
    Ok((&mut duplex.inbound, scope))
}
