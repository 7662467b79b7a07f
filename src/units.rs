//! How sizes and counts are written for people, in one place: every measurement is
//! kept in KiB and shown in MiB by the functions here, so a figure reads the same in
//! the terminal, the reports, the advice and `inspect`.
//!
//! - [`mib`]: "15.23 MiB", two decimals and the unit (sentences, terminal tables);
//! - [`mib_value`]: "15.23", the same without the unit (a range or interval whose
//!   unit is written once: "1.20 -> 1.45 MiB", "[0.10..0.20]");
//! - [`mib_short`]: "0.45", "12.3", "123": about three significant figures, for
//!   heatmap cells, figure labels and report tables whose header names the unit;
//! - [`signed_mib`]: "+1.25", "-0.004": a change, its sign always written;
//! - [`count`]: a count that is a median over runs, as a whole number.
//!
//! None of them writes "-0.00".

/// KiB, from any of the integer or float types measurements are kept in.
pub trait Kib {
    fn kib(self) -> f64;
}

impl Kib for f64 {
    fn kib(self) -> f64 {
        self
    }
}

impl Kib for u64 {
    fn kib(self) -> f64 {
        self as f64
    }
}

impl Kib for i64 {
    fn kib(self) -> f64 {
        self as f64
    }
}

/// KiB in MiB, as a number (JSON, plot coordinates).
pub fn to_mib(kib: impl Kib) -> f64 {
    kib.kib() / 1024.0
}

/// "15.23 MiB".
pub fn mib(kib: impl Kib) -> String {
    format!("{} MiB", mib_value(kib))
}

/// "15.23": two decimals, no unit.
pub fn mib_value(kib: impl Kib) -> String {
    let m = to_mib(kib);
    // -0.001 MiB prints as "0.00", not "-0.00".
    let m = if m.abs() < 0.005 { 0.0 } else { m };
    format!("{m:.2}")
}

/// Bytes as [`mib`] (rounded down to whole KiB first, as /proc counts).
pub fn mib_of_bytes(bytes: u64) -> String {
    mib(bytes / 1024)
}

/// "0.45", "12.3", "123": two decimals below 10 MiB, one below 100, none above.
pub fn mib_short(kib: impl Kib) -> String {
    let m = to_mib(kib);
    let m = if m.abs() < 0.005 { 0.0 } else { m };
    if m.abs() >= 100.0 {
        format!("{m:.0}")
    } else if m.abs() >= 10.0 {
        format!("{m:.1}")
    } else {
        format!("{m:.2}")
    }
}

/// KiB as signed MiB with two decimals, never "-0.00": "+1.25", "-0.08", "+0.00". A
/// figure that two decimals would show as zero but is at least 0.5 KiB away from it
/// gets a third, so an interval bound of -4 KiB reads "-0.004", not "+0.00".
pub fn signed_mib(kib: impl Kib) -> String {
    let mib = to_mib(kib);
    let v = (mib * 100.0).round() / 100.0;
    if v != 0.0 {
        format!("{v:+.2}")
    } else if mib.abs() >= 0.0005 {
        format!("{:+.3}", (mib * 1000.0).round() / 1000.0)
    } else {
        "+0.00".to_string()
    }
}

/// A count that is a median over runs (threads, arena heaps), as a whole number: the
/// median of an even number of runs may fall between two counts, and half a thread
/// means nothing to a reader, so it is rounded (half up). The runs' range, where it
/// is shown, says how far they spread.
pub fn count(median: f64) -> String {
    format!("{:.0}", median.round())
}

/// [`count`] with the runs' range when they differ: "33 [32..34]".
pub fn count_range(median: f64, min: f64, max: f64, runs: usize) -> String {
    if runs > 1 && min != max {
        format!("{} [{min:.0}..{max:.0}]", count(median))
    } else {
        count(median)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_negative_zero() {
        assert_eq!(signed_mib(-0.4), "+0.00");
        // Two decimals would say zero; the bound is below it.
        assert_eq!(signed_mib(-4.0), "-0.004");
        assert_eq!(signed_mib(1.0), "+0.001");
        assert_eq!(signed_mib(-10.24), "-0.01");
        assert_eq!(signed_mib(2048.0), "+2.00");
        assert_eq!(signed_mib(-1536.0), "-1.50");
        assert_eq!(mib(-1.0), "0.00 MiB");
        assert_eq!(mib_short(-1.0), "0.00");
    }

    #[test]
    fn sizes_read_alike_from_any_kib_type() {
        assert_eq!(mib(15_595u64), "15.23 MiB");
        assert_eq!(mib(15_595.0), "15.23 MiB");
        assert_eq!(mib(-512i64), "-0.50 MiB");
        assert_eq!(mib_value(1536.0), "1.50");
        assert_eq!(mib_of_bytes(3 << 20), "3.00 MiB");
        assert_eq!(mib_short(460.8), "0.45");
        assert_eq!(mib_short(12.34 * 1024.0), "12.3");
        assert_eq!(mib_short(123.4 * 1024.0), "123");
        assert_eq!(mib_short(360.0), "0.35");
        assert_eq!(mib_short(43_673.6), "42.6");
        assert_eq!(mib_short(154_593.0), "151");
        assert_eq!(mib_short(-512.0), "-0.50");
        assert_eq!(to_mib(2048u64), 2.0);
    }

    #[test]
    fn counts_are_whole_numbers() {
        assert_eq!(count(32.5), "33");
        assert_eq!(count(3.0), "3");
        assert_eq!(count_range(32.5, 31.0, 34.0, 4), "33 [31..34]");
        assert_eq!(count_range(9.0, 9.0, 9.0, 3), "9");
        assert_eq!(count_range(9.0, 8.0, 9.0, 1), "9");
    }
}
