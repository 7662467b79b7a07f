//! The rounds rows of a point's block (`--rounds`): per build, the delta after round 1,
//! the settled level and the growth per round over the last half of the rounds, net of
//! the control arm's where there is one, then a verdict line per build that names what
//! grows.

use std::fmt::Write as _;

use crate::aggregate::rounds::{Growth, Rounds, GROWTH_BOUND_KIB};
use crate::aggregate::{BuildStats, CellSummary, NetBuild};
use crate::model::Build;
use crate::stats::Ci;

use crate::units::{mib, mib_value};

/// "+12.3 KiB" per round.
fn kib_signed(kib: f64) -> String {
    let v = (kib * 10.0).round() / 10.0;
    if v == 0.0 {
        "+0.0 KiB".to_string()
    } else {
        format!("{v:+.1} KiB")
    }
}

fn ci_kib(ci: Option<Ci>) -> String {
    ci.map_or(String::new(), |ci| {
        format!(" [95% CI {:+.1}..{:+.1}]", ci.lo, ci.hi)
    })
}

fn ci_mib(ci: Option<Ci>) -> String {
    ci.map_or(String::new(), |ci| {
        format!(" [95% CI {}..{}]", mib_value(ci.lo), mib_value(ci.hi))
    })
}

fn row(s: &mut String, label: &str, [g, n]: [String; 2]) {
    let _ = writeln!(s, "  {label:<28}{g:<36}{n}");
}

/// The rounds rows, under the gross and net rows.
pub fn rounds_rows(s: &mut String, c: &CellSummary) {
    let of = |b: &Option<BuildStats>| b.as_ref().and_then(|b| b.rounds.clone());
    let r = [of(&c.gil), of(&c.nogil)];
    let Some(any) = r.iter().flatten().next() else {
        let _ = writeln!(
            s,
            "  {:<28}one window per run: settling or growth not measured (--rounds 3 or more)",
            "rounds"
        );
        return;
    };
    let span = format!("rounds {}-{}", any.from_round, any.rounds);
    let _ = writeln!(
        s,
        "  {:<28}{} per run (a new pool of the same threads each); level and growth over {span}",
        "rounds", any.rounds
    );
    let cell = |f: &dyn Fn(&Rounds) -> String| r.clone().map(|x| x.as_ref().map_or("-".into(), f));
    row(
        s,
        "after round 1 (one window)",
        cell(&|x| format!("{}{}", mib(x.first_kib), ci_mib(x.first_ci))),
    );
    row(
        s,
        "settled level",
        cell(&|x| format!("{}{}", mib(x.level_kib), ci_mib(x.level_ci))),
    );
    row(
        s,
        "growth per round",
        cell(&|x| format!("{}{}", kib_signed(x.growth_kib), ci_kib(x.growth_ci))),
    );
    let net = |b: &Option<NetBuild>| b.as_ref().and_then(|b| b.rounds.clone());
    let nets = c.native.as_ref().map(|n| [net(&n.gil), net(&n.nogil)]);
    if let Some(nets) = &nets {
        let cell = |f: &dyn Fn(&crate::aggregate::rounds::NetRounds) -> String| {
            nets.clone().map(|x| x.as_ref().map_or("-".into(), f))
        };
        row(
            s,
            "net growth (- control's)",
            cell(&|x| format!("{}{}", kib_signed(x.growth_kib), ci_kib(x.growth_ci))),
        );
    }
    row(s, "settles?", cell(&|x| x.verdict.as_str().to_string()));
    for (i, (name, build)) in [("GIL", Build::Gil), ("nogil", Build::Nogil)]
        .into_iter()
        .enumerate()
    {
        let Some(x) = &r[i] else { continue };
        if x.verdict == Growth::StillRising {
            let _ = writeln!(
                s,
                "  {name:<6}still rising at round {}: {} per round{} over {span}; {} rounds are too few to tell a one-time rise from a leak: --rounds {} or more",
                x.rounds,
                kib_signed(x.growth_kib),
                ci_kib(x.growth_ci),
                x.rounds,
                crate::aggregate::rounds::ROUNDS_TO_JUDGE
            );
        }
        if x.verdict != Growth::KeepsGrowing {
            continue;
        }
        let control = c
            .control(build)
            .and_then(|b| b.rounds.as_ref())
            .map(|cr| cr.growth_kib);
        let _ = writeln!(s, "  {name:<6}{}", growing_line(x, control));
    }
}

