//! The period of contacts seen through packet sampling.
//!
//! A sampling exporter sees a check-in only when it samples one of its packets: a
//! check-in of eight packets about half of the time at 1 in 10, one time in eight at 1
//! in 64. The intervals between the contacts it reports are then whole multiples of
//! the period (60 s, 120 s, 60 s, 180 s ...), and their spread over their mean says
//! nothing about regularity. Fitted here as a lattice instead: the shortest interval
//! is the first guess of the period, every interval is rounded to a number of periods,
//! the period is refitted to all of them (least squares through zero), and the jitter
//! is what is left over: the residuals' standard deviation over the period.
//!
//! Random contacts fit a lattice too when its period is short enough, so the fit asks
//! for the period itself twice (two intervals of one period): the shortest of several
//! random intervals is rarely matched by a second one, while a beacon seen half of the
//! time shows its period in every other interval.

/// Intervals the fit needs. Random contacts at exponential intervals (means of 30 s,
/// 2 min and 10 min, 1.08 M fits) fitted a lattice with a jitter of 10 % or less 12
/// times with eight intervals (the period seen three times), 6 with ten, once with
/// twelve; a 60 s beacon seen 57 % of the time (eight packets at 1 in 10) is then
/// found after 22 periods (median of 500; p95 30), one seen 12 % of the time (1 in
/// 64) within 200 periods two times in five.
pub(super) const MIN_INTERVALS: usize = 12;
/// Refits after the first guess: the second changes nothing on a beacon's intervals.
const REFITS: usize = 2;

/// Period (ms) and jitter of `intervals` (ms) as whole multiples of one period; an
/// infinite jitter when they do not show the period at least twice.
pub(super) fn fit(intervals: &[u32]) -> (f64, f64) {
    let Some(&shortest) = intervals.iter().min() else { return (0.0, f64::INFINITY) };
    let mut period = f64::from(shortest);
    if intervals.len() < MIN_INTERVALS || period <= 0.0 {
        return (period, f64::INFINITY);
    }
    for _ in 0..REFITS {
        let (mut mv, mut mm) = (0.0, 0.0);
        for &v in intervals {
            let m = multiple(v, period);
            mv += m * f64::from(v);
            mm += m * m;
        }
        period = mv / mm;
    }
    let ones = intervals.iter().filter(|&&v| multiple(v, period) == 1.0).count();
    if ones < 2 {
        return (period, f64::INFINITY);
    }
    let squares: f64 = intervals
        .iter()
        .map(|&v| {
            let r = f64::from(v) - multiple(v, period) * period;
            r * r
        })
        .sum();
    let jitter = (squares / (intervals.len() - 1) as f64).sqrt() / period;
    (period, jitter)
}

/// How many periods `interval` spans, at least one.
fn multiple(interval: u32, period: f64) -> f64 {
    (f64::from(interval) / period).round().max(1.0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn missed_check_ins_leave_the_period_and_a_small_jitter() {
        let seen = [
            60_500, 119_000, 61_000, 182_000, 59_000, 120_400, 58_800, 240_600, 60_200, 61_500, 118_700,
            59_900,
        ];
        let (period, jitter) = fit(&seen);
        assert!((period - 60_000.0).abs() < 500.0 && jitter < 0.03, "{period} {jitter}");
        // Every check-in seen: the lattice is the mean and its spread.
        let (period, jitter) = fit(&[60_000, 62_000, 58_000, 60_000].repeat(3));
        assert!((period - 60_000.0).abs() < 1.0 && (jitter - 0.0246).abs() < 0.001, "{period} {jitter}");
    }

    #[test]
    fn random_intervals_and_a_period_seen_once_are_not_regular() {
        // Seen once as itself, then only as multiples: no evidence of the period.
        let multiples: Vec<u32> = (1..=12).map(|m| m * 60_000).collect();
        assert_eq!(fit(&multiples).1, f64::INFINITY);
        // Random intervals: a short period fits them only loosely.
        let (_, jitter) = fit(&[5_000, 200_000, 12_000, 90_000, 3_000, 400_000, 30_000, 7_000].repeat(2));
        assert!(jitter > 0.2, "{jitter}");
        // Too few intervals to tell.
        assert_eq!(fit(&[60_000; MIN_INTERVALS - 1]).1, f64::INFINITY);
        assert_eq!(fit(&[]).1, f64::INFINITY);
    }
}
