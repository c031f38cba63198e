//! The client's side of one resumable duplex: its counts, the hang check,
//! and when to reconnect or give up.

use super::link::{Link, Role};
use super::{
    hang_timeout_ms, reconnect_delay_ms, Action, Config, Counts, Error, Refusal, ATTEMPT_TIMEOUT_MS,
};

#[derive(Clone, Copy, Debug)]
enum State {
    /// A transport carries the duplex; something last arrived at `heard`,
    /// or the reader held back until then.
    Attached { heard: u64 },
    /// Detached since `since`: `attempt` (counted from 1) is in flight
    /// since `at`, or failed and the next goes at `at`.
    Detached {
        since: u64,
        attempt: u32,
        in_flight: bool,
        at: u64,
    },
    /// Complete or failed.
    Done,
}

#[derive(Debug)]
pub struct Client {
    link: Link,
    state: State,
    resume_timeout_ms: u64,
    hang_timeout_ms: Option<u64>,
    /// The duplex's reader holds back: silence is no hang.
    reader_paused: bool,
}

impl Client {
    /// A duplex opened at `now` with resume, on the server's `config` and
    /// `keepalive_interval_ms` (0: no keep-alives, so no hang check).
    pub fn new(config: Config, keepalive_interval_ms: u64, now: u64) -> Self {
        Client {
            link: Link::new(&config, Role::Client),
            state: State::Attached { heard: now },
            resume_timeout_ms: config.resume_timeout_ms,
            hang_timeout_ms: hang_timeout_ms(keepalive_interval_ms),
            reader_paused: false,
        }
    }

    pub fn counts(&self) -> Counts {
        self.link.counts()
    }

    /// Bytes the duplex may write now (0 when full, ended or done).
    pub fn room(&self) -> u64 {
        self.link.room()
    }

    /// The application wrote `n` bytes: queue them, and send them when
    /// attached. `false` (nothing counted) beyond [`Client::room`].
    pub fn handle_write(&mut self, n: u64, out: &mut Vec<Action>) -> bool {
        self.link.write(n, out)
    }

    /// The application ended its side: send the end when attached.
    pub fn handle_end(&mut self) {
        self.link.end();
    }

    /// `n` bytes of the server's direction were taken from the transport.
    pub fn handle_data(&mut self, n: u64, now: u64, out: &mut Vec<Action>) {
        self.handle_heard(now);
        self.link.data(n, now, out);
    }

    /// The server's end arrived.
    pub fn handle_peer_end(&mut self, now: u64, out: &mut Vec<Action>) {
        self.handle_heard(now);
        self.link.peer_end(now, out);
        self.settle();
    }

    /// The server acknowledged `count` units of the client's direction.
    pub fn handle_ack(&mut self, count: u64, now: u64, out: &mut Vec<Action>) {
        self.handle_heard(now);
        self.link.peer_ack(count, now, out);
        self.settle();
    }

    /// Something without a count arrived on the transport (a keep-alive, a
    /// credit message): it is alive.
    pub fn handle_heard(&mut self, now: u64) {
        if let State::Attached { heard } = &mut self.state {
            *heard = now;
        }
    }

    /// The duplex's reader holds back (`paused`; the transport is not
    /// read, so nothing can be heard) or reads again: the hang check waits
    /// meanwhile, and starts afresh from `now`.
    pub fn handle_reader_paused(&mut self, paused: bool, now: u64) {
        self.reader_paused = paused;
        self.handle_heard(now);
    }

    /// An ack count to add to what the client is about to send the server
    /// anyway, if one is owed.
    pub fn take_ack(&mut self) -> Option<u64> {
        self.link.take_ack()
    }

