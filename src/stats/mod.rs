//! The project's statistics: pure functions over `f64` samples, no I/O.
//!
//! This module owns every number computed *from* repetitions, as opposed to measured
//! in them: location and spread (median, quantiles, IQR, MAD, mean, standard
//! deviation, CV), shape (skewness, excess kurtosis), seeded bootstrap confidence
//! intervals ([`bootstrap`]) and the significance of a GIL/nogil difference
//! (Mann-Whitney U, the Hodges-Lehmann shift, Benjamini-Hochberg adjustment,
//! [`significance`]).
//!
//! Conventions shared by every function:
//! - A sample holding NaN or an infinity is not a measurement: the result is `None`.
//! - Empty or degenerate input (too few values for the estimator, zero spread where
//!   the definition divides by it) gives `None`, never a panic or a NaN.
//! - Each definition is the one named in its `///` line, and the unit tests compare it
//!   with scipy/numpy output pasted in as literals, with the command that produced it.

pub mod bootstrap;
pub mod significance;

pub use bootstrap::{
    bootstrap_amplification_ci, bootstrap_median_ci, bootstrap_medians_ci,
    bootstrap_paired_difference_ci, medians_statistic, paired_difference, Ci,
};
pub use significance::{benjamini_hochberg, hodges_lehmann_shift, mann_whitney_u};

/// The sample itself when it is one: non-empty, every value finite.
fn valid(xs: &[f64]) -> Option<&[f64]> {
    (!xs.is_empty() && xs.iter().all(|x| x.is_finite())).then_some(xs)
}

/// The values sorted ascending; None unless the sample is [`valid`].
fn sorted(xs: &[f64]) -> Option<Vec<f64>> {
    let mut v = valid(xs)?.to_vec();
    v.sort_by(f64::total_cmp);
    Some(v)
}

/// Type 7 quantile of an already sorted, non-empty slice (see [`quantile`]).
fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    let h = (v.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    let (a, b, t) = (v[lo], v[hi], h - lo as f64);
    // numpy's `_lerp`: interpolate from the nearer end, so t = 1 gives exactly b.
    if t < 0.5 {
        a + (b - a) * t
    } else {
        b - (b - a) * (1.0 - t)
    }
}

/// Median of an already sorted, non-empty slice.
fn median_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Median: the middle value, or the mean of the middle two for an even count.
pub fn median(xs: &[f64]) -> Option<f64> {
    Some(median_sorted(&sorted(xs)?))
}

/// (min, max).
pub fn range(xs: &[f64]) -> Option<(f64, f64)> {
    let v = sorted(xs)?;
    Some((v[0], v[v.len() - 1]))
}

/// Quantile `q` in [0, 1] by linear interpolation between order statistics
/// (Hyndman-Fan type 7, numpy's default `method="linear"`): with the values sorted
/// as x[0..n], h = (n - 1) q, the result is x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h]).
pub fn quantile(xs: &[f64], q: f64) -> Option<f64> {
    if !(0.0..=1.0).contains(&q) {
        return None;
    }
    Some(quantile_sorted(&sorted(xs)?, q))
}

/// Interquartile range: type 7 quantile 0.75 minus quantile 0.25 (scipy.stats.iqr's default).
pub fn iqr(xs: &[f64]) -> Option<f64> {
    Some(quantile(xs, 0.75)? - quantile(xs, 0.25)?)
}

/// Median absolute deviation from the median, unscaled: median(|x - median(x)|), with
/// no 1.4826 normal-consistency factor (scipy.stats.median_abs_deviation's default scale=1).
pub fn mad(xs: &[f64]) -> Option<f64> {
    let m = median(xs)?;
    let deviations: Vec<f64> = xs.iter().map(|x| (x - m).abs()).collect();
    median(&deviations)
}

/// Arithmetic mean.
pub fn mean(xs: &[f64]) -> Option<f64> {
    let v = valid(xs)?;
    Some(v.iter().sum::<f64>() / v.len() as f64)
}

/// Sample standard deviation, unbiased variance (ddof = 1): sqrt(sum (x - mean)^2 / (n - 1)).
/// None for fewer than 2 values.
pub fn std(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    let ss: f64 = xs.iter().map(|x| (x - m).powi(2)).sum();
    Some((ss / (xs.len() - 1) as f64).sqrt())
}

