//! A pattern's name and `key=value` parameters, parsed and checked: unknown names
//! and keys, repeated keys, non-integers, zero where at least 1 is needed,
//! percentages over 100, min above max, and blocks or byte counts that cannot be
//! allocated are refused here, with a message naming the parameter.

use super::{ParamError, Pattern, Workload, MAX_BLOCK, MIB, PATTERN_NAMES};

fn allowed_keys(name: &str) -> &'static [&'static str] {
    match name {
        "seed" | "churn" => &["size", "count"],
        "fragment" => &["size", "count", "keep_every"],
        "retain" => &["size", "count", "retain_pct"],
        "large" => &["min", "max", "count"],
        "mixed" => &["requests", "burst", "min", "max", "retain_pct"],
        "strand" => &["size", "count", "keep"],
        "crash" => &["mode"],
        _ => &[],
    }
}

/// Parse `name` and `params` (`key=value,...`; empty for defaults).
pub fn parse(name: &str, params: &str) -> Result<Workload, ParamError> {
    if !PATTERN_NAMES.contains(&name) {
        return Err(ParamError(format!(
            "unknown pattern `{name}`; expected one of {}",
            PATTERN_NAMES.join(", ")
        )));
    }
    let p = Params::split(name, params)?;
    let pattern = p.pattern(name)?;
    let largest = pattern.largest_block();
    if largest > MAX_BLOCK {
        return Err(ParamError(format!(
            "pattern `{name}` would ask for a block of {largest} bytes, more than can be allocated (at most {MAX_BLOCK} bytes, 1 TiB)"
        )));
    }
    if pattern.bytes_per_thread().is_none() {
        return Err(ParamError(format!(
            "pattern `{name}`: its sizes times its counts overflow a 64-bit byte count"
        )));
    }
    Ok(Workload {
        pattern,
        seed: p.get("seed", 1)? as u64,
        store_cap: p.get("store_cap", 64 * MIB)?,
    })
}

/// The `key=value` pairs given, each key known to the pattern and given once.
struct Params(Vec<(String, String)>);

impl Params {
    fn split(name: &str, params: &str) -> Result<Params, ParamError> {
        let mut kv: Vec<(String, String)> = Vec::new();
        for item in params.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = item.split_once('=').ok_or_else(|| {
                ParamError(format!("pattern parameter `{item}` is not key=value"))
            })?;
            let (k, v) = (k.trim(), v.trim());
            let known = allowed_keys(name).contains(&k) || k == "seed" || k == "store_cap";
            if !known {
                return Err(ParamError(format!(
                    "pattern `{name}` has no parameter `{k}`; it takes {}, seed, store_cap",
                    allowed_keys(name).join(", ")
                )));
            }
            if kv.iter().any(|(seen, _)| seen == k) {
                return Err(ParamError(format!(
                    "pattern parameter `{k}` is given twice"
                )));
            }
            kv.push((k.to_string(), v.to_string()));
        }
        Ok(Params(kv))
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A count or size, `default` when not given.
    fn get(&self, key: &str, default: usize) -> Result<usize, ParamError> {
        match self.text(key) {
            None => Ok(default),
            Some(v) => v.parse::<usize>().map_err(|_| {
                ParamError(format!(
                    "pattern parameter `{key}={v}` is not a non-negative integer"
                ))
            }),
        }
    }

    /// At least 1.
    fn positive(&self, key: &str, default: usize) -> Result<usize, ParamError> {
        let v = self.get(key, default)?;
        if v == 0 {
            return Err(ParamError(format!(
                "pattern parameter `{key}` must be at least 1"
            )));
        }
        Ok(v)
    }

    /// A percentage, 0 to 100.
    fn pct(&self, key: &str, default: usize) -> Result<usize, ParamError> {
        let v = self.get(key, default)?;
        if v > 100 {
            return Err(ParamError(format!(
                "pattern parameter `{key}={v}` is a percentage (0..=100)"
            )));
        }
        Ok(v)
    }

    /// `min` and `max`, both at least 1, min not above max.
    fn range(&self, default_min: usize, default_max: usize) -> Result<(usize, usize), ParamError> {
        let (min, max) = (
            self.positive("min", default_min)?,
            self.positive("max", default_max)?,
        );
        if min > max {
            return Err(ParamError(format!(
                "pattern parameter min={min} is above max={max}"
            )));
        }
        Ok((min, max))
    }

    /// The pattern `name` with these parameters and the table's defaults.
    fn pattern(&self, name: &str) -> Result<Pattern, ParamError> {
        Ok(match name {
            "seed" => Pattern::Seed {
                size: self.positive("size", 64 * MIB)?,
                count: self.get("count", 1)?,
            },
            "churn" => Pattern::Churn {
                size: self.positive("size", 256)?,
                count: self.get("count", 10_000)?,
            },
            "fragment" => Pattern::Fragment {
                size: self.positive("size", 16 * 1024)?,
                count: self.get("count", 512)?,
                keep_every: self.positive("keep_every", 64)?,
            },
            "retain" => Pattern::Retain {
                size: self.positive("size", 4096)?,
                count: self.get("count", 2048)?,
                retain_pct: self.pct("retain_pct", 10)?,
            },
            "large" => {
                let (min, max) = self.range(128 * 1024, 32 * MIB)?;
                Pattern::Large {
                    min,
                    max,
                    count: self.get("count", 4)?,
                }
            }
            "mixed" => {
                let (min, max) = self.range(32, 256 * 1024)?;
                Pattern::Mixed {
                    requests: self.get("requests", 8)?,
                    burst: self.get("burst", 64)?,
                    min,
                    max,
                    retain_pct: self.pct("retain_pct", 1)?,
                }
            }
            "strand" => Pattern::Strand {
                size: self.positive("size", 64 * 1024)?,
                count: self.get("count", 256)?,
                keep: self.positive("keep", 64)?,
            },
            "crash" => match self.text("mode").unwrap_or("abort") {
                "abort" => Pattern::Crash { abort: true },
                "segv" => Pattern::Crash { abort: false },
                other => {
                    return Err(ParamError(format!(
                        "crash mode `{other}` is not `abort` or `segv`"
                    )))
                }
            },
            _ => unreachable!("checked against PATTERN_NAMES in parse"),
        })
    }
}
