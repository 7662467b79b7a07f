//! Thread-count grids: `8`, `1,2,4,8`, `1..=8`, `1..=64:x2` (geometric), and any mix
//! of those separated by commas. Values are sorted and de-duplicated.

use std::fmt;

/// Largest thread count one axis accepts; the thread-limit check catches smaller
/// values that still do not fit the machine.
pub const MAX_THREADS: u32 = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridError(pub String);

impl fmt::Display for GridError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GridError {}

fn number(s: &str) -> Result<u32, GridError> {
    let v: u32 = s
        .trim()
        .parse()
        .map_err(|_| GridError(format!("`{}` is not a whole number", s.trim())))?;
    if v == 0 {
        return Err(GridError("0 threads is not a grid value; thread counts start at 1".into()));
    }
    if v > MAX_THREADS {
        return Err(GridError(format!("{v} is above the maximum of {MAX_THREADS} threads")));
    }
    Ok(v)
}

/// Parse a grid expression.
pub fn parse_grid(text: &str) -> Result<Vec<u32>, GridError> {
    if text.trim().is_empty() {
        return Err(GridError("empty grid; give a number, a list (1,2,4), a range (1..=8) or a geometric range (1..=64:x2)".into()));
    }
    let mut out = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err(GridError(format!("empty item in `{text}`")));
        }
        match part.split_once("..=") {
            None => {
                if part.contains("..") {
                    return Err(GridError(format!("`{part}`: ranges are written with `..=`, as in 1..=8")));
                }
                out.push(number(part)?)
            }
            Some((lo, rest)) => {
                let (hi, step) = match rest.split_once(':') {
                    None => (rest, None),
                    Some((hi, step)) => (hi, Some(step.trim())),
                };
                let (lo, hi) = (number(lo)?, number(hi)?);
                if lo > hi {
                    return Err(GridError(format!("`{part}`: the range runs backwards ({lo} > {hi})")));
                }
                match step {
                    None => out.extend(lo..=hi),
                    Some(s) => {
                        let factor = s
                            .strip_prefix('x')
                            .ok_or_else(|| GridError(format!("`{part}`: a step is written `:xK`, as in 1..=64:x2")))?;
                        let factor: u32 = factor
                            .parse()
                            .map_err(|_| GridError(format!("`{part}`: `{factor}` is not a whole-number factor")))?;
                        if factor < 2 {
                            return Err(GridError(format!("`{part}`: the factor must be at least 2")));
                        }
                        let mut v = lo as u64;
                        while v <= hi as u64 {
                            out.push(v as u32);
                            v *= factor as u64;
                        }
                    }
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    if out.len() > 1000 {
        return Err(GridError(format!("`{text}` expands to {} values; keep a grid axis under 1000", out.len())));
    }
    Ok(out)
}

/// Format a grid back compactly (for labels and the plan).
pub fn format_grid(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse_grid("8").unwrap(), vec![8]);
        assert_eq!(parse_grid("1,2,4,8").unwrap(), vec![1, 2, 4, 8]);
        assert_eq!(parse_grid("1..=4").unwrap(), vec![1, 2, 3, 4]);
        assert_eq!(parse_grid("1..=64:x2").unwrap(), vec![1, 2, 4, 8, 16, 32, 64]);
        assert_eq!(parse_grid("3..=30:x3").unwrap(), vec![3, 9, 27]);
        assert_eq!(parse_grid("50, 1..=2, 2").unwrap(), vec![1, 2, 50]);
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(parse_grid("0").unwrap_err().0.contains("start at 1"));
        assert!(parse_grid("1..8").unwrap_err().0.contains("..="));
        assert!(parse_grid("8..=1").unwrap_err().0.contains("backwards"));
        assert!(parse_grid("1..=8:2").unwrap_err().0.contains(":xK"));
        assert!(parse_grid("1..=8:x1").unwrap_err().0.contains("at least 2"));
        assert!(parse_grid("a").unwrap_err().0.contains("not a whole number"));
        assert!(parse_grid("1,,2").unwrap_err().0.contains("empty item"));
        assert!(parse_grid("").is_err());
    }
}
