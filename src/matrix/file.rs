//! Matrix files, `matrices/<name>.toml`: one sweep, every field but `name` optional
//! (the plan takes what is missing from the flags and their defaults).
//!
//! ```toml
//! name = "default"
//! description = "What this sweep is for and how long it takes"
//! python_threads = "1..=16:x2"          # a grid string, or an array: [1, 2, 4]
//! rust_threads = [1, 8, 50]
//! iterations = 10                        # calls per Python thread
//! sleep_ms = 5                           # pause between calls
//! reps = 5                               # repetitions per cell
//! rounds = 20                            # rounds of the workload per run
//! builds = ["gil", "nogil"]
//! bindings = ["pyo3"]
//! patterns = ["seed", { name = "churn", params = "size=256,count=1000" }]
//! tunables = ["glibc-default", "arena-max-2"]   # profile names (tunables/*.toml) or paths
//! ```
//!
//! Every error names the file and the line. Pattern parameters are checked with the
//! extension's own parser, so a bad one is refused here and not in a child.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use super::parse_grid;
use crate::model::{Build, PatternSpec};
use crate::results::Binding;
use crate::tunables::{
    check_name, find_named_file, find_profile, Catalog, PlanError, Profile, Source,
};

use crate::patterns;

/// A sweep as a matrix file defines it. `None` means "not set here".
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixFile {
    pub path: PathBuf,
    pub name: String,
    pub description: Option<String>,
    pub python_threads: Option<Vec<u32>>,
    pub rust_threads: Option<Vec<u32>>,
    pub iterations: Option<u32>,
    pub sleep_ms: Option<u32>,
    pub reps: Option<u32>,
    pub rounds: Option<u32>,
    pub builds: Option<Vec<Build>>,
    pub bindings: Option<Vec<Binding>>,
    pub patterns: Option<Vec<PatternSpec>>,
    /// Profile names or paths, each with its line, resolved by [`MatrixFile::profiles`].
    pub tunables: Option<Vec<ProfileRef>>,
}

/// A `tunables` entry of a matrix file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRef {
    pub name: String,
    /// Where it is written, for errors found when it is resolved.
    pub line: usize,
}

impl MatrixFile {
    /// Load the profiles `tunables` names (`None` if the file sets none). A name that
    /// is not found is reported at its line in this file; an error inside a profile
    /// file is reported at that file's line.
    pub fn profiles(
        &self,
        dirs: &[PathBuf],
        catalog: &Catalog,
    ) -> Result<Option<Vec<Profile>>, PlanError> {
        let Some(refs) = &self.tunables else {
            return Ok(None);
        };
        let here = |line: usize, message: String| PlanError {
            file: Some(self.path.clone()),
            line: Some(line),
            message,
        };
        let mut out: Vec<(Profile, usize)> = Vec::new();
        for r in refs {
            let profile = find_profile(&r.name, dirs, catalog).map_err(|e| match e.file {
                None => here(r.line, e.message),
                Some(_) => e,
            })?;
            if let Some((_, first)) = out.iter().find(|(p, _)| p.name == profile.name) {
                return Err(here(
                    r.line,
                    format!(
                        "profile `{}` is already listed on line {first}",
                        profile.name
                    ),
                ));
            }
            out.push((profile, r.line));
        }
        Ok(Some(out.into_iter().map(|(p, _)| p).collect()))
    }
}

/// A matrix by name (`default`, looked up as `<dir>/default.toml` in `dirs`) or by path.
pub fn find_matrix(name: &str, dirs: &[PathBuf]) -> Result<MatrixFile, PlanError> {
    load_matrix(&find_named_file("matrix", name, dirs)?)
}

/// Load and check one matrix file. Profiles are resolved separately
/// ([`MatrixFile::profiles`]), since that needs the host's tunables catalog.
pub fn load_matrix(path: &Path) -> Result<MatrixFile, PlanError> {
    let text = Source::read(path)?;
    parse_matrix(path, &text)
}

