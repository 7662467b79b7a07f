//! How sizes are written for people: KiB (the unit every measurement is kept in) as
//! MiB. Shared by the terminal, the reports and the advice, so a figure reads the
//! same everywhere.

/// KiB as signed MiB with two decimals, never "-0.00": "+1.25", "-0.08", "+0.00". A
/// figure that two decimals would show as zero but is at least 0.5 KiB away from it
/// gets a third, so an interval bound of -4 KiB reads "-0.004", not "+0.00".
pub fn signed_mib(kib: f64) -> String {
    let mib = kib / 1024.0;
    let v = (mib * 100.0).round() / 100.0;
    if v != 0.0 {
        format!("{v:+.2}")
    } else if mib.abs() >= 0.0005 {
        format!("{:+.3}", (mib * 1000.0).round() / 1000.0)
    } else {
        "+0.00".to_string()
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
    }
}
