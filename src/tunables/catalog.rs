//! Which `glibc.malloc.*` tunables exist, with their bounds, and the checks every
//! entry passes before it can become a [`Tunable`].
//!
//! The catalog comes from `ld.so --list-tunables` of the loader this process runs
//! under (glibc >= 2.33), so it describes the glibc the children will really use. Older
//! loaders lack the option; then a built-in table stands in, and the catalog records
//! which source it used.
//!
//! Values are plain non-negative integers: decimal digits, optionally followed by `K`,
//! `M` or `G` (either case), meaning KiB, MiB and GiB (`128K` = 131072). Hex, signs,
//! separators and spaces are refused. Names are the full `glibc.malloc.NAME`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use strsim::levenshtein;

use super::Tunable;
use crate::provenance;

/// The only namespace arena-sweep sets: it measures malloc, and a loader or CPU
/// tunable would change something else than what the report compares.
pub const MALLOC_PREFIX: &str = "glibc.malloc.";

/// One tunable as the loader describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunableSpec {
    /// Full name, e.g. `glibc.malloc.arena_max`.
    pub name: String,
    /// The value ld.so reports when nothing is set (0 often means "glibc decides").
    pub default: u64,
    pub min: u64,
    pub max: u64,
}

/// Parse `ld.so --list-tunables` output, one tunable a line:
/// `glibc.malloc.arena_max: 0x0 (min: 0x1, max: 0xffffffffffffffff)`.
///
/// Numbers are hex (`0x...`, for size_t and uint64 tunables) or decimal (int32).
/// String tunables (`glibc.cpu.hwcaps:` with nothing after it) and lines that do not
/// have this shape are skipped. A negative minimum is clamped to 0, since only
/// non-negative values are ever accepted.
pub fn parse_list_tunables(text: &str) -> Vec<TunableSpec> {
    text.lines().filter_map(parse_spec_line).collect()
}

fn parse_spec_line(line: &str) -> Option<TunableSpec> {
    let (name, rest) = line.trim().split_once(':')?;
    let (default, bounds) = rest.trim().split_once('(')?;
    let bounds = bounds.trim().strip_suffix(')')?;
    let (min, max) = bounds.split_once(',')?;
    let min = min.trim().strip_prefix("min:")?;
    let max = max.trim().strip_prefix("max:")?;
    let valid_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
    if !valid_name {
        return None;
    }
    Some(TunableSpec {
        name: name.to_string(),
        default: listed_number(default)?,
        min: listed_number(min)?,
        max: listed_number(max)?,
    })
}

/// A number as ld.so prints it, clamped into u64.
fn listed_number(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).ok();
    }
    let v: i128 = s.parse().ok()?;
    Some(v.clamp(0, u64::MAX as i128) as u64)
}

const SIZE_T_MAX: u64 = usize::MAX as u64;
const INT32_MAX: u64 = i32::MAX as u64;

/// The `glibc.malloc.*` tunables of glibc 2.30 to 2.32, for loaders without
/// `--list-tunables` (glibc < 2.33).
///
/// Source: the `malloc` block of glibc's `elf/dl-tunables.list` (2.30 added `mxfast`;
/// 2.35 added `hugetlb`, which is left out because such a loader lists its own
/// tunables). Bounds not written there are those of the type: size_t on this target
/// for SIZE_T, 2^31-1 for INT_32 (whose negative values mean nothing to malloc).
/// Defaults are 0, which is what `--list-tunables` shows for all of them on
/// glibc 2.36 except `mmap_max` and `perturb`, also 0.
pub const BUILTIN_GLIBC_2_32: &[(&str, u64, u64)] = &[
    ("glibc.malloc.arena_max", 1, SIZE_T_MAX),
    ("glibc.malloc.arena_test", 1, SIZE_T_MAX),
    ("glibc.malloc.check", 0, 3),
    ("glibc.malloc.mmap_max", 0, INT32_MAX),
    ("glibc.malloc.mmap_threshold", 0, SIZE_T_MAX),
    ("glibc.malloc.mxfast", 0, SIZE_T_MAX),
    ("glibc.malloc.perturb", 0, 0xff),
    ("glibc.malloc.tcache_count", 0, SIZE_T_MAX),
    ("glibc.malloc.tcache_max", 0, SIZE_T_MAX),
    ("glibc.malloc.tcache_unsorted_limit", 0, SIZE_T_MAX),
    ("glibc.malloc.top_pad", 0, SIZE_T_MAX),
    ("glibc.malloc.trim_threshold", 0, SIZE_T_MAX),
];