/// Parse matrix file text; `path` names it in errors.
pub fn parse_matrix(path: &Path, text: &str) -> Result<MatrixFile, PlanError> {
    let src = Source { path, text };
    let raw: MatrixToml = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
    check_identity(&raw, &src)?;
    let python_threads = grid_axis("python_threads", &raw.python_threads, &src)?;
    let rust_threads = grid_axis("rust_threads", &raw.rust_threads, &src)?;
    // The same bounds as the flags (cli/run.rs).
    let iterations = bounded("iterations", &raw.iterations, 1, 1_000_000, &src)?;
    let sleep_ms = bounded("sleep_ms", &raw.sleep_ms, 0, 600_000, &src)?;
    let reps = bounded("reps", &raw.reps, 1, 1000, &src)?;
    let rounds = bounded("rounds", &raw.rounds, 1, 1000, &src)?;
    let builds = raw
        .builds
        .as_ref()
        .map(|list| unique_list("builds", list, &src, |b| Ok(*b), |b| b.as_str().to_string()))
        .transpose()?;
    let bindings = raw
        .bindings
        .as_ref()
        .map(|list| {
            unique_list(
                "bindings",
                list,
                &src,
                |b: &String| check_binding(b),
                |b: &Binding| b.as_str().to_string(),
            )
        })
        .transpose()?;
    let patterns = raw
        .patterns
        .as_ref()
        .map(|list| unique_list("patterns", list, &src, check_pattern, pattern_label))
        .transpose()?;
    let tunables = raw
        .tunables
        .as_ref()
        .map(|list| profile_refs(list, &src))
        .transpose()?;

    Ok(MatrixFile {
        path: path.to_path_buf(),
        name: raw.name.into_inner(),
        description: raw.description.map(|d| d.into_inner().trim().to_string()),
        python_threads,
        rust_threads,
        iterations,
        sleep_ms,
        reps,
        rounds,
        builds,
        bindings,
        patterns,
        tunables,
    })
}

/// `name` is a valid name, and a `description`, when given, says something.
fn check_identity(raw: &MatrixToml, src: &Source) -> Result<(), PlanError> {
    check_name(raw.name.get_ref()).map_err(|m| {
        src.error(
            raw.name.span(),
            format!("name `{}`: {m}", raw.name.get_ref()),
        )
    })?;
    if let Some(d) = &raw.description {
        if d.get_ref().trim().is_empty() {
            return Err(src.error(
                d.span(),
                "the description is empty; leave it out or say what the sweep is for",
            ));
        }
    }
    Ok(())
}

/// A thread-count axis, a grid string or an array, parsed as the flags parse it.
fn grid_axis(
    field: &str,
    g: &Option<Spanned<GridValue>>,
    src: &Source,
) -> Result<Option<Vec<u32>>, PlanError> {
    let Some(g) = g else { return Ok(None) };
    let text = match g.get_ref() {
        GridValue::Text(t) => t.clone(),
        GridValue::List(v) => v.iter().map(i64::to_string).collect::<Vec<_>>().join(","),
    };
    parse_grid(&text)
        .map(Some)
        .map_err(|e| src.error(g.span(), format!("{field}: {e}")))
}

/// A whole number between `lo` and `hi`, the bounds of its flag.
fn bounded(
    field: &str,
    v: &Option<Spanned<i64>>,
    lo: i64,
    hi: i64,
    src: &Source,
) -> Result<Option<u32>, PlanError> {
    let Some(v) = v else { return Ok(None) };
    let x = *v.get_ref();
    if !(lo..=hi).contains(&x) {
        return Err(src.error(
            v.span(),
            format!(
                "{field} = {x}: must be between {lo} and {hi}, as for --{}",
                field.replace('_', "-")
            ),
        ));
    }
    Ok(Some(x as u32))
}

/// A `bindings` entry: one of the bindings the PoC knows.
fn check_binding(b: &str) -> Result<Binding, String> {
    Binding::parse(b).ok_or_else(|| {
        format!(
            "unknown binding `{}`; expected one of {}",
            b.escape_default(),
            Binding::NAMES.join(", ")
        )
    })
}

/// A `patterns` entry, checked with the extension's own parser.
fn check_pattern(p: &PatternSpecInFile) -> Result<PatternSpec, String> {
    patterns::parse(&p.0.name, &p.0.params)
        .map(|_| p.0.clone())
        .map_err(|e| e.0)
}

/// A pattern as errors name it: `churn`, or `churn (size=256)`.
fn pattern_label(p: &PatternSpec) -> String {
    match p.params.as_str() {
        "" => p.name.clone(),
        params => format!("{} ({params})", p.name),
    }
}