    /// The transport failed (a reset, a TLS or TCP error, a GET or
    /// WebSocket that ended without the server's END), or the resume
    /// attempt's did (it could not connect, or got an answer that is no
    /// resume's, e.g. a proxy's 502): reconnect now, or after a backoff.
    pub fn handle_transport_failed(&mut self, now: u64, out: &mut Vec<Action>) {
        match self.state {
            State::Attached { .. } => {
                self.link.detach();
                self.state = State::Detached {
                    since: now,
                    attempt: 0,
                    in_flight: false,
                    at: now,
                };
                self.reconnect(now, out);
            }
            State::Detached {
                since,
                attempt,
                in_flight: true,
                ..
            } => {
                self.state = State::Detached {
                    since,
                    attempt,
                    in_flight: false,
                    at: now + reconnect_delay_ms(attempt),
                };
            }
            State::Detached { .. } | State::Done => {}
        }
    }

    fn reconnect(&mut self, now: u64, out: &mut Vec<Action>) {
        if let State::Detached { since, attempt, .. } = self.state {
            self.state = State::Detached {
                since,
                attempt: attempt + 1,
                in_flight: true,
                at: now,
            };
            out.push(Action::Reconnect {
                attempt: attempt + 1,
                count: self.link.counts().received,
            });
        }
    }

    /// The server accepted the resume in flight, having received
    /// `received` units of the client's direction: carry out the actions
    /// (resend), then send on the new transport. A count outside the
    /// client's `peer_acked ..= sent` fails the duplex ([`Error::Count`]).
    pub fn handle_resumed(&mut self, received: u64, now: u64, out: &mut Vec<Action>) {
        let State::Detached {
            since,
            attempt,
            in_flight: true,
            ..
        } = self.state
        else {
            return;
        };
        if let Err(error) = self.link.check_count(received) {
            self.link.fail(error, out);
            self.settle();
            return;
        }
        self.state = State::Attached { heard: now };
        out.push(Action::Resumed {
            attempt: Some(attempt),
            downtime_ms: now.saturating_sub(since),
        });
        self.link.resume(received, now, out);
        self.settle();
    }

    /// The server refused the resume in flight: the duplex fails.
    pub fn handle_refused(&mut self, refusal: Refusal, out: &mut Vec<Action>) {
        if !matches!(
            self.state,
            State::Detached {
                in_flight: true,
                ..
            }
        ) {
            return;
        }
        let error = match refusal {
            Refusal::Unknown => Error::Unknown,
            Refusal::Refused => Error::Refused,
            Refusal::Count => Error::Count {
                count: self.link.counts().received,
                range: None,
            },
        };
        self.link.fail(error, out);
        self.settle();
    }

