//! One duplex's counts and what follows from them, for either side: the
//! resume buffer's room, acks, resends, completion.

use super::{Action, Config, Counts, Error, ACK_DELAY_MS};

/// Which end of the duplex a link is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    /// Acknowledges the client's end only once its own end is
    /// acknowledged: the last ack is the server's (see the module's
    /// Completion).
    Server,
    /// Takes its end as acknowledged only from an ack, never from a
    /// resume's answer (which the server gives before it may ack the end).
    Client,
}

#[derive(Debug)]
pub(super) struct Link {
    resume_buffer: u64,
    /// Unacknowledged units that make an ack go at once.
    ack_threshold: u64,
    counts: Counts,
    ended: bool,
    peer_ended: bool,
    /// A transport carries the duplex (acks can go).
    attached: bool,
    /// [`Action::Hold`] was answered and no [`Action::Flow`] since.
    held: bool,
    /// When an explicit ack is due, if one is waiting.
    ack_due: Option<u64>,
    role: Role,
    /// Complete or failed: nothing more happens.
    done: bool,
}

impl Link {
    pub(super) fn new(config: &Config, role: Role) -> Self {
        let resume_buffer = config.resume_buffer.max(1);
        Link {
            resume_buffer,
            ack_threshold: (resume_buffer / 4).max(1),
            counts: Counts::default(),
            ended: false,
            peer_ended: false,
            attached: true,
            held: false,
            ack_due: None,
            role,
            done: false,
        }
    }

    pub(super) fn counts(&self) -> Counts {
        self.counts
    }

    pub(super) fn ack_due(&self) -> Option<u64> {
        self.ack_due
    }

    pub(super) fn is_done(&self) -> bool {
        self.done
    }

    pub(super) fn is_complete(&self) -> bool {
        let c = &self.counts;
        self.ended && self.peer_ended && c.peer_acked == c.sent && c.acked_to_peer == c.received
    }

    /// Bytes written to this side's direction (the end not counted).
    fn data_sent(&self) -> u64 {
        self.counts.sent - u64::from(self.ended)
    }

    /// Bytes in the adapter's queue: sent and not acknowledged.
    pub(super) fn queued(&self) -> u64 {
        self.data_sent() - self.counts.peer_acked.min(self.data_sent())
    }

    pub(super) fn room(&self) -> u64 {
        if self.ended || self.done {
            0
        } else {
            self.resume_buffer - self.queued()
        }
    }

    /// `n` bytes written; refused (`false`, nothing counted) beyond the room.
    pub(super) fn write(&mut self, n: u64, out: &mut Vec<Action>) -> bool {
        if n > self.room() {
            return false;
        }
        self.counts.sent += n;
        if self.room() == 0 && !self.held {
            self.held = true;
            out.push(Action::Hold);
        }
        true
    }

    /// This side ended (it cannot complete the duplex: the peer has yet
    /// to acknowledge the end).
    pub(super) fn end(&mut self) {
        if !self.ended && !self.done {
            self.ended = true;
            self.counts.sent += 1;
        }
    }

    pub(super) fn data(&mut self, n: u64, now: u64, out: &mut Vec<Action>) {
        if !self.done && !self.peer_ended && n > 0 {
            self.counts.received += n;
            self.ack_if_due(now, out);
        }
    }

    pub(super) fn peer_end(&mut self, now: u64, out: &mut Vec<Action>) {
        if !self.done && !self.peer_ended {
            self.peer_ended = true;
            self.counts.received += 1;
            self.ack_if_due(now, out);
            self.complete_if_done(out);
        }
    }

    /// What this side may acknowledge now.
    fn ackable(&self) -> u64 {
        let c = &self.counts;
        let own_end_acked = self.ended && c.peer_acked == c.sent;
        if self.peer_ended && self.role == Role::Server && !own_end_acked {
            c.received - 1
        } else {
            c.received
        }
    }

    /// After more became ackable: an ack now, or one due later.
    fn ack_if_due(&mut self, now: u64, out: &mut Vec<Action>) {
        if !self.attached {
            return;
        }
        let ackable = self.ackable();
        let waiting = ackable - self.counts.acked_to_peer;
        if waiting == 0 {
            return;
        }
        let with_end = self.peer_ended && ackable == self.counts.received;
        if with_end || waiting >= self.ack_threshold {
            self.counts.acked_to_peer = ackable;
            self.ack_due = None;
            out.push(Action::Ack { count: ackable });
        } else if self.ack_due.is_none() {
            self.ack_due = Some(now + ACK_DELAY_MS);
        }
    }

