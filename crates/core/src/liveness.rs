//! Whether the server's client connections are still alive: its HTTP/2
//! sessions and its HTTP/1.1 WebSockets' upgraded sockets. A session stops
//! reading its socket while its writes wait on the client's flow-control
//! windows, so a connection cut mid-transfer (its FIN or RST never read) or
//! stalled (TCP up, nothing delivered) would hold its duplexes forever; a
//! WebSocket's cut or stalled connection says nothing either. A connection
//! silent (nothing received) for the keep-alive interval gets a PING (an
//! HTTP/2 PING; a WebSocket Ping frame, RFC 6455 §5.5.2, sent by
//! [`crate::websocket::Endpoint::ping`]), which every client answers on its
//! own; one that has still heard nothing [`Liveness::answer_timeout_ms`]
//! after its PING is dead. An RFC 8441 WebSocket's stream needs no Ping of
//! its own: its session is watched.
//!
//! As with [`crate::Silences`], the caller owns the clock and the timer: it
//! checks every [`crate::tick::Ticks::interval`] ms, passing the sessions it
//! heard from since its last check (bytes read, a PING answered).

use std::collections::HashMap;

use crate::protocol::wait::PING_ANSWER_MIN_MS;
use crate::registry::ConnectionKey;
use crate::rejection::{Reason, Rejection};

/// What a check asks of the caller, in key order. `session` is the
/// connection's key (an HTTP/2 session or an HTTP/1.1 WebSocket's socket).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LivenessAction {
    /// Send the connection a PING (HTTP/2's, or the WebSocket's Ping).
    Ping { session: ConnectionKey },
    /// The connection did not answer: destroy it, failing its duplexes
    /// with this error. It is no longer watched.
    Destroy {
        session: ConnectionKey,
        rejection: Rejection,
    },
}

#[derive(Clone, Copy, Debug)]
struct Watched {
    heard_at: u64,
    /// When the unanswered PING went out.
    pinged_at: Option<u64>,
}

#[derive(Debug)]
pub struct Liveness {
    interval_ms: u64,
    sessions: HashMap<ConnectionKey, Watched>,
}

impl Liveness {
    /// `keepalive_interval_ms` 0 is off: nothing is watched.
    pub fn new(keepalive_interval_ms: u64) -> Self {
        Liveness {
            interval_ms: keepalive_interval_ms,
            sessions: HashMap::new(),
        }
    }

    pub fn is_on(&self) -> bool {
        self.interval_ms > 0
    }

    /// How long a PING may go unanswered: the keep-alive interval, and at
    /// least [`PING_ANSWER_MIN_MS`] so that a short interval does not take
    /// a busy event loop or a slow round trip for a dead peer.
    pub fn answer_timeout_ms(&self) -> u64 {
        self.interval_ms.max(u64::from(PING_ANSWER_MIN_MS))
    }

    pub fn watched(&self) -> usize {
        self.sessions.len()
    }

    /// A session first seen at `now`. Returns whether it is watched (the
    /// caller's timer must run).
    pub fn watch(&mut self, session: ConnectionKey, now: u64) -> bool {
        if self.is_on() {
            self.sessions.entry(session).or_insert(Watched {
                heard_at: now,
                pinged_at: None,
            });
        }
        self.is_on()
    }

    /// The session closed.
    pub fn unwatch(&mut self, session: ConnectionKey) {
        self.sessions.remove(&session);
    }

