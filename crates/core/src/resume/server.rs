//! The server's side of every resumable duplex of a server.

use std::collections::{BTreeSet, HashMap};

use crate::registry::{ConnectionKey, DuplexKey};

use super::link::{Link, Role};
use super::{Action, Config, Counts, Error, Secret};

/// A resume the server accepted: answer the request with `received` (the
/// client resends from it), then carry out the actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub duplex: DuplexKey,
    pub received: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// An explicit ack is due.
    Ack,
    /// A detached duplex's `resume_timeout`, or a complete one's counts
    /// are kept no longer.
    Expiry,
}

#[derive(Clone, Copy, Debug)]
enum Attachment {
    Attached,
    /// Since `since`; fails at `until`.
    Detached {
        since: u64,
        until: u64,
    },
    /// Complete: only its counts are kept, to answer a late resume.
    Complete {
        until: u64,
    },
}

/// What the resume buffers of a server keep together, at most: those of
/// the duplexes one client connection opened, and all of them, so that no
/// client's unacknowledged bytes grow the server's memory without bound
/// and one connection cannot take the room every other client needs. A
/// duplex's room is the least of its own buffer's and its budgets'.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budgets {
    pub per_connection: u64,
    pub server: u64,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            per_connection: crate::protocol::resume::MAX_BYTES_PER_CONNECTION,
            server: crate::protocol::resume::MAX_BYTES,
        }
    }
}

#[derive(Debug)]
struct Entry {
    id: String,
    secret: Secret,
    link: Link,
    connection: ConnectionKey,
    /// [`Action::Hold`] was answered and no [`Action::Flow`] since.
    held: bool,
    attachment: Attachment,
    /// The timers as they are in [`Server::timers`].
    ack_timer: Option<u64>,
    expiry_timer: Option<u64>,
}

impl Entry {
    fn expiry(&self) -> Option<u64> {
        match self.attachment {
            Attachment::Attached => None,
            Attachment::Detached { until, .. } | Attachment::Complete { until } => Some(until),
        }
    }
}

/// Every resumable duplex of a server, by the registry's key and by id.
/// Its actions name their duplex.
#[derive(Debug)]
pub struct Server {
    config: Config,
    budgets: Budgets,
    duplexes: HashMap<DuplexKey, Entry>,
    ids: HashMap<String, DuplexKey>,
    timers: BTreeSet<(u64, DuplexKey, Timer)>,
    /// Bytes in the resume buffers, by the connection that opened their
    /// duplex (only those with some), and in all.
    queued_by_connection: HashMap<ConnectionKey, u64>,
    queued: u64,
    /// Duplexes answered [`Action::Hold`], to flow when room comes back.
    holding: BTreeSet<DuplexKey>,
}

impl Server {
    pub fn new(config: Config, budgets: Budgets) -> Self {
        Server {
            config,
            budgets,
            duplexes: HashMap::new(),
            ids: HashMap::new(),
            timers: BTreeSet::new(),
            queued_by_connection: HashMap::new(),
            queued: 0,
            holding: BTreeSet::new(),
        }
    }

    /// A duplex whose client asked for resume opened on `connection`,
    /// attached to its transport: its secret, for the open's answer with
    /// the id (unique among the server's duplexes, as the registry makes
    /// them). Its buffer counts against `connection`'s budget for as long
    /// as it lives, whichever connection resumes it.
    pub fn open(&mut self, duplex: DuplexKey, id: &str, connection: ConnectionKey) -> Secret {
        let secret = Secret::generate();
        self.ids.insert(id.to_owned(), duplex);
        self.duplexes.insert(
            duplex,
            Entry {
                id: id.to_owned(),
                secret: secret.clone(),
                link: Link::new(&self.config, Role::Server),
                connection,
                held: false,
                attachment: Attachment::Attached,
                ack_timer: None,
                expiry_timer: None,
            },
        );
        secret
    }

    /// The duplex's counts, if the server knows it.
    pub fn counts(&self, duplex: DuplexKey) -> Option<Counts> {
        self.duplexes.get(&duplex).map(|entry| entry.link.counts())
    }

