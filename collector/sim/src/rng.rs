//! A small, fast, deterministic PRNG: xoshiro256++ seeded through SplitMix64.
//!
//! The simulator needs tens of random draws per flow at millions of flows per second,
//! and byte-identical output for a given seed on every machine, so it carries its own
//! generator instead of depending on OS entropy or a crate whose stream may change
//! between versions. Each subsystem (exporter choice, background traffic, each
//! anomaly) draws from its own [`Rng::stream`], so turning an anomaly on does not
//! change the background traffic.

/// xoshiro256++ (Blackman & Vigna), period 2^256 - 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
}

/// SplitMix64 step: expands one 64-bit seed into well-mixed words.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a of a label, to name independent streams.
fn label_hash(label: &str) -> u64 {
    label.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let s = [splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm)];
        Rng { s }
    }

    /// An independent generator for the subsystem `label` (and `index`) of a run
    /// seeded with `seed`: its draws do not depend on how much any other stream drew.
    pub fn stream(seed: u64, label: &str, index: u64) -> Self {
        let mut sm = seed ^ label_hash(label).rotate_left(17) ^ index.wrapping_mul(0xd6e8_feb8_6659_fd93);
        Rng::new(splitmix64(&mut sm))
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let [s0, s1, s2, s3] = &mut self.s;
        let result = s0.wrapping_add(*s3).rotate_left(23).wrapping_add(*s0);
        let t = *s1 << 17;
        *s2 ^= *s0;
        *s3 ^= *s1;
        *s1 ^= *s2;
        *s0 ^= *s3;
        *s2 ^= t;
        *s3 = s3.rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    #[inline]
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `(0, 1]`: safe to take the logarithm of.
    #[inline]
    pub fn f64_nonzero(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[0, n)` (Lemire's multiply-shift; the bias is below 2^-32 for the
    /// table sizes used here). `n == 0` yields 0.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform index into a slice of length `n`.
    #[inline]
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `[lo, hi]` (inclusive); `lo` when `hi < lo`.
    #[inline]
    pub fn range_u32(&mut self, lo: u32, hi: u32) -> u32 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(u64::from(hi - lo) + 1) as u32
    }

    /// Uniform in `[lo, hi]` (inclusive) for `i64`.
    #[inline]
    pub fn range_i64(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    /// `true` with probability `p`.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// A standard normal deviate (Box-Muller; one of the pair is discarded, which
    /// keeps the generator stateless beyond its four words).
    #[inline]
    pub fn normal(&mut self) -> f64 {
        let u1 = self.f64_nonzero();
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Log-normal with the given median and shape `sigma` (of the underlying normal).
    #[inline]
    pub fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// Pareto (type I) with minimum `xm` and tail index `alpha`: heavy-tailed, with
    /// infinite variance for `alpha <= 2`, as flow sizes are.
    #[inline]
    pub fn pareto(&mut self, xm: f64, alpha: f64) -> f64 {
        xm / self.f64_nonzero().powf(1.0 / alpha)
    }

    /// Exponential with the given mean.
    #[inline]
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * self.f64_nonzero().ln()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn deterministic_and_streams_independent() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(Rng::stream(7, "traffic", 0), Rng::stream(7, "anomaly", 0));
        assert_ne!(Rng::stream(7, "anomaly", 0), Rng::stream(7, "anomaly", 1));
    }

    #[test]
    fn distributions_have_the_right_moments() {
        let mut r = Rng::new(1);
        let n = 200_000;
        let mean_u: f64 = (0..n).map(|_| r.f64()).sum::<f64>() / n as f64;
        assert!((mean_u - 0.5).abs() < 0.01, "{mean_u}");
        let mean_n: f64 = (0..n).map(|_| r.normal()).sum::<f64>() / n as f64;
        assert!(mean_n.abs() < 0.02, "{mean_n}");
        let mean_e: f64 = (0..n).map(|_| r.exponential(3.0)).sum::<f64>() / n as f64;
        assert!((mean_e - 3.0).abs() < 0.1, "{mean_e}");
        // Pareto alpha 3, xm 1: mean 1.5.
        let mean_p: f64 = (0..n).map(|_| r.pareto(1.0, 3.0)).sum::<f64>() / n as f64;
        assert!((mean_p - 1.5).abs() < 0.05, "{mean_p}");
        let mut counts = [0u32; 5];
        for _ in 0..n {
            counts[r.below(5) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (*c as f64 - n as f64 / 5.0).abs() < n as f64 * 0.01), "{counts:?}");
        assert!((0..1000).all(|_| (3..=9).contains(&r.range_u32(3, 9))));
    }
}
