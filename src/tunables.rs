//! Allocator profiles: which malloc a child uses and how it is tuned.
//!
//! A [`Profile`] has a name, a description, `glibc.malloc.*` tunables, an allocator,
//! and extra environment variables. Profiles come from `tunables/*.toml`
//! ([`load_profile`], [`find_profile`]), from repeated `--tunable` flags
//! ([`adhoc_profile`]), or from [`Profile::glibc_default`].
//!
//! [`render`] is the only place a `GLIBC_TUNABLES` value is produced, and it only
//! sees [`Tunable`]s, which can only be made by validating against a [`Catalog`] (the
//! host's `ld.so --list-tunables`): a known `glibc.malloc.*` name and an integer
//! within that tunable's bounds. CVE-2023-4911 was a buffer overflow in ld.so's
//! parsing of this variable, so nothing unvalidated is ever passed to a child.
//!
//! Submodules: `catalog` (what the host's glibc accepts), `file` (profile files).
//! [`PlanError`] (errors with `file:line`) lives in `crate::located`, below `error`.

mod catalog;
mod file;

use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};

use crate::model::Variant;

pub use crate::located::{PlanError, Source};
pub use catalog::{parse_list_tunables, parse_value, Catalog, MALLOC_PREFIX};
#[cfg(test)]
pub use file::parse_profile;
pub(crate) use file::{check_name, find_named_file};
pub use file::{default_dirs, find_profile};

/// Which malloc serves the extension's Rust allocations.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Allocator {
    /// The system glibc malloc.
    Glibc,
    /// The extension built with tikv-jemallocator as its global allocator.
    Jemalloc,
    /// A system allocator library preloaded into the whole process.
    Preload(String),
}

impl Allocator {
    /// The extension variant this allocator needs.
    pub fn variant(&self) -> Variant {
        match self {
            Allocator::Jemalloc => Variant::Jemalloc,
            _ => Variant::Glibc,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Allocator::Glibc => "glibc".into(),
            Allocator::Jemalloc => "jemalloc".into(),
            Allocator::Preload(lib) => format!("preload:{lib}"),
        }
    }

    /// Parse `glibc`, `jemalloc` or `preload:/absolute/path/lib.so` (the inverse of
    /// [`Allocator::label`]). A preload library must exist, and its path may hold
    /// nothing that LD_PRELOAD would split on (space, `:`) or that is not plain ASCII.
    pub fn parse(text: &str) -> Result<Allocator, String> {
        match text {
            "glibc" => Ok(Allocator::Glibc),
            "jemalloc" => Ok(Allocator::Jemalloc),
            _ => {
                let Some(lib) = text.strip_prefix("preload:") else {
                    return Err(format!(
                        "unknown allocator `{}`: use \"glibc\", \"jemalloc\" or \"preload:/absolute/path/lib.so\"",
                        text.escape_default()
                    ));
                };
                if let Some(bad) = lib.chars().find(|c| !c.is_ascii_graphic() || *c == ':') {
                    return Err(format!(
                        "preload library `{}`: LD_PRELOAD cannot carry `{}` (paths are split on spaces and `:`; only printable ASCII is accepted)",
                        lib.escape_default(),
                        bad.escape_default()
                    ));
                }
                if !lib.starts_with('/') {
                    return Err(format!("preload library `{lib}`: give an absolute path"));
                }
                if !std::path::Path::new(lib).is_file() {
                    return Err(format!(
                        "preload library `{lib}` does not exist on this host"
                    ));
                }
                Ok(Allocator::Preload(lib.to_string()))
            }
        }
    }
}

/// One validated `glibc.malloc.<name>=<value>` entry.
///
/// The fields are private: a `Tunable` comes from [`Catalog::tunable`] or
/// [`Catalog::entry`], or is read back from a plan, where its name is checked again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "TunableRepr")]
pub struct Tunable {
    /// Full name, e.g. `glibc.malloc.arena_max`.
    name: String,
    value: u64,
}

impl Tunable {
    #[cfg(test)]
    pub fn name(&self) -> &str {
        &self.name
    }

    #[cfg(test)]
    pub fn value(&self) -> u64 {
        self.value
    }
}

/// A `Tunable` as written in a saved plan.
#[derive(Deserialize)]
struct TunableRepr {
    name: String,
    value: u64,
}

impl TryFrom<TunableRepr> for Tunable {
    type Error = String;

