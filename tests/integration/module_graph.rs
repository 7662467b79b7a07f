//! Dependencies between the top-level modules of `src/` point one way: no import
//! cycle. The graph is read from the source text: every `crate::NAME` path (in `use`
//! lines and inline, and `super::...::NAME` that climbs to the crate root) in a file
//! under `src/M.rs` or `src/M/` is an edge `M -> NAME`.
//! Comments, string literals and `#[cfg(test)]` items are left out (tests may reach
//! anywhere), and so is the test-only `fuzz` module. The arena reader's crate
//! (`crates/arena-reader/src/`) is held to the same rule: `arena` builds on `process`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Where an edge was seen: file and 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Site {
    file: String,
    line: usize,
}

/// module -> module it names -> every place it does so.
type Graph = BTreeMap<String, BTreeMap<String, Vec<Site>>>;

/// Modules that are compiled only for tests.
const TEST_ONLY: &[&str] = &["fuzz"];

#[test]
fn no_import_cycle_between_top_level_modules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = read_graph(&src);
    assert!(
        graph.len() > 10,
        "read only {} modules from {}",
        graph.len(),
        src.display()
    );
    let cycles = cycles(&graph);
    let report: Vec<String> = cycles.iter().map(|c| describe(&graph, c)).collect();
    assert!(
        report.is_empty(),
        "{} import cycle(s) between top-level modules:\n\n{}",
        report.len(),
        report.join("\n\n")
    );
}

#[test]
fn the_arena_reader_builds_on_process_and_not_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/arena-reader/src");
    let graph = read_graph(&src);
    assert!(
        graph["arena"].contains_key("process"),
        "read no arena -> process edge from {}: {graph:?}",
        src.display()
    );
    let report: Vec<String> = cycles(&graph).iter().map(|c| describe(&graph, c)).collect();
    assert!(
        report.is_empty(),
        "import cycle(s) in the arena reader:\n\n{}",
        report.join("\n\n")
    );
}

/// `cli` only declares flags: what it names (value types, flag parsers, defaults)
/// comes from modules that themselves import nothing of the crate, so parsing flags
/// never reaches the domain.
#[test]
fn cli_names_only_leaf_modules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = read_graph(&src);
    let mut wrong = Vec::new();
    for (to, sites) in &graph["cli"] {
        if !graph[to].is_empty() {
            let deps: Vec<&str> = graph[to].keys().map(String::as_str).collect();
            wrong.push(format!(
                "cli -> {to} ({}:{}), and {to} imports {}",
                sites[0].file,
                sites[0].line,
                deps.join(", ")
            ));
        }
    }
    assert!(wrong.is_empty(), "cli is not a leaf:\n{}", wrong.join("\n"));
}

/// The whole graph of `src/`, one node per top-level module (edges to itself dropped).
fn read_graph(src: &Path) -> Graph {
    let modules = top_level_modules(src);
    let mut graph = Graph::new();
    for module in &modules {
        graph.entry(module.clone()).or_default();
        let mut files = Vec::new();
        let single = src.join(format!("{module}.rs"));
        if single.is_file() {
            files.push(single);
        }
        collect_rs(&src.join(module), &mut files);
        files.sort();
        let test_only = test_only_files(&files);
        for file in files.iter().filter(|f| !test_only.contains(*f)) {
            let text = fs::read_to_string(file).unwrap();
            let rel = file
                .strip_prefix(src.parent().unwrap())
                .unwrap()
                .display()
                .to_string();
            for (target, line) in crate_paths(&text, module_depth(src, file)) {
                if &target == module || !modules.contains(&target) {
                    continue;
                }
                graph
                    .get_mut(module)
                    .unwrap()
                    .entry(target)
                    .or_default()
                    .push(Site {
                        file: rel.clone(),
                        line,
                    });
            }
        }
    }
    graph
}

/// The names `M` of `src/M.rs` and `src/M/`, without the crate roots and test-only
/// modules.
fn top_level_modules(src: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let is_module = path.is_dir() || path.extension().is_some_and(|e| e == "rs");
        if is_module
            && !["lib", "main"].contains(&name.as_str())
            && !TEST_ONLY.contains(&name.as_str())
        {
            out.insert(name);
        }
    }
    // `patterns` lives in poc-ext and is mounted by `#[path]` in lib.rs; it imports
    // nothing of the crate, so it is a leaf whether listed or not.
    out.insert("patterns".into());
    out
}

