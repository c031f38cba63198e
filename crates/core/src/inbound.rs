//! Per-duplex inbound state: which write comes next, the pieces that arrived
//! early, and when the client's end may be delivered.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::limits::{Budget, Limits};

/// Bytes the duplexes of one budget hold out of order, and its limit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeldBudget {
    pub budget: Budget,
    pub held: usize,
    pub limit: usize,
}
use crate::rejection::{Reason, Rejection};

/// What to do with one piece of a write POST's body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece {
    /// In order: deliver the caller's own buffer now.
    Deliver,
    /// Early: the core copied it and will release it in order.
    Held,
    /// Held, and a budget (the scope's, the connection's or the server's) is
    /// now full:
    /// read no further from this POST until `Registry::may_read` says so.
    /// Backpressure, not a refusal: a client keeping to every duplex's window
    /// may fill the scope's budget when many duplexes share it.
    HeldPause,
}

/// What a write POST's body end released.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Completion {
    /// Held pieces now in order, to deliver after any piece delivered before.
    pub released: Vec<Bytes>,
    /// Writes whose every byte has been delivered: their POSTs may be answered.
    pub answered: Vec<u64>,
    /// The client's end is now due (after `released`).
    pub ended: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sequencing {
    /// No write yet.
    Unset,
    /// Version 1: writes are numbered in arrival order.
    Arrival,
    /// Version 2: writes carry `http2-duplex-seq`.
    Explicit,
}

#[derive(Debug, Default)]
struct Write {
    held: Vec<Bytes>,
    held_bytes: usize,
    body_bytes: usize,
    complete: bool,
    streaming: bool,
}

#[derive(Debug)]
pub(crate) struct Inbound {
    sequencing: Sequencing,
    /// The write being delivered now, or the next one to deliver.
    next: u64,
    /// Next number handed out in arrival order (version 1).
    next_arrival: u64,
    writes: BTreeMap<u64, Write>,
    held_bytes: usize,
    end_count: Option<u64>,
    streaming_open: bool,
}

impl Inbound {
    pub(crate) fn new() -> Self {
        Inbound {
            sequencing: Sequencing::Unset,
            next: 0,
            next_arrival: 0,
            writes: BTreeMap::new(),
            held_bytes: 0,
            end_count: None,
            streaming_open: false,
        }
    }

    pub(crate) fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Write `seq` is the one delivered as it comes (nothing of it is held).
    pub(crate) fn is_current(&self, seq: u64) -> bool {
        seq == self.next
    }

    pub(crate) fn writes_in_flight(&self) -> usize {
        self.writes.len()
    }

    fn sequence(&mut self, seq: Option<u64>) -> Result<u64, Rejection> {
        let wanted = match seq {
            Some(_) => Sequencing::Explicit,
            None => Sequencing::Arrival,
        };
        if self.sequencing == Sequencing::Unset {
            self.sequencing = wanted;
        } else if self.sequencing != wanted {
            return Err(Rejection::new(Reason::MixedSequencing));
        }
        Ok(seq.unwrap_or_else(|| {
            self.next_arrival += 1;
            self.next_arrival - 1
        }))
    }

    /// A write POST arrived.
    pub(crate) fn begin_write(
        &mut self,
        seq: Option<u64>,
        limits: &Limits,
    ) -> Result<u64, Rejection> {
        self.begin(seq, false, limits)
    }

    /// A streaming POST arrived: it takes the next number in arrival order and
    /// ends the duplex when its body ends.
    pub(crate) fn begin_stream(&mut self, limits: &Limits) -> Result<u64, Rejection> {
        if self.streaming_open {
            return Err(Rejection::new(Reason::StreamingAlreadyOpen));
        }
        let seq = self.begin(None, true, limits)?;
        self.streaming_open = true;
        Ok(seq)
    }

    fn begin(
        &mut self,
        seq: Option<u64>,
        streaming: bool,
        limits: &Limits,
    ) -> Result<u64, Rejection> {
        if self.streaming_open {
            return Err(Rejection::new(Reason::StreamingAlreadyOpen));
        }
        if self.end_count.is_some() && seq.is_none() {
            return Err(Rejection::new(Reason::AlreadyEnding));
        }
        let seq = self.sequence(seq)?;
        if seq < self.next || self.writes.contains_key(&seq) {
            return Err(Rejection::new(Reason::DuplicateSeq(seq)));
        }
        if let Some(count) = self.end_count {
            if seq >= count {
                return Err(Rejection::new(Reason::WriteAfterEnd { seq, count }));
            }
        }
        let window_end = self.next.saturating_add(limits.window);
        if seq >= window_end {
            return Err(Rejection::new(Reason::OutsideWindow { seq, window_end }));
        }
        self.writes.insert(
            seq,
            Write {
                streaming,
                ..Write::default()
            },
        );
        Ok(seq)
    }