    /// The check at `now`: `heard` received something since the last one.
    pub fn handle_tick(
        &mut self,
        now: u64,
        heard: impl IntoIterator<Item = ConnectionKey>,
        out: &mut Vec<LivenessAction>,
    ) {
        for session in heard {
            if let Some(watched) = self.sessions.get_mut(&session) {
                *watched = Watched {
                    heard_at: now,
                    pinged_at: None,
                };
            }
        }
        let timeout_ms = self.answer_timeout_ms();
        let mut dead = Vec::new();
        let mut actions: Vec<(ConnectionKey, bool)> = Vec::new();
        for (&session, watched) in &mut self.sessions {
            match watched.pinged_at {
                Some(at) if now.saturating_sub(at) >= timeout_ms => {
                    dead.push(session);
                    actions.push((session, true));
                }
                None if now.saturating_sub(watched.heard_at) >= self.interval_ms => {
                    watched.pinged_at = Some(now);
                    actions.push((session, false));
                }
                _ => {}
            }
        }
        for session in dead {
            self.sessions.remove(&session);
        }
        actions.sort_unstable_by_key(|(session, _)| session.0);
        out.extend(actions.into_iter().map(|(session, dead)| {
            if dead {
                LivenessAction::Destroy {
                    session,
                    rejection: Rejection::new(Reason::SessionUnanswered { timeout_ms }),
                }
            } else {
                LivenessAction::Ping { session }
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

    const A: ConnectionKey = ConnectionKey(1);
    const B: ConnectionKey = ConnectionKey(2);

    fn tick(liveness: &mut Liveness, now: u64, heard: &[ConnectionKey]) -> Vec<LivenessAction> {
        let mut out = Vec::new();
        liveness.handle_tick(now, heard.iter().copied(), &mut out);
        out
    }

    fn pings(sessions: &[ConnectionKey]) -> Vec<LivenessAction> {
        sessions
            .iter()
            .map(|&session| LivenessAction::Ping { session })
            .collect()
    }

    fn destroyed(actions: &[LivenessAction]) -> Vec<(ConnectionKey, Code, String)> {
        actions
            .iter()
            .filter_map(|action| match action {
                LivenessAction::Destroy { session, rejection } => {
                    Some((*session, rejection.code(), rejection.to_string()))
                }
                LivenessAction::Ping { .. } => None,
            })
            .collect()
    }

    #[test]
    fn off_watches_nothing() {
        let mut liveness = Liveness::new(0);
        assert!(!liveness.watch(A, 0));
        assert_eq!(liveness.watched(), 0);
        assert!(tick(&mut liveness, u64::MAX, &[]).is_empty());
    }

    #[test]
    fn the_answer_may_take_the_interval_and_at_least_the_minimum() {
        assert_eq!(Liveness::new(20_000).answer_timeout_ms(), 20_000);
        assert_eq!(
            Liveness::new(200).answer_timeout_ms(),
            u64::from(PING_ANSWER_MIN_MS)
        );
    }

    #[test]
    fn a_session_heard_from_is_never_pinged() {
        let mut liveness = Liveness::new(100);
        assert!(liveness.watch(A, 0));
        for now in (25..10_000).step_by(25) {
            assert!(tick(&mut liveness, now, &[A]).is_empty(), "at {now}");
        }
    }

    #[test]
    fn a_silent_session_is_pinged_once_per_silence_and_lives_while_it_answers() {
        let mut liveness = Liveness::new(100);
        liveness.watch(A, 0);
        liveness.watch(B, 50);
        assert!(tick(&mut liveness, 75, &[]).is_empty());
        assert_eq!(tick(&mut liveness, 100, &[]), pings(&[A]));
        // One PING at a time: none while it is unanswered.
        assert_eq!(tick(&mut liveness, 150, &[]), pings(&[B]));
        assert!(tick(&mut liveness, 175, &[]).is_empty());
        // Both answer; silence again starts a new interval.
        assert!(tick(&mut liveness, 200, &[A, B]).is_empty());
        assert!(tick(&mut liveness, 275, &[]).is_empty());
        assert_eq!(tick(&mut liveness, 300, &[]), pings(&[A, B]));
        assert_eq!(liveness.watched(), 2);
    }

    #[test]
    fn a_ping_unanswered_for_the_timeout_destroys_its_session_once() {
        let mut liveness = Liveness::new(2_000);
        liveness.watch(A, 0);
        liveness.watch(B, 0);
        assert_eq!(tick(&mut liveness, 2_000, &[]), pings(&[A, B]));
        // B answers, A never does.
        assert!(tick(&mut liveness, 2_500, &[B]).is_empty());
        assert!(tick(&mut liveness, 3_999, &[]).is_empty());
        let out = tick(&mut liveness, 4_000, &[]);
        assert_eq!(
            destroyed(&out),
            vec![(
                A,
                Code::SessionClosed,
                "the connection carrying the duplex did not answer a PING for 2000 ms: it was destroyed as dead".to_owned()
            )]
        );
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(liveness.watched(), 1);
        // B, silent since its answer, is pinged; A is gone.
        assert_eq!(tick(&mut liveness, 4_500, &[A]), pings(&[B]));
        let out = tick(&mut liveness, 100_000, &[]);
        assert_eq!(
            destroyed(&out)
                .iter()
                .map(|(session, ..)| *session)
                .collect::<Vec<_>>(),
            vec![B]
        );
    }

    #[test]
    fn a_short_interval_still_waits_the_minimum_for_an_answer() {
        let mut liveness = Liveness::new(200);
        liveness.watch(A, 0);
        assert_eq!(tick(&mut liveness, 200, &[]), pings(&[A]));
        assert!(tick(&mut liveness, 1_199, &[]).is_empty());
        assert_eq!(destroyed(&tick(&mut liveness, 1_200, &[])).len(), 1);
    }

    #[test]
    fn a_closed_session_is_forgotten() {
        let mut liveness = Liveness::new(100);
        liveness.watch(A, 0);
        assert!(liveness.watch(A, 50), "watching twice keeps the first");
        assert_eq!(tick(&mut liveness, 100, &[]), pings(&[A]));
        liveness.unwatch(A);
        assert_eq!(liveness.watched(), 0);
        assert!(tick(&mut liveness, 100_000, &[]).is_empty());
    }
}