/// The environment variables glibc still reads as aliases of malloc tunables
/// (`env_alias` in `elf/dl-tunables.list`). Setting one would bypass validation, so
/// profiles may not set them in `[env]`, and a name written this way gets a hint.
pub const ENV_ALIASES: &[(&str, &str)] = &[
    ("MALLOC_ARENA_MAX", "glibc.malloc.arena_max"),
    ("MALLOC_ARENA_TEST", "glibc.malloc.arena_test"),
    ("MALLOC_CHECK_", "glibc.malloc.check"),
    ("MALLOC_MMAP_MAX_", "glibc.malloc.mmap_max"),
    ("MALLOC_MMAP_THRESHOLD_", "glibc.malloc.mmap_threshold"),
    ("MALLOC_PERTURB_", "glibc.malloc.perturb"),
    ("MALLOC_TOP_PAD_", "glibc.malloc.top_pad"),
    ("MALLOC_TRIM_THRESHOLD_", "glibc.malloc.trim_threshold"),
];

/// Where a [`Catalog`] came from (recorded with the plan).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatalogSource {
    /// `--list-tunables` of this loader.
    Loader { ld_so: PathBuf },
    /// [`BUILTIN_GLIBC_2_32`], because the loader could not list its tunables.
    BuiltIn { reason: String },
    /// Text handed to [`Catalog::from_text`].
    Text,
}

impl fmt::Display for CatalogSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CatalogSource::Loader { ld_so } => write!(f, "`{} --list-tunables`", ld_so.display()),
            CatalogSource::BuiltIn { reason } => {
                write!(f, "arena-sweep's table for glibc 2.30-2.32 ({reason})")
            }
            CatalogSource::Text => f.write_str("the given tunables list"),
        }
    }
}

/// The tunables one glibc knows; validates entries against them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// Sorted by name.
    specs: Vec<TunableSpec>,
    source: CatalogSource,
}

impl Catalog {
    /// The tunables of the glibc this process (and so every child) runs under.
    pub fn for_host() -> Catalog {
        match provenance::loader_path() {
            Some(ld_so) => Catalog::from_loader_output(&provenance::list_tunables(&ld_so), &ld_so),
            None => Catalog::builtin("no dynamic loader is mapped into this process"),
        }
    }

    /// From `ld_so --list-tunables` output already captured (e.g. the host's
    /// provenance), falling back to the built-in table when it lists no malloc
    /// tunables: glibc < 2.33 prints nothing (or an error) for that option.
    pub fn from_loader_output(text: &str, ld_so: &Path) -> Catalog {
        let specs = parse_list_tunables(text);
        if specs.iter().any(|s| s.name.starts_with(MALLOC_PREFIX)) {
            Catalog::new(
                specs,
                CatalogSource::Loader {
                    ld_so: ld_so.to_path_buf(),
                },
            )
        } else {
            Catalog::builtin(&format!(
                "`{} --list-tunables` listed no glibc.malloc tunables",
                ld_so.display()
            ))
        }
    }

    /// From `--list-tunables` text, as is (tests, saved provenance).
    #[cfg(test)]
    pub fn from_text(text: &str) -> Catalog {
        Catalog::new(parse_list_tunables(text), CatalogSource::Text)
    }

    /// [`BUILTIN_GLIBC_2_32`], recording why it is used.
    pub fn builtin(reason: &str) -> Catalog {
        let specs = BUILTIN_GLIBC_2_32
            .iter()
            .map(|&(name, min, max)| TunableSpec {
                name: name.to_string(),
                default: 0,
                min,
                max,
            })
            .collect();
        Catalog::new(
            specs,
            CatalogSource::BuiltIn {
                reason: reason.to_string(),
            },
        )
    }

    fn new(mut specs: Vec<TunableSpec>, source: CatalogSource) -> Catalog {
        specs.sort_by(|a, b| a.name.cmp(&b.name));
        specs.dedup_by(|a, b| a.name == b.name);
        Catalog { specs, source }
    }

    #[cfg(test)]
    pub fn source(&self) -> &CatalogSource {
        &self.source
    }

    #[cfg(test)]
    pub fn specs(&self) -> &[TunableSpec] {
        &self.specs
    }

    pub fn spec(&self, name: &str) -> Option<&TunableSpec> {
        self.specs
            .binary_search_by(|s| s.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.specs[i])
    }

    fn malloc_names(&self) -> impl Iterator<Item = &str> {
        self.specs
            .iter()
            .map(|s| s.name.as_str())
            .filter(|n| n.starts_with(MALLOC_PREFIX))
    }

    /// Validate a `name` and an already parsed value.
    pub fn tunable(&self, name: &str, value: u64) -> Result<Tunable, String> {
        let spec = self.check_name(name)?;
        if value < spec.min || value > spec.max {
            return Err(format!(
                "{name}={value} is out of range: this glibc accepts {} to {} (ld.so would silently ignore it)",
                spec.min, spec.max
            ));
        }
        Ok(Tunable {
            name: spec.name.clone(),
            value,
        })
    }