/// Coefficient of variation: sample std (ddof = 1) / mean, signed like the mean
/// (scipy.stats.variation(x, ddof=1)). None for fewer than 2 values or a zero mean.
pub fn cv(xs: &[f64]) -> Option<f64> {
    let m = mean(xs)?;
    if m == 0.0 {
        return None;
    }
    Some(std(xs)? / m)
}

/// Biased central moments (m2, m3, m4) = mean((x - mean)^k); None when the spread is
/// zero to working precision, with scipy's test m2 <= (eps * mean)^2.
fn central_moments(xs: &[f64]) -> Option<(f64, f64, f64)> {
    let m = mean(xs)?;
    let n = xs.len() as f64;
    let moment = |k: i32| xs.iter().map(|x| (x - m).powi(k)).sum::<f64>() / n;
    let m2 = moment(2);
    if m2 <= (f64::EPSILON * m).powi(2) {
        return None;
    }
    Some((m2, moment(3), moment(4)))
}

/// Sample skewness, bias-corrected (the adjusted Fisher-Pearson coefficient G1):
/// sqrt(n (n - 1)) / (n - 2) * m3 / m2^1.5 with biased central moments m_k, as
/// scipy.stats.skew(x, bias=False). None for n < 3 (where scipy silently returns the
/// biased value instead) or zero spread.
pub fn skewness(xs: &[f64]) -> Option<f64> {
    if xs.len() < 3 {
        return None;
    }
    let (m2, m3, _) = central_moments(xs)?;
    let n = xs.len() as f64;
    Some((n * (n - 1.0)).sqrt() / (n - 2.0) * m3 / m2.powf(1.5))
}

/// Excess kurtosis, bias-corrected (G2): ((n^2 - 1) m4 / m2^2 - 3 (n - 1)^2) / ((n - 2)(n - 3))
/// with biased central moments m_k, as scipy.stats.kurtosis(x, fisher=True, bias=False);
/// 0 for a normal distribution. None for n < 4 (where scipy returns the biased value
/// instead) or zero spread.
pub fn kurtosis(xs: &[f64]) -> Option<f64> {
    if xs.len() < 4 {
        return None;
    }
    let (m2, _, m4) = central_moments(xs)?;
    let n = xs.len() as f64;
    Some(((n * n - 1.0) * m4 / (m2 * m2) - 3.0 * (n - 1.0).powi(2)) / ((n - 2.0) * (n - 3.0)))
}

/// Relative closeness for comparing with reference values computed elsewhere.
#[cfg(test)]
fn assert_close(actual: f64, expected: f64, rel: f64) {
    let tol = rel * expected.abs().max(f64::MIN_POSITIVE);
    assert!(
        (actual - expected).abs() <= tol,
        "got {actual:e}, expected {expected:e} (rel tol {rel:e})"
    );
}

// Reference values: `python` below is a venv with scipy 1.17.1 and numpy 2.4.6
// (`python3 -m venv v && v/bin/pip install scipy numpy`).
#[cfg(test)]
mod tests {
    use super::*;

    const ODD: [f64; 5] = [7.0, 1.0, 3.0, 9.0, 4.0];
    const EVEN: [f64; 6] = [3.5, 1.0, 9.0, 4.0, 2.5, 7.0];
    /// Right-skewed, like RSS deltas with two outlying runs.
    const SKEWED: [f64; 8] = [120.0, 130.0, 125.0, 128.0, 410.0, 122.0, 131.0, 900.0];

    #[test]
    fn median_and_range() {
        // python3 -c "import statistics as s; print(s.median([3,1,2]), s.median([4,1,3,2]))" -> 2 2.5
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(range(&[3.0, -1.0, 2.0]), Some((-1.0, 3.0)));
    }