    /// When [`Client::handle_timeout`] is next due (ms), if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.state {
            State::Attached { heard } => {
                let hang = self
                    .hang_timeout_ms
                    .filter(|_| !self.reader_paused)
                    .map(|timeout| heard + timeout);
                match (self.link.ack_due(), hang) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            State::Detached {
                since,
                in_flight,
                at,
                ..
            } => {
                let next = if in_flight {
                    at + ATTEMPT_TIMEOUT_MS
                } else {
                    at
                };
                Some(next.min(since + self.resume_timeout_ms))
            }
            State::Done => None,
        }
    }

    /// Time passed: an explicit ack due goes out; a hung transport is
    /// closed and the duplex reconnects; an attempt unanswered for
    /// [`ATTEMPT_TIMEOUT_MS`] is abandoned, the next one goes when its
    /// backoff is over; `resume_timeout` after the detachment the duplex
    /// fails with [`Error::Timeout`].
    pub fn handle_timeout(&mut self, now: u64, out: &mut Vec<Action>) {
        match self.state {
            State::Attached { heard } => {
                self.link.timeout(now, out);
                let hung = self
                    .hang_timeout_ms
                    .is_some_and(|timeout| !self.reader_paused && now >= heard + timeout);
                if hung {
                    out.push(Action::CloseTransport);
                    self.handle_transport_failed(now, out);
                }
            }
            State::Detached {
                since,
                in_flight,
                at,
                ..
            } => {
                if now >= since + self.resume_timeout_ms {
                    let timeout_ms = self.resume_timeout_ms;
                    self.link.fail(Error::Timeout { timeout_ms }, out);
                    self.settle();
                } else if in_flight && now >= at + ATTEMPT_TIMEOUT_MS {
                    out.push(Action::CloseTransport);
                    self.handle_transport_failed(now, out);
                } else if !in_flight && now >= at {
                    self.reconnect(now, out);
                }
            }
            State::Done => {}
        }
    }

    /// A complete or failed link ends the duplex's life here too.
    fn settle(&mut self) {
        if self.link.is_done() {
            self.state = State::Done;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resume::MAX_RECONNECT_DELAY_MS;

    fn client(keepalive_interval_ms: u64) -> Client {
        let config = Config {
            resume_buffer: 100,
            resume_timeout_ms: 30_000,
        };
        Client::new(config, keepalive_interval_ms, 0)
    }

    fn reconnect(attempt: u32, count: u64) -> Action {
        Action::Reconnect { attempt, count }
    }

    #[test]
    fn reconnects_at_once_then_backs_off_and_gives_up_at_the_resume_timeout() {
        let mut client = client(0);
        let mut out = Vec::new();
        client.handle_data(7, 0, &mut out);
        client.handle_transport_failed(1_000, &mut out);
        assert_eq!(out, [reconnect(1, 7)]);
        out.clear();
        assert_eq!(client.poll_timeout(), Some(1_000 + ATTEMPT_TIMEOUT_MS));
        // Attempts that fail: 250 ms, then 500 ms later.
        client.handle_transport_failed(1_100, &mut out);
        assert_eq!(client.poll_timeout(), Some(1_350));
        client.handle_timeout(1_349, &mut out);
        assert_eq!(out, []);
        client.handle_timeout(1_350, &mut out);
        assert_eq!(out, [reconnect(2, 7)]);
        out.clear();
        client.handle_transport_failed(1_400, &mut out);
        assert_eq!(client.poll_timeout(), Some(1_900));
        client.handle_timeout(1_900, &mut out);
        assert_eq!(out, [reconnect(3, 7)]);
        out.clear();
        // An attempt unanswered is abandoned, and the next waits its turn.
        client.handle_timeout(1_900 + ATTEMPT_TIMEOUT_MS, &mut out);
        assert_eq!(out, [Action::CloseTransport]);
        out.clear();
        let next = 1_900 + ATTEMPT_TIMEOUT_MS + 1_000;
        assert_eq!(client.poll_timeout(), Some(next));
        client.handle_timeout(next, &mut out);
        assert_eq!(out, [reconnect(4, 7)]);
        out.clear();
        client.handle_transport_failed(next, &mut out);
        assert_eq!(client.poll_timeout(), Some(next + MAX_RECONNECT_DELAY_MS));
        // The resume timeout bounds it all, from the detachment.
        client.handle_timeout(30_999, &mut out);
        assert_eq!(out, [reconnect(5, 7)]);
        out.clear();
        assert_eq!(client.poll_timeout(), Some(31_000));
        client.handle_timeout(31_000, &mut out);
        assert_eq!(out, [Action::Fail(Error::Timeout { timeout_ms: 30_000 })]);
        out.clear();
        assert_eq!(client.poll_timeout(), None);
        client.handle_resumed(7, 31_001, &mut out);
        client.handle_transport_failed(31_001, &mut out);
        assert_eq!(out, [], "a failed duplex does nothing more");
    }

    #[test]
    fn a_silent_transport_is_a_hang_unless_the_reader_holds_back() {
        assert_eq!(client(0).poll_timeout(), None, "no keep-alives, no check");
        // Keep-alives every second: hung after 3 s of silence.
        let mut client = client(1_000);
        let mut out = Vec::new();
        assert_eq!(client.poll_timeout(), Some(3_000));
        client.handle_heard(2_000);
        assert_eq!(client.poll_timeout(), Some(5_000));
        client.handle_reader_paused(true, 2_500);
        assert_eq!(client.poll_timeout(), None);
        client.handle_timeout(10_000, &mut out);
        assert_eq!(out, []);
        client.handle_reader_paused(false, 10_000);
        assert_eq!(client.poll_timeout(), Some(13_000));
        client.handle_ack(0, 12_000, &mut out);
        assert_eq!(client.poll_timeout(), Some(15_000), "an ack is heard");
        client.handle_timeout(15_000, &mut out);
        assert_eq!(out, [Action::CloseTransport, reconnect(1, 0)]);
    }

    #[test]
    fn a_resume_answer_is_checked_then_taken_as_an_ack() {
        let detached = || {
            let mut client = client(0);
            let mut out = Vec::new();
            client.handle_write(50, &mut out);
            client.handle_ack(20, 0, &mut out);
            client.handle_data(9, 0, &mut out);
            client.handle_transport_failed(100, &mut out);
            assert_eq!(out, [Action::Drop { bytes: 20 }, reconnect(1, 9)]);
            client
        };
        let mut out = Vec::new();
        for bad in [19, 51] {
            let mut client = detached();
            client.handle_resumed(bad, 500, &mut out);
            let range = Some((20, 50));
            assert_eq!(out, [Action::Fail(Error::Count { count: bad, range })]);
            out.clear();
            assert_eq!(client.poll_timeout(), None);
        }
        let mut client = detached();
        client.handle_resumed(30, 500, &mut out);
        assert_eq!(
            out,
            [
                Action::Resumed {
                    attempt: Some(1),
                    downtime_ms: 400
                },
                Action::Drop { bytes: 10 },
                Action::Resend {
                    from: 30,
                    end: false
                },
            ]
        );
        out.clear();
        // The request told the server the 9 bytes.
        assert_eq!(client.take_ack(), None);
        assert_eq!(client.counts().acked_to_peer, 9);
        // An answer to no attempt in flight is ignored.
        client.handle_resumed(40, 600, &mut out);
        assert_eq!(out, []);
    }

    #[test]
    fn a_refused_resume_fails_the_duplex_with_the_servers_reason() {
        for (refusal, error) in [
            (Refusal::Unknown, Error::Unknown),
            (Refusal::Refused, Error::Refused),
            (
                Refusal::Count,
                Error::Count {
                    count: 9,
                    range: None,
                },
            ),
        ] {
            let mut client = client(0);
            let mut out = Vec::new();
            client.handle_data(9, 0, &mut out);
            client.handle_refused(refusal, &mut out);
            assert_eq!(out, [], "no attempt in flight");
            client.handle_transport_failed(0, &mut out);
            out.clear();
            client.handle_refused(refusal, &mut out);
            assert_eq!(out, [Action::Fail(error)]);
            assert_eq!(client.poll_timeout(), None);
        }
    }

    #[test]
    fn the_client_takes_its_end_as_acknowledged_only_from_an_ack() {
        let mut client = client(0);
        let mut out = Vec::new();
        client.handle_end();
        assert_eq!(client.counts().sent, 1);
        client.handle_transport_failed(0, &mut out);
        out.clear();
        // The server has the end (1) but cannot acknowledge it yet: no
        // resend, and not acknowledged.
        client.handle_resumed(1, 10, &mut out);
        assert_eq!(
            out,
            [Action::Resumed {
                attempt: Some(1),
                downtime_ms: 10
            }]
        );
        out.clear();
        assert_eq!(client.counts().peer_acked, 0);
        // The server's end: acknowledged at once.
        client.handle_peer_end(20, &mut out);
        assert_eq!(out, [Action::Ack { count: 1 }]);
        out.clear();
        client.handle_ack(1, 30, &mut out);
        assert_eq!(out, [Action::Complete]);
        assert_eq!(client.poll_timeout(), None);
    }
}
