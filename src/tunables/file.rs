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
//!
//! `lookup` finds profile (and matrix) files by name and says which names are valid;
//! `env_vars` checks the `[env]` table.

mod env_vars;
mod lookup;

use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use super::{Allocator, Catalog, Profile, Tunable};
use crate::located::{PlanError, Source};
#[cfg(test)]
use env_vars::JEMALLOC_CONF_VAR;
use env_vars::{check_env_name, check_env_value};
pub use lookup::default_dirs;
#[cfg(test)]
use lookup::names_in;
pub(crate) use lookup::{check_name, find_named_file};

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
mod tests;
