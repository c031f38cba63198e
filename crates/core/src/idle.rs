//! Silences: which duplexes have not been heard from for a limit.
//!
//! The caller owns the clock and the timer. It checks every
//! [`Silences::interval`] ms, passing the duplexes it heard from since its
//! last check, and acts on the ones the check returns. Marking traffic is then
//! a flag on the caller's side rather than a call per write, and a silence is
//! found at most a quarter of the limit late. [`IdleDeadlines`] ends a duplex
//! silent for the idle timeout; `crate::tick` also keeps a framed GET alive.

use std::collections::HashMap;

use crate::registry::DuplexKey;
use crate::rejection::{Reason, Rejection};

/// Which watched duplexes were silent for `limit_ms`, as of the caller's
/// periodic checks (the idle timeout, and the keep-alives of framed GETs).
#[derive(Debug)]
pub struct Silences {
    limit_ms: u64,
    /// When each watched duplex was last heard from, as of the checks.
    heard_at: HashMap<DuplexKey, u64>,
}

impl Silences {
    /// `limit_ms` 0 is off: nothing is watched.
    pub fn new(limit_ms: u64) -> Self {
        Silences {
            limit_ms,
            heard_at: HashMap::new(),
        }
    }

    pub fn is_on(&self) -> bool {
        self.limit_ms > 0
    }

    /// How often the caller checks while anything is watched: a silence is
    /// then found at most a quarter of the limit late.
    pub fn interval(&self) -> u64 {
        self.limit_ms.div_ceil(4).max(1)
    }

    pub fn watched(&self) -> usize {
        self.heard_at.len()
    }

    /// A duplex heard from (opened) at `now`.
    pub fn watch(&mut self, key: DuplexKey, now: u64) {
        if self.is_on() {
            self.heard_at.insert(key, now);
        }
    }

    pub fn unwatch(&mut self, key: DuplexKey) {
        self.heard_at.remove(&key);
    }

    /// The check at `now`: `heard` were heard from since the last one.
    /// Returns the duplexes silent for the limit, in key order (still watched).
    pub fn silent(
        &mut self,
        now: u64,
        heard: impl IntoIterator<Item = DuplexKey>,
    ) -> Vec<DuplexKey> {
        for key in heard {
            if let Some(at) = self.heard_at.get_mut(&key) {
                *at = now;
            }
        }
        let limit = self.limit_ms;
        let mut silent: Vec<DuplexKey> = self
            .heard_at
            .iter()
            .filter(|(_, &at)| now.saturating_sub(at) >= limit)
            .map(|(&key, _)| key)
            .collect();
        silent.sort_unstable();
        silent
    }
}

/// The idle timeout: a duplex with no traffic for `timeout_ms` ends, once.
#[derive(Debug)]
pub struct IdleDeadlines(Silences);

impl IdleDeadlines {
    /// `timeout_ms` 0 is off: nothing is watched.
    pub fn new(timeout_ms: u64) -> Self {
        IdleDeadlines(Silences::new(timeout_ms))
    }

    pub fn is_on(&self) -> bool {
        self.0.is_on()
    }

    /// How often the caller checks while anything is watched.
    pub fn interval(&self) -> u64 {
        self.0.interval()
    }

    /// What a duplex the check returned is failed with.
    pub fn expired(&self) -> Rejection {
        Rejection::new(Reason::IdleTimeout {
            timeout_ms: self.0.limit_ms,
        })
    }

    pub fn watched(&self) -> usize {
        self.0.watched()
    }

    /// A duplex opened at `now`.
    pub fn watch(&mut self, key: DuplexKey, now: u64) {
        self.0.watch(key, now);
    }

    /// A duplex closed.
    pub fn unwatch(&mut self, key: DuplexKey) {
        self.0.unwatch(key);
    }

    /// The check at `now`: `active` saw traffic since the last one. Returns
    /// the duplexes idle for the timeout, in key order; they are no longer
    /// watched.
    pub fn check(
        &mut self,
        now: u64,
        active: impl IntoIterator<Item = DuplexKey>,
    ) -> Vec<DuplexKey> {
        let expired = self.0.silent(now, active);
        for key in &expired {
            self.0.unwatch(*key);
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: DuplexKey = DuplexKey(1);
    const B: DuplexKey = DuplexKey(2);

    #[test]
    fn off_watches_nothing() {
        let mut idle = IdleDeadlines::new(0);
        idle.watch(A, 0);
        assert_eq!(idle.watched(), 0);
        assert!(idle.check(u64::MAX, []).is_empty());
    }

    #[test]
    fn a_quiet_duplex_expires_once_and_an_active_one_lives() {
        let mut idle = IdleDeadlines::new(100);
        assert_eq!(idle.interval(), 25);
        idle.watch(A, 0);
        idle.watch(B, 0);
        assert!(idle.check(25, [B]).is_empty());
        assert!(idle.check(75, [B]).is_empty());
        assert_eq!(idle.check(100, [B]), vec![A]);
        assert_eq!(idle.watched(), 1);
        // B's last traffic was seen by the check at 100.
        assert!(idle.check(175, []).is_empty());
        assert_eq!(idle.check(200, []), vec![B]);
        assert!(
            idle.check(1000, []).is_empty(),
            "ended duplexes are not reported again"
        );
    }

    #[test]
    fn at_most_a_quarter_late() {
        let mut idle = IdleDeadlines::new(100);
        idle.watch(A, 0);
        // Traffic at 1, just after the check at 0, is marked by the check at 25.
        assert!(idle.check(25, [A]).is_empty());
        let mut now = 25;
        while idle.check(now, []).is_empty() {
            now += idle.interval();
        }
        assert_eq!(now, 125);
        assert!(now - 1 <= 100 + 100 / 4);
    }

    #[test]
    fn unwatched_and_unknown_keys_are_ignored() {
        let mut idle = IdleDeadlines::new(10);
        idle.watch(A, 0);
        idle.unwatch(A);
        assert!(idle.check(100, [A, B]).is_empty());
        assert_eq!(idle.watched(), 0);
    }

    #[test]
    fn tiny_timeouts_check_every_ms() {
        assert_eq!(IdleDeadlines::new(1).interval(), 1);
        assert_eq!(IdleDeadlines::new(5).interval(), 2);
    }
}
