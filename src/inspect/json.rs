//! `inspect --json`: one JSON object per look, for scripts (docs/inspect.md lists
//! every field). Sizes are in the units their names say (`_kib`, `_bytes`).

use serde_json::{json, Value};

use super::assessment::Assessment;
use super::target::LibcKind;
use super::Look;

/// The look and its assessment as one JSON object (one line).
pub(super) fn look(l: &Look, v: &Assessment) -> Value {
    let o = &l.obs;
    let s = &o.snapshot;
    let libc_kind = match o.libc.kind {
        LibcKind::Glibc => "glibc",
        LibcKind::Musl => "musl",
        LibcKind::StaticOther => "static_other",
    };
    let (arenas, arenas_error) = match &l.arenas {
        Ok(snap) => (json!(snap), Value::Null),
        Err(e) => (
            Value::Null,
            json!({ "kind": e.kind(), "message": e.to_string() }),
        ),
    };
    json!({
        "pid": o.pid,
        "name": o.name,
        "uid": o.uid,
        "exe": o.exe,
        "threads": s.threads,
        "rss_kib": s.rss_kib,
        "hwm_kib": s.hwm_kib,
        "regions": s.regions,
        "libc": {
            "kind": libc_kind,
            "version": o.libc.version,
            "file": o.libc.file,
            "static": o.libc.is_static(),
        },
        "replacement": o.replacement.as_ref().map(|r| json!({
            "name": r.name,
            "lib": r.lib,
            "preloaded": r.preloaded,
        })),
        "arena_max": o.arena_max.as_ref().map(|a| json!({ "value": a.value, "from": a.from })),
        "arenas": arenas,
        "arenas_error": arenas_error,
        "verdict": {
            "level": v.level.as_str(),
            "headline": v.headline,
            "findings": v.findings,
            "levers": v.levers.iter().map(|a| json!({
                "lever": a.lever.as_str(),
                "returns_mib": a.returns_kib.map(|k| k / 1024.0),
                "of_mib": a.of_kib / 1024.0,
                "text": a.line(),
            })).collect::<Vec<_>>(),
            "suggestions": v.suggestions.iter().map(|s| json!({
                "profile": s.profile.name,
                "glibc_tunables": s.profile.glibc_tunables(),
                "why": s.why,
            })).collect::<Vec<_>>(),
            "advice": v.advice,
            "notes": v.notes,
        },
    })
}
