//! Is a GIL/nogil difference real? The two-sided Mann-Whitney U test, the
//! Hodges-Lehmann estimate of the shift that goes with it, and the Benjamini-Hochberg
//! adjustment for testing every point of a grid at once.
//!
//! Both follow scipy (`scipy.stats.mannwhitneyu` with its defaults, and
//! `scipy.stats.false_discovery_control(method='bh')`) so that a reader can check a
//! report's p-values with one line of Python.

use super::valid;

/// How the p-value of a Mann-Whitney test was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MannWhitneyMethod {
    /// The exact null distribution of U (no ties, a small sample).
    Exact,
    /// The normal approximation, with tie and continuity corrections.
    Normal,
}

/// The outcome of a two-sided Mann-Whitney U test of x against y.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of x: R1 - n1 (n1 + 1) / 2 with R1 the sum of x's ranks in the pooled sample
    /// (average ranks for ties), scipy's `statistic`.
    pub u: f64,
    /// Two-sided p-value, in [0, 1].
    pub p: f64,
    // Read by the tests; reports are meant to show which method produced a p-value.
    #[allow(dead_code)]
    pub method: MannWhitneyMethod,
}

/// Two-sided Mann-Whitney U test, as scipy.stats.mannwhitneyu(x, y) (method='auto',
/// use_continuity=True). With U = max(U_x, U_y): the exact p = 2 P(U' >= U) under the
/// null when there are no ties and min(n1, n2) <= 8 (scipy's actual 'auto' rule:
/// asymptotic only when both sizes exceed 8, or when there are ties); otherwise the normal
/// approximation p = 2 sf((U - n1 n2 / 2 - 0.5) / s) with tie-corrected
/// s^2 = n1 n2 / 12 ((n + 1) - sum(t^3 - t) / (n (n - 1))). p is clipped to 1. When every
/// value is equal (s = 0) p is 1. None when either sample is empty or not finite.
pub fn mann_whitney_u(x: &[f64], y: &[f64]) -> Option<MannWhitney> {
    let (x, y) = (valid(x)?, valid(y)?);
    let (n1, n2) = (x.len(), y.len());
    let mut pooled: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    pooled.sort_by(|a, b| a.0.total_cmp(&b.0));

    // Average ranks (1-based) over runs of equal values; t is each run's length.
    let mut rank_sum_x = 0.0;
    let mut tie_term = 0.0;
    let mut start = 0;
    while start < pooled.len() {
        let end = start
            + pooled[start..]
                .iter()
                .take_while(|p| p.0 == pooled[start].0)
                .count();
        let t = (end - start) as f64;
        let average_rank = (start + 1 + end) as f64 / 2.0;
        rank_sum_x += average_rank * pooled[start..end].iter().filter(|p| p.1).count() as f64;
        tie_term += t * t * t - t;
        start = end;
    }
    let u = rank_sum_x - (n1 * (n1 + 1)) as f64 / 2.0;
    let u_max = u.max((n1 * n2) as f64 - u);

    if tie_term == 0.0 && n1.min(n2) <= 8 {
        if let Some(tail) = exact_upper_tail(u_max.round() as usize, n1, n2) {
            return Some(MannWhitney {
                u,
                p: (2.0 * tail).min(1.0),
                method: MannWhitneyMethod::Exact,
            });
        }
    }
    let (n1, n2, n) = (n1 as f64, n2 as f64, (n1 + n2) as f64);
    let variance = n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    let p = if variance > 0.0 {
        let z = (u_max - n1 * n2 / 2.0 - 0.5) / variance.sqrt();
        (2.0 * normal_sf(z)).clamp(0.0, 1.0)
    } else {
        1.0
    };
    Some(MannWhitney {
        u,
        p,
        method: MannWhitneyMethod::Normal,
    })
}

/// P(U >= u) under the null for samples of sizes n1 and n2 without ties, by counting:
/// the number of arrangements with U = k is the coefficient of q^k in the Gaussian
/// binomial [n1 + n2 choose m]_q = prod_{i=1..m} (1 - q^(n + i)) / (1 - q^i), with
/// m = min(n1, n2), n = max(n1, n2). Integer arithmetic keeps it exact. None when the
/// counts would not fit (C(n1 + n2, m) above 2^125) or the table would pass 2^22
/// entries (64 MiB), far beyond any repetition count; the caller then falls back to
/// the normal approximation, where scipy would switch to floating point.
fn exact_upper_tail(u: usize, n1: usize, n2: usize) -> Option<f64> {
    let (m, n) = (n1.min(n2), n1.max(n2));
    if m.checked_mul(n)? > 1 << 22 {
        return None;
    }
    let mut total: u128 = 1;
    for i in 1..=m {
        total = total.checked_mul((n + i) as u128)? / i as u128;
    }
    if total > 1 << 125 {
        return None;
    }
    // Intermediate coefficients stay within +-2 C(n + i, i) and the degree within m n + m.
    let mut counts = vec![0i128; m * n + m + 1];
    counts[0] = 1;
    let mut degree = 0;
    for i in 1..=m {
        let k = n + i;
        for j in (k..=degree + k).rev() {
            counts[j] -= counts[j - k];
        }
        // The division is exact: it also zeroes the coefficients above i n.
        for j in i..=degree + k {
            counts[j] += counts[j - i];
        }
        degree = i * n;
    }
    let tail: i128 = counts
        .iter()
        .skip(u)
        .take((m * n + 1).saturating_sub(u))
        .sum();
    Some(tail as f64 / total as f64)
}