/// The files of modules declared `#[cfg(test)] mod NAME;` (and everything below them).
fn test_only_files(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut dirs = Vec::new();
    for file in files {
        let text = strip_comments_and_strings(&fs::read_to_string(file).unwrap());
        let parent = file.parent().unwrap();
        let stem = file.file_stem().unwrap();
        // Children of `x/mod.rs` live in `x/`; those of `x.rs` in `x/` too.
        let child_dir = if stem == "mod" {
            parent.to_path_buf()
        } else {
            parent.join(stem)
        };
        let mut from = 0;
        while let Some(pos) = text[from..].find("#[cfg(test)]") {
            from += pos + "#[cfg(test)]".len();
            let rest = text[from..].trim_start();
            let Some(rest) = rest.strip_prefix("mod ") else {
                continue;
            };
            let name = ident_at(rest.trim_start());
            if rest.trim_start()[name.len()..]
                .trim_start()
                .starts_with(';')
            {
                dirs.push(child_dir.join(&name));
                dirs.push(child_dir.join(format!("{name}.rs")));
            }
        }
    }
    files
        .iter()
        .filter(|f| dirs.iter().any(|d| f.starts_with(d)))
        .cloned()
        .collect()
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// How many `super::` lead from the module of `file` to the crate root:
/// `src/a.rs` and `src/a/mod.rs` are 1, `src/a/b.rs` is 2.
fn module_depth(src: &Path, file: &Path) -> usize {
    let rel = file.strip_prefix(src).unwrap();
    let parts = rel.components().count();
    if rel.file_name().is_some_and(|n| n == "mod.rs") {
        parts - 1
    } else {
        parts
    }
}

/// Every path to a top-level module in the code of `text` (comments, strings and
/// `#[cfg(test)]` items removed), with its 1-based line: `crate::NAME`, and
/// `super::...::NAME` with `depth` times `super` (the crate root, seen from a file
/// that deep; inline modules are not counted). `use crate::{a, b::c}` yields `a`
/// and `b`.
fn crate_paths(text: &str, depth: usize) -> Vec<(String, usize)> {
    let code = strip_tests(&strip_comments_and_strings(text));
    let root = "super::".repeat(depth.max(1));
    let mut out = root_paths(&code, "crate::");
    out.extend(root_paths(&code, &root));
    out.sort_by_key(|(_, line)| *line);
    out
}

/// The first segment after every whole-word `prefix` in `code`.
fn root_paths(code: &str, prefix: &str) -> Vec<(String, usize)> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = code[from..].find(prefix) {
        let start = from + pos;
        from = start + prefix.len();
        // A `super::` chain longer than the one asked for is not the crate root.
        if prefix.starts_with("super::") && code[..start].ends_with("super::") {
            continue;
        }
        if code[from..].starts_with("super::") {
            continue;
        }
        // The prefix must start a word (not `my_crate::`).
        if start > 0 && is_ident(bytes[start - 1]) {
            continue;
        }
        let line = code[..start].matches('\n').count() + 1;
        let rest = &code[from..];
        let rest = rest.trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            // A use tree: the first segment of each top-level item of the group.
            let mut depth = 0usize;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_alphabetic() || c == '_') => {
                        item_start = false;
                        let name = ident_at(&group[i..]);
                        let line = line + group[..i].matches('\n').count();
                        out.push((name, line));
                    }
                    c if !c.is_whitespace() => item_start = false,
                    _ => {}
                }
            }
        } else {
            let name = ident_at(rest);
            if !name.is_empty() {
                out.push((name, line));
            }
        }
    }
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn ident_at(s: &str) -> String {
    s.bytes()
        .take_while(|b| is_ident(*b))
        .map(char::from)
        .collect()
}

