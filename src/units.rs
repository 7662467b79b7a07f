//! How sizes are written for people: KiB (the unit every measurement is kept in) as
//! MiB. Shared by the terminal, the reports and the advice, so a figure reads the
//! same everywhere.

/// KiB as signed MiB with two decimals, never "-0.00": "+1.25", "-0.08", "+0.00".
pub fn signed_mib(kib: f64) -> String {
    let v = (kib / 1024.0 * 100.0).round() / 100.0;
    if v == 0.0 {
        "+0.00".to_string()
    } else {
        format!("{v:+.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_negative_zero() {
        assert_eq!(signed_mib(-1.0), "+0.00");
        assert_eq!(signed_mib(-10.24), "-0.01");
        assert_eq!(signed_mib(2048.0), "+2.00");
        assert_eq!(signed_mib(-1536.0), "-1.50");
    }
}