/// Upper tail of the standard normal, P(Z > z) = erfc(z / sqrt 2) / 2, with the
/// `libm` crate's erfc (musl's, as scipy's is Cephes': both to within an ulp or so).
fn normal_sf(z: f64) -> f64 {
    0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
}

/// Hodges-Lehmann estimate of the shift of x against y: the median of every pairwise
/// difference x_i - y_j (numpy: `np.median(np.subtract.outer(x, y))`), the location
/// difference the Mann-Whitney test asks about. Unlike the difference of the two
/// medians it stays put when the runs fall in two groups (a low one and a high one,
/// about half in each), where each sample's median jumps from one group to the other
/// with a run more or less. None when either sample is empty or not finite.
pub fn hodges_lehmann_shift(x: &[f64], y: &[f64]) -> Option<f64> {
    let (x, y) = (valid(x)?, valid(y)?);
    let mut d: Vec<f64> = x
        .iter()
        .flat_map(|&a| y.iter().map(move |&b| a - b))
        .collect();
    d.sort_by(f64::total_cmp);
    Some(super::median_sorted(&d))
}

/// Benjamini-Hochberg adjusted p-values, in input order, as
/// scipy.stats.false_discovery_control(p, method='bh'): sort ascending, multiply the
/// i-th smallest (1-based) by m / i, take the running minimum from the largest down,
/// and clip to 1. Tied p-values get the same adjusted value. None when a value is NaN or
/// outside [0, 1] (scipy raises there).
pub fn benjamini_hochberg(p: &[f64]) -> Option<Vec<f64>> {
    if p.iter().any(|v| !(0.0..=1.0).contains(v)) {
        return None;
    }
    let m = p.len() as f64;
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![0.0; p.len()];
    let mut running_min = 1.0_f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running_min = running_min.min(p[i] * m / (rank + 1) as f64);
        adjusted[i] = running_min;
    }
    Some(adjusted)
}

