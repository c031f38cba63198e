//! Scopes (HTTP/2 sessions), the duplex ids opened in each, and the routing of
//! a POST to its duplex.

use std::collections::{HashMap, VecDeque};

use uuid::Uuid;

use crate::inbound::{Completion, HeldBudget, Inbound, Piece};
use crate::limits::{Budget, Limits};
use crate::post::{flag, parse_seq, BodyEnd, PostHeaders, PostKind, PostRoute};
use crate::rejection::{Reason, Rejection};

/// A pairing scope: ids opened in one scope are unknown in every other. The
/// Node server uses one per HTTP/2 session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ScopeKey(pub u64);

/// A client connection (an HTTP/2 session, an HTTP/1.1 socket): what the
/// duplexes it opened count against, whatever scope they pair in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnectionKey(pub u64);

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
    connection: ConnectionKey,
    id: String,
    inbound: Inbound,
    /// A tunnel's carrier (docs/protocol.md "Resume on the fetch paths"):
    /// its tunnelled duplex is the one counted.
    carrier: bool,
}

/// What the open duplexes of a connection, or of the server, take.
#[derive(Clone, Copy, Debug, Default)]
struct Usage {
    duplexes: usize,
    carriers: usize,
    held_bytes: usize,
}

/// How many closed ids a scope remembers, to tell a late POST of a
/// well-behaved client (quiet 404) from a wrong id (404 and a warning).
const REMEMBERED_CLOSED_IDS: usize = 128;

#[derive(Default)]
struct Scope {
    ids: HashMap<String, DuplexKey>,
    carriers: usize,
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
    /// Only connections with open duplexes: a connection that opens none
    /// leaves nothing behind.
    connections: HashMap<ConnectionKey, Usage>,
    server: Usage,
    next_key: u64,
}