/// The `tunables` entries with their lines: a name is checked here, a path when it
/// is resolved ([`MatrixFile::profiles`]).
fn profile_refs(
    list: &Spanned<Vec<Spanned<String>>>,
    src: &Source,
) -> Result<Vec<ProfileRef>, PlanError> {
    let names = unique_list(
        "tunables",
        list,
        src,
        |n: &String| {
            if n.ends_with(".toml") || n.contains('/') {
                return Ok(n.clone());
            }
            check_name(n)
                .map(|_| n.clone())
                .map_err(|m| format!("profile `{}`: {m}", n.escape_default()))
        },
        String::clone,
    )?;
    Ok(names
        .into_iter()
        .zip(list.get_ref())
        .map(|(name, s)| ProfileRef {
            name,
            line: src.line_of(s.span().start),
        })
        .collect())
}

/// Check each element of a list field and refuse an empty list or a repeated element.
/// `label` names an element in the error.
fn unique_list<T, U: PartialEq>(
    field: &str,
    list: &Spanned<Vec<Spanned<T>>>,
    src: &Source,
    check: impl Fn(&T) -> Result<U, String>,
    label: impl Fn(&U) -> String,
) -> Result<Vec<U>, PlanError> {
    if list.get_ref().is_empty() {
        return Err(src.error(
            list.span(),
            format!("{field} is empty; leave it out to use the flags' value"),
        ));
    }
    let mut out: Vec<(U, usize)> = Vec::new();
    for item in list.get_ref() {
        let v = check(item.get_ref()).map_err(|m| src.error(item.span(), m))?;
        if let Some((_, first)) = out.iter().find(|(seen, _)| *seen == v) {
            return Err(src.error(
                item.span(),
                format!(
                    "{field}: `{}` is listed twice (first on line {first})",
                    label(&v)
                ),
            ));
        }
        out.push((v, src.line_of(item.span().start)));
    }
    Ok(out.into_iter().map(|(v, _)| v).collect())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MatrixToml {
    name: Spanned<String>,
    description: Option<Spanned<String>>,
    python_threads: Option<Spanned<GridValue>>,
    rust_threads: Option<Spanned<GridValue>>,
    iterations: Option<Spanned<i64>>,
    sleep_ms: Option<Spanned<i64>>,
    reps: Option<Spanned<i64>>,
    rounds: Option<Spanned<i64>>,
    builds: Option<Spanned<Vec<Spanned<Build>>>>,
    bindings: Option<Spanned<Vec<Spanned<String>>>>,
    patterns: Option<Spanned<Vec<Spanned<PatternSpecInFile>>>>,
    tunables: Option<Spanned<Vec<Spanned<String>>>>,
}

/// A thread-count axis: `"1..=64:x2"`, `[1, 2, 4]` or `8`.
enum GridValue {
    Text(String),
    List(Vec<i64>),
}

impl<'de> Deserialize<'de> for GridValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct GridVisitor;
        impl<'de> Visitor<'de> for GridVisitor {
            type Value = GridValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a grid string such as \"1..=64:x2\" or an array of thread counts")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GridValue, E> {
                Ok(GridValue::Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<GridValue, E> {
                Ok(GridValue::List(vec![v]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<GridValue, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<i64>()? {
                    out.push(v);
                }
                Ok(GridValue::List(out))
            }
        }
        d.deserialize_any(GridVisitor)
    }
}

/// `patterns` entries: `"seed"` or `{ name = "churn", params = "size=256" }`.
impl<'de> Deserialize<'de> for PatternSpecInFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            name: String,
            #[serde(default)]
            params: String,
        }
        struct PatternVisitor;
        impl<'de> Visitor<'de> for PatternVisitor {
            type Value = PatternSpecInFile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a pattern name or a table { name = \"...\", params = \"k=v,...\" }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PatternSpecInFile, E> {
                Ok(PatternSpecInFile(PatternSpec {
                    name: v.to_string(),
                    params: String::new(),
                }))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PatternSpecInFile, A::Error> {
                let t = Table::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(PatternSpecInFile(PatternSpec {
                    name: t.name,
                    params: t.params,
                }))
            }
        }
        d.deserialize_any(PatternVisitor)
    }
}

/// [`PatternSpec`] as a matrix file spells it.
struct PatternSpecInFile(PatternSpec);

#[cfg(test)]
mod tests;
