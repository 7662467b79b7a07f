//! Parsers for flag values: sizes, durations, thread-count grids, bindings and plain numbers,
//! each with an error message that names the value given.

use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};

use crate::model::Binding;

/// `--binding`: one of [`Binding::NAMES`], refused (and completed) as clap's list of
/// possible values does, then turned into its [`Binding`].
pub(super) fn binding_parser() -> impl TypedValueParser<Value = Binding> {
    PossibleValuesParser::new(Binding::NAMES)
        .map(|name| Binding::parse(&name).expect("clap let through only Binding::NAMES"))
}

/// A parsed thread-count grid (a newtype, so clap takes it as one value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid(pub Vec<u32>);

pub(super) fn parse_grid_arg(s: &str) -> Result<Grid, String> {
    crate::grid::parse_grid(s).map(Grid).map_err(|e| e.0)
}

/// "512M", "2G", "100000K" (KiB, MiB, GiB) -> KiB; a bare number is bytes.
pub fn parse_size_kib(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (&t[..i], 1u64),
        Some((i, 'M' | 'm')) => (&t[..i], 1024),
        Some((i, 'G' | 'g')) => (&t[..i], 1024 * 1024),
        _ => (t, 0),
    };
    let v: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a size like 512M or 2G"))?;
    let kib = if mult == 0 {
        v / 1024
    } else {
        v.checked_mul(mult)
            .ok_or_else(|| format!("`{s}` is too large"))?
    };
    if kib == 0 {
        return Err(format!("`{s}` is below 1 KiB"));
    }
    Ok(kib)
}

/// Seconds for `inspect --watch`: a positive number, at most a day.
pub(super) fn parse_watch_secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds, like 2 or 0.5"))?;
    if !(0.05..=86400.0).contains(&v) {
        return Err(format!("`{s}`: give between 0.05 and 86400 seconds"));
    }
    Ok(Duration::from_secs_f64(v))
}

/// Like [`parse_duration`], and also accepts zero.
pub fn parse_duration_or_zero(s: &str) -> Result<Duration, String> {
    duration(s, true)
}

/// "10ms", "0.5s", "2m", "250us"; a bare number is milliseconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    duration(s, false)
}

fn duration(s: &str, allow_zero: bool) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 10ms, 0.5s or 2m"))?;
    let secs = match unit.trim() {
        "" | "ms" => v / 1e3,
        "us" => v / 1e6,
        "s" => v,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{s}`; use us, ms, s, m or h"
            ))
        }
    };
    if !secs.is_finite() || secs < 0.0 || (secs == 0.0 && !allow_zero) {
        return Err(format!("`{s}` must be a positive duration"));
    }
    if secs > 7.0 * 86400.0 {
        return Err(format!("`{s}` is longer than a week"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A percentage: a finite number from 0 to 100.
pub(super) fn parse_percent(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=100.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a percentage from 0 to 100")),
    }
}

/// A finite number >= 0.
pub(super) fn parse_non_negative(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a number >= 0")),
    }
}
