//! The periodic check of a server's duplexes and sessions: the idle timeout
//! ends duplexes with no traffic, a framed GET whose body was silent for the
//! keep-alive interval gets a PING frame (proxies close idle responses), a
//! resumable duplex silent as long sends its last ack again (its client's
//! sign that the connection is alive, crate::resume), and
//! an HTTP/2 session or HTTP/1.1 WebSocket silent as long gets a PING and is
//! destroyed when it does not answer ([`crate::liveness`]). The caller runs one timer
//! every [`Ticks::interval`] ms while anything is watched, and passes the
//! duplexes with traffic, the GETs written to and the sessions heard from
//! since its last check (flags on its side, not a call per write).

use std::collections::HashSet;

use bytes::Bytes;

use crate::framing::PING_FRAME;
use crate::idle::{IdleDeadlines, Silences};
use crate::liveness::{Liveness, LivenessAction};
use crate::registry::ConnectionKey;
use crate::registry::DuplexKey;
use crate::rejection::Rejection;

/// What a check asks of the caller, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TickAction {
    /// The duplex was idle for the timeout: destroy it with this error.
    Fail {
        duplex: DuplexKey,
        rejection: Rejection,
    },
    /// Write these bytes to the duplex's GET body.
    Write { duplex: DuplexKey, data: Bytes },
    /// Send the resumable duplex's last ack again.
    SendAck { duplex: DuplexKey },
}

/// What keeps a silent duplex's transport alive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeepAlive {
    /// Nothing: its client does not look for silence.
    None,
    /// A PING frame on its framed GET body.
    PingFrame,
    /// Its last ack again (http2-duplex.2).
    Ack,
}

#[derive(Debug)]
pub struct Ticks {
    idle: IdleDeadlines,
    /// Framed GETs and resumable duplexes, by when they last sent.
    keepalive: Silences,
    /// Those of them kept alive by acks.
    acked: HashSet<DuplexKey>,
    /// HTTP/2 sessions and HTTP/1.1 WebSockets' connections, by when they
    /// were last heard from.
    sessions: Liveness,
}

impl Ticks {
    /// `idle_timeout_ms`, `keepalive_interval_ms`: 0 is off.
    pub fn new(idle_timeout_ms: u64, keepalive_interval_ms: u64) -> Self {
        Ticks {
            idle: IdleDeadlines::new(idle_timeout_ms),
            keepalive: Silences::new(keepalive_interval_ms),
            acked: HashSet::new(),
            sessions: Liveness::new(keepalive_interval_ms),
        }
    }