/// "keeps growing: +20.1 KiB per round [95% CI ...] (+19.63 MiB per 1,000 rounds at
/// that rate), mostly mimalloc ... (+15.0 KiB per round); ..."
pub fn growing_line(x: &Rounds, control_growth_kib: Option<f64>) -> String {
    let mut line = format!(
        "keeps growing: {} per round{} ({} MiB per 1,000 rounds at that rate)",
        kib_signed(x.growth_kib),
        ci_kib(x.growth_ci),
        crate::units::signed_mib(x.growth_kib * 1000.0)
    );
    if let Some((region, g)) = x.growth_by_region.largest() {
        let _ = write!(line, ", mostly {region} ({} per round)", kib_signed(g));
    }
    if let Some(cg) = control_growth_kib {
        if cg >= GROWTH_BOUND_KIB && cg >= 0.5 * x.growth_kib {
            let _ = write!(
                line,
                "; the control arm (no native call) grows {} per round of it: the interpreter's own cost, which no glibc tunable acts on",
                kib_signed(cg)
            );
        } else {
            let _ = write!(
                line,
                "; the control arm (the same threads, no call) grows {} per round: the growth comes with the calls, not with the threads alone",
                kib_signed(cg)
            );
        }
    }
    line
}

/// Most points listed by [`growth_block`].
const GROWING_POINTS: usize = 12;

/// The points where a build keeps growing (or is still rising after too few rounds),
/// by the judged figures, fastest first; nothing when every point settles.
pub fn growth_block(summaries: &[CellSummary]) -> String {
    let mut s = String::new();
    let mut rows: Vec<(&CellSummary, &'static str, &Rounds, Growth)> = Vec::new();
    for c in summaries {
        let judged = c.judged_growth();
        for (i, (name, stats)) in [("GIL", &c.gil), ("nogil", &c.nogil)]
            .into_iter()
            .enumerate()
        {
            let (Some(v), Some(r)) = (judged[i], stats.as_ref().and_then(|b| b.rounds.as_ref()))
            else {
                continue;
            };
            if matches!(v, Growth::KeepsGrowing | Growth::StillRising) {
                rows.push((c, name, r, v));
            }
        }
    }
    if rows.is_empty() {
        if summaries
            .iter()
            .any(|c| c.judged_growth().iter().any(Option::is_some))
        {
            let _ = writeln!(s, "rounds: every point settles (growth per round below {GROWTH_BOUND_KIB} KiB or not above zero)\n");
        }
        return s;
    }
    rows.sort_by(|a, b| b.2.growth_kib.total_cmp(&a.2.growth_kib));
    let _ = writeln!(
        s,
        "points that keep growing round after round (judged figures; growth per round over the last half of the rounds):"
    );
    for (c, name, r, v) in rows.iter().take(GROWING_POINTS) {
        let what = r
            .growth_by_region
            .largest()
            .map_or(String::new(), |(region, _)| format!(", mostly {region}"));
        let _ = writeln!(
            s,
            "  {}  {}: {} {} per round{}{what}",
            c.point.label(),
            name,
            v.as_str(),
            kib_signed(r.growth_kib),
            ci_kib(r.growth_ci)
        );
    }
    if rows.iter().any(|(.., v)| *v == Growth::StillRising) {
        let _ = writeln!(
            s,
            "  still rising: fewer than {} rounds cannot tell a one-time rise from a leak; run with --rounds {}",
            crate::aggregate::rounds::ROUNDS_TO_JUDGE,
            crate::aggregate::rounds::ROUNDS_TO_JUDGE
        );
    }
    let _ = writeln!(s);
    s
}
