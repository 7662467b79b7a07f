//! Unit tests of the flag value parsers and of the clap definition.

use super::*;

#[test]
fn sizes() {
    assert_eq!(parse_size_kib("512M"), Ok(512 * 1024));
    assert_eq!(parse_size_kib("2G"), Ok(2 * 1024 * 1024));
    assert_eq!(parse_size_kib("64k"), Ok(64));
    assert_eq!(parse_size_kib("1048576"), Ok(1024));
    assert!(parse_size_kib("lots").is_err());
    assert!(parse_size_kib("0M").is_err());
    assert!(parse_size_kib("99999999999999999G").is_err());
}

#[test]
fn durations() {
    assert_eq!(parse_duration("10ms").unwrap(), Duration::from_millis(10));
    assert_eq!(parse_duration("10").unwrap(), Duration::from_millis(10));
    assert_eq!(parse_duration("0.5s").unwrap(), Duration::from_millis(500));
    assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
    assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
    assert!(parse_duration("0ms").is_err());
    assert!(parse_duration("5 parsecs").is_err());
    assert!(parse_duration("").is_err());
}

#[test]
fn watch_intervals_are_seconds() {
    assert_eq!(parse_watch_secs("2").unwrap(), Duration::from_secs(2));
    assert_eq!(parse_watch_secs("0.5").unwrap(), Duration::from_millis(500));
    for bad in ["0", "-1", "NaN", "inf", "2s", "100000"] {
        assert!(parse_watch_secs(bad).is_err(), "{bad}");
    }
}

#[test]
fn clap_definition_is_consistent() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
}