    /// Validate one `name=value` entry, as given to `--tunable`.
    pub fn entry(&self, entry: &str) -> Result<Tunable, String> {
        check_chars(entry)?;
        let (name, value) = entry
            .split_once('=')
            .ok_or_else(|| "expected NAME=VALUE, as in glibc.malloc.arena_max=2".to_string())?;
        self.check_name(name)?;
        let value = parse_value(value)?;
        self.tunable(name, value)
    }

    /// The spec of a valid `glibc.malloc.*` name, or an error that says what is wrong
    /// and, for a near miss, what was probably meant.
    pub(crate) fn check_name(&self, name: &str) -> Result<&TunableSpec, String> {
        if name.is_empty() {
            return Err("the tunable name is empty".into());
        }
        check_chars(name)?;
        if let Some((alias, full)) = ENV_ALIASES.iter().find(|(alias, _)| *alias == name) {
            return Err(format!(
                "{alias} is the environment-variable spelling; write {full}"
            ));
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '.'))
        {
            return Err(format!(
                "`{name}`: tunable names are lower case letters, digits, `_` and `.`, not `{bad}`"
            ));
        }
        if !name.starts_with(MALLOC_PREFIX) {
            if self.spec(name).is_some()
                || (name.starts_with("glibc.") && self.closest(name).is_none())
            {
                return Err(format!(
                    "{name} is not a malloc tunable: arena-sweep only sets glibc.malloc.* tunables, because it measures malloc"
                ));
            }
            let full = format!("{MALLOC_PREFIX}{name}");
            if self.spec(&full).is_some() {
                return Err(format!("unknown tunable `{name}`; did you mean {full}?"));
            }
        }
        match self.spec(name) {
            Some(spec) => Ok(spec),
            None => {
                let hint = match self.closest(name) {
                    Some(near) => format!("; did you mean {near}?"),
                    None => format!(
                        "; this glibc has: {}",
                        self.malloc_names().collect::<Vec<_>>().join(", ")
                    ),
                };
                Err(format!(
                    "unknown tunable `{name}` (not in {}){hint}",
                    self.source
                ))
            }
        }
    }

    /// The malloc tunable nearest to `name`, if it is a plausible typo.
    fn closest(&self, name: &str) -> Option<&str> {
        let short = name.rsplit('.').next().unwrap_or(name);
        self.malloc_names()
            .map(|n| {
                let d = levenshtein(name, n).min(levenshtein(short, &n[MALLOC_PREFIX.len()..]));
                (d, n)
            })
            .filter(|&(d, n)| d <= 2.max((n.len() - MALLOC_PREFIX.len()) / 3))
            .min()
            .map(|(_, n)| n)
    }
}

/// Refuse what could change how ld.so splits or reads GLIBC_TUNABLES. CVE-2023-4911
/// was a buffer overflow in exactly that parser, so nothing odd gets near it.
fn check_chars(text: &str) -> Result<(), String> {
    for c in text.chars() {
        let why = match c {
            ':' => "`:` separates tunables in GLIBC_TUNABLES; give one tunable per entry",
            '\0' => "a NUL byte is not allowed",
            c if c.is_whitespace() => "whitespace is not allowed",
            c if !c.is_ascii() => "only ASCII is allowed",
            c if c.is_ascii_control() => "control characters are not allowed",
            _ => continue,
        };
        return Err(format!("`{}`: {why}", text.escape_default()));
    }
    Ok(())
}

/// Parse a tunable value: decimal digits with an optional `K`, `M` or `G` suffix
/// (KiB, MiB, GiB; either case).
pub fn parse_value(text: &str) -> Result<u64, String> {
    check_chars(text)?;
    if text.is_empty() {
        return Err("the value is empty".into());
    }
    if text.starts_with('-') {
        return Err(format!("`{text}`: values must not be negative"));
    }
    if text.starts_with("0x") || text.starts_with("0X") {
        return Err(format!("`{text}`: write the value in decimal (hex is not accepted), optionally with a K, M or G suffix"));
    }
    let (digits, shift) = match text.as_bytes()[text.len() - 1] {
        b'K' | b'k' => (&text[..text.len() - 1], 10),
        b'M' | b'm' => (&text[..text.len() - 1], 20),
        b'G' | b'g' => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{text}` is not a whole number; write it in decimal, optionally with a K, M or G suffix (KiB, MiB, GiB)"
        ));
    }
    digits
        .parse::<u64>()
        .ok()
        .and_then(|v| v.checked_mul(1u64 << shift))
        .ok_or_else(|| format!("`{text}` is too large (the maximum is {})", u64::MAX))
}

#[cfg(test)]
pub(crate) mod tests;
