//! The collector's notion of "now" (Unix milliseconds, UTC): one definition for the
//! worker pipeline (receive time of each datagram, template ageing), the relay, the
//! log lines and the store (partitions, retention, statistics buckets).
//!
//! The hot path calls [`now_ms`] directly, once per receive batch: no indirection.
//! Code whose behaviour depends on time passing holds an `Arc<dyn Clock>` instead, so
//! tests can move time with a [`ManualClock`] (the store's retention and pruning tests
//! do).

use std::fmt::Debug;
use std::sync::atomic::{AtomicI64, Ordering};

/// The system's wall clock in Unix milliseconds (0 before 1970, which only a broken
/// clock reports).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A source of the current time in Unix milliseconds.
pub trait Clock: Send + Sync + Debug {
    /// Milliseconds since the Unix epoch (UTC).
    fn now_ms(&self) -> i64;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        now_ms()
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug, Default)]
pub struct ManualClock {
    ms: AtomicI64,
}

impl ManualClock {
    /// A clock reading `ms`.
    pub fn new(ms: i64) -> Self {
        ManualClock { ms: AtomicI64::new(ms) }
    }

    /// Sets the time.
    pub fn set(&self, ms: i64) {
        self.ms.store(ms, Ordering::SeqCst);
    }

    /// Moves the time forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.ms.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_and_manual_clocks() {
        let before = now_ms();
        assert!(SystemClock.now_ms() >= before && before > 1_600_000_000_000);
        let c = ManualClock::new(1000);
        c.advance(500);
        assert_eq!(c.now_ms(), 1500);
        c.set(7);
        assert_eq!(c.now_ms(), 7);
    }
}
