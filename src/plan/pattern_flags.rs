//! `--pattern` and `--pattern-params` -> the plan's patterns, checked with the
//! extension's own parser, and refused when this host cannot allocate their blocks or
//! a call's bytes overflow, before anything is spawned.

use anyhow::Result;

use super::PatternSpec;
use crate::error::usage;

/// `--pattern NAME[:PARAMS]` (repeatable) with `--pattern-params` for those without
/// their own parameters. Checked with the extension's own parser.
pub(super) fn parse_patterns(flags: &[String], default_params: &str) -> Result<Vec<PatternSpec>> {
    let mut out: Vec<PatternSpec> = Vec::new();
    for flag in flags {
        let (name, params) = match flag.split_once(':') {
            Some((n, p)) => (n.trim(), p.trim()),
            None => (flag.trim(), default_params),
        };
        let spec = PatternSpec {
            name: name.to_string(),
            params: params.to_string(),
        };
        if let Err(e) = check_pattern_params(&spec.name, &spec.params) {
            let flag_name = if flag.contains(':') || default_params.is_empty() {
                "--pattern"
            } else {
                "--pattern-params"
            };
            return Err(usage(format!("{flag_name} {flag}: {e}")));
        }
        if out.iter().any(|p| p.name == spec.name) {
            return Err(usage(format!(
                "--pattern {name} is given twice; one grid point per pattern name keeps results apart"
            )));
        }
        out.push(spec);
    }
    Ok(out)
}

/// The largest single allocation this host lets a process make, in bytes, from
/// `/proc/meminfo` and `vm.overcommit_memory`: RAM + swap under the kernel's heuristic
/// overcommit (mode 0), the commit limit under mode 2, no host limit under mode 1.
/// None when it cannot be read.
fn host_allocation_limit() -> Option<(u64, String)> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<u64> {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
    };
    let mode = std::fs::read_to_string("/proc/sys/vm/overcommit_memory")
        .ok()?
        .trim()
        .to_string();
    match mode.as_str() {
        "1" => None,
        "2" => Some((
            field("CommitLimit:")?,
            "the commit limit (vm.overcommit_memory=2)".into(),
        )),
        _ => {
            let (ram, swap) = (field("MemTotal:")?, field("SwapTotal:").unwrap_or(0));
            Some((ram + swap, "RAM + swap".into()))
        }
    }
}

/// Refuse patterns whose blocks this host cannot allocate, or whose bytes per call
/// overflow, before anything is spawned.
pub(super) fn check_patterns_fit(patterns: &[PatternSpec], max_rust_threads: u32) -> Result<()> {
    let limit = host_allocation_limit();
    for spec in patterns {
        let Ok(w) = crate::patterns::parse(&spec.name, &spec.params) else {
            continue; // a workload's pseudo-pattern, checked elsewhere
        };
        let flag = if spec.params.is_empty() {
            spec.name.clone()
        } else {
            format!("{}:{}", spec.name, spec.params)
        };
        let block = w.pattern.largest_block() as u64;
        if let Some((max, what)) = &limit {
            if block > *max {
                return Err(usage(format!(
                    "--pattern {flag}: a block of {} GiB cannot be allocated on this host ({what} is {} GiB)",
                    block >> 30,
                    max >> 30
                )));
            }
        }
        let per_call = w
            .pattern
            .bytes_per_thread()
            .and_then(|b| (b as u64).checked_mul(u64::from(max_rust_threads)));
        if per_call.is_none() {
            return Err(usage(format!(
                "--pattern {flag}: the bytes one call asks for ({max_rust_threads} Rust threads) overflow a 64-bit count"
            )));
        }
    }
    Ok(())
}

/// Check pattern parameters with the same parser the extension uses.
fn check_pattern_params(pattern: &str, params: &str) -> std::result::Result<(), String> {
    crate::patterns::parse(pattern, params)
        .map(|_| ())
        .map_err(|e| e.0)
}
