//! Profile files, `tunables/<name>.toml`:
//!
//! ```toml
//! name = "arena-max-2"                 # optional; must equal the file name without .toml
//! description = "When to use it ..."   # required
//! allocator = "glibc"                  # default; or "jemalloc", or "preload:/abs/path/lib.so"
//! [tunables]                           # optional; glibc.malloc.* only
//! "glibc.malloc.arena_max" = 2         # quoted or dotted keys; integers, or "128K"-style strings
//! [env]                                # optional; extra variables for the child
//! _RJEM_MALLOC_CONF = "narenas:2"
//! ```
//!
//! Every error names the file and the line. `GLIBC_TUNABLES` and `LD_PRELOAD` never
//! come from `[env]`: they are produced from `[tunables]` and `allocator`, after
//! validation, and so are glibc's old `MALLOC_*` spellings of the same tunables.

use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use strsim::levenshtein;

use super::catalog::ENV_ALIASES;
use super::{Allocator, Catalog, Profile, Tunable};
use crate::located::{PlanError, Source};

/// The variable the extension's jemalloc reads its options from.
///
/// tikv-jemalloc-sys builds jemalloc with `--with-jemalloc-prefix=_rjem_` on Linux
/// (unless the `unprefixed_malloc_on_supported_platforms` feature is on, which
/// poc-ext does not enable), and jemalloc's `malloc_conf_init` reads
/// `JEMALLOC_CPREFIX "MALLOC_CONF"`, the upper-cased prefix: `_RJEM_MALLOC_CONF`.
/// Sources: tikv-jemalloc-sys 0.6.1 `build.rs` and `jemalloc/src/jemalloc.c`, and its
/// README ("this variable might be prefixed as `_RJEM_MALLOC_CONF`").
pub const JEMALLOC_CONF_VAR: &str = "_RJEM_MALLOC_CONF";

/// Where profiles (folder `tunables`) or matrices (folder `matrices`) are looked up:
/// the folder under the current directory, then `<prefix>/share/arena-sweep/<folder>`
/// next to this executable's `<prefix>/bin` (where the arena-sweep wheel installs them,
/// for a copy whose source tree is gone), then the one in arena-sweep's source tree.
pub fn default_dirs(folder: &str) -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(folder)];
    let installed = std::env::current_exe().ok().and_then(|exe| {
        let prefix = exe.parent()?.parent()?;
        Some(prefix.join("share").join("arena-sweep").join(folder)).filter(|d| d.is_dir())
    });
    let built_in = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    let same = |a: &Path, b: &Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b);
    for d in installed.into_iter().chain([built_in]) {
        if !dirs.iter().any(|known| same(known, &d)) {
            dirs.push(d);
        }
    }
    dirs
}

/// A profile by name (`arena-max-2`, looked up as `<dir>/arena-max-2.toml` in `dirs`,
/// in order) or by path (anything ending in `.toml` or containing `/`). The built-in
/// `glibc-default` is used when no file of that name exists.
pub fn find_profile(name: &str, dirs: &[PathBuf], catalog: &Catalog) -> Result<Profile, PlanError> {
    match find_named_file("tunables profile", name, dirs) {
        Ok(path) => load_profile(&path, catalog),
        Err(_) if name == "glibc-default" => Ok(Profile::glibc_default()),
        Err(e) => Err(e),
    }
}

/// The file for `name` in `dirs`, or the path itself; the error lists what exists.
pub(crate) fn find_named_file(
    what: &str,
    name: &str,
    dirs: &[PathBuf],
) -> Result<PathBuf, PlanError> {
    if name.ends_with(".toml") || name.contains('/') {
        let path = PathBuf::from(name);
        if path.is_file() {
            return Ok(path);
        }
        // No file to point at: the caller says where the name was written.
        return Err(PlanError::new(format!(
            "no such {what} file: {}",
            path.display()
        )));
    }
    if let Err(msg) = check_name(name) {
        return Err(PlanError::new(format!(
            "{what} `{}`: {msg}",
            name.escape_default()
        )));
    }
    if let Some(path) = dirs
        .iter()
        .map(|d| d.join(format!("{name}.toml")))
        .find(|p| p.is_file())
    {
        return Ok(path);
    }
    let known = names_in(dirs);
    let near = known
        .iter()
        .filter(|k| levenshtein(name, k) <= 2)
        .min_by_key(|k| levenshtein(name, k));
    let hint = near
        .map(|n| format!("; did you mean `{n}`?"))
        .unwrap_or_default();
    let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Err(PlanError::new(format!(
        "unknown {what} `{name}`{hint} (looked in {}; found: {})",
        searched.join(", "),
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    )))
}

