//! When the writers try again: how a database error is classified (retry now, later
//! from the spool, or never), how many attempts a batch gets, and the reconnect
//! backoff. Pure decisions, so they can be read and tested without a database.

use super::error::describe;
use std::time::{Duration, Instant};

/// Why a batch could not be stored.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Connection lost, server shutting down, timeout, resources: retry later (spool).
    Connection(String),
    /// Deadlock or serialization failure: retry now, the connection is fine.
    Retry(String),
    /// The data itself was refused (data exception, constraint): never retry.
    Poison(String),
    /// Anything else: retry a few times, then reject.
    Other(String),
    /// A row had no partition (another process dropped it): refresh and retry.
    MissingPartition,
}

/// Classifies a database error by its SQLSTATE class.
pub(crate) fn classify(e: tokio_postgres::Error) -> Failure {
    let text = describe(&e);
    if e.is_closed() {
        return Failure::Connection(text);
    }
    let Some(code) = e.code() else {
        // No SQLSTATE: an I/O or protocol error on the connection.
        return Failure::Connection(text);
    };
    let message = e.as_db_error().map(|d| d.message()).unwrap_or("");
    classify_state(code.code(), message, text)
}

/// [`classify`] on the SQLSTATE and message.
fn classify_state(code: &str, message: &str, text: String) -> Failure {
    if code == "23514" && message.starts_with("no partition") {
        return Failure::MissingPartition;
    }
    match code.get(..2).unwrap_or("") {
        // connection exception, insufficient resources, operator intervention
        // (shutdown, statement timeout), system error, transaction rollback
        // (serialization, deadlock: retried at once), object not in prerequisite state
        // (lock timeout),
        // syntax/access rule (a schema or permission the operator can fix).
        "40" => Failure::Retry(text),
        "08" | "53" | "57" | "58" | "55" | "42" | "25" => Failure::Connection(text),
        "22" | "23" | "54" => Failure::Poison(text),
        _ => Failure::Other(text),
    }
}

/// What to do after attempt number `attempt` (1-based) of storing a batch failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Try again at once; `refresh_partitions`: forget the cached partitions first.
    Again { refresh_partitions: bool },
    /// Give up on this attempt round (the caller spools, rejects or counts it).
    GiveUp,
}

/// A missing partition is retried once (after a refresh), a deadlock or
/// serialization failure twice; everything else goes back to the caller.
pub(crate) fn after(failure: &Failure, attempt: u32) -> Next {
    match failure {
        Failure::MissingPartition if attempt < 2 => Next::Again { refresh_partitions: true },
        Failure::Retry(_) if attempt < 3 => Next::Again { refresh_partitions: false },
        _ => Next::GiveUp,
    }
}

/// Reconnect backoff: the first wait after a failure is `initial`, doubling on each
/// further failure up to `max`; a success resets it.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
    retry_at: Instant,
}

impl Backoff {
    /// A backoff that allows an attempt now.
    pub fn new(initial: Duration, max: Duration, now: Instant) -> Backoff {
        Backoff { initial, max, next: initial, retry_at: now }
    }

    /// True when an attempt is allowed at `now`.
    pub fn ready(&self, now: Instant) -> bool {
        now >= self.retry_at
    }

    /// How long until the next attempt is allowed.
    pub fn wait(&self, now: Instant) -> Duration {
        self.retry_at.saturating_duration_since(now)
    }

    /// An attempt failed: wait the current step, and double it for next time.
    pub fn failed(&mut self, now: Instant) {
        self.retry_at = now + self.next;
        self.next = (self.next * 2).min(self.max);
    }

    /// A working connection was lost: wait the current step before reconnecting.
    pub fn lost(&mut self, now: Instant) {
        self.retry_at = now + self.next;
    }

    /// An attempt succeeded: the next failure waits `initial` again.
    pub fn succeeded(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_bound_and_resets() {
        let s = Duration::from_secs(1);
        let t0 = Instant::now();
        let mut b = Backoff::new(s, 8 * s, t0);
        assert!(b.ready(t0));
        let mut waits = Vec::new();
        for _ in 0..6 {
            b.failed(t0);
            waits.push(b.wait(t0).as_secs());
        }
        assert_eq!(waits, [1, 2, 4, 8, 8, 8]);
        assert!(!b.ready(t0) && b.ready(t0 + 8 * s));
        b.succeeded();
        b.lost(t0);
        assert_eq!(b.wait(t0), s);
        b.failed(t0);
        b.failed(t0);
        assert_eq!(b.wait(t0), 2 * s);
    }

    #[test]
    fn attempts_per_failure() {
        let again = |refresh_partitions| Next::Again { refresh_partitions };
        assert_eq!(after(&Failure::MissingPartition, 1), again(true));
        assert_eq!(after(&Failure::MissingPartition, 2), Next::GiveUp);
        assert_eq!(after(&Failure::Retry(String::new()), 1), again(false));
        assert_eq!(after(&Failure::Retry(String::new()), 2), again(false));
        assert_eq!(after(&Failure::Retry(String::new()), 3), Next::GiveUp);
        for f in [
            Failure::Connection(String::new()),
            Failure::Poison(String::new()),
            Failure::Other(String::new()),
        ] {
            assert_eq!(after(&f, 1), Next::GiveUp, "{f:?}");
        }
    }

    #[test]
    fn sqlstate_classes() {
        let c = |code: &str, msg: &str| classify_state(code, msg, String::new());
        assert!(matches!(
            c("23514", "no partition of relation \"flows\" found for row"),
            Failure::MissingPartition
        ));
        assert!(matches!(c("23514", "new row violates check constraint"), Failure::Poison(_)));
        assert!(matches!(c("40P01", ""), Failure::Retry(_)));
        assert!(matches!(c("40001", ""), Failure::Retry(_)));
        assert!(matches!(c("57P01", ""), Failure::Connection(_)));
        assert!(matches!(c("55P03", ""), Failure::Connection(_)));
        assert!(matches!(c("22003", ""), Failure::Poison(_)));
        assert!(matches!(c("XX000", ""), Failure::Other(_)));
    }
}