    /// A piece of write `seq`'s body arrived; `budgets` are what the
    /// duplexes of each budget this duplex counts against hold out of order
    /// now, and that budget's limit.
    pub(crate) fn piece(
        &mut self,
        seq: u64,
        data: &[u8],
        limits: &Limits,
        budgets: &[HeldBudget],
    ) -> Result<Piece, Rejection> {
        let current = seq == self.next;
        let write = self
            .writes
            .get_mut(&seq)
            .filter(|write| !write.complete)
            .ok_or_else(|| Rejection::new(Reason::UnknownWrite(seq)))?;
        if !write.streaming {
            write.body_bytes += data.len();
            if write.body_bytes > limits.max_write_bytes {
                return Err(Rejection::new(Reason::WriteTooLarge {
                    limit: limits.max_write_bytes,
                }));
            }
        }
        if current {
            return Ok(Piece::Deliver);
        }
        let held = self.held_bytes + data.len();
        if held > limits.window_bytes {
            return Err(Rejection::new(Reason::HeldBytesExceeded {
                held,
                limit: limits.window_bytes,
            }));
        }
        // A paused POST may still hand over the piece in hand; past twice a
        // budget the client ignored the pause (or opened POSTs without end).
        let mut pause = false;
        for budget in budgets {
            let after = budget.held + data.len();
            if after > budget.limit.saturating_mul(2) {
                return Err(Rejection::new(Reason::HeldBytesBudgetExceeded {
                    budget: budget.budget,
                    limit: budget.limit,
                }));
            }
            pause |= after >= budget.limit;
        }
        // Copying is the price of arriving early; in-order pieces are never copied.
        write.held.push(Bytes::copy_from_slice(data));
        write.held_bytes += data.len();
        self.held_bytes = held;
        Ok(if pause { Piece::HeldPause } else { Piece::Held })
    }

    /// Write `seq`'s body ended.
    pub(crate) fn complete(&mut self, seq: u64) -> Result<Completion, Rejection> {
        let write = self
            .writes
            .get_mut(&seq)
            .filter(|write| !write.complete)
            .ok_or_else(|| Rejection::new(Reason::UnknownWrite(seq)))?;
        write.complete = true;
        if write.streaming {
            self.streaming_open = false;
            self.end_count = Some(seq + 1);
        }
        let mut completion = Completion::default();
        self.advance(&mut completion);
        Ok(completion)
    }

    /// Delivers, in order, every write that is complete from `next` on, and
    /// makes the first incomplete one current (releasing what it held).
    fn advance(&mut self, completion: &mut Completion) {
        while let Some(write) = self.writes.get_mut(&self.next) {
            self.held_bytes -= write.held_bytes;
            write.held_bytes = 0;
            completion.released.append(&mut write.held);
            if !write.complete {
                break;
            }
            self.writes.remove(&self.next);
            completion.answered.push(self.next);
            self.next += 1;
        }
        completion.ended = self.end_count == Some(self.next) && self.writes.is_empty();
    }

    /// The client ended after `count` writes (version 2), or after every write
    /// that has arrived (version 1, `count` is `None`).
    pub(crate) fn end(&mut self, count: Option<u64>) -> Result<Completion, Rejection> {
        if self.end_count.is_some() {
            return Err(Rejection::new(Reason::AlreadyEnding));
        }
        let count = match (count, self.sequencing) {
            (Some(_), Sequencing::Arrival) | (None, Sequencing::Explicit) => {
                return Err(Rejection::new(Reason::MixedSequencing))
            }
            (Some(count), _) => count,
            (None, _) => self.next_arrival,
        };
        if count < self.next {
            return Err(Rejection::new(Reason::BadEndCount {
                count,
                delivered: self.next,
            }));
        }
        if let Some((&last, _)) = self.writes.iter().next_back() {
            if last >= count {
                return Err(Rejection::new(Reason::WriteAfterEnd { seq: last, count }));
            }
        }
        self.end_count = Some(count);
        let mut completion = Completion::default();
        self.advance(&mut completion);
        Ok(completion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            window: 4,
            window_bytes: 10,
            max_write_bytes: 8,
            ..Limits::default()
        }
    }

    #[test]
    fn in_order_writes_are_delivered_and_answered() {
        let l = limits();
        let mut inbound = Inbound::new();
        assert_eq!(inbound.begin_write(None, &l), Ok(0));
        assert_eq!(inbound.piece(0, b"ab", &l, &[]), Ok(Piece::Deliver));
        let done = inbound.complete(0).unwrap();
        assert_eq!(done.answered, vec![0]);
        assert!(done.released.is_empty() && !done.ended);
        assert_eq!(inbound.begin_write(None, &l), Ok(1));
    }