impl Registry {
    pub fn new(limits: Limits) -> Self {
        Registry {
            limits,
            node_id: None,
            scopes: HashMap::new(),
            duplexes: HashMap::new(),
            connections: HashMap::new(),
            server: Usage::default(),
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

    /// A name for a new client connection (nothing is kept until it opens a duplex).
    pub fn connection_key(&mut self) -> ConnectionKey {
        ConnectionKey(self.take_key())
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

    /// A GET (or a WebSocket) on `connection` opened a duplex in `scope`.
    pub fn open_duplex(
        &mut self,
        scope: ScopeKey,
        connection: ConnectionKey,
    ) -> Result<OpenedDuplex, Rejection> {
        let known = self
            .scopes
            .get(&scope)
            .ok_or_else(|| Rejection::new(Reason::UnknownId))?;
        let in_scope = known.ids.len() - known.carriers;
        let on_connection = self.connections.get(&connection).map_or(0, |c| c.duplexes);
        let limits = &self.limits;
        for (budget, open, limit) in [
            (Budget::Scope, in_scope, limits.max_duplexes_per_scope),
            (
                Budget::Connection,
                on_connection,
                limits.duplexes_per_connection(),
            ),
            (Budget::Server, self.server.duplexes, limits.max_duplexes),
        ] {
            if open >= limit {
                return Err(Rejection::new(Reason::TooManyDuplexes { budget, limit }));
            }
        }
        Ok(self.insert(scope, connection, false))
    }

    /// A tunnel's GET on `connection` opened a duplex in `scope`, and its
    /// carrier: the carrier is paired and budgeted as a duplex but counted
    /// as none, the tunnelled duplex is counted. Returns both, in that order.
    pub fn open_tunnel(
        &mut self,
        scope: ScopeKey,
        connection: ConnectionKey,
    ) -> Result<(OpenedDuplex, OpenedDuplex), Rejection> {
        let tunnelled = self.open_duplex(scope, connection)?;
        Ok((tunnelled, self.insert(scope, connection, true)))
    }

    fn insert(
        &mut self,
        scope: ScopeKey,
        connection: ConnectionKey,
        carrier: bool,
    ) -> OpenedDuplex {
        let key = DuplexKey(self.take_key());
        // 122 random bits: wider than a session, the id is the credential.
        let id = match &self.node_id {
            Some(node) => format!("{node}.{}", Uuid::new_v4()),
            None => Uuid::new_v4().to_string(),
        };
        let known = self
            .scopes
            .get_mut(&scope)
            .expect("scope checked by the caller");
        known.ids.insert(id.clone(), key);
        self.duplexes.insert(
            key,
            Duplex {
                scope,
                connection,
                id: id.clone(),
                inbound: Inbound::new(),
                carrier,
            },
        );
        let usage = self.connections.entry(connection).or_default();
        if carrier {
            known.carriers += 1;
            usage.carriers += 1;
        } else {
            usage.duplexes += 1;
            self.server.duplexes += 1;
        }
        OpenedDuplex { key, id }
    }

    /// Whether the duplex is open (its client has not ended, it was not closed).
    pub fn is_open(&self, key: DuplexKey) -> bool {
        self.duplexes.contains_key(&key)
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
        let budgets = self.held_budgets(key)?;
        let inbound = &mut self
            .duplexes
            .get_mut(&key)
            .expect("held_budgets found it")
            .inbound;
        let before = inbound.held_bytes();
        let piece = inbound.piece(seq, data, &self.limits, &budgets)?;
        let added = inbound.held_bytes() - before;
        self.account_held(key, added, 0);
        Ok(piece)
    }

    /// Whether a POST paused by `Piece::HeldPause` may read on: its write is
    /// now current (delivered as it comes), or every budget it counts against
    /// is under its limit again. A closed duplex's POSTs may read on: their
    /// answer is decided.
    pub fn may_read(&self, key: DuplexKey, seq: u64) -> bool {
        let Some(duplex) = self.duplexes.get(&key) else {
            return true;
        };
        duplex.inbound.is_current(seq)
            || self
                .held_budgets(key)
                .is_ok_and(|budgets| budgets.iter().all(|budget| budget.held < budget.limit))
    }

    /// What the budgets the duplex counts against hold now, and their limits.
    fn held_budgets(&self, key: DuplexKey) -> Result<[HeldBudget; 3], Rejection> {
        let duplex = self
            .duplexes
            .get(&key)
            .ok_or_else(|| Rejection::new(Reason::DuplexClosed))?;
        let scope = self
            .scopes
            .get(&duplex.scope)
            .expect("an open duplex's scope is open");
        let connection = self
            .connections
            .get(&duplex.connection)
            .map_or(0, |c| c.held_bytes);
        let limits = &self.limits;
        Ok([
            HeldBudget {
                budget: Budget::Scope,
                held: scope.held_bytes,
                limit: limits.max_held_bytes_per_scope,
            },
            HeldBudget {
                budget: Budget::Connection,
                held: connection,
                limit: limits.held_bytes_per_connection(),
            },
            HeldBudget {
                budget: Budget::Server,
                held: self.server.held_bytes,
                limit: limits.max_held_bytes,
            },
        ])
    }

    /// The duplex now holds `added` more, or `released` fewer, bytes out of order.
    fn account_held(&mut self, key: DuplexKey, added: usize, released: usize) {
        let Some(duplex) = self.duplexes.get(&key) else {
            return;
        };
        if let Some(scope) = self.scopes.get_mut(&duplex.scope) {
            scope.held_bytes = scope.held_bytes + added - released;
        }
        if let Some(connection) = self.connections.get_mut(&duplex.connection) {
            connection.held_bytes = connection.held_bytes + added - released;
        }
        self.server.held_bytes = self.server.held_bytes + added - released;
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
        let inbound = &mut self
            .duplexes
            .get_mut(&key)
            .ok_or_else(|| Rejection::new(Reason::DuplexClosed))?
            .inbound;
        let before = inbound.held_bytes();
        let completion = inbound.complete(seq)?;
        let released = before - inbound.held_bytes();
        self.account_held(key, 0, released);
        if completion.ended {
            // The client's side is over: later POSTs with this id get 404.
            self.forget(key);
        }
        Ok(completion)
    }

    pub fn stats(&self) -> Stats {
        Stats {
            scopes: self.scopes.len(),
            duplexes: self.server.duplexes,
            held_bytes: self.server.held_bytes,
            writes_in_flight: self
                .duplexes
                .values()
                .map(|d| d.inbound.writes_in_flight())
                .sum(),
        }
    }

    fn forget(&mut self, key: DuplexKey) {
        let Some(held) = self.duplexes.get(&key).map(|d| d.inbound.held_bytes()) else {
            return;
        };
        self.account_held(key, 0, held);
        let duplex = self.duplexes.remove(&key).expect("found above");
        if !duplex.carrier {
            self.server.duplexes -= 1;
        }
        if let Some(connection) = self.connections.get_mut(&duplex.connection) {
            if duplex.carrier {
                connection.carriers -= 1;
            } else {
                connection.duplexes -= 1;
            }
            if connection.duplexes == 0 && connection.carriers == 0 {
                self.connections.remove(&duplex.connection);
            }
        }
        // A closed scope is already gone, and with it its list of ids.
        if let Some(scope) = self.scopes.get_mut(&duplex.scope) {
            if duplex.carrier {
                scope.carriers -= 1;
            }
            scope.ids.remove(&duplex.id);
            if scope.closed.len() == REMEMBERED_CLOSED_IDS {
                scope.closed.pop_front();
            }
            scope.closed.push_back(duplex.id);
        }
    }

    fn take_key(&mut self) -> u64 {
        self.next_key += 1;
        self.next_key
    }
}