/// `text` with comments and string/char literals blanked out, newlines kept so that
/// line numbers still hold.
fn strip_comments_and_strings(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && (i == 0 || !is_ident_char(chars[i - 1]))
        {
            // Raw string r"..." / r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &ch in &chars[i..j.min(chars.len())] {
                out.push(blank(ch));
            }
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A char literal ('a', '\n', '\'', '\u{..}') or a lifetime ('a).
            let close = if next == Some('\\') {
                (i + 2..chars.len().min(i + 12)).find(|&k| chars[k] == '\'' && k > i + 2)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match close {
                Some(end) => {
                    for _ in i..=end {
                        out.push(' ');
                    }
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `code` (comments already gone) with every item under `#[cfg(test)]` blanked: the
/// attribute, then either one `;`-terminated item or a braced block.
fn strip_tests(code: &str) -> String {
    let mut out: Vec<char> = code.chars().collect();
    let text: String = out.iter().collect();
    let mut starts = Vec::new();
    let mut from = 0;
    while let Some(pos) = text[from..].find("#[cfg(test)]") {
        starts.push(text[..from + pos].chars().count());
        from += pos + 1;
    }
    let len = out.len();
    for start in starts {
        let mut depth = 0usize;
        let mut k = start + "#[cfg(test)]".len();
        while k < out.len() {
            match out[k] {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                ';' if depth == 0 => break,
                _ => {}
            }
            k += 1;
        }
        for c in out.iter_mut().take((k + 1).min(len)).skip(start) {
            if *c != '\n' {
                *c = ' ';
            }
        }
    }
    out.into_iter().collect()
}

/// The strongly connected components with more than one module (Tarjan), each as
/// one cycle through all of its modules where one exists, else as the component.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        next: usize,
        sccs: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(edges) = s.graph.get(v) {
            for w in edges.keys() {
                let w = w.as_str();
                if !s.graph.contains_key(w) {
                    continue;
                }
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let low = s.low[v].min(s.low[w]);
                    s.low.insert(v, low);
                } else if s.on_stack.contains(w) {
                    let low = s.low[v].min(s.index[w]);
                    s.low.insert(v, low);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut scc = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on_stack.remove(w);
                scc.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                s.sccs.push(scc);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        sccs: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    let mut sccs = s.sccs;
    sccs.sort();
    sccs
}

/// One component: its modules, then every edge inside it with where it is written,
/// then the shortest cycle through each edge's source, as `a -> b -> a`.
fn describe(graph: &Graph, scc: &[String]) -> String {
    let members: BTreeSet<&str> = scc.iter().map(String::as_str).collect();
    let mut out = format!("component {{{}}}:", scc.join(", "));
    let mut shown = BTreeSet::new();
    for start in scc {
        if let Some(cycle) = shortest_cycle(graph, &members, start) {
            let key: BTreeSet<(String, String)> = cycle
                .windows(2)
                .map(|w| (w[0].clone(), w[1].clone()))
                .collect();
            if shown.insert(key) {
                out.push_str(&format!("\n  cycle: {}", cycle.join(" -> ")));
            }
        }
    }
    out.push_str("\n  edges inside it:");
    for from in scc {
        for (to, sites) in &graph[from] {
            if members.contains(to.as_str()) {
                let at: Vec<String> = sites
                    .iter()
                    .map(|s| format!("{}:{}", s.file, s.line))
                    .collect();
                out.push_str(&format!("\n    {from} -> {to}  ({})", at.join(", ")));
            }
        }
    }
    out
}

/// Breadth-first: the shortest path `start -> ... -> start` inside `members`.
fn shortest_cycle(graph: &Graph, members: &BTreeSet<&str>, start: &str) -> Option<Vec<String>> {
    let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for w in graph[v].keys().map(String::as_str) {
            if !members.contains(w) {
                continue;
            }
            if w == start {
                let mut path = vec![start.to_string()];
                let mut at = v;
                while at != start {
                    path.push(at.to_string());
                    at = parent[at];
                }
                path.push(start.to_string());
                path.reverse();
                return Some(path);
            }
            if !parent.contains_key(w) {
                parent.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    None
}

#[cfg(test)]
mod finder {
    use super::*;

    fn graph(edges: &[(&str, &str)]) -> Graph {
        let mut g = Graph::new();
        for (i, (a, b)) in edges.iter().enumerate() {
            g.entry(b.to_string()).or_default();
            g.entry(a.to_string()).or_default().insert(
                b.to_string(),
                vec![Site {
                    file: format!("src/{a}.rs"),
                    line: i + 1,
                }],
            );
        }
        g
    }

    #[test]
    fn a_chain_and_a_diamond_have_no_cycle() {
        let g = graph(&[
            ("cli", "plan"),
            ("plan", "model"),
            ("cli", "model"),
            ("report", "model"),
        ]);
        assert!(cycles(&g).is_empty());
    }

    #[test]
    fn every_cycle_is_found_with_its_edges() {
        let g = graph(&[
            ("a", "b"),
            ("b", "c"),
            ("c", "a"),
            ("c", "leaf"),
            ("x", "y"),
            ("y", "x"),
            ("z", "a"),
        ]);
        let found = cycles(&g);
        assert_eq!(found, vec![vec!["a", "b", "c"], vec!["x", "y"]]);
        let text = describe(&g, &found[0]);
        assert!(text.contains("cycle: a -> b -> c -> a"), "{text}");
        assert!(text.contains("c -> a  (src/c.rs:3)"), "{text}");
        assert!(!text.contains("leaf"), "{text}");
        assert!(describe(&g, &found[1]).contains("cycle: x -> y -> x"));
    }

    #[test]
    fn the_crate_root_is_reached_through_super_too() {
        let text = "use super::super::runner::X;\nuse super::sibling;\nfn f() { super::super::super::deep::g(); }\n";
        let names: Vec<String> = crate_paths(text, 2).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, vec!["runner"]);
        let names: Vec<String> = crate_paths(text, 1).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, vec!["sibling"]);
    }

    #[test]
    fn paths_are_read_from_code_only() {
        let text = "use crate::{a::B, b, c::{d, e}};\n\
                    // use crate::commented;\n\
                    let s = \"crate::in_string\";\n\
                    fn f() { crate::inline::g(); my_crate::not_ours(); }\n\
                    #[cfg(test)]\nmod tests {\n    use crate::test_only;\n}\n\
                    use crate::after;\n";
        let found = crate_paths(text, 1);
        let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["a", "b", "c", "inline", "after"]);
        assert_eq!(found[3].1, 4);
        assert_eq!(found[4].1, 9);
    }
}