    /// A count to add to traffic about to go to the peer, if one is owed.
    pub(super) fn take_ack(&mut self) -> Option<u64> {
        let ackable = self.ackable();
        if !self.attached || self.done || ackable == self.counts.acked_to_peer {
            return None;
        }
        self.counts.acked_to_peer = ackable;
        self.ack_due = None;
        Some(ackable)
    }

    /// Whether `count` may acknowledge this side's direction.
    fn in_range(&self, count: u64) -> bool {
        (self.counts.peer_acked..=self.counts.sent).contains(&count)
    }

    pub(super) fn peer_ack(&mut self, count: u64, now: u64, out: &mut Vec<Action>) {
        if self.done {
            return;
        }
        if !self.in_range(count) {
            let error = Error::Ack {
                count,
                peer_acked: self.counts.peer_acked,
                sent: self.counts.sent,
            };
            self.fail(error, out);
            return;
        }
        self.acknowledge(count, out);
        self.flow_if_room(out);
        // The server's ack of the client's end may have waited for this.
        self.ack_if_due(now, out);
        self.complete_if_done(out);
    }

    fn acknowledge(&mut self, count: u64, out: &mut Vec<Action>) {
        let queued = self.queued();
        self.counts.peer_acked = count;
        let dropped = queued - self.queued();
        if dropped > 0 {
            out.push(Action::Drop { bytes: dropped });
        }
    }

    fn flow_if_room(&mut self, out: &mut Vec<Action>) {
        if self.held && self.room() > 0 {
            self.held = false;
            out.push(Action::Flow);
        }
    }

    /// The explicit ack, if it is due at `now`.
    pub(super) fn timeout(&mut self, now: u64, out: &mut Vec<Action>) {
        if self.ack_due.is_some_and(|due| due <= now) {
            self.ack_due = None;
            if let Some(count) = self.take_ack() {
                out.push(Action::Ack { count });
            }
        }
    }

    /// The transport went: no acks until a resume.
    pub(super) fn detach(&mut self) {
        self.attached = false;
        self.ack_due = None;
    }

    /// The peer's resume count (server) or answer (client), if in range.
    pub(super) fn check_count(&self, count: u64) -> Result<(), Error> {
        if self.in_range(count) {
            Ok(())
        } else {
            Err(Error::Count {
                count,
                range: Some((self.counts.peer_acked, self.counts.sent)),
            })
        }
    }

    /// Resumed on a new transport, the peer having received
    /// `peer_received` (checked): the server's request count, the client's
    /// answer. Returns this side's `received`, the server's answer (the
    /// whole of it, so that the client does not resend an end the server
    /// has, even while it withholds its ack: it follows as an
    /// [`Action::Ack`] when due).
    pub(super) fn resume(&mut self, peer_received: u64, now: u64, out: &mut Vec<Action>) -> u64 {
        self.attached = true;
        let acked = match self.role {
            Role::Server => peer_received,
            Role::Client => peer_received
                .min(self.data_sent())
                .max(self.counts.peer_acked),
        };
        self.acknowledge(acked, out);
        let end = self.ended && peer_received < self.counts.sent;
        if self.queued() > 0 || end {
            out.push(Action::Resend {
                from: peer_received.min(self.data_sent()),
                end,
            });
        }
        // After the resend: new writes go after it.
        self.flow_if_room(out);
        let c = &mut self.counts;
        c.acked_to_peer = match self.role {
            Role::Server => c.received - u64::from(self.peer_ended),
            Role::Client => c.received,
        };
        self.ack_due = None;
        self.ack_if_due(now, out);
        self.complete_if_done(out);
        self.counts.received
    }

    fn complete_if_done(&mut self, out: &mut Vec<Action>) {
        if !self.done && self.is_complete() {
            self.done = true;
            out.push(Action::Complete);
        }
    }

    pub(super) fn fail(&mut self, error: Error, out: &mut Vec<Action>) {
        if !self.done {
            self.done = true;
            out.push(Action::Fail(error));
        }
    }
}
