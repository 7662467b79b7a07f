//! The reference sections at the end of `index.html`: the plan's grid, settings and
//! profiles; where and with what the sweep ran (provenance, plan.json); the other
//! files of the folder.

use maud::{html, Markup};

use super::{cell, head, key_values, row};
use crate::plan_file::PlanFile;
use crate::python::inspect::Interpreter;

/// The grid and settings of the plan, and its profiles.
pub(super) fn plan_section(pf: &PlanFile) -> Markup {
    let plan = &pf.plan;
    let grid = |v: &[u32]| {
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let patterns = plan
        .patterns
        .iter()
        .map(|p| {
            if p.params.is_empty() {
                p.name.clone()
            } else {
                format!("{}:{}", p.name, p.params)
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let kv: Vec<(&str, String)> = vec![
        ("Python threads", grid(&plan.python_threads)),
        ("Rust threads per call", grid(&plan.rust_threads)),
        ("iterations per Python thread", plan.iterations.to_string()),
        ("sleep between calls", format!("{} ms", plan.sleep_ms)),
        ("repetitions per build", plan.reps.to_string()),
        (
            "bindings",
            plan.bindings
                .iter()
                .map(|b| b.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("patterns", patterns),
        ("GIL delta floor", format!("{} MiB", plan.floor_mib)),
        ("seed", plan.seed.to_string()),
    ];
    html! {
        h2 { "Plan" }
        (key_values(&kv))
        h3 { "Profiles" }
        table {
            (head(&[
                "profile",
                "GLIBC_TUNABLES",
                "allocator",
                "other variables",
                "description",
            ]))
            @for p in &plan.profiles {
                @let env: Vec<String> = p.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
                (row(&[
                    cell(&p.name),
                    html! { code { (p.glibc_tunables()) } },
                    cell(p.allocator.label()),
                    cell(env.join(" ")),
                    cell(&p.description),
                ], 5))
            }
        }
    }
}

/// Where and with what the sweep ran, and plan.json itself.
pub(super) fn provenance(pf: &PlanFile) -> Markup {
    let prov = &pf.provenance;
    let h = &prov.host;
    let interp = |i: &Interpreter| {
        format!(
            "{} ({}) configure: {}",
            i.executable.display(),
            i.label(),
            i.config_args
        )
    };
    let mut kv: Vec<(String, String)> = vec![
        (
            "tool".into(),
            format!("{} {}", prov.tool, prov.tool_version),
        ),
        ("glibc".into(), h.glibc_version.clone()),
        ("kernel".into(), h.kernel.clone()),
        (
            "CPU".into(),
            format!(
                "{} ({} online; affinity {:?})",
                h.cpu_model, h.online_cpus, h.affinity
            ),
        ),
        (
            "THP".into(),
            format!("enabled {}, defrag {}", h.thp_enabled, h.thp_defrag),
        ),
        (
            "cgroup memory.max".into(),
            h.cgroup_memory_max.clone().unwrap_or_else(|| "-".into()),
        ),
        ("hostname".into(), h.hostname.clone()),
        ("command line".into(), prov.command_line.join(" ")),
    ];
    for i in &prov.interpreters {
        kv.push((format!("{} interpreter", i.build()), interp(i)));
    }
    if let Some(p) = pf
        .plan
        .workload
        .as_ref()
        .and_then(crate::workload::packages_summary)
    {
        kv.push(("workload packages".into(), p));
    }
    let json = serde_json::to_string_pretty(pf).unwrap_or_default();
    html! {
        h2 { "Provenance" }
        (key_values(&kv))
        details { summary { "ld.so --list-tunables" } pre { (h.ld_so_list_tunables) } }
        details { summary { "plan.json" } pre { (json) } }
    }
}

/// Links to the folder's other files.
pub(super) fn files() -> Markup {
    html! {
        h2 { "Files" }
        ul {
            li { a href="cells.csv" { "cells.csv" } ": every point's statistics" }
            li { a href="results.jsonl" { "results.jsonl" } ": every run, with its snapshots and time series" }
            li { a href="summary.md" { "summary.md" } ": this report in short" }
            li { a href="plan.json" { "plan.json" } ": plan and provenance" }
        }
    }
}
