//! Fault injection for the tests: the one fault a real database cannot be made to
//! produce on demand, a COMMIT that succeeded but whose answer was lost. Set by
//! [`super::StoreConfig::simulate_ambiguous_commits`]; zero (the default) injects
//! nothing.

use std::sync::atomic::{AtomicU64, Ordering};

/// True when this commit is to be reported as lost (and one fewer remains to inject).
pub(crate) fn commit_answer_lost(remaining: &AtomicU64) -> bool {
    remaining.load(Ordering::SeqCst) > 0 && remaining.fetch_sub(1, Ordering::SeqCst) > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injects_as_many_as_asked() {
        let n = AtomicU64::new(2);
        assert!(commit_answer_lost(&n));
        assert!(commit_answer_lost(&n));
        assert!(!commit_answer_lost(&n));
        assert_eq!(n.load(Ordering::SeqCst), 0);
    }
}
