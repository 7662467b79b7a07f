//! Why runs failed, for `summary.md`: each distinct failure (its kind, build and the
//! first line of its message) once, with how many runs it ended. A free-threaded run
//! stopped because an imported module turned the GIL back on says which module here.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::results::RunRecord;

/// The "Failed runs" section, or "" when every run succeeded.
pub fn markdown(records: &[RunRecord], esc: fn(&str) -> String) -> String {
    let mut seen: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for r in records {
        if let Some(f) = &r.failure {
            let first = f.message.lines().next().unwrap_or("").to_string();
            let kind = serde_json::to_value(f.kind)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            *seen
                .entry((r.cell.build.to_string(), kind, first))
                .or_default() += 1;
        }
    }
    if seen.is_empty() {
        return String::new();
    }
    let mut s =
        String::from("## Failed runs\n\n| build | kind | runs | message |\n|---|---|--:|---|\n");
    for ((build, kind, message), n) in &seen {
        let _ = writeln!(s, "| {build} | {kind} | {n} | {} |", esc(message));
    }
    s.push('\n');
    s
}