    #[test]
    fn quantile_matches_numpy_on_odd_and_even_n() {
        let qs = [0.0, 0.1, 0.25, 0.5, 0.9, 1.0];
        // python -c "import numpy as np; print(np.quantile([7,1,3,9,4],[0,0.1,0.25,0.5,0.9,1]).tolist())"
        let odd = [1.0, 1.8, 3.0, 4.0, 8.2, 9.0];
        // python -c "import numpy as np; print(np.quantile([3.5,1,9,4,2.5,7],[0,0.1,0.25,0.5,0.9,1]).tolist())"
        let even = [1.0, 1.75, 2.75, 3.75, 8.0, 9.0];
        for (i, &q) in qs.iter().enumerate() {
            assert_close(quantile(&ODD, q).unwrap(), odd[i], 1e-12);
            assert_close(quantile(&EVEN, q).unwrap(), even[i], 1e-12);
        }
        assert_eq!(quantile(&ODD, 0.5), median(&ODD));
        assert_eq!(quantile(&EVEN, 0.5), median(&EVEN));
        assert_eq!(quantile(&ODD, 1.5), None);
        assert_eq!(quantile(&ODD, f64::NAN), None);
    }

    #[test]
    fn iqr_and_mad_match_scipy_on_odd_and_even_n() {
        // python -c "import scipy.stats as s; print(s.iqr([7,1,3,9,4]), s.iqr([3.5,1,9,4,2.5,7]))" -> 4.0 3.5
        assert_close(iqr(&ODD).unwrap(), 4.0, 1e-12);
        assert_close(iqr(&EVEN).unwrap(), 3.5, 1e-12);
        // python -c "import scipy.stats as s; print(s.median_abs_deviation([7,1,3,9,4]), s.median_abs_deviation([3.5,1,9,4,2.5,7]))" -> 3.0 2.0
        assert_close(mad(&ODD).unwrap(), 3.0, 1e-12);
        assert_close(mad(&EVEN).unwrap(), 2.0, 1e-12);
    }

    #[test]
    fn mean_std_cv_skewness_kurtosis_match_scipy_on_a_skewed_sample() {
        // python -c "import numpy as np, scipy.stats as s; x=[120,130,125,128,410,122,131,900]; print(np.mean(x), np.std(x,ddof=1), s.variation(x,ddof=1), s.skew(x,bias=False), s.kurtosis(x,fisher=True,bias=False))"
        //   -> 258.25 277.7227548679232 1.0754027294014452 2.257514008312279 5.012253947164552
        assert_close(mean(&SKEWED).unwrap(), 258.25, 1e-13);
        assert_close(std(&SKEWED).unwrap(), 277.7227548679232, 1e-13);
        assert_close(cv(&SKEWED).unwrap(), 1.0754027294014452, 1e-13);
        assert_close(skewness(&SKEWED).unwrap(), 2.257514008312279, 1e-12);
        assert_close(kurtosis(&SKEWED).unwrap(), 5.012253947164552, 1e-12);
    }

    #[test]
    fn degenerate_samples_give_none_not_nan() {
        let empty: [f64; 0] = [];
        for f in [median, mean, mad, iqr, std, cv, skewness, kurtosis] {
            assert_eq!(f(&empty), None);
            assert_eq!(f(&[1.0, f64::NAN, 2.0, 3.0, 4.0]), None);
            assert_eq!(f(&[1.0, f64::INFINITY, 2.0, 3.0, 4.0]), None);
        }
        assert_eq!(range(&empty), None);
        assert_eq!(range(&[1.0, f64::NAN]), None);
        assert_eq!(quantile(&empty, 0.5), None);

        // One value: location and zero spread are defined; the sample std is not.
        assert_eq!(median(&[5.0]), Some(5.0));
        assert_eq!(quantile(&[5.0], 0.3), Some(5.0));
        assert_eq!(iqr(&[5.0]), Some(0.0));
        assert_eq!(mad(&[5.0]), Some(0.0));
        assert_eq!(std(&[5.0]), None);
        assert_eq!(cv(&[5.0]), None);

        // All equal: no spread, so no shape; 0.1 is inexact, so the mean is off by an ulp.
        let flat = [0.1; 7];
        assert_eq!(std(&flat).map(|s| s < 1e-15), Some(true));
        assert_eq!(skewness(&flat), None);
        assert_eq!(kurtosis(&flat), None);
        // Too few values for the bias correction.
        assert_eq!(skewness(&[1.0, 2.0]), None);
        assert_eq!(kurtosis(&[1.0, 2.0, 4.0]), None);
        // A zero mean has no CV.
        assert_eq!(cv(&[-1.0, 1.0]), None);
    }
}
