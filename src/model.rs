//! Shared types that many modules name: small enums and values with no behaviour
//! beyond naming themselves. This module imports nothing from the crate, so that any
//! module, `cli` included, can use them without an import cycle. The modules they
//! belong to re-export them (`python::inspect::Build`, `ext::Variant`, ...).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// GIL or free-threaded: the build half of a cell.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::Display,
    strum::VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Build {
    Gil,
    Nogil,
}

impl Build {
    pub const BOTH: [Build; 2] = [Build::Gil, Build::Nogil];

    /// The name in run ids, labels and results files (serde's).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Which allocator the extension's Rust code uses.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Variant {
    /// The system malloc (glibc ptmalloc2), as in the talk.
    Glibc,
    /// tikv-jemallocator as the extension's global allocator.
    Jemalloc,
}

impl Variant {
    /// The name in cache keys, labels and results files (serde's).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Where the extension may come from (`--ext-from`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ExtFrom {
    /// A prebuilt wheel when one fits, else a cargo build.
    #[default]
    Auto,
    /// Prebuilt wheels only.
    Wheel,
    /// Always a cargo build from the embedded sources.
    Source,
}

/// A pattern with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatternSpec {
    pub name: String,
    pub params: String,
}

/// How the Python threads of a run start.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum StartMode {
    /// The talk's harness: each thread starts as soon as the ThreadPoolExecutor gets
    /// its task, so the threads ramp up one after another.
    Submit,
    /// Every thread waits at a threading.Barrier and all start together: the most
    /// overlap, the worst case (it raised the free-threaded delta of the talk's cell
    /// from 1.38 to 1.55 MiB here). A different experiment from the talk's.
    Barrier,
}

impl StartMode {
    /// Plans written before the choice existed started their threads at a barrier.
    pub fn before_the_choice() -> StartMode {
        StartMode::Barrier
    }

    /// The name the driver and plan.json use (serde's, and the flag's).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Where a source may come from, in the order tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Uv,
    Official,
    Debian,
}

impl SourceKind {
    pub fn describe(self) -> &'static str {
        match self {
            SourceKind::Uv => "uv",
            SourceKind::Official => "the official tarball",
            SourceKind::Debian => "the Debian source package",
        }
    }
}

pub const DEFAULT_SOURCES: &[SourceKind] =
    &[SourceKind::Uv, SourceKind::Official, SourceKind::Debian];

/// `--ext-from` and `--ext-wheels`, as given for this process.
#[derive(Debug, Clone, Default)]
pub struct ExtPolicy {
    pub from: ExtFrom,
    /// A wheel folder given explicitly; searched before the installed one.
    pub wheels: Option<PathBuf>,
}

/// The padding variable's name (each run's environment gets a random length of it).
pub const PAD_VAR: &str = "ARENA_SWEEP_PAD";

/// How Python calls the Rust code. This is the one table of names and what each
/// means: flags and matrix files are parsed with [`Binding::parse`], plans and records
/// write the name (serde's, the same as [`Binding::as_str`]), and every other module
/// matches variants.
///
/// Bindings are ordered by name, as the strings they replace were (see the `Ord`
/// impl), so that sorted output, maps keyed by binding and seeded run orders do not
/// change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Binding {
    /// PyO3, the GIL held through the call (the talk's).
    Pyo3,
    /// PyO3 with `py.detach`: the GIL released during the call.
    Pyo3Detach,
    /// ctypes.CDLL: the GIL released during the call.
    CtypesCdll,
    /// ctypes.PyDLL: the GIL held through the call.
    CtypesPydll,
    /// `--workload`: the user's code decides how it calls native code. Not one of
    /// [`Binding::ALL`], so no flag or matrix file can name it.
    Workload,
}

impl Binding {
    /// The PoC's bindings, the ones a flag or a matrix file may name.
    pub const ALL: [Binding; 4] = [
        Binding::Pyo3,
        Binding::Pyo3Detach,
        Binding::CtypesCdll,
        Binding::CtypesPydll,
    ];