// Reference values: `python` is a venv with scipy 1.17.1 and numpy 2.4.6; `m` is
// `from scipy.stats import mannwhitneyu as m`, written out in each command.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::assert_close;
    use MannWhitneyMethod::{Exact, Normal};

    fn mwu(x: &[f64], y: &[f64]) -> MannWhitney {
        mann_whitney_u(x, y).unwrap()
    }

    #[test]
    fn hodges_lehmann_shift_matches_numpy() {
        // python -c "import numpy as np; print(repr(float(np.median(np.subtract.outer([1.1,2.3,3.2,4.8,5.0],[2.9,6.1,7.4,8.0,9.5,10.2])))))"
        //   -> -4.6
        let s = hodges_lehmann_shift(&[1.1, 2.3, 3.2, 4.8, 5.0], &[2.9, 6.1, 7.4, 8.0, 9.5, 10.2]);
        assert_close(s.unwrap(), -4.6, 1e-12);
        // Two groups, about half the runs in each: the medians differ by 1.39 (3.7
        // against 2.31: x's middle pair straddles the gap, y's middle value does not),
        // the shift is 0.03.
        // python -c "import numpy as np; print(repr(float(np.median(np.subtract.outer([2.2,2.3,2.25,5.1,6.0,7.2],[2.21,2.28,2.31,4.9,6.3])))))"
        //   -> 0.030000000000000027
        let (x, y) = (
            [2.2, 2.3, 2.25, 5.1, 6.0, 7.2],
            [2.21, 2.28, 2.31, 4.9, 6.3],
        );
        assert_close(hodges_lehmann_shift(&x, &y).unwrap(), 0.03, 1e-12);
        assert_close(
            crate::stats::median(&x).unwrap() - crate::stats::median(&y).unwrap(),
            1.39,
            1e-12,
        );
        assert_eq!(hodges_lehmann_shift(&[], &[1.0]), None);
        assert_eq!(hodges_lehmann_shift(&[1.0, f64::NAN], &[1.0]), None);
    }

    #[test]
    fn normal_sf_matches_scipy() {
        // python -c "from scipy.special import ndtr; print([repr(float(ndtr(-z))) for z in [-2.5,-1,0,0.5,1.5,1.96,2.9,3,5,8.5,30]])"
        let cases = [
            (-2.5, 0.9937903346742238),
            (-1.0, 0.8413447460685429),
            (0.0, 0.5),
            (0.5, 0.3085375387259869),
            (1.5, 0.06680720126885807),
            (1.96, 0.024997895148220435),
            (2.9, 0.0018658133003840375),
            (3.0, 0.0013498980316300933),
            (5.0, 2.866515718791933e-07),
            (8.5, 9.47953482220325e-18),
            (30.0, 4.906713927147908e-198),
        ];
        for (z, expected) in cases {
            assert_close(normal_sf(z), expected, if z < 10.0 { 1e-13 } else { 1e-11 });
        }
    }

    #[test]
    fn mann_whitney_small_samples_without_ties_are_exact() {
        // python -c "from scipy.stats import mannwhitneyu as m; r=m([1.1,2.3,3.2,4.8,5.0],[2.9,6.1,7.4,8.0,9.5,10.2]); print(r.statistic, repr(r.pvalue))"
        //   -> 3.0 0.030303030303030304
        let r = mwu(&[1.1, 2.3, 3.2, 4.8, 5.0], &[2.9, 6.1, 7.4, 8.0, 9.5, 10.2]);
        assert_eq!((r.u, r.method), (3.0, Exact));
        assert_close(r.p, 0.030303030303030304, 1e-14);
        // Complete separation, 8 vs 8: 2 / C(16, 8).
        // python -c "from scipy.stats import mannwhitneyu as m; r=m([10.0,11,12,13,14,15,16,17],[1.0,2,3,4,5,6,7,8]); print(r.statistic, repr(r.pvalue))"
        //   -> 64.0 0.0001554001554001554
        let r = mwu(
            &[10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0],
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        );
        assert_eq!((r.u, r.method), (64.0, Exact));
        assert_close(r.p, 0.0001554001554001554, 1e-14);
    }

    #[test]
    fn mann_whitney_asymmetric_sizes() {
        // x larger than most of y, 3 vs 7:
        // python -c "from scipy.stats import mannwhitneyu as m; r=m([19.0,22.5,30.1],[1.2,3.4,5.5,7.1,9.9,11.0,20.0]); print(r.statistic, repr(r.pvalue))"
        //   -> 20.0 0.03333333333333333
        let r = mwu(&[19.0, 22.5, 30.1], &[1.2, 3.4, 5.5, 7.1, 9.9, 11.0, 20.0]);
        assert_eq!((r.u, r.method), (20.0, Exact));
        assert_close(r.p, 0.03333333333333333, 1e-14);
        // Swapping the samples gives U of the other side and the same p.
        let swapped = mwu(&[1.2, 3.4, 5.5, 7.1, 9.9, 11.0, 20.0], &[19.0, 22.5, 30.1]);
        assert_eq!(swapped.u, 1.0);
        assert_close(swapped.p, r.p, 1e-15);
        // 3 vs 12 is still exact: scipy goes asymptotic only when *both* sizes exceed 8.
        // python -c "from scipy.stats import mannwhitneyu as m; r=m([1.5,9.5,14.5],[1,2,3,4,5,6,7,8,10,11,12,13]); print(r.statistic, repr(r.pvalue))"
        //   -> 21.0 0.734065934065934 (method='asymptotic' would give 0.718216129533986)
        let twelve: Vec<f64> = [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13]
            .map(f64::from)
            .to_vec();
        let r = mwu(&[1.5, 9.5, 14.5], &twelve);
        assert_eq!((r.u, r.method), (21.0, Exact));
        assert_close(r.p, 0.734065934065934, 1e-14);
    }

    #[test]
    fn mann_whitney_with_ties_or_large_samples_uses_the_normal_approximation() {
        // python -c "from scipy.stats import mannwhitneyu as m; r=m([1,2,2,3,3,3,4,5],[3,4,4,5,5,6,7,7,8]); print(r.statistic, repr(r.pvalue))"
        //   -> 7.5 0.006373133838085873
        let x = [1, 2, 2, 3, 3, 3, 4, 5].map(f64::from);
        let y = [3, 4, 4, 5, 5, 6, 7, 7, 8].map(f64::from);
        let r = mwu(&x, &y);
        assert_eq!((r.u, r.method), (7.5, Normal));
        assert_close(r.p, 0.006373133838085873, 1e-12);
        // 10 vs 10, no ties:
        // python -c "from scipy.stats import mannwhitneyu as m; r=m([0.8,1.9,2.7,3.1,4.4,5.2,6.6,7.3,8.1,9.0],[4.1,5.9,6.2,7.7,8.8,9.6,10.4,11.3,12.5,13.9]); print(r.statistic, repr(r.pvalue))"
        //   -> 17.0 0.014019277113959953
        let x = [0.8, 1.9, 2.7, 3.1, 4.4, 5.2, 6.6, 7.3, 8.1, 9.0];
        let y = [4.1, 5.9, 6.2, 7.7, 8.8, 9.6, 10.4, 11.3, 12.5, 13.9];
        let r = mwu(&x, &y);
        assert_eq!((r.u, r.method), (17.0, Normal));
        assert_close(r.p, 0.014019277113959953, 1e-12);
        // A tiny p-value, 30 vs 30 completely separated:
        // python -c "from scipy.stats import mannwhitneyu as m; r=m(list(range(30)),list(range(100,130))); print(r.statistic, repr(r.pvalue))"
        //   -> 0.0 3.019859359162157e-11
        let x: Vec<f64> = (0..30).map(f64::from).collect();
        let y: Vec<f64> = (100..130).map(f64::from).collect();
        let r = mwu(&x, &y);
        assert_eq!((r.u, r.method), (0.0, Normal));
        assert_close(r.p, 3.019859359162157e-11, 1e-12);
    }

    #[test]
    fn mann_whitney_degenerate_inputs() {
        // All values equal: zero variance, no evidence of a difference.
        // python -c "from scipy.stats import mannwhitneyu as m; r=m([5,5,5],[5,5]); print(r.statistic, repr(r.pvalue))" -> 3.0 1.0
        let r = mwu(&[5.0, 5.0, 5.0], &[5.0, 5.0]);
        assert_eq!((r.u, r.p, r.method), (3.0, 1.0, Normal));
        // One value each.
        // python -c "from scipy.stats import mannwhitneyu as m; r=m([2.0],[1.0]); print(r.statistic, repr(r.pvalue))" -> 1.0 1.0
        let r = mwu(&[2.0], &[1.0]);
        assert_eq!((r.u, r.p, r.method), (1.0, 1.0, Exact));
        assert_eq!(mann_whitney_u(&[], &[1.0]), None);
        assert_eq!(mann_whitney_u(&[1.0], &[]), None);
        assert_eq!(mann_whitney_u(&[1.0, f64::NAN], &[1.0]), None);
    }

    #[test]
    fn exact_counts_are_gaussian_binomial_coefficients() {
        // [4 choose 2]_q = 1 + q + 2q^2 + q^3 + q^4: P(U >= k) for k = 0..=4.
        let tails: Vec<f64> = (0..=4)
            .map(|k| exact_upper_tail(k, 2, 2).unwrap())
            .collect();
        assert_eq!(tails, [1.0, 5.0 / 6.0, 4.0 / 6.0, 2.0 / 6.0, 1.0 / 6.0]);
        assert_eq!(exact_upper_tail(5, 2, 2), Some(0.0));
        // Sizes whose count C(n1 + n2, m) does not fit are refused, not wrapped.
        assert_eq!(exact_upper_tail(0, 8, 1 << 40), None);
        assert_eq!(exact_upper_tail(0, 8, 200_000), None);
        assert_eq!(exact_upper_tail(0, 1, 1 << 23), None);
    }

    #[test]
    fn benjamini_hochberg_matches_scipy_including_ties() {
        // python -c "from scipy.stats import false_discovery_control as f; print(f([0.01,0.04,0.03,0.04,0.20,0.0005],method='bh').tolist())"
        //   -> [0.03, 0.048, 0.048, 0.048, 0.2, 0.003]
        let adjusted = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.04, 0.20, 0.0005]).unwrap();
        let expected = [0.03, 0.048, 0.048, 0.048, 0.2, 0.003];
        for (a, e) in adjusted.iter().zip(expected) {
            assert_close(*a, e, 1e-14);
        }
        // python -c "from scipy.stats import false_discovery_control as f; print(f([0.5],method='bh').tolist(), f([1.0,1.0],method='bh').tolist())"
        //   -> [0.5] [1.0, 1.0]
        assert_eq!(benjamini_hochberg(&[0.5]), Some(vec![0.5]));
        assert_eq!(benjamini_hochberg(&[1.0, 1.0]), Some(vec![1.0, 1.0]));
        assert_eq!(benjamini_hochberg(&[]), Some(vec![]));
        assert_eq!(benjamini_hochberg(&[0.1, f64::NAN]), None);
        assert_eq!(benjamini_hochberg(&[0.1, 1.5]), None);
    }
}