    /// How often the caller checks while a duplex or session is watched;
    /// none when neither the idle timeout nor the keep-alives are on.
    /// Checking more often than one of them needs changes nothing for it
    /// (sessions are checked as often as framed GETs).
    pub fn interval(&self) -> Option<u64> {
        let idle = self.idle.is_on().then(|| self.idle.interval());
        let keepalive = self.keepalive.is_on().then(|| self.keepalive.interval());
        match (idle, keepalive) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A duplex opened at `now`, kept alive by `keepalive` when silent.
    /// Returns whether it is watched (the caller's timer must run).
    pub fn watch(&mut self, duplex: DuplexKey, now: u64, keepalive: KeepAlive) -> bool {
        self.idle.watch(duplex, now);
        if keepalive != KeepAlive::None {
            self.keepalive.watch(duplex, now);
        }
        if keepalive == KeepAlive::Ack {
            self.acked.insert(duplex);
        }
        self.idle.is_on() || (keepalive != KeepAlive::None && self.keepalive.is_on())
    }

    /// The duplex closed.
    pub fn unwatch(&mut self, duplex: DuplexKey) {
        self.idle.unwatch(duplex);
        self.keepalive.unwatch(duplex);
        self.acked.remove(&duplex);
    }

    /// Duplexes watched by either.
    pub fn watched(&self) -> usize {
        self.idle.watched().max(self.keepalive.watched())
    }

    /// An HTTP/2 session, or an HTTP/1.1 WebSocket's connection, first seen
    /// at `now`. Returns whether it is watched (the caller's timer must run).
    pub fn watch_session(&mut self, session: ConnectionKey, now: u64) -> bool {
        self.sessions.watch(session, now)
    }

    /// The session closed.
    pub fn unwatch_session(&mut self, session: ConnectionKey) {
        self.sessions.unwatch(session);
    }

    /// The sessions' check at `now`, with the duplexes': `heard` received
    /// something since the last one.
    pub fn handle_session_tick(
        &mut self,
        now: u64,
        heard: impl IntoIterator<Item = ConnectionKey>,
        out: &mut Vec<LivenessAction>,
    ) {
        self.sessions.handle_tick(now, heard, out);
    }

    /// The check at `now`: `active` saw traffic, `written` sent something
    /// (on their GET body, or their WebSocket) since the last check.
    pub fn handle_tick(
        &mut self,
        now: u64,
        active: impl IntoIterator<Item = DuplexKey>,
        written: impl IntoIterator<Item = DuplexKey>,
        out: &mut Vec<TickAction>,
    ) {
        for duplex in self.idle.check(now, active) {
            self.keepalive.unwatch(duplex);
            self.acked.remove(&duplex);
            out.push(TickAction::Fail {
                duplex,
                rejection: self.idle.expired(),
            });
        }
        let silent = self.keepalive.silent(now, written);
        for &duplex in &silent {
            out.push(if self.acked.contains(&duplex) {
                TickAction::SendAck { duplex }
            } else {
                TickAction::Write {
                    duplex,
                    data: Bytes::from_static(&PING_FRAME),
                }
            });
        }
        // A keep-alive is a write: the next one is due a whole interval later.
        self.keepalive.silent(now, silent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

    const A: DuplexKey = DuplexKey(1);
    const B: DuplexKey = DuplexKey(2);

    fn tick(
        ticks: &mut Ticks,
        now: u64,
        active: &[DuplexKey],
        written: &[DuplexKey],
    ) -> Vec<TickAction> {
        let mut out = Vec::new();
        ticks.handle_tick(
            now,
            active.iter().copied(),
            written.iter().copied(),
            &mut out,
        );
        out
    }

    fn pinged(actions: &[TickAction]) -> Vec<DuplexKey> {
        actions
            .iter()
            .filter_map(|a| match a {
                TickAction::Write { duplex, data } => {
                    assert_eq!(&data[..], &[1, 0, 0, 0, 0], "a PING frame");
                    Some(*duplex)
                }
                TickAction::Fail { .. } | TickAction::SendAck { .. } => None,
            })
            .collect()
    }

    #[test]
    fn off_watches_nothing_and_needs_no_timer() {
        let mut ticks = Ticks::new(0, 0);
        assert_eq!(ticks.interval(), None);
        assert!(!ticks.watch(A, 0, KeepAlive::PingFrame));
        assert!(tick(&mut ticks, 1_000_000, &[], &[]).is_empty());
    }

    #[test]
    fn the_timer_runs_at_the_shorter_interval() {
        assert_eq!(Ticks::new(100, 0).interval(), Some(25));
        assert_eq!(Ticks::new(0, 20_000).interval(), Some(5_000));
        assert_eq!(Ticks::new(100, 20_000).interval(), Some(25));
        // Keep-alives alone watch only framed GETs.
        let mut ticks = Ticks::new(0, 20_000);
        assert!(!ticks.watch(A, 0, KeepAlive::None));
        assert!(ticks.watch(B, 0, KeepAlive::PingFrame));
        assert_eq!(ticks.watched(), 1);
    }

    #[test]
    fn a_silent_framed_get_is_pinged_every_interval_and_a_written_one_is_not() {
        let mut ticks = Ticks::new(0, 100);
        ticks.watch(A, 0, KeepAlive::PingFrame);
        ticks.watch(B, 0, KeepAlive::PingFrame);
        // B is written to between checks; A stays silent.
        assert!(pinged(&tick(&mut ticks, 25, &[], &[B])).is_empty());
        assert!(pinged(&tick(&mut ticks, 75, &[], &[B])).is_empty());
        assert_eq!(pinged(&tick(&mut ticks, 100, &[], &[B])), vec![A]);
        // The PING counts as a write: the next is a whole interval later.
        assert!(pinged(&tick(&mut ticks, 175, &[], &[B])).is_empty());
        assert_eq!(pinged(&tick(&mut ticks, 200, &[], &[])), vec![A]);
        // B was last written at the check at 175.
        assert_eq!(pinged(&tick(&mut ticks, 275, &[], &[])), vec![B]);
        // A closed duplex is pinged no more.
        ticks.unwatch(A);
        ticks.unwatch(B);
        assert!(tick(&mut ticks, 10_000, &[], &[]).is_empty());
    }

    #[test]
    fn sessions_are_checked_with_the_keepalives() {
        let session = ConnectionKey(7);
        assert!(!Ticks::new(100, 0).watch_session(session, 0));
        let mut ticks = Ticks::new(0, 100);
        assert!(ticks.watch_session(session, 0));
        assert_eq!(ticks.interval(), Some(25));
        let mut out = Vec::new();
        ticks.handle_session_tick(100, [], &mut out);
        assert_eq!(out, vec![LivenessAction::Ping { session }]);
        ticks.unwatch_session(session);
        out.clear();
        ticks.handle_session_tick(100_000, [], &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn an_idle_duplex_fails_once_and_is_no_longer_pinged() {
        let mut ticks = Ticks::new(100, 50);
        ticks.watch(A, 0, KeepAlive::PingFrame);
        let out = tick(&mut ticks, 50, &[], &[]);
        assert_eq!(pinged(&out), vec![A]);
        // The PING is no traffic for the idle timeout.
        let out = tick(&mut ticks, 100, &[], &[]);
        assert!(
            matches!(&out[..], [TickAction::Fail { duplex: A, rejection }] if rejection.code() == Code::IdleTimeout),
            "{out:?}"
        );
        assert!(tick(&mut ticks, 1000, &[], &[]).is_empty());
    }

    #[test]
    fn a_silent_resumable_duplex_sends_its_ack_again_every_interval() {
        let mut ticks = Ticks::new(0, 100);
        assert!(ticks.watch(A, 0, KeepAlive::Ack));
        ticks.watch(B, 0, KeepAlive::PingFrame);
        assert_eq!(
            tick(&mut ticks, 50, &[], &[A]),
            [],
            "nothing is due half an interval in"
        );
        assert_eq!(
            tick(&mut ticks, 100, &[], &[]),
            [TickAction::Write {
                duplex: B,
                data: Bytes::from_static(&PING_FRAME)
            }],
            "A sent at 50"
        );
        assert_eq!(
            tick(&mut ticks, 150, &[], &[]),
            [TickAction::SendAck { duplex: A }]
        );
        ticks.unwatch(A);
        assert!(!tick(&mut ticks, 300, &[], &[]).contains(&TickAction::SendAck { duplex: A }));
    }
}
