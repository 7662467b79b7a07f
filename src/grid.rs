//! Thread-count grids, as flags and matrix files give them: `8`, `1,2,4,8`, `1..=8`,
//! `1..=64:x2` (geometric), and any mix of those separated by commas. Grid values are
//! sorted and de-duplicated. Also the `PxR` cell of `--timeseries-cell`.
//!
//! A leaf: `cli` parses its flags with it, and `matrix` re-exports it.

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
        return Err(GridError(
            "0 threads is not a grid value; thread counts start at 1".into(),
        ));
    }
    if v > MAX_THREADS {
        return Err(GridError(format!(
            "{v} is above the maximum of {MAX_THREADS} threads"
        )));
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
                    return Err(GridError(format!(
                        "`{part}`: ranges are written with `..=`, as in 1..=8"
                    )));
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
                    return Err(GridError(format!(
                        "`{part}`: the range runs backwards ({lo} > {hi})"
                    )));
                }
                match step {
                    None => out.extend(lo..=hi),
                    Some(s) => {
                        let factor = s.strip_prefix('x').ok_or_else(|| {
                            GridError(format!(
                                "`{part}`: a step is written `:xK`, as in 1..=64:x2"
                            ))
                        })?;
                        let factor: u32 = factor.parse().map_err(|_| {
                            GridError(format!("`{part}`: `{factor}` is not a whole-number factor"))
                        })?;
                        if factor < 2 {
                            return Err(GridError(format!(
                                "`{part}`: the factor must be at least 2"
                            )));
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
        return Err(GridError(format!(
            "`{text}` expands to {} values; keep a grid axis under 1000",
            out.len()
        )));
    }
    Ok(out)
}

/// Parse `PxR` (Python threads x Rust threads), as `--timeseries-cell` takes it.
pub fn parse_cell(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("`{s}` is not a cell like 8x50 (Python threads x Rust threads)");
    let (p, r) = s.trim().split_once(['x', 'X']).ok_or_else(bad)?;
    let p: u32 = p.trim().parse().map_err(|_| bad())?;
    let r: u32 = r.trim().parse().map_err(|_| bad())?;
    if p == 0 || r == 0 {
        return Err(bad());
    }
    Ok((p, r))
}

/// Format a grid back compactly (for labels and the plan).
#[cfg(test)]
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
        assert_eq!(
            parse_grid("1..=64:x2").unwrap(),
            vec![1, 2, 4, 8, 16, 32, 64]
        );
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
        assert!(parse_grid("a")
            .unwrap_err()
            .0
            .contains("not a whole number"));
        assert!(parse_grid("1,,2").unwrap_err().0.contains("empty item"));
        assert!(parse_grid("").is_err());
    }

    #[test]
    fn format_round_trips() {
        let v = parse_grid("1..=64:x2,50").unwrap();
        assert_eq!(format_grid(&v), "1,2,4,8,16,32,50,64");
        assert_eq!(parse_grid(&format_grid(&v)).unwrap(), v);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// One grid item: a number, a range or a geometric range, with its bounds.
        fn item() -> impl Strategy<Value = (String, u32, u32, Option<u32>)> {
            let n = 1u32..=5000;
            prop_oneof![
                n.clone().prop_map(|v| (v.to_string(), v, v, None)),
                (n.clone(), 0u32..200).prop_map(|(lo, len)| (
                    format!("{lo}..={}", lo + len),
                    lo,
                    lo + len,
                    None
                )),
                (n, 0u32..100_000, 2u32..=10).prop_map(|(lo, len, k)| {
                    let hi = (lo + len).min(MAX_THREADS);
                    (format!("{lo}..={hi}:x{k}"), lo, hi, Some(k))
                }),
            ]
        }

        proptest! {
            #[test]
            fn grids_are_sorted_unique_and_within_their_items(items in prop::collection::vec(item(), 1..5)) {
                let text = items.iter().map(|i| i.0.clone()).collect::<Vec<_>>().join(",");
                let grid = parse_grid(&text).unwrap();
                prop_assert!(grid.windows(2).all(|w| w[0] < w[1]), "not sorted and unique: {grid:?}");
                for v in &grid {
                    prop_assert!(items.iter().any(|&(_, lo, hi, _)| lo <= *v && *v <= hi), "{v} from no item of {text}");
                }
                // Every item's own values are in the union.
                for (item_text, ..) in &items {
                    for v in parse_grid(item_text).unwrap() {
                        prop_assert!(grid.binary_search(&v).is_ok(), "{v} of {item_text} missing");
                    }
                }
            }

            #[test]
            fn geometric_ranges_follow_the_factor(lo in 1u32..=1000, len in 0u32..=MAX_THREADS, k in 2u32..=16) {
                let hi = lo.saturating_add(len).min(MAX_THREADS);
                let grid = parse_grid(&format!("{lo}..={hi}:x{k}")).unwrap();
                prop_assert_eq!(grid[0], lo);
                prop_assert!(grid.windows(2).all(|w| w[1] == w[0] * k));
                // The next step would leave the range.
                prop_assert!(u64::from(*grid.last().unwrap()) * u64::from(k) > u64::from(hi));
            }

            #[test]
            fn plain_ranges_are_contiguous(lo in 1u32..=MAX_THREADS, len in 0u32..=998) {
                let hi = lo.saturating_add(len).min(MAX_THREADS);
                let grid = parse_grid(&format!("{lo}..={hi}")).unwrap();
                prop_assert_eq!(grid, (lo..=hi).collect::<Vec<_>>());
            }

            #[test]
            fn out_of_bounds_values_are_refused(v in (MAX_THREADS + 1)..=u32::MAX) {
                let err = parse_grid(&v.to_string()).unwrap_err();
                prop_assert!(err.0.contains("above the maximum"), "{}", err);
                let range = format!("1..={v}");
                prop_assert!(parse_grid(&range).is_err());
            }

            #[test]
            fn arbitrary_text_never_panics(text in "[0-9a-z.,:= x-]{0,24}") {
                if let Ok(grid) = parse_grid(&text) {
                    prop_assert!(!grid.is_empty());
                    prop_assert!(grid.iter().all(|&v| (1..=MAX_THREADS).contains(&v)));
                }
            }
        }
    }
}