    #[test]
    fn early_writes_are_held_and_released_in_order() {
        let l = limits();
        let mut inbound = Inbound::new();
        for seq in [2, 1, 0] {
            inbound.begin_write(Some(seq), &l).unwrap();
        }
        assert_eq!(inbound.piece(2, b"cc", &l, &[]), Ok(Piece::Held));
        assert_eq!(inbound.complete(2).unwrap(), Completion::default());
        assert_eq!(inbound.piece(1, b"b", &l, &[]), Ok(Piece::Held));
        assert_eq!(inbound.piece(1, b"b", &l, &[]), Ok(Piece::Held));
        assert_eq!(inbound.held_bytes(), 4);
        assert_eq!(inbound.piece(0, b"a", &l, &[]), Ok(Piece::Deliver));
        let done = inbound.complete(0).unwrap();
        // Write 1 is not complete: its held piece is released and it becomes current.
        assert_eq!(
            done.released,
            vec![Bytes::from_static(b"b"), Bytes::from_static(b"b")]
        );
        assert_eq!(done.answered, vec![0]);
        assert_eq!(inbound.piece(1, b"B", &l, &[]), Ok(Piece::Deliver));
        let done = inbound.complete(1).unwrap();
        assert_eq!(done.released, vec![Bytes::from_static(b"cc")]);
        assert_eq!(done.answered, vec![1, 2]);
        assert_eq!(inbound.held_bytes(), 0);
        assert_eq!(inbound.writes_in_flight(), 0);
    }

    #[test]
    fn end_waits_for_every_counted_write() {
        let l = limits();
        let mut inbound = Inbound::new();
        inbound.begin_write(Some(1), &l).unwrap();
        inbound.piece(1, b"x", &l, &[]).unwrap();
        inbound.complete(1).unwrap();
        let end = inbound.end(Some(2)).unwrap();
        assert!(!end.ended);
        inbound.begin_write(Some(0), &l).unwrap();
        let done = inbound.complete(0).unwrap();
        assert_eq!(done.answered, vec![0, 1]);
        assert!(done.ended);
    }

    #[test]
    fn end_with_nothing_in_flight_is_immediate() {
        let mut inbound = Inbound::new();
        assert!(inbound.end(None).unwrap().ended);
        assert_eq!(inbound.end(None).unwrap_err().reason, Reason::AlreadyEnding);
    }

    #[test]
    fn stream_ends_the_duplex_when_its_body_ends() {
        let l = limits();
        let mut inbound = Inbound::new();
        let seq = inbound.begin_stream(&l).unwrap();
        assert_eq!(
            inbound.begin_stream(&l).unwrap_err().reason,
            Reason::StreamingAlreadyOpen
        );
        // A stream is not bounded by max_write_bytes.
        assert_eq!(inbound.piece(seq, &[0; 100], &l, &[]), Ok(Piece::Deliver));
        let done = inbound.complete(seq).unwrap();
        assert!(done.ended);
        assert_eq!(done.answered, vec![seq]);
    }

    #[test]
    fn bad_sequences_are_rejected() {
        let l = limits();
        let mut inbound = Inbound::new();
        inbound.begin_write(Some(0), &l).unwrap();
        let status = |r: Result<u64, Rejection>| r.unwrap_err().status;
        assert_eq!(status(inbound.begin_write(Some(0), &l)), 409);
        assert_eq!(status(inbound.begin_write(Some(4), &l)), 429);
        assert_eq!(status(inbound.begin_write(None, &l)), 400);
        inbound.complete(0).unwrap();
        assert_eq!(status(inbound.begin_write(Some(0), &l)), 409);
        assert_eq!(inbound.begin_write(Some(4), &l), Ok(4));
        assert_eq!(
            inbound.end(Some(3)).unwrap_err().reason,
            Reason::WriteAfterEnd { seq: 4, count: 3 }
        );
        assert_eq!(inbound.end(Some(0)).unwrap_err().status, 400);
    }

    #[test]
    fn write_after_end_count_is_rejected() {
        let l = limits();
        let mut inbound = Inbound::new();
        inbound.begin_write(Some(1), &l).unwrap();
        inbound.end(Some(2)).unwrap();
        assert_eq!(
            inbound.begin_write(Some(2), &l).unwrap_err().reason,
            Reason::WriteAfterEnd { seq: 2, count: 2 }
        );
        assert_eq!(inbound.begin_write(Some(0), &l), Ok(0));
    }

    #[test]
    fn limits_on_bytes() {
        let l = limits();
        let mut inbound = Inbound::new();
        inbound.begin_write(Some(0), &l).unwrap();
        inbound.begin_write(Some(1), &l).unwrap();
        inbound.begin_write(Some(2), &l).unwrap();
        assert_eq!(inbound.piece(0, &[0; 9], &l, &[]).unwrap_err().status, 413);
        assert_eq!(inbound.piece(1, &[0; 6], &l, &[]), Ok(Piece::Held));
        let err = inbound.piece(2, &[0; 6], &l, &[]).unwrap_err();
        assert_eq!(
            err.reason,
            Reason::HeldBytesExceeded {
                held: 12,
                limit: 10
            }
        );
        assert!(err.fatal);
    }
}