/// The `*.toml` names in `dirs`, sorted, without duplicates.
fn names_in(dirs: &[PathBuf]) -> Vec<String> {
    let mut names: Vec<String> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".toml")
                .map(str::to_string)
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Profile and matrix names: they label cells, heatmap files and report folders.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let ok_start = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let ok_rest = name.bytes().all(|b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.'
    });
    if !(ok_start && ok_rest) || name.len() > 64 {
        return Err("names are 1 to 64 lower-case letters, digits, `-`, `_` and `.`, starting with a letter or digit".into());
    }
    Ok(())
}

/// Load and validate one profile file against the host's tunables.
pub fn load_profile(path: &Path, catalog: &Catalog) -> Result<Profile, PlanError> {
    let text = Source::read(path)?;
    parse_profile(path, &text, catalog)
}

/// Parse profile file text; `path` names it in errors (and its stem must match `name`).
pub fn parse_profile(path: &Path, text: &str, catalog: &Catalog) -> Result<Profile, PlanError> {
    let src = Source { path, text };
    let raw: ProfileToml = toml::from_str(text).map_err(|e| src.toml_error(&e))?;

    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let name = match &raw.name {
        Some(name) => {
            check_name(name.get_ref())
                .map_err(|m| src.error(name.span(), format!("name `{}`: {m}", name.get_ref())))?;
            if name.get_ref() != stem {
                return Err(src.error(
                    name.span(),
                    format!("name `{}` differs from the file name `{stem}.toml`; profiles are found by file name", name.get_ref()),
                ));
            }
            name.get_ref().clone()
        }
        None => {
            check_name(stem).map_err(|m| {
                PlanError::in_file(
                    path,
                    format!("the file name gives the profile name `{stem}`: {m}"),
                )
            })?;
            stem.to_string()
        }
    };

    if raw.description.get_ref().trim().is_empty() {
        return Err(src.error(
            raw.description.span(),
            "the description is empty; say when to use this profile",
        ));
    }

    let allocator = match &raw.allocator {
        Some(a) => Allocator::parse(a.get_ref()).map_err(|m| src.error(a.span(), m))?,
        None => Allocator::Glibc,
    };

    let mut tunables: Vec<(Tunable, usize)> = Vec::new();
    for leaf in flatten(&src, raw.tunables) {
        let at_line = |message: String| PlanError {
            file: Some(path.to_path_buf()),
            line: Some(leaf.line),
            message,
        };
        let tunable = leaf_tunable(&leaf, catalog).map_err(at_line)?;
        if let Some((_, first)) = tunables.iter().find(|(t, _)| t.name == tunable.name) {
            return Err(at_line(format!(
                "{} is set twice (first on line {first})",
                tunable.name
            )));
        }
        tunables.push((tunable, leaf.line));
    }

    let mut env = Vec::new();
    for (key, value) in raw.env.0 {
        check_env_name(key.get_ref(), &allocator).map_err(|m| src.error(key.span(), m))?;
        check_env_value(key.get_ref(), &value).map_err(|m| src.error(key.span(), m))?;
        env.push((key.into_inner(), value));
    }

    Ok(Profile {
        name,
        description: raw.description.into_inner().trim().to_string(),
        tunables: tunables.into_iter().map(|(t, _)| t).collect(),
        allocator,
        env,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileToml {
    name: Option<Spanned<String>>,
    description: Spanned<String>,
    allocator: Option<Spanned<String>>,
    #[serde(default)]
    tunables: Entries<TunableNode>,
    #[serde(default)]
    env: Entries<String>,
}

/// One `[tunables]` value, its dotted keys joined back into the full name.
struct Leaf {
    name: String,
    line: usize,
    value: TunableNode,
}

/// Flatten `[tunables]` into leaves, each with its line. serde's spans cover only the
/// first part of a dotted key or section (`glibc`), so the line of each leaf comes
/// from toml_edit's spans of the whole document ([`leaf_lines`]): the first line of
/// that name not yet taken, so that a name given twice points at the second; failing
/// that, the first part's line.
fn flatten(src: &Source, entries: Entries<TunableNode>) -> Vec<Leaf> {
    fn walk(
        lines: &[(String, usize)],
        name: String,
        top_line: usize,
        node: TunableNode,
        out: &mut Vec<Leaf>,
    ) {
        match node {
            TunableNode::Table(inner) => {
                for (key, value) in inner {
                    walk(lines, format!("{name}.{key}"), top_line, value, out);
                }
            }
            value => {
                let taken = |l: usize| out.iter().any(|leaf: &Leaf| leaf.line == l);
                let line = lines
                    .iter()
                    .filter(|(n, _)| *n == name)
                    .map(|&(_, l)| l)
                    .find(|&l| !taken(l))
                    .unwrap_or(top_line);
                out.push(Leaf { name, line, value });
            }
        }
    }
    let lines = leaf_lines(src);
    let mut out = Vec::new();
    for (key, node) in entries.0 {
        let line = src.line_of(key.span().start);
        match node {
            TunableNode::Table(_) => walk(&lines, key.into_inner(), line, node, &mut out),
            value => out.push(Leaf {
                name: key.into_inner(),
                line,
                value,
            }),
        }
    }
    out
}

/// Every value under `[tunables]` as (full name, 1-based line of its last key part),
/// in line order: dotted keys, `[tunables.glibc.malloc]` sections and inline tables
/// joined back into `glibc.malloc.arena_max`, quotes removed.
fn leaf_lines(src: &Source) -> Vec<(String, usize)> {
    fn walk(
        src: &Source,
        prefix: &str,
        table: &dyn toml_edit::TableLike,
        out: &mut Vec<(String, usize)>,
    ) {
        for (key, item) in table.iter() {
            let name = if prefix.is_empty() {
                key.to_string()
            } else {
                format!("{prefix}.{key}")
            };
            match item.as_table_like() {
                Some(inner) => walk(src, &name, inner, out),
                None => {
                    let span = table.get_key_value(key).and_then(|(k, _)| k.span());
                    if let Some(span) = span {
                        out.push((name, src.line_of(span.start)));
                    }
                }
            }
        }
    }
    // A file toml cannot parse was refused before this is called.
    let Ok(doc) = toml_edit::ImDocument::parse(src.text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(tunables) = doc.get("tunables").and_then(|t| t.as_table_like()) {
        walk(src, "", tunables, &mut out);
    }
    out.sort_by_key(|&(_, line)| line);
    out
}

fn leaf_tunable(leaf: &Leaf, catalog: &Catalog) -> Result<Tunable, String> {
    let name = leaf.name.as_str();
    catalog.check_name(name)?;
    let value = match &leaf.value {
        TunableNode::Int(v) if *v < 0 => {
            return Err(format!("{name} = {v}: values must not be negative"))
        }
        TunableNode::Int(v) => *v as u64,
        TunableNode::Text(s) => super::parse_value(s).map_err(|m| format!("{name}: {m}"))?,
        TunableNode::Other(kind) => {
            return Err(format!(
                "{name} must be a whole number (or a string such as \"128K\"), not {kind}"
            ))
        }
        TunableNode::Table(_) => unreachable!("flattened"),
    };
    catalog.tunable(name, value)
}

/// An environment variable name a profile may set.
fn check_env_name(name: &str, allocator: &Allocator) -> Result<(), String> {
    let mut bytes = name.bytes();
    let ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return Err(format!(
            "`{}` is not an environment variable name of the form [A-Z_][A-Z0-9_]*",
            name.escape_default()
        ));
    }
    if name == "GLIBC_TUNABLES" {
        return Err(
            "GLIBC_TUNABLES is rendered from [tunables], after validation; set the tunables there"
                .into(),
        );
    }
    if name == "LD_PRELOAD" {
        return Err("LD_PRELOAD comes from `allocator = \"preload:/path/lib.so\"`, which is validated; set it there".into());
    }
    if name.starts_with("LD_") {
        return Err(format!(
            "{name} changes how the loader starts the child; profiles may not set LD_* variables"
        ));
    }
    if let Some((_, full)) = ENV_ALIASES.iter().find(|(alias, _)| *alias == name) {
        return Err(format!("{name} is glibc's old spelling of {full}; set that in [tunables], where it is validated"));
    }
    if name == "PYTHON_GIL" {
        return Err(
            "PYTHON_GIL would change the build under test; the plan's builds decide it".into(),
        );
    }
    if name.starts_with("ARENA_SWEEP_") {
        return Err(format!(
            "{name}: ARENA_SWEEP_* variables belong to arena-sweep itself"
        ));
    }
    if name == "MALLOC_CONF" && *allocator == Allocator::Jemalloc {
        return Err(format!(
            "the extension's jemalloc (tikv-jemallocator, prefixed symbols) does not read MALLOC_CONF; use {JEMALLOC_CONF_VAR}"
        ));
    }
    if name == JEMALLOC_CONF_VAR && *allocator != Allocator::Jemalloc {
        return Err(format!("{JEMALLOC_CONF_VAR} only configures allocator = \"jemalloc\" (the extension's prefixed jemalloc)"));
    }
    Ok(())
}

fn check_env_value(name: &str, value: &str) -> Result<(), String> {
    if value.contains('\0') {
        return Err(format!(
            "the value of {name} contains a NUL byte, which no environment variable can hold"
        ));
    }
    if name == "MALLOC_CONF" || name == JEMALLOC_CONF_VAR {
        // jemalloc's syntax: opt:value,opt:value. It only warns on a bad pair and runs
        // with defaults, which would silently measure the wrong thing.
        let ok_pair = |p: &str| {
            p.split_once(':').is_some_and(|(k, v)| {
                !k.is_empty()
                    && k.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.'
                    })
                    && !v.is_empty()
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
            })
        };
        if let Some(bad) = value.split(',').find(|p| !ok_pair(p)) {
            return Err(format!("{name}: `{}` is not an `option:value` pair (jemalloc's syntax: opt:value,opt:value)", bad.escape_default()));
        }
    }
    Ok(())
}

/// A TOML table as (key, value) pairs in file order, each key with its span, so that
/// every entry's line is known.
pub(crate) struct Entries<V>(pub Vec<(Spanned<String>, V)>);

impl<V> Default for Entries<V> {
    fn default() -> Self {
        Entries(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    out.push((key, map.next_value::<V>()?));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(EntriesVisitor(PhantomData))
    }
}

/// A `[tunables]` value before validation.
///
/// Dotted keys (`glibc.malloc.arena_max = 2`) arrive as nested tables. toml gives the
/// tables that dotted keys imply no span, and `toml::Spanned` fails on them, so values
/// here carry no spans: lines come from the keys (see [`flatten`]).
enum TunableNode {
    Int(i64),
    Text(String),
    Table(Vec<(String, TunableNode)>),
    /// Any other TOML type, by name for the error message.
    Other(&'static str),
}

impl<'de> Deserialize<'de> for TunableNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = TunableNode;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer or a string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TunableNode, E> {
                Ok(TunableNode::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TunableNode, E> {
                i64::try_from(v)
                    .map(TunableNode::Int)
                    .map_err(|_| E::custom("integer too large"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TunableNode, E> {
                Ok(TunableNode::Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<TunableNode, E> {
                Ok(TunableNode::Other("a boolean"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<TunableNode, E> {
                Ok(TunableNode::Other("a fractional number"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TunableNode, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(TunableNode::Other("an array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TunableNode, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    // toml hands a date or time over as a table with one private key.
                    if key.starts_with("$__toml_private") {
                        map.next_value::<IgnoredAny>()?;
                        return Ok(TunableNode::Other("a date or time"));
                    }
                    out.push((key, map.next_value::<TunableNode>()?));
                }
                Ok(TunableNode::Table(out))
            }
        }
        d.deserialize_any(NodeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::super::catalog::tests::catalog;
    use super::*;

    fn load_str(file: &str, text: &str) -> Result<Profile, PlanError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file);
        std::fs::write(&path, text).unwrap();
        load_profile(&path, &catalog()).map_err(|mut e| {
            e.file = e
                .file
                .map(|f| f.strip_prefix(dir.path()).unwrap().to_path_buf());
            e
        })
    }

    #[test]
    fn a_full_profile() {
        let p = load_str(
            "p.toml",
            r#"
name = "p"
description = "  two arenas, fixed trim  "
allocator = "glibc"
[tunables]
"glibc.malloc.arena_max" = 2
glibc.malloc.trim_threshold = "128K"
glibc.malloc.mmap_threshold = 131072
[env]
MY_VAR = "x y:z"
"#,
        )
        .unwrap();
        assert_eq!(p.name, "p");
        assert_eq!(p.description, "two arenas, fixed trim");
        assert_eq!(
            p.glibc_tunables(),
            "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=131072:glibc.malloc.mmap_threshold=131072"
        );
        assert_eq!(p.env, vec![("MY_VAR".to_string(), "x y:z".to_string())]);
    }

    #[test]
    fn a_tunable_given_twice_is_named_at_its_second_line_in_every_key_form() {
        let twice = |second: &str| {
            let text = format!(
                "description = \"d\"\n[tunables]\n\"glibc.malloc.arena_max\" = 2\n{second}"
            );
            let e = load_str("t.toml", &text).unwrap_err();
            assert!(
                e.message
                    .contains("glibc.malloc.arena_max is set twice (first on line 3)"),
                "{e}"
            );
            e.line
        };
        // A dotted key, a section's key after another key, a nested inline table.
        assert_eq!(twice("glibc.malloc.arena_max = 4\n"), Some(4));
        assert_eq!(
            twice("[tunables.glibc.malloc]\ntrim_threshold = 131072\n\n arena_max = 4\n"),
            Some(7)
        );
        assert_eq!(
            twice("\n\nglibc = { malloc = { trim_threshold = 1, arena_max = 4 } }\n"),
            Some(6)
        );
    }

    #[test]
    fn name_defaults_to_the_file_name() {
        let p = load_str("arena-max-3.toml", "description = \"d\"\n").unwrap();
        assert_eq!(
            (p.name.as_str(), p.allocator, p.tunables.len()),
            ("arena-max-3", Allocator::Glibc, 0)
        );
        let e = load_str("Bad Name.toml", "description = \"d\"\n").unwrap_err();
        assert_eq!(e.to_string(), "Bad Name.toml: the file name gives the profile name `Bad Name`: names are 1 to 64 lower-case letters, digits, `-`, `_` and `.`, starting with a letter or digit");
    }

    #[test]
    fn jemalloc_options_go_to_the_prefixed_variable() {
        let ok = load_str("j.toml", "description = \"d\"\nallocator = \"jemalloc\"\n[env]\n_RJEM_MALLOC_CONF = \"narenas:2,dirty_decay_ms:0\"\n");
        assert_eq!(
            ok.unwrap().child_env(),
            vec![(
                JEMALLOC_CONF_VAR.to_string(),
                "narenas:2,dirty_decay_ms:0".to_string()
            )]
        );
        let e = load_str(
            "j.toml",
            "description = \"d\"\nallocator = \"jemalloc\"\n[env]\nMALLOC_CONF = \"narenas:2\"\n",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(4));
        assert!(e.message.contains("use _RJEM_MALLOC_CONF"), "{e}");
        let e = load_str(
            "j.toml",
            "description = \"d\"\n[env]\n_RJEM_MALLOC_CONF = \"narenas:2\"\n",
        )
        .unwrap_err();
        assert!(
            e.message
                .contains("only configures allocator = \"jemalloc\""),
            "{e}"
        );
    }

    #[test]
    fn profiles_are_found_by_name_or_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("arena-max-2.toml"),
            "description = \"d\"\n[tunables]\n\"glibc.malloc.arena_max\" = 2\n",
        )
        .unwrap();
        let dirs = vec![dir.path().join("missing"), dir.path().to_path_buf()];
        let c = catalog();
        assert_eq!(
            find_profile("arena-max-2", &dirs, &c)
                .unwrap()
                .glibc_tunables(),
            "glibc.malloc.arena_max=2"
        );
        let by_path = dir.path().join("arena-max-2.toml");
        assert_eq!(
            find_profile(by_path.to_str().unwrap(), &[], &c)
                .unwrap()
                .name,
            "arena-max-2"
        );
        // The baseline exists even without its file.
        assert_eq!(
            find_profile("glibc-default", &dirs, &c).unwrap(),
            Profile::glibc_default()
        );

        let e = find_profile("arena-max-3", &dirs, &c).unwrap_err();
        assert!(
            e.message.starts_with(
                "unknown tunables profile `arena-max-3`; did you mean `arena-max-2`? (looked in "
            ),
            "{e}"
        );
        assert!(e.message.ends_with("found: arena-max-2)"), "{e}");
        let e = find_profile("../etc", &dirs, &c).unwrap_err();
        assert_eq!(e.to_string(), "no such tunables profile file: ../etc");
        let e = find_profile("Arena", &dirs, &c).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("tunables profile `Arena`: names are"),
            "{e}"
        );
    }

    #[test]
    fn default_dirs_include_the_source_tree() {
        let dirs = default_dirs("tunables");
        assert_eq!(dirs[0], PathBuf::from("tunables"));
        assert!(
            dirs.iter().any(|d| d.join("glibc-default.toml").is_file()),
            "{dirs:?}"
        );
    }

    /// Every shipped profile loads against this machine's glibc, its name matches its
    /// file, and its description says when to use it.
    #[test]
    fn shipped_profiles_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tunables");
        let host = Catalog::for_host();
        let names = names_in(std::slice::from_ref(&dir));
        for required in [
            "glibc-default",
            "arena-max-1",
            "arena-max-2",
            "arena-max-4",
            "trim-threshold-128k",
            "mmap-threshold-128k",
            "server",
            "jemalloc",
            "jemalloc-tuned",
        ] {
            assert!(
                names.iter().any(|n| n == required),
                "tunables/{required}.toml is missing"
            );
        }
        for name in &names {
            let p = load_profile(&dir.join(format!("{name}.toml")), &host)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&p.name, name);
            assert!(p.description.len() > 40, "{name}: say when to use it");
        }
        let base = load_profile(&dir.join("glibc-default.toml"), &host).unwrap();
        assert_eq!(
            (base.tunables, base.allocator, base.env),
            (vec![], Allocator::Glibc, vec![])
        );
        let tuned = load_profile(&dir.join("jemalloc-tuned.toml"), &host).unwrap();
        assert_eq!(tuned.allocator, Allocator::Jemalloc);
        assert!(tuned.env.iter().any(|(k, _)| k == JEMALLOC_CONF_VAR));
    }

    /// One fixture per kind of error, each naming its expected error on its first
    /// line: `# error: LINE: MESSAGE` (or `# error: -: MESSAGE` when it has no line).
    #[test]
    fn profile_error_fixtures() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plan-errors");
        let mut seen = 0;
        for (path, line, message) in crate::tunables::tests::fixtures(&dir, "profile-") {
            let err = load_profile(&path, &catalog()).expect_err(&path.display().to_string());
            assert_eq!(
                (err.line, err.message.as_str()),
                (line, message.as_str()),
                "{}",
                path.display()
            );
            assert_eq!(err.file.as_deref(), Some(path.as_path()));
            seen += 1;
        }
        assert!(seen >= 20, "only {seen} profile fixtures");
    }
}