    /// Bytes the duplex may write now (0 when full, ended or unknown): its
    /// buffer's room, within its connection's and the server's budgets.
    pub fn room(&self, duplex: DuplexKey) -> u64 {
        self.duplexes.get(&duplex).map_or(0, |entry| {
            let by_connection = self
                .queued_by_connection
                .get(&entry.connection)
                .copied()
                .unwrap_or(0);
            entry
                .link
                .room()
                .min(self.budgets.per_connection.saturating_sub(by_connection))
                .min(self.budgets.server.saturating_sub(self.queued))
        })
    }

    /// The application wrote `n` bytes: queue them, and send them when
    /// attached. `false` (nothing counted) beyond [`Server::room`].
    pub fn handle_write(
        &mut self,
        duplex: DuplexKey,
        n: u64,
        out: &mut Vec<(DuplexKey, Action)>,
    ) -> bool {
        if n > self.room(duplex) {
            return false;
        }
        let entry = self.duplexes.get_mut(&duplex).expect("room() found it");
        let mut actions = Vec::new();
        entry.link.write(n, &mut actions);
        self.account(duplex, n, 0);
        if self.room(duplex) == 0 {
            let entry = self.duplexes.get_mut(&duplex).expect("found above");
            if !entry.held {
                entry.held = true;
                self.holding.insert(duplex);
                out.push((duplex, Action::Hold));
            }
        }
        true
    }

    /// The application ended its side: send the end when attached.
    pub fn handle_end(&mut self, duplex: DuplexKey) {
        if let Some(entry) = self.duplexes.get_mut(&duplex) {
            entry.link.end();
        }
    }

    /// `n` bytes of the client's direction were taken from the transport.
    pub fn handle_data(
        &mut self,
        duplex: DuplexKey,
        n: u64,
        now: u64,
        out: &mut Vec<(DuplexKey, Action)>,
    ) {
        self.with(duplex, now, out, |link, actions| link.data(n, now, actions));
    }

    /// The client's end arrived.
    pub fn handle_peer_end(
        &mut self,
        duplex: DuplexKey,
        now: u64,
        out: &mut Vec<(DuplexKey, Action)>,
    ) {
        self.with(duplex, now, out, |link, actions| {
            link.peer_end(now, actions)
        });
    }

    /// The client acknowledged `count` units of the server's direction.
    pub fn handle_ack(
        &mut self,
        duplex: DuplexKey,
        count: u64,
        now: u64,
        out: &mut Vec<(DuplexKey, Action)>,
    ) {
        self.with(duplex, now, out, |link, actions| {
            link.peer_ack(count, now, actions)
        });
    }

    /// An ack count to add to what the server is about to send the client
    /// anyway, if one is owed.
    pub fn take_ack(&mut self, duplex: DuplexKey) -> Option<u64> {
        let entry = self.duplexes.get_mut(&duplex)?;
        let count = entry.link.take_ack()?;
        self.sync_timers(duplex);
        Some(count)
    }

    /// The duplex's transport failed (reset, connection closed, an end
    /// without the client's): the duplex waits `resume_timeout` for its
    /// client, taking writes until its buffer is full.
    pub fn handle_transport_failed(&mut self, duplex: DuplexKey, now: u64) {
        let Some(entry) = self.duplexes.get_mut(&duplex) else {
            return;
        };
        if let Attachment::Attached = entry.attachment {
            entry.link.detach();
            entry.attachment = Attachment::Detached {
                since: now,
                until: now + self.config.resume_timeout_ms,
            };
            self.sync_timers(duplex);
        }
    }

    /// A client asks to resume duplex `id`, proving `secret`, having
    /// received `count` units of the server's direction. `Ok`: answer with
    /// [`Accepted::received`], then carry out the actions (a
    /// [`Action::CloseTransport`] for the old transport first if it was
    /// still attached). `Err`: answer with the error's code; the duplex, if
    /// any, is untouched.
    pub fn handle_resume(
        &mut self,
        id: &str,
        secret: &str,
        count: u64,
        now: u64,
        out: &mut Vec<(DuplexKey, Action)>,
    ) -> Result<Accepted, Error> {
        let duplex = *self.ids.get(id).ok_or(Error::Unknown)?;
        let entry = self.duplexes.get_mut(&duplex).ok_or(Error::Unknown)?;
        if !entry.secret.matches(secret) {
            return Err(Error::Refused);
        }
        entry.link.check_count(count)?;
        let mut actions = Vec::new();
        let downtime_ms = match entry.attachment {
            Attachment::Complete { .. } => {
                // The client missed the last ack: again, and done.
                let received = entry.link.counts().received;
                out.push((duplex, Action::Ack { count: received }));
                out.push((duplex, Action::Complete));
                return Ok(Accepted { duplex, received });
            }
            Attachment::Attached => {
                entry.link.detach();
                actions.push(Action::CloseTransport);
                0
            }
            Attachment::Detached { since, .. } => now.saturating_sub(since),
        };
        entry.attachment = Attachment::Attached;
        actions.push(Action::Resumed {
            attempt: None,
            downtime_ms,
        });
        let before = entry.link.queued();
        let received = entry.link.resume(count, now, &mut actions);
        let released = before - entry.link.queued();
        self.account(duplex, 0, released);
        self.settle(duplex, now, actions, out);
        if released > 0 {
            self.flow_with_room(out);
        }
        Ok(Accepted { duplex, received })
    }

