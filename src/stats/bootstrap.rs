//! Seeded bootstrap percentile confidence intervals.
//!
//! A resample draws n values with replacement from a sample of n; the interval is the
//! pair of type 7 quantiles (1 - level)/2 and (1 + level)/2 of the statistic over all
//! resamples (the percentile method, no bias correction). The random numbers come
//! from splitmix64 (`rand_xoshiro`) seeded by the caller, so the same data and seed
//! always give the same interval, on every platform and Rust version: reports are
//! reproducible, and a folder rendered again gives the figures it gave before.

use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rand_xoshiro::SplitMix64;
use serde::{Deserialize, Serialize};

use super::{median_sorted, quantile_sorted, valid};

/// A confidence interval for a statistic.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ci {
    /// Lower bound, the (1 - level)/2 quantile of the bootstrap distribution.
    pub lo: f64,
    /// Upper bound, the (1 + level)/2 quantile.
    pub hi: f64,
    /// Nominal coverage, e.g. 0.95.
    pub level: f64,
}

/// The seed of an interval, from a name (a point's label, a profile), so a report is
/// reproducible: 64-bit FNV-1a of its bytes, which unlike std's `DefaultHasher` is the
/// same on every platform and Rust version.
pub fn seed_of(label: &str) -> u64 {
    label.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A fresh generator for `seed`: splitmix64 (Steele, Lea and Flood 2014), whose
/// state is the seed itself, so a seed gives the same numbers in every version.
fn rng(seed: u64) -> SplitMix64 {
    SplitMix64::seed_from_u64(seed)
}

/// An index in 0..n by multiply-shift (Lemire); the bias, at most n / 2^64, is far
/// below anything a bootstrap could show.
fn below(rng: &mut SplitMix64, n: usize) -> usize {
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}

/// Fill `out` with a resample of `xs` (with replacement) and return its median.
fn resampled_median(xs: &[f64], out: &mut Vec<f64>, rng: &mut SplitMix64) -> f64 {
    out.clear();
    out.extend((0..xs.len()).map(|_| xs[below(rng, xs.len())]));
    out.sort_unstable_by(f64::total_cmp);
    median_sorted(out)
}

/// The percentile interval of the bootstrap replicates.
fn percentile_ci(mut replicates: Vec<f64>, level: f64) -> Ci {
    replicates.sort_unstable_by(f64::total_cmp);
    let tail = (1.0 - level) / 2.0;
    Ci {
        lo: quantile_sorted(&replicates, tail),
        hi: quantile_sorted(&replicates, 1.0 - tail),
        level,
    }
}

fn usable(level: f64, resamples: usize) -> bool {
    level > 0.0 && level < 1.0 && resamples > 0
}

/// Percentile bootstrap CI of the median: `resamples` resamples of xs with replacement,
/// the median of each (mean of the middle two for even n), then the type 7 quantiles
/// (1 - level)/2 and (1 + level)/2 of those medians. Deterministic for a seed. None for
/// an empty or non-finite sample, level outside (0, 1) or zero resamples.
pub fn bootstrap_median_ci(xs: &[f64], level: f64, resamples: usize, seed: u64) -> Option<Ci> {
    let xs = valid(xs)?;
    if !usable(level, resamples) {
        return None;
    }
    let mut rng = rng(seed);
    let mut buf = Vec::with_capacity(xs.len());
    let replicates = (0..resamples)
        .map(|_| resampled_median(xs, &mut buf, &mut rng))
        .collect();
    Some(percentile_ci(replicates, level))
}

/// Percentile bootstrap CI of the amplification: in each resample, nogil and gil are
/// resampled independently with replacement and the replicate is
/// max(median(nogil*), 0) / max(median(gil*), floor), the same ratio as
/// `risk::amplification`; then the type 7 quantiles (1 - level)/2 and (1 + level)/2.
/// Deterministic for a seed. None for an empty or non-finite group, a floor that is not
/// a positive finite number, level outside (0, 1) or zero resamples.
pub fn bootstrap_amplification_ci(
    nogil: &[f64],
    gil: &[f64],
    floor: f64,
    level: f64,
    resamples: usize,
    seed: u64,
) -> Option<Ci> {
    let (nogil, gil) = (valid(nogil)?, valid(gil)?);
    if !(floor.is_finite() && floor > 0.0 && usable(level, resamples)) {
        return None;
    }
    let mut rng = rng(seed);
    let (mut n_buf, mut g_buf) = (
        Vec::with_capacity(nogil.len()),
        Vec::with_capacity(gil.len()),
    );
    let replicates = (0..resamples)
        .map(|_| {
            let n = resampled_median(nogil, &mut n_buf, &mut rng);
            let g = resampled_median(gil, &mut g_buf, &mut rng);
            n.max(0.0) / g.max(floor)
        })
        .collect();
    Some(percentile_ci(replicates, level))
}

/// Percentile bootstrap CI of a difference paired by point: for each point, the
/// median of `a` minus the median of `b` (each resampled independently with
/// replacement within the point), then the median of those differences over the
/// points. With one point it is the CI of median(a) - median(b). The statistic itself,
/// on the data as measured, is [`paired_difference`]. Deterministic for a seed. None
/// without points, for an empty or non-finite group, level outside (0, 1) or zero
/// resamples.
pub fn bootstrap_paired_difference_ci(
    points: &[(&[f64], &[f64])],
    level: f64,
    resamples: usize,
    seed: u64,
) -> Option<Ci> {
    if points.is_empty() || !usable(level, resamples) {
        return None;
    }
    for (a, b) in points {
        valid(a)?;
        valid(b)?;
    }
    let mut rng = rng(seed);
    let (mut a_buf, mut b_buf) = (Vec::new(), Vec::new());
    let mut diffs = Vec::with_capacity(points.len());
    let replicates = (0..resamples)
        .map(|_| {
            diffs.clear();
            for (a, b) in points {
                let ma = resampled_median(a, &mut a_buf, &mut rng);
                let mb = resampled_median(b, &mut b_buf, &mut rng);
                diffs.push(ma - mb);
            }
            diffs.sort_unstable_by(f64::total_cmp);
            median_sorted(&diffs)
        })
        .collect();
    Some(percentile_ci(replicates, level))
}

/// The median over points of median(a) - median(b): the statistic whose interval
/// [`bootstrap_paired_difference_ci`] gives. None as there.
pub fn paired_difference(points: &[(&[f64], &[f64])]) -> Option<f64> {
    let diffs: Option<Vec<f64>> = points
        .iter()
        .map(|(a, b)| Some(super::median(a)? - super::median(b)?))
        .collect();
    super::median(&diffs?)
}

/// Percentile bootstrap CI of a statistic of several groups' medians, paired by
/// point: in each resample, every group of every point is resampled independently
/// with replacement, `stat` is applied to each point's medians (in the order of its
/// groups), and the replicate is the median of those values over the points. The
/// net delta (gross - control), the native extra ((gross - control) of one build
/// minus that of the other) and a profile's net saving are such statistics. The
/// statistic itself, on the data as measured, is [`medians_statistic`]. Deterministic
/// for a seed. None without points, for an empty or non-finite group, level outside
/// (0, 1) or zero resamples.
pub fn bootstrap_medians_ci(
    points: &[Vec<&[f64]>],
    stat: impl Fn(&[f64]) -> f64,
    level: f64,
    resamples: usize,
    seed: u64,
) -> Option<Ci> {
    if points.is_empty() || !usable(level, resamples) {
        return None;
    }
    for groups in points {
        for g in groups {
            valid(g)?;
        }
    }
    let mut rng = rng(seed);
    let mut buf = Vec::new();
    let mut medians = Vec::new();
    let mut values = Vec::with_capacity(points.len());
    let replicates = (0..resamples)
        .map(|_| {
            values.clear();
            for groups in points {
                medians.clear();
                for g in groups {
                    medians.push(resampled_median(g, &mut buf, &mut rng));
                }
                values.push(stat(&medians));
            }
            values.sort_unstable_by(f64::total_cmp);
            median_sorted(&values)
        })
        .collect();
    Some(percentile_ci(replicates, level))
}

/// The median over points of `stat` of each point's group medians: the statistic
/// whose interval [`bootstrap_medians_ci`] gives. None as there.
pub fn medians_statistic(points: &[Vec<&[f64]>], stat: impl Fn(&[f64]) -> f64) -> Option<f64> {
    let values: Option<Vec<f64>> = points
        .iter()
        .map(|groups| {
            let medians: Option<Vec<f64>> = groups.iter().map(|g| super::median(g)).collect();
            Some(stat(&medians?))
        })
        .collect();
    super::median(&values?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::median;

    fn contains(ci: &Ci, x: f64) -> bool {
        ci.lo <= x && x <= ci.hi
    }

    /// n evenly spread values in 0..100, interleaved so the order is not sorted.
    fn spread(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| ((i * 7919) % n) as f64 / n as f64 * 100.0 + 0.5)
            .collect()
    }

    #[test]
    fn the_generator_is_still_vignas_splitmix64() {
        // Intervals already in reports were drawn from splitmix64 seeded with the
        // state itself; a crate update that changed the generator or its seeding would
        // change every interval of an old folder rendered again. These are the outputs
        // of Vigna's splitmix64.c from state 0 (a six-line Python port agrees:
        // python -c "M=(1<<64)-1; s=(0x9E3779B97F4A7C15)&M; z=s; z=((z^(z>>30))*0xBF58476D1CE4E5B9)&M; z=((z^(z>>27))*0x94D049BB133111EB)&M; print(hex(z^(z>>31)))" -> 0xe220a8397b1dcdaf).
        let mut r = rng(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(r.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn indices_cover_the_range_and_nothing_else() {
        let mut r = rng(11);
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            seen[below(&mut r, 7)] += 1;
        }
        // Each of 7 values about 1000 times: every one drawn, none far off.
        assert!(seen.iter().all(|&c| (800..1200).contains(&c)), "{seen:?}");
        assert_eq!(below(&mut r, 1), 0);
    }

    #[test]
    fn same_seed_same_interval() {
        let xs = [12.0, 15.5, 9.0, 30.0, 14.0, 11.5, 13.0];
        let a = bootstrap_median_ci(&xs, 0.95, 2000, 42).unwrap();
        assert_eq!(a, bootstrap_median_ci(&xs, 0.95, 2000, 42).unwrap());
        assert_eq!(a.level, 0.95);
        assert!(a.lo <= a.hi);
        let amp = bootstrap_amplification_ci(&xs, &[1.0, 2.0, 3.0], 0.5, 0.95, 500, 7);
        assert_eq!(
            amp,
            bootstrap_amplification_ci(&xs, &[1.0, 2.0, 3.0], 0.5, 0.95, 500, 7)
        );
    }

    #[test]
    fn the_median_ci_contains_the_sample_median_and_narrows_as_n_grows() {
        let width = |n: usize| {
            let xs = spread(n);
            let ci = bootstrap_median_ci(&xs, 0.95, 2000, n as u64).unwrap();
            assert!(contains(&ci, median(&xs).unwrap()), "n={n}: {ci:?}");
            ci.hi - ci.lo
        };
        let (w10, w100, w1000) = (width(10), width(100), width(1000));
        assert!(w10 > w100 && w100 > w1000, "{w10} {w100} {w1000}");
        // A lower level gives a narrower interval from the same replicates.
        let xs = spread(50);
        let wide = bootstrap_median_ci(&xs, 0.99, 2000, 3).unwrap();
        let narrow = bootstrap_median_ci(&xs, 0.5, 2000, 3).unwrap();
        assert!(wide.lo <= narrow.lo && narrow.hi <= wide.hi);
    }

    #[test]
    fn the_amplification_ci_contains_the_point_estimate() {
        // Deltas in KiB shaped like the talk's 3.13 cell: GIL ~0.56 MiB, nogil ~16.6 MiB.
        let gil = [560.0, 610.0, 540.0, 590.0, 575.0, 620.0, 530.0];
        let nogil = [
            16_970.0, 15_800.0, 17_400.0, 16_200.0, 18_100.0, 16_650.0, 15_950.0,
        ];
        let floor = 256.0;
        let point = median(&nogil).unwrap() / median(&gil).unwrap().max(floor);
        let ci = bootstrap_amplification_ci(&nogil, &gil, floor, 0.95, 2000, 9).unwrap();
        assert!(contains(&ci, point), "{point} not in {ci:?}");
        assert!(ci.lo > 20.0 && ci.hi < 40.0, "{ci:?}");
        // The floor caps the ratio: a GIL delta of ~0 is treated as the floor.
        let ci =
            bootstrap_amplification_ci(&[1024.0], &[0.0, 1.0, -3.0], floor, 0.95, 200, 9).unwrap();
        assert_eq!((ci.lo, ci.hi), (4.0, 4.0));
        // Negative nogil growth counts as none.
        let ci = bootstrap_amplification_ci(&[-10.0, -20.0], &gil, floor, 0.95, 200, 9).unwrap();
        assert_eq!((ci.lo, ci.hi), (0.0, 0.0));
    }

    #[test]
    fn a_paired_difference_is_the_median_over_points_of_median_differences() {
        let (a1, b1) = ([10.0, 12.0, 11.0], [20.0, 21.0, 22.0]);
        let (a2, b2) = ([5.0, 5.0, 6.0], [5.0, 6.0, 5.0]);
        let (a3, b3) = ([1.0, 1.0, 1.0], [4.0, 4.0, 4.0]);
        let pts: [(&[f64], &[f64]); 3] = [(&a1, &b1), (&a2, &b2), (&a3, &b3)];
        // Differences -10, 0, -3: the median is -3.
        assert_eq!(paired_difference(&pts), Some(-3.0));
        let ci = bootstrap_paired_difference_ci(&pts, 0.95, 2000, 5).unwrap();
        assert!(ci.lo <= -3.0 && -3.0 <= ci.hi, "{ci:?}");
        // One point: the difference of the two medians; constant samples give a
        // zero-width interval at that difference.
        let one: [(&[f64], &[f64]); 1] = [(&[3.0, 3.0], &[1.0, 1.0, 1.0])];
        assert_eq!(paired_difference(&one), Some(2.0));
        let ci = bootstrap_paired_difference_ci(&one, 0.95, 200, 1).unwrap();
        assert_eq!((ci.lo, ci.hi), (2.0, 2.0));
        // Two overlapping noisy samples: the interval straddles zero.
        let (x, y) = (
            spread(9),
            spread(9).iter().map(|v| v + 1.0).collect::<Vec<_>>(),
        );
        let ci = bootstrap_paired_difference_ci(&[(&x, &y)], 0.95, 2000, 3).unwrap();
        assert!(ci.lo < 0.0 && ci.hi > 0.0, "{ci:?}");
        // Deterministic for a seed.
        assert_eq!(
            Some(ci),
            bootstrap_paired_difference_ci(&[(&x, &y)], 0.95, 2000, 3)
        );
        assert_eq!(bootstrap_paired_difference_ci(&[], 0.95, 10, 1), None);
        let empty: [(&[f64], &[f64]); 1] = [(&[], &[1.0])];
        assert_eq!(bootstrap_paired_difference_ci(&empty, 0.95, 10, 1), None);
        assert_eq!(paired_difference(&empty), None);
    }

    #[test]
    fn degenerate_inputs() {
        assert_eq!(bootstrap_median_ci(&[], 0.95, 2000, 1), None);
        assert_eq!(bootstrap_median_ci(&[1.0, f64::NAN], 0.95, 2000, 1), None);
        assert_eq!(bootstrap_median_ci(&[1.0], 1.0, 2000, 1), None);
        assert_eq!(bootstrap_median_ci(&[1.0], f64::NAN, 2000, 1), None);
        assert_eq!(bootstrap_median_ci(&[1.0], 0.95, 0, 1), None);
        let one = bootstrap_median_ci(&[3.0], 0.95, 2000, 1).unwrap();
        assert_eq!((one.lo, one.hi), (3.0, 3.0));
        let flat = bootstrap_median_ci(&[2.5; 6], 0.95, 2000, 1).unwrap();
        assert_eq!((flat.lo, flat.hi), (2.5, 2.5));

        assert_eq!(
            bootstrap_amplification_ci(&[], &[1.0], 1.0, 0.95, 10, 1),
            None
        );
        assert_eq!(
            bootstrap_amplification_ci(&[1.0], &[], 1.0, 0.95, 10, 1),
            None
        );
        assert_eq!(
            bootstrap_amplification_ci(&[1.0], &[1.0], 0.0, 0.95, 10, 1),
            None
        );
        assert_eq!(
            bootstrap_amplification_ci(&[1.0], &[1.0], f64::NAN, 0.95, 10, 1),
            None
        );
        assert_eq!(
            bootstrap_amplification_ci(&[f64::NAN], &[1.0], 1.0, 0.95, 10, 1),
            None
        );
        let flat = bootstrap_amplification_ci(&[8.0; 4], &[2.0; 3], 1.0, 0.95, 100, 1).unwrap();
        assert_eq!((flat.lo, flat.hi), (4.0, 4.0));
    }

    #[test]
    fn medians_of_groups_agree_with_the_paired_difference() {
        // With two groups and stat = a - b, the general function draws the same
        // resamples in the same order as the paired difference: the same interval.
        let (a, b) = (
            spread(9),
            spread(7).iter().map(|x| x * 0.5).collect::<Vec<_>>(),
        );
        let pairs: [(&[f64], &[f64]); 1] = [(&a, &b)];
        let groups = vec![vec![a.as_slice(), b.as_slice()]];
        let by_pairs = bootstrap_paired_difference_ci(&pairs, 0.95, 500, 7).unwrap();
        let by_groups = bootstrap_medians_ci(&groups, |m| m[0] - m[1], 0.95, 500, 7).unwrap();
        assert_eq!(by_pairs, by_groups);
        assert_eq!(
            medians_statistic(&groups, |m| m[0] - m[1]),
            paired_difference(&pairs)
        );
    }

    #[test]
    fn a_net_difference_of_four_groups() {
        // gross nogil, control nogil, gross GIL, control GIL: medians 10, 6, 5, 4 ->
        // native extra (10 - 6) - (5 - 4) = 3.
        let g = |m: f64| vec![m - 1.0, m, m + 1.0];
        let (gn, cn, gg, cg) = (g(10.0), g(6.0), g(5.0), g(4.0));
        let groups = vec![vec![gn.as_slice(), &cn, &gg, &cg]];
        let extra = |m: &[f64]| (m[0] - m[1]) - (m[2] - m[3]);
        assert_eq!(medians_statistic(&groups, extra), Some(3.0));
        let ci = bootstrap_medians_ci(&groups, extra, 0.95, 2000, 1).unwrap();
        assert!(contains(&ci, 3.0), "{ci:?}");
        // Each median moves by at most 1, so the statistic by at most 4.
        assert!(ci.lo >= -1.0 && ci.hi <= 7.0, "{ci:?}");
        assert!(bootstrap_medians_ci(&[], extra, 0.95, 10, 1).is_none());
        let empty: Vec<f64> = Vec::new();
        assert!(bootstrap_medians_ci(&[vec![empty.as_slice()]], |m| m[0], 0.95, 10, 1).is_none());
    }
}
