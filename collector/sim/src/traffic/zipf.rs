//! Weighted choice in constant time (Walker/Vose alias tables) and the Zipf weights
//! that make host activity, server popularity and AS sizes heavy-tailed.
//!
//! A Zipf law with exponent `s` gives rank `k` (1-based) a weight of `k^-s`: with
//! `s` near 1 the top 1% of hosts produce a large share of the flows, as measured on
//! real networks.

use crate::rng::Rng;

/// An alias table over `n` outcomes: one uniform index and one coin per draw.
#[derive(Debug, Clone)]
pub struct AliasTable {
    /// Probability (scaled to `u64`) of keeping the drawn index.
    keep: Vec<u64>,
    /// The outcome taken when the coin says no.
    alias: Vec<u32>,
}

impl AliasTable {
    /// A table for `weights` (non-negative; all zero or empty means uniform over
    /// the entries, or a table that always yields 0).
    pub fn new(weights: &[f64]) -> Self {
        let n = weights.len().max(1);
        let clean: Vec<f64> =
            weights.iter().map(|w| if w.is_finite() && *w > 0.0 { *w } else { 0.0 }).collect();
        let total: f64 = clean.iter().sum();
        let mut scaled: Vec<f64> =
            if total > 0.0 { clean.iter().map(|w| w * n as f64 / total).collect() } else { vec![1.0; n] };
        let mut keep = vec![u64::MAX; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let mut small: Vec<usize> = Vec::new();
        let mut large: Vec<usize> = Vec::new();
        for (i, p) in scaled.iter().enumerate() {
            if *p < 1.0 {
                small.push(i);
            } else {
                large.push(i);
            }
        }
        while let (Some(s), Some(l)) = (small.pop(), large.last().copied()) {
            let ps = scaled.get(s).copied().unwrap_or(1.0);
            if let Some(k) = keep.get_mut(s) {
                *k = prob_to_u64(ps);
            }
            if let Some(a) = alias.get_mut(s) {
                *a = l as u32;
            }
            if let Some(pl) = scaled.get_mut(l) {
                *pl -= 1.0 - ps;
                if *pl < 1.0 {
                    large.pop();
                    small.push(l);
                }
            }
        }
        // Leftovers (rounding) keep themselves with probability 1.
        AliasTable { keep, alias }
    }

    /// Zipf over `n` ranks with exponent `s`: rank 0 is the most likely.
    pub fn zipf(n: usize, s: f64) -> Self {
        AliasTable::new(&zipf_weights(n, s))
    }

    /// Number of outcomes.
    pub fn len(&self) -> usize {
        self.keep.len()
    }

    /// Always false: a table has at least one outcome.
    pub fn is_empty(&self) -> bool {
        self.keep.is_empty()
    }

    /// Draws an outcome in `[0, len)`.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let i = rng.index(self.keep.len());
        let coin = rng.next_u64();
        match (self.keep.get(i), self.alias.get(i)) {
            (Some(k), Some(a)) if coin > *k => *a as usize,
            _ => i,
        }
    }
}

fn prob_to_u64(p: f64) -> u64 {
    if p >= 1.0 {
        u64::MAX
    } else if p <= 0.0 {
        0
    } else {
        (p * u64::MAX as f64) as u64
    }
}

/// `k^-s` for ranks `k = 1..=n`.
pub fn zipf_weights(n: usize, s: f64) -> Vec<f64> {
    (1..=n).map(|k| (k as f64).powf(-s)).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn frequencies_follow_weights() {
        let weights = [5.0, 1.0, 0.0, 3.0, 1.0];
        let t = AliasTable::new(&weights);
        let mut rng = Rng::new(3);
        let n = 400_000;
        let mut counts = [0f64; 5];
        for _ in 0..n {
            counts[t.sample(&mut rng)] += 1.0;
        }
        for (c, w) in counts.iter().zip(weights) {
            let want = w / 10.0;
            assert!((c / n as f64 - want).abs() < 0.005, "{counts:?}");
        }
    }

    #[test]
    fn zipf_is_heavy_at_the_top() {
        let t = AliasTable::zipf(10_000, 1.1);
        let mut rng = Rng::new(9);
        let n = 200_000;
        let top = (0..n).filter(|_| t.sample(&mut rng) < 100).count();
        // The top 1% of ranks carries more than half of the draws at s = 1.1.
        assert!(top as f64 / n as f64 > 0.5, "{top}");
        assert_eq!(AliasTable::new(&[]).sample(&mut rng), 0);
    }
}