    /// A saved plan was validated when it was made; this re-checks only the syntax that
    /// keeps the rendered string safe, since the catalog may belong to another host.
    fn try_from(t: TunableRepr) -> Result<Self, String> {
        let short = t.name.strip_prefix(MALLOC_PREFIX).unwrap_or_default();
        if short.is_empty()
            || !short
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(format!(
                "`{}` is not a glibc.malloc tunable name",
                t.name.escape_default()
            ));
        }
        Ok(Tunable {
            name: t.name,
            value: t.value,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub tunables: Vec<Tunable>,
    pub allocator: Allocator,
    /// Extra environment variables for the child, in order.
    pub env: Vec<(String, String)>,
}

impl Profile {
    /// glibc's malloc as it comes: no tunables.
    pub fn glibc_default() -> Self {
        Profile {
            name: "glibc-default".into(),
            description:
                "glibc malloc with no tunables: the baseline every other profile is compared with"
                    .into(),
            tunables: Vec::new(),
            allocator: Allocator::Glibc,
            env: Vec::new(),
        }
    }

    /// The GLIBC_TUNABLES value for this profile ("" when it sets none).
    pub fn glibc_tunables(&self) -> String {
        render(&self.tunables)
    }

    /// The environment the profile adds to a child.
    pub fn child_env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        let rendered = self.glibc_tunables();
        if !rendered.is_empty() {
            env.push(("GLIBC_TUNABLES".to_string(), rendered));
        }
        if let Allocator::Preload(lib) = &self.allocator {
            env.push(("LD_PRELOAD".to_string(), lib.clone()));
        }
        env.extend(self.env.iter().cloned());
        env
    }
}

/// Render validated tunables as `name=value:name=value`, in the order given.
pub fn render(tunables: &[Tunable]) -> String {
    tunables
        .iter()
        .map(|t| format!("{}={}", t.name, t.value))
        .collect::<Vec<_>>()
        .join(":")
}

/// The same settings as glibc's environment aliases, `MALLOC_ARENA_MAX=2
/// MALLOC_TRIM_THRESHOLD_=131072`, for a glibc older than 2.26, which reads no
/// GLIBC_TUNABLES. `None` when one of them has no alias (tcache, mxfast, ...).
pub fn render_env_aliases(tunables: &[Tunable]) -> Option<String> {
    tunables
        .iter()
        .map(|t| {
            catalog::ENV_ALIASES
                .iter()
                .find(|(_, full)| *full == t.name)
                .map(|(alias, _)| format!("{alias}={}", t.value))
        })
        .collect::<Option<Vec<_>>>()
        .map(|v| v.join(" "))
}

/// The profile for repeated `--tunable glibc.malloc.NAME=VALUE` flags, named "adhoc".
///
/// Errors name the flag and the entry:
/// ``--tunable `glibc.malloc.arena_max=0`: glibc.malloc.arena_max=0 is out of range: ...``.
pub fn adhoc_profile(entries: &[String], catalog: &Catalog) -> Result<Profile, PlanError> {
    if entries.is_empty() {
        return Err(PlanError::new("--tunable: no entries given"));
    }
    let mut tunables: Vec<(Tunable, &str)> = Vec::new();
    for entry in entries {
        let flag_error =
            |msg: String| PlanError::new(format!("--tunable `{}`: {msg}", entry.escape_default()));
        let tunable = catalog.entry(entry).map_err(flag_error)?;
        if let Some((_, first)) = tunables.iter().find(|(t, _)| t.name == tunable.name) {
            return Err(flag_error(format!(
                "{} is already set by --tunable `{first}`",
                tunable.name
            )));
        }
        tunables.push((tunable, entry));
    }
    let flags: Vec<String> = entries.iter().map(|e| format!("--tunable {e}")).collect();
    Ok(Profile {
        name: "adhoc".into(),
        description: format!(
            "glibc malloc with tunables from the command line: {}",
            flags.join(" ")
        ),
        tunables: tunables.into_iter().map(|(t, _)| t).collect(),
        allocator: Allocator::Glibc,
        env: Vec::new(),
    })
}

/// `NARENAS_FROM_NCORES(n)` from glibc's malloc/malloc.c: `n * (sizeof (long) == 4 ? 2 : 8)`.
fn default_arena_cap(n_cores: NonZeroU32) -> u64 {
    let per_core = if std::mem::size_of::<std::ffi::c_long>() == 4 {
        2
    } else {
        8
    };
    u64::from(n_cores.get()) * per_core
}

/// Approximate a host with `n_cores` online CPUs: set `glibc.malloc.arena_max` to the
/// cap glibc would pick there (8 x N on 64-bit), unless the profile already sets
/// `arena_max`, in which case it is returned unchanged. The new profile is named
/// `NAME@Ncpus`, so its cells stay apart from the unmodified profile's.
///
/// What this reproduces is the arena *cap*, not the parallelism. glibc gives a thread
/// that has no arena yet a new one (while under the cap and with none free), so the
/// arena count follows how many allocating threads are alive at once. On this 2-core
/// machine at most 2 of them run at a time: short-lived Rust threads may finish and
/// hand their arena back before the next one starts, so fewer arenas may be touched
/// than on a real N-core host, and contention among arenas over the cap differs. Read
/// the result as "what the cap allows", not as a measurement of that host.
///
/// The formula was checked against glibc 2.39's malloc/arena.c (`arena_get2`: the cap
/// is `NARENAS_FROM_NCORES (__get_nprocs ())` unless `arena_max` is set) and matches
/// what glibc 2.36 does on this host (16 arenas on 2 online CPUs). It stops holding
/// when glibc changes its default: a lower default cap has been discussed upstream,
/// and which CPU count is used (online CPUs or the affinity mask) has varied between
/// releases. One known gap: without `arena_max`, glibc checks the cap only after
/// `arena_test` (8) extra arenas exist, so a real 1-CPU host can reach 9 arenas
/// where `arena_max=8` stops at 8.
pub fn with_emulated_cores(profile: Profile, n_cores: NonZeroU32) -> Profile {
    const ARENA_MAX: &str = "glibc.malloc.arena_max";
    if profile.tunables.iter().any(|t| t.name == ARENA_MAX) {
        return profile;
    }
    let cap = default_arena_cap(n_cores);
    let mut out = profile;
    out.name = format!("{}@{}cpus", out.name, n_cores);
    out.description = format!(
        "{} Emulating a {n_cores}-CPU host: arena_max={cap}, glibc's default cap there (the cap, not the parallelism).",
        out.description
    );
    // Valid by construction: a known malloc tunable, and 2 <= cap <= 2^35 is within its
    // bounds on every glibc (min 1, max SIZE_MAX).
    out.tunables.push(Tunable {
        name: ARENA_MAX.to_string(),
        value: cap,
    });
    out
}

#[cfg(test)]
pub(crate) mod tests;