    /// The names, in the order of [`Binding::ALL`] (the flag's and a matrix file's).
    pub const NAMES: [&'static str; 4] = [
        Binding::Pyo3.as_str(),
        Binding::Pyo3Detach.as_str(),
        Binding::CtypesCdll.as_str(),
        Binding::CtypesPydll.as_str(),
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Binding::Pyo3 => "pyo3",
            Binding::Pyo3Detach => "pyo3-detach",
            Binding::CtypesCdll => "ctypes-cdll",
            Binding::CtypesPydll => "ctypes-pydll",
            Binding::Workload => "workload",
        }
    }

    /// The binding of a name a user may give (one of [`Binding::NAMES`]), if it is one.
    pub fn parse(name: &str) -> Option<Binding> {
        Binding::ALL.into_iter().find(|b| b.as_str() == name)
    }

    /// Whether the GIL is held while the Rust code runs (on GIL builds). False for a
    /// workload, whose code decides: it is not known to hold it.
    pub fn holds_gil(self) -> bool {
        matches!(self, Binding::Pyo3 | Binding::CtypesPydll)
    }
}

/// By name, as the strings were: "ctypes-cdll" < "ctypes-pydll" < "pyo3" <
/// "pyo3-detach" < "workload". Sorted output and seeded run orders depend on it.
impl Ord for Binding {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Binding {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The name, padded and aligned as a `&str` would be (`{:<14}` in tables).
impl std::fmt::Display for Binding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Coverage of the saving's interval.
pub const LEVEL: f64 = 0.95;

/// The thresholds of the rule (flags `--min-saving-mib` and `--min-saving-pct`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// The smallest saving worth a deployment, in MiB.
    pub min_saving_mib: f64,
    /// The smallest saving worth a deployment, in percent of glibc-default's figure.
    pub min_saving_pct: f64,
}

impl Default for Rule {
    fn default() -> Self {
        Rule {
            min_saving_mib: 1.0,
            min_saving_pct: 5.0,
        }
    }
}

impl Rule {
    /// The margin for a baseline figure (KiB): max(min MiB, min % of the baseline).
    pub fn margin_kib(&self, baseline_kib: f64) -> f64 {
        (self.min_saving_mib * 1024.0).max(self.min_saving_pct / 100.0 * baseline_kib.abs())
    }

    /// The rule in one line, printed wherever a verdict is.
    pub fn describe(&self) -> String {
        format!(
            "a difference counts when its {:.0}% bootstrap CI (paired by point) excludes zero and it is at least max({} MiB, {}% of glibc-default's figure)",
            LEVEL * 100.0,
            self.min_saving_mib,
            self.min_saving_pct
        )
    }
}

/// Where `sample` takes its series from (`--source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SampleSource {
    /// The kernel's rss_stat events where they can be had, else the sampler.
    Auto,
    /// The kernel's rss_stat events, or an error saying why not.
    Events,
    /// Read /proc every --interval.
    Sampler,
}

/// How `record` reads the target (`--method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SampleMethod {
    Pread,
    Reopen,
    Status,
}

/// Which figures risk levels, the amplification heatmap, instability flags, the
/// `--fail-on-*` gates and the profile advice judge (`--judge`).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Judge {
    /// What the native code left behind: each build's delta net of its control arm
    /// (the same Python threads calling nothing native). Points without a control
    /// arm are judged on gross figures, and say so.
    #[default]
    Native,
    /// The whole delta of each build, as the talk measured it: the free-threaded
    /// interpreter's own per-thread cost included.
    Gross,
}

impl Judge {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Rounds of the workload per run when `--rounds` is not given: enough rounds for a
/// growth per round over the last half (rounds 3 to 5), few enough that a one-point
/// run stays at about 14 s of runs (a verdict of "keeps growing" needs 20).
pub const DEFAULT_ROUNDS: u32 = 5;

/// Plans and records written before rounds existed ran the workload once.
pub fn one_round() -> u32 {
    1
}
