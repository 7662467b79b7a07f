//! The shape the code is kept in, so that the next engineer can read a part of it
//! without the rest: no source file under `src/`, `crates/arena-reader/src/` or
//! `poc-ext/src/` over 500 lines, and no function over 100 lines outside tests (from
//! its `fn` line to its closing brace; code after a file's first `#[cfg(test)]` line
//! and files named `tests.rs` are tests).
//! A file or function that grows past the limit is split by job, not in halves.

use std::fs;
use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 500;
const MAX_FN_LINES: usize = 100;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "crates/arena-reader/src", "poc-ext/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    files.sort();
    assert!(files.len() > 50, "found only {} source files", files.len());
    files
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).unwrap();
            let name = p.strip_prefix(root).unwrap().display().to_string();
            (name, text)
        })
        .collect()
}

/// The name of the function a line declares, if it does (with its body on
/// the following lines: a declaration ending in `;` has none).
fn declares_fn(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    for prefix in [
        "pub(crate) ",
        "pub(super) ",
        "pub ",
        "const ",
        "async ",
        "unsafe ",
        "extern \"C\" ",
    ] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let rest = rest.strip_prefix("fn ")?;
    if line.trim_end().ends_with(';') {
        return None;
    }
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    Some(&rest[..end])
}

/// (name, first line, length in lines) of every function outside tests.
fn long_functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .iter()
        .position(|l| l.starts_with("#[cfg(test)]"))
        .unwrap_or(lines.len());
    let mut found = Vec::new();
    for (i, line) in lines[..end].iter().enumerate() {
        let Some(name) = declares_fn(line) else {
            continue;
        };
        let indent = &line[..line.len() - line.trim_start().len()];
        let close = format!("{indent}}}");
        let Some(len) = lines[i..end].iter().position(|l| l.trim_end() == close) else {
            continue;
        };
        if len + 1 > MAX_FN_LINES {
            found.push((name.to_string(), i + 1, len + 1));
        }
    }
    found
}

#[test]
fn no_source_file_is_over_500_lines() {
    let long: Vec<String> = sources()
        .iter()
        .map(|(name, text)| (name, text.lines().count()))
        .filter(|(_, n)| *n > MAX_FILE_LINES)
        .map(|(name, n)| format!("{name}: {n} lines"))
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_FILE_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn no_function_outside_tests_is_over_100_lines() {
    let mut long = Vec::new();
    for (name, text) in sources() {
        if name.ends_with("/tests.rs") {
            continue;
        }
        for (f, line, n) in long_functions(&text) {
            long.push(format!("{name}:{line}: fn {f}, {n} lines"));
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_function_reader_measures_what_it_should() {
    let body = |n: usize| "    let x = 1;\n".repeat(n);
    let text = format!(
        "pub fn short() {{\n{}}}\n\nfn long(a: u8) -> u8 {{\n{}}}\n\nfn decl();\n#[cfg(test)]\nmod tests {{\n    fn in_test() {{\n{}    }}\n}}\n",
        body(10),
        body(120),
        body(200)
    );
    assert_eq!(long_functions(&text), vec![("long".to_string(), 14, 122)]);
    assert_eq!(
        declares_fn("    pub(crate) fn run<'a>(x: u8) {"),
        Some("run")
    );
    assert_eq!(declares_fn("    fn item(&self) -> u8;"), None);
    assert_eq!(declares_fn("    let f = fn_ptr;"), None);
}