    /// The duplex is gone (destroyed by the application, or broken): a
    /// resume of it is [`Error::Unknown`]. What its buffer held is room
    /// again for the duplexes that share its budgets.
    pub fn remove(&mut self, duplex: DuplexKey, out: &mut Vec<(DuplexKey, Action)>) {
        if self.forget(duplex) {
            self.flow_with_room(out);
        }
    }

    /// Forgets the duplex; whether its buffer held anything.
    fn forget(&mut self, duplex: DuplexKey) -> bool {
        let queued = self.duplexes.get(&duplex).map_or(0, |e| e.link.queued());
        self.account(duplex, 0, queued);
        if let Some(entry) = self.duplexes.remove(&duplex) {
            self.holding.remove(&duplex);
            self.ids.remove(&entry.id);
            for (at, timer) in [
                (entry.ack_timer, Timer::Ack),
                (entry.expiry_timer, Timer::Expiry),
            ] {
                if let Some(at) = at {
                    self.timers.remove(&(at, duplex, timer));
                }
            }
        }
        queued > 0
    }

    /// When [`Server::handle_timeout`] is next due (ms), if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.timers.first().map(|&(at, ..)| at)
    }

    /// Time passed: explicit acks due go out; a duplex detached for
    /// `resume_timeout` fails with [`Error::Timeout`]; a complete one's
    /// counts are forgotten.
    pub fn handle_timeout(&mut self, now: u64, out: &mut Vec<(DuplexKey, Action)>) {
        while let Some(&(at, duplex, timer)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, duplex, timer));
            let Some(entry) = self.duplexes.get_mut(&duplex) else {
                continue;
            };
            let mut actions = Vec::new();
            match timer {
                Timer::Ack => {
                    entry.ack_timer = None;
                    entry.link.timeout(now, &mut actions);
                }
                Timer::Expiry => {
                    entry.expiry_timer = None;
                    if let Attachment::Detached { .. } = entry.attachment {
                        let timeout_ms = self.config.resume_timeout_ms;
                        entry.link.fail(Error::Timeout { timeout_ms }, &mut actions);
                    } else {
                        self.remove(duplex, out);
                        continue;
                    }
                }
            }
            self.settle(duplex, now, actions, out);
        }
    }

    /// Runs `step` on the duplex's link, then settles what it did.
    fn with(
        &mut self,
        duplex: DuplexKey,
        now: u64,
        out: &mut Vec<(DuplexKey, Action)>,
        step: impl FnOnce(&mut Link, &mut Vec<Action>),
    ) {
        if let Some(entry) = self.duplexes.get_mut(&duplex) {
            let mut actions = Vec::new();
            let before = entry.link.queued();
            step(&mut entry.link, &mut actions);
            let after = entry.link.queued();
            self.account(
                duplex,
                after.saturating_sub(before),
                before.saturating_sub(after),
            );
            self.settle(duplex, now, actions, out);
            // Only bytes leaving a buffer make room: the duplexes held for
            // it are looked at then, not on every message.
            if after < before {
                self.flow_with_room(out);
            }
        }
    }

    /// `added` bytes came into the duplex's buffer, `released` left it:
    /// its connection's and the server's counts follow.
    fn account(&mut self, duplex: DuplexKey, added: u64, released: u64) {
        let Some(entry) = self.duplexes.get(&duplex) else {
            return;
        };
        let connection = entry.connection;
        let by_connection = self.queued_by_connection.entry(connection).or_default();
        *by_connection = *by_connection + added - released;
        if *by_connection == 0 {
            self.queued_by_connection.remove(&connection);
        }
        self.queued = self.queued + added - released;
    }

    /// Duplexes held for room that have some again flow.
    fn flow_with_room(&mut self, out: &mut Vec<(DuplexKey, Action)>) {
        let flowing: Vec<DuplexKey> = self
            .holding
            .iter()
            .copied()
            .filter(|&duplex| self.room(duplex) > 0)
            .collect();
        for duplex in flowing {
            self.holding.remove(&duplex);
            if let Some(entry) = self.duplexes.get_mut(&duplex) {
                entry.held = false;
            }
            out.push((duplex, Action::Flow));
        }
    }

    /// Hands the duplex's actions on; a failed duplex is forgotten, a
    /// complete one kept as counts; its timers follow its state.
    fn settle(
        &mut self,
        duplex: DuplexKey,
        now: u64,
        actions: Vec<Action>,
        out: &mut Vec<(DuplexKey, Action)>,
    ) {
        let failed = actions.iter().any(|a| matches!(a, Action::Fail(_)));
        // Room is the server's to judge, across duplexes: not the link's.
        out.extend(
            actions
                .into_iter()
                .filter(|action| !matches!(action, Action::Hold | Action::Flow))
                .map(|action| (duplex, action)),
        );
        if failed {
            self.remove(duplex, out);
            return;
        }
        if let Some(entry) = self.duplexes.get_mut(&duplex) {
            if entry.link.is_done() && !matches!(entry.attachment, Attachment::Complete { .. }) {
                entry.attachment = Attachment::Complete {
                    until: now + self.config.resume_timeout_ms,
                };
            }
        }
        self.sync_timers(duplex);
    }

    fn sync_timers(&mut self, duplex: DuplexKey) {
        let Some(entry) = self.duplexes.get_mut(&duplex) else {
            return;
        };
        let wanted_expiry = entry.expiry();
        for (slot, wanted, timer) in [
            (&mut entry.ack_timer, entry.link.ack_due(), Timer::Ack),
            (&mut entry.expiry_timer, wanted_expiry, Timer::Expiry),
        ] {
            if *slot != wanted {
                if let Some(at) = *slot {
                    self.timers.remove(&(at, duplex, timer));
                }
                if let Some(at) = wanted {
                    self.timers.insert((at, duplex, timer));
                }
                *slot = wanted;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resume::ACK_DELAY_MS;

    const KEY: DuplexKey = DuplexKey(1);
    const ID: &str = "n1.abc";

    fn server(resume_buffer: u64) -> (Server, String) {
        let mut server = Server::new(
            Config {
                resume_buffer,
                resume_timeout_ms: 30_000,
            },
            Budgets::default(),
        );
        let secret = server.open(KEY, ID, ConnectionKey(1)).encode();
        (server, secret)
    }

    fn taken(out: &mut Vec<(DuplexKey, Action)>) -> Vec<Action> {
        out.drain(..)
            .map(|(duplex, action)| {
                assert_eq!(duplex, KEY);
                action
            })
            .collect()
    }

    #[test]
    fn writes_are_held_at_the_resume_buffer_and_flow_as_acks_come() {
        let (mut server, _) = server(100);
        let mut out = Vec::new();
        assert_eq!(server.room(KEY), 100);
        assert!(server.handle_write(KEY, 60, &mut out));
        assert!(!server.handle_write(KEY, 41, &mut out), "beyond the room");
        assert!(server.handle_write(KEY, 40, &mut out));
        assert_eq!(taken(&mut out), [Action::Hold]);
        assert_eq!(server.room(KEY), 0);
        server.handle_ack(KEY, 30, 0, &mut out);
        assert_eq!(taken(&mut out), [Action::Drop { bytes: 30 }, Action::Flow]);
        assert_eq!(server.room(KEY), 30);
        server.handle_ack(KEY, 30, 0, &mut out);
        assert_eq!(taken(&mut out), [], "an ack repeated changes nothing");
        // The end takes no room; it is the 101st unit, and ack 101 covers it.
        server.handle_end(KEY);
        assert_eq!(server.room(KEY), 0);
        assert_eq!(server.counts(KEY).unwrap().sent, 101);
        server.handle_ack(KEY, 101, 0, &mut out);
        assert_eq!(taken(&mut out), [Action::Drop { bytes: 70 }]);
        assert_eq!(server.room(KEY), 0);
    }

    // One connection's duplexes share its budget, and all share the
    // server's: an ack anywhere in it flows every duplex held for room.
    #[test]
    fn resume_buffers_are_bounded_per_connection_and_server() {
        let mut server = Server::new(
            Config {
                resume_buffer: 80,
                resume_timeout_ms: 30_000,
            },
            Budgets {
                per_connection: 100,
                server: 150,
            },
        );
        let (a, b, other) = (DuplexKey(1), DuplexKey(2), DuplexKey(3));
        server.open(a, "a", ConnectionKey(1));
        server.open(b, "b", ConnectionKey(1));
        server.open(other, "c", ConnectionKey(2));
        let mut out = Vec::new();
        assert!(server.handle_write(a, 80, &mut out));
        assert_eq!(server.room(b), 20, "what the connection has left");
        assert_eq!(server.room(other), 70, "what the server has left");
        assert!(!server.handle_write(b, 21, &mut out));
        assert!(server.handle_write(b, 20, &mut out));
        assert_eq!(server.room(other), 50);
        assert!(server.handle_write(other, 50, &mut out));
        assert_eq!(
            std::mem::take(&mut out),
            [(a, Action::Hold), (b, Action::Hold), (other, Action::Hold)]
        );
        server.handle_ack(a, 50, 0, &mut out);
        assert_eq!(
            std::mem::take(&mut out),
            [
                (a, Action::Drop { bytes: 50 }),
                (a, Action::Flow),
                (b, Action::Flow),
                (other, Action::Flow)
            ]
        );
        assert_eq!(
            [server.room(a), server.room(b), server.room(other)],
            [50, 50, 30]
        );
        // A duplex gone gives its bytes back.
        server.remove(b, &mut out);
        assert_eq!(std::mem::take(&mut out), [], "nothing was held");
        assert_eq!([server.room(a), server.room(other)], [50, 30]);
        server.remove(other, &mut out);
        assert_eq!(server.room(a), 50);
        assert_eq!((server.queued, server.queued_by_connection.len()), (30, 1));
        server.remove(a, &mut out);
        assert_eq!((server.queued, server.queued_by_connection.len()), (0, 0));
    }

    // A duplex held by its connection's budget alone (nothing of its own to
    // be acknowledged) flows when another duplex of the connection is gone.
    #[test]
    fn a_duplex_gone_makes_room_for_the_others_of_its_connection() {
        let mut server = Server::new(
            Config {
                resume_buffer: 80,
                resume_timeout_ms: 30_000,
            },
            Budgets {
                per_connection: 100,
                server: 1000,
            },
        );
        let (full, idle) = (DuplexKey(1), DuplexKey(2));
        server.open(full, "full", ConnectionKey(1));
        server.open(idle, "idle", ConnectionKey(1));
        let mut out = Vec::new();
        assert!(server.handle_write(full, 80, &mut out));
        assert!(server.handle_write(idle, 20, &mut out));
        assert_eq!(
            std::mem::take(&mut out),
            [(full, Action::Hold), (idle, Action::Hold)]
        );
        server.remove(full, &mut out);
        assert_eq!(out, [(idle, Action::Flow)]);
        assert_eq!(server.room(idle), 60);
    }

    #[test]
    fn an_ack_backwards_or_beyond_what_was_sent_fails_the_duplex() {
        for bad in [5, 11] {
            let (mut server, secret) = server(100);
            let mut out = Vec::new();
            server.handle_write(KEY, 10, &mut out);
            server.handle_ack(KEY, 6, 0, &mut out);
            out.clear();
            server.handle_ack(KEY, bad, 0, &mut out);
            let error = Error::Ack {
                count: bad,
                peer_acked: 6,
                sent: 10,
            };
            assert_eq!(taken(&mut out), [Action::Fail(error)]);
            assert_eq!(server.counts(KEY), None, "forgotten");
            assert_eq!(
                server.handle_resume(ID, &secret, 10, 0, &mut out),
                Err(Error::Unknown)
            );
            assert_eq!(server.poll_timeout(), None);
        }
    }

    #[test]
    fn acks_ride_on_traffic_or_go_at_a_quarter_of_the_buffer_or_after_a_delay() {
        let (mut server, _) = server(100);
        let mut out = Vec::new();
        server.handle_data(KEY, 10, 1_000, &mut out);
        assert_eq!(taken(&mut out), []);
        assert_eq!(server.poll_timeout(), Some(1_000 + ACK_DELAY_MS));
        // Traffic to the client carries it.
        assert_eq!(server.take_ack(KEY), Some(10));
        assert_eq!(server.take_ack(KEY), None);
        assert_eq!(server.poll_timeout(), None);
        // Idle: an explicit ack after the delay.
        server.handle_data(KEY, 5, 2_000, &mut out);
        server.handle_timeout(2_000 + ACK_DELAY_MS - 1, &mut out);
        assert_eq!(taken(&mut out), []);
        server.handle_timeout(2_000 + ACK_DELAY_MS, &mut out);
        assert_eq!(taken(&mut out), [Action::Ack { count: 15 }]);
        assert_eq!(server.poll_timeout(), None);
        // A quarter of the buffer unacknowledged: at once.
        server.handle_data(KEY, 24, 3_000, &mut out);
        assert_eq!(taken(&mut out), []);
        server.handle_data(KEY, 1, 3_001, &mut out);
        assert_eq!(taken(&mut out), [Action::Ack { count: 40 }]);
        assert_eq!(server.poll_timeout(), None);
        assert_eq!(
            server.counts(KEY),
            Some(Counts {
                sent: 0,
                peer_acked: 0,
                received: 40,
                acked_to_peer: 40
            })
        );
    }

    #[test]
    fn a_resume_is_checked_for_id_then_secret_then_count() {
        let (mut server, secret) = server(100);
        let mut out = Vec::new();
        server.handle_write(KEY, 50, &mut out);
        server.handle_ack(KEY, 20, 0, &mut out);
        server.handle_data(KEY, 8, 0, &mut out);
        server.handle_transport_failed(KEY, 1_000);
        out.clear();
        let before = server.counts(KEY);
        let wrong = Secret::generate().encode();
        let mut resume = |id: &str, secret: &str, count: u64| {
            server.handle_resume(id, secret, count, 1_200, &mut out)
        };
        assert_eq!(resume("n1.other", &secret, 30), Err(Error::Unknown));
        assert_eq!(resume("n1.other", &wrong, 99), Err(Error::Unknown));
        assert_eq!(resume(ID, &wrong, 99), Err(Error::Refused));
        assert_eq!(resume(ID, "", 30), Err(Error::Refused));
        for bad in [19, 51] {
            assert_eq!(
                resume(ID, &secret, bad),
                Err(Error::Count {
                    count: bad,
                    range: Some((20, 50))
                })
            );
        }
        // None of these touched the duplex.
        assert_eq!(taken(&mut out), []);
        assert_eq!(server.counts(KEY), before);
        assert_eq!(server.poll_timeout(), Some(31_000));
        let accepted = server.handle_resume(ID, &secret, 30, 1_500, &mut out);
        assert_eq!(
            accepted,
            Ok(Accepted {
                duplex: KEY,
                received: 8
            })
        );
        assert_eq!(
            taken(&mut out),
            [
                Action::Resumed {
                    attempt: None,
                    downtime_ms: 500
                },
                Action::Drop { bytes: 10 },
                Action::Resend {
                    from: 30,
                    end: false
                },
            ]
        );
        // The answer acknowledged the 8 bytes; attached, no timeout.
        assert_eq!(server.take_ack(KEY), None);
        assert_eq!(server.poll_timeout(), None);
    }

    #[test]
    fn a_detached_duplex_takes_writes_until_full_then_times_out() {
        let (mut server, secret) = server(100);
        let mut out = Vec::new();
        server.handle_write(KEY, 30, &mut out);
        server.handle_data(KEY, 3, 900, &mut out);
        server.handle_transport_failed(KEY, 1_000);
        assert_eq!(server.take_ack(KEY), None, "no acks while detached");
        assert!(server.handle_write(KEY, 70, &mut out));
        assert_eq!(taken(&mut out), [Action::Hold]);
        assert!(!server.handle_write(KEY, 1, &mut out));
        assert_eq!(server.poll_timeout(), Some(31_000));
        server.handle_timeout(30_999, &mut out);
        assert_eq!(taken(&mut out), []);
        server.handle_timeout(31_000, &mut out);
        assert_eq!(
            taken(&mut out),
            [Action::Fail(Error::Timeout { timeout_ms: 30_000 })]
        );
        assert_eq!(server.counts(KEY), None);
        assert_eq!(server.poll_timeout(), None);
        assert_eq!(
            server.handle_resume(ID, &secret, 30, 31_000, &mut out),
            Err(Error::Unknown)
        );
    }

    #[test]
    fn a_resume_of_a_duplex_still_attached_closes_its_old_transport_first() {
        let (mut server, secret) = server(100);
        let mut out = Vec::new();
        server.handle_write(KEY, 10, &mut out);
        server.handle_data(KEY, 4, 0, &mut out);
        let accepted = server.handle_resume(ID, &secret, 10, 5_000, &mut out);
        assert_eq!(accepted.map(|a| a.received), Ok(4));
        assert_eq!(
            taken(&mut out),
            [
                Action::CloseTransport,
                Action::Resumed {
                    attempt: None,
                    downtime_ms: 0
                },
                Action::Drop { bytes: 10 },
            ]
        );
        assert_eq!(server.poll_timeout(), None, "the ack went with the answer");
    }

    #[test]
    fn the_clients_end_is_acknowledged_after_the_servers_and_a_complete_duplex_answers_late() {
        let (mut server, secret) = server(100);
        let mut out = Vec::new();
        server.handle_data(KEY, 5, 0, &mut out);
        server.handle_peer_end(KEY, 0, &mut out);
        // The data is acknowledged as usual, the end not yet.
        assert_eq!(taken(&mut out), []);
        assert_eq!(server.take_ack(KEY), Some(5));
        assert_eq!(server.take_ack(KEY), None);
        server.handle_write(KEY, 3, &mut out);
        server.handle_end(KEY);
        server.handle_ack(KEY, 3, 0, &mut out);
        assert_eq!(taken(&mut out), [Action::Drop { bytes: 3 }]);
        // A resume answers the whole count (the client must not resend its
        // end) but acknowledges no end yet.
        let accepted = server.handle_resume(ID, &secret, 3, 50, &mut out);
        assert_eq!(accepted.map(|a| a.received), Ok(6));
        assert_eq!(
            taken(&mut out),
            [
                Action::CloseTransport,
                Action::Resumed {
                    attempt: None,
                    downtime_ms: 0
                },
                Action::Resend { from: 3, end: true },
            ]
        );
        // The client's ack of the server's end: now the client's end is
        // acknowledged, and the duplex is complete.
        server.handle_ack(KEY, 4, 100, &mut out);
        assert_eq!(
            taken(&mut out),
            [Action::Ack { count: 6 }, Action::Complete]
        );
        assert_eq!(server.room(KEY), 0);
        // A client that missed that ack resumes and completes.
        let accepted = server.handle_resume(ID, &secret, 4, 200, &mut out);
        assert_eq!(accepted.map(|a| a.received), Ok(6));
        assert_eq!(
            taken(&mut out),
            [Action::Ack { count: 6 }, Action::Complete]
        );
        assert_eq!(
            server.handle_resume(ID, &secret, 3, 200, &mut out),
            Err(Error::Count {
                count: 3,
                range: Some((4, 4))
            })
        );
        // Its counts are kept for resume_timeout, then forgotten quietly.
        assert_eq!(server.poll_timeout(), Some(30_100));
        server.handle_timeout(30_100, &mut out);
        assert_eq!(taken(&mut out), []);
        assert_eq!(server.counts(KEY), None);
        assert_eq!(
            server.handle_resume(ID, &secret, 4, 30_100, &mut out),
            Err(Error::Unknown)
        );
    }

    #[test]
    fn a_removed_duplex_is_unknown() {
        let (mut server, secret) = server(100);
        let mut out = Vec::new();
        server.handle_data(KEY, 1, 0, &mut out);
        server.handle_transport_failed(KEY, 0);
        server.remove(KEY, &mut Vec::new());
        assert_eq!(server.poll_timeout(), None);
        assert_eq!(
            server.handle_resume(ID, &secret, 0, 0, &mut out),
            Err(Error::Unknown)
        );
        assert_eq!(server.room(KEY), 0);
        assert!(!server.handle_write(KEY, 1, &mut out));
        assert_eq!(server.take_ack(KEY), None);
    }
}
