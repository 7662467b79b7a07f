//! The recommendation: which measured profile to deploy, the `GLIBC_TUNABLES` line
//! (or the equivalent `LD_PRELOAD` setup) it stands for, and ready-to-paste snippets
//! for systemd, a Dockerfile and Kubernetes.
//!
//! Every variable comes from [`Profile::child_env`] of a profile in the plan, that is
//! from tunables validated against glibc's own list (the rendering in `tunables.rs` is
//! the only one), a preload path that was checked, and `[env]` entries that were
//! checked. The snippets still quote each value for their format, as a value may hold
//! spaces, `%` (a systemd specifier) or `$` (expanded by Docker and Kubernetes).

use super::ranking::{ProfileRank, BASELINE_PROFILE};
use crate::tunables::{Allocator, Profile};

/// The largest throughput cost a recommended profile may have if a cheaper one
/// exists at all: 10% fewer calls per second than glibc-default.
pub const MAX_THROUGHPUT_COST: f64 = 0.10;

#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    pub profile: String,
    /// Why this one, in one sentence.
    pub reason: String,
    /// Calls/s relative to glibc-default, free-threaded build (None if unmeasured).
    pub throughput: Option<f64>,
    /// Median free-threaded final RSS, and how much less than glibc-default's.
    pub final_nogil_kib: f64,
    pub saved_kib: Option<f64>,
    /// `Profile::glibc_tunables()` ("" when the profile sets none).
    pub glibc_tunables: String,
    /// Every variable the profile sets, in the order a child gets them.
    pub env: Vec<(String, String)>,
    /// The profile swaps the extension's allocator at build time (tikv-jemallocator):
    /// the environment alone does not reproduce it.
    pub needs_jemalloc_build: bool,
    pub snippets: Snippets,
}

impl Recommendation {
    /// The line to put in front of a command: `GLIBC_TUNABLES=...`, or the profile's
    /// variables, or a sentence when it needs none.
    pub fn line(&self) -> String {
        if self.env.is_empty() {
            return format!("no variables needed: {} sets none", self.profile);
        }
        self.env
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_quote(v)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Ready-to-paste configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snippets {
    pub systemd: String,
    pub dockerfile: String,
    pub kubernetes: String,
}

/// `'...'` when the value holds anything a POSIX shell treats specially.
pub fn shell_quote(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:=,+@%".contains(c));
    if plain {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', r"'\''"))
    }
}

/// A name a shell, systemd, Docker and Kubernetes all accept, and a value with no
/// control character (a line break would start a new directive in a unit file or a
/// Dockerfile). Profiles are checked when loaded; this guards a hand-edited plan.json.
fn renderable(name: &str, value: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !value.chars().any(char::is_control)
}

/// The snippets for a list of variables.
pub fn snippets(env: &[(String, String)]) -> Snippets {
    if env.is_empty() {
        return Snippets::default();
    }
    if let Some((k, _)) = env.iter().find(|(k, v)| !renderable(k, v)) {
        let refused = format!(
            "# not rendered: {} is not a plain variable name or its value holds a control character\n",
            k.escape_default()
        );
        return Snippets {
            systemd: refused.clone(),
            dockerfile: refused.clone(),
            kubernetes: refused,
        };
    }
    let mut systemd = String::from("[Service]\n");
    let mut dockerfile = String::new();
    let mut kubernetes = String::from("env:\n");
    for (k, v) in env {
        // systemd: C-style escapes inside double quotes, and % starts a specifier.
        let s = v
            .replace('\\', r"\\")
            .replace('"', "\\\"")
            .replace('%', "%%");
        systemd.push_str(&format!("Environment=\"{k}={s}\"\n"));
        // Dockerfile: double quotes, where \ " and $ are special.
        let d = v
            .replace('\\', r"\\")
            .replace('"', "\\\"")
            .replace('$', "\\$");
        dockerfile.push_str(&format!("ENV {k}=\"{d}\"\n"));
        // Kubernetes: a YAML double-quoted scalar (JSON's escaping is valid YAML), with
        // $( doubled so it is not taken as a variable reference.
        let y = serde_json::to_string(&v.replace("$(", "$$(")).unwrap_or_default();
        kubernetes.push_str(&format!("  - name: {k}\n    value: {y}\n"));
    }
    Snippets {
        systemd,
        dockerfile,
        kubernetes,
    }
}

type Candidate<'a> = (&'a ProfileRank, &'a Profile, f64);

/// The candidate with the least memory; on a tie, the faster one.
fn lowest<'a, 'b: 'a>(pool: impl Iterator<Item = &'a Candidate<'b>>) -> Option<&'a Candidate<'b>> {
    pool.min_by(|a, b| {
        a.2.total_cmp(&b.2).then(
            b.0.throughput_nogil
                .unwrap_or(0.0)
                .total_cmp(&a.0.throughput_nogil.unwrap_or(0.0)),
        )
    })
}

/// The profile to recommend: the lowest median free-threaded final RSS among profiles
/// whose throughput cost is at most [`MAX_THROUGHPUT_COST`] (or unmeasured); if every
/// measured one costs more, the lowest final RSS anyway, saying so. `profiles` are the
/// plan's (validated) profiles; a ranked profile missing from them is skipped. With
/// fewer than two measured profiles there is nothing to choose between: None.
pub fn recommend(ranks: &[ProfileRank], profiles: &[Profile]) -> Option<Recommendation> {
    let usable: Vec<Candidate> = ranks
        .iter()
        .filter_map(|r| {
            let p = profiles.iter().find(|p| p.name == r.profile)?;
            Some((r, p, r.final_nogil_kib?))
        })
        .collect();
    if usable.len() < 2 {
        return None;
    }
    let cheap = |r: &ProfileRank| r.throughput_cost().is_none_or(|c| c <= MAX_THROUGHPUT_COST);
    let (over_budget, &(rank, profile, final_kib)) =
        match lowest(usable.iter().filter(|u| cheap(u.0))) {
            Some(u) => (false, u),
            None => (true, lowest(usable.iter())?),
        };
    let base = ranks
        .iter()
        .find(|r| r.profile == BASELINE_PROFILE)
        .and_then(|r| r.final_nogil_kib);
    let saved_kib = base.map(|b| b - final_kib);
    let cost = match rank.throughput_nogil {
        Some(t) => format!(
            "{:.2}x glibc-default's calls per second ({})",
            t,
            if t >= 1.0 {
                "no throughput cost".to_string()
            } else {
                format!("{:.0}% fewer", (1.0 - t) * 100.0)
            }
        ),
        None => "throughput cost unknown (glibc-default was not measured)".to_string(),
    };
    let saved = match saved_kib {
        Some(s) if rank.profile != BASELINE_PROFILE => {
            format!(", {:.2} MiB less than glibc-default", s / 1024.0)
        }
        _ => String::new(),
    };
    let rule = if over_budget {
        format!(
            "every measured profile costs more than {:.0}% throughput, so this is simply the lowest",
            MAX_THROUGHPUT_COST * 100.0
        )
    } else {
        format!(
            "the lowest among profiles costing at most {:.0}% throughput",
            MAX_THROUGHPUT_COST * 100.0
        )
    };
    let reason = format!(
        "median free-threaded final RSS {:.2} MiB{saved}: {rule}; {cost}",
        final_kib / 1024.0
    );
    let env = profile.child_env();
    Some(Recommendation {
        profile: profile.name.clone(),
        reason,
        throughput: rank.throughput_nogil,
        final_nogil_kib: final_kib,
        saved_kib,
        glibc_tunables: profile.glibc_tunables(),
        snippets: snippets(&env),
        env,
        needs_jemalloc_build: profile.allocator == Allocator::Jemalloc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::ranking::{rank_profiles, tests::sweep};
    use crate::tunables::Catalog;

    fn profile(name: &str, entries: &[&str]) -> Profile {
        let catalog = Catalog::for_host();
        let mut p = Profile::glibc_default();
        p.name = name.into();
        p.tunables = entries.iter().map(|e| catalog.entry(e).unwrap()).collect();
        p
    }

    fn profiles() -> Vec<Profile> {
        vec![
            Profile::glibc_default(),
            profile("arena-max-1", &["glibc.malloc.arena_max=1"]),
            profile("arena-max-2", &["glibc.malloc.arena_max=2"]),
        ]
    }

    #[test]
    fn the_cheapest_low_memory_profile_is_recommended() {
        let rec = recommend(&rank_profiles(&sweep()), &profiles()).unwrap();
        // arena-max-1 has less memory but costs 30%; arena-max-2 costs 5%.
        assert_eq!(rec.profile, "arena-max-2");
        assert_eq!(rec.glibc_tunables, "glibc.malloc.arena_max=2");
        assert_eq!(rec.line(), "GLIBC_TUNABLES=glibc.malloc.arena_max=2");
        assert_eq!(rec.saved_kib, Some(40_005.0 - 20_005.0));
        assert!(
            rec.reason
                .contains("0.95x glibc-default's calls per second (5% fewer)"),
            "{}",
            rec.reason
        );
        assert!(
            rec.reason.contains("19.53 MiB less than glibc-default"),
            "{}",
            rec.reason
        );
        assert_eq!(
            rec.snippets.systemd,
            "[Service]\nEnvironment=\"GLIBC_TUNABLES=glibc.malloc.arena_max=2\"\n"
        );
        assert_eq!(
            rec.snippets.dockerfile,
            "ENV GLIBC_TUNABLES=\"glibc.malloc.arena_max=2\"\n"
        );
        assert_eq!(
            rec.snippets.kubernetes,
            "env:\n  - name: GLIBC_TUNABLES\n    value: \"glibc.malloc.arena_max=2\"\n"
        );
        assert!(!rec.needs_jemalloc_build);
    }

    #[test]
    fn when_everything_is_expensive_the_lowest_is_named_with_its_cost() {
        let mut ranks = rank_profiles(&sweep());
        ranks.retain(|r| r.profile != "glibc-default");
        for r in &mut ranks {
            if r.profile == "arena-max-2" {
                r.throughput_nogil = Some(0.8);
            }
        }
        let rec = recommend(&ranks, &profiles()).unwrap();
        assert_eq!(rec.profile, "arena-max-1");
        assert!(
            rec.reason
                .contains("every measured profile costs more than 10%"),
            "{}",
            rec.reason
        );
        assert!(rec.reason.contains("30% fewer"), "{}", rec.reason);
    }

    #[test]
    fn glibc_default_needs_no_variables() {
        let mut ranks = rank_profiles(&sweep());
        ranks.retain(|r| r.profile != "arena-max-2");
        // arena-max-1 uses less memory but costs 30%: glibc-default stays.
        let rec = recommend(&ranks, &profiles()).unwrap();
        assert_eq!(rec.profile, "glibc-default");
        assert_eq!(rec.line(), "no variables needed: glibc-default sets none");
        assert_eq!(rec.snippets, Snippets::default());
        assert!(
            !rec.reason.contains("less than glibc-default"),
            "{}",
            rec.reason
        );
        // One profile, or profiles that are not in the plan: nothing to recommend.
        ranks.retain(|r| r.profile == "glibc-default");
        assert_eq!(recommend(&ranks, &profiles()), None);
        assert_eq!(recommend(&rank_profiles(&sweep()), &[]), None);
    }

    #[test]
    fn preload_and_odd_values_are_quoted_for_each_format() {
        let env = vec![
            (
                "LD_PRELOAD".to_string(),
                "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2".to_string(),
            ),
            ("MY_CONF".to_string(), "a b%c\"d$(e)\\".to_string()),
        ];
        let s = snippets(&env);
        assert_eq!(
            s.systemd,
            "[Service]\nEnvironment=\"LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2\"\nEnvironment=\"MY_CONF=a b%%c\\\"d$(e)\\\\\"\n"
        );
        assert_eq!(
            s.dockerfile,
            "ENV LD_PRELOAD=\"/usr/lib/x86_64-linux-gnu/libjemalloc.so.2\"\nENV MY_CONF=\"a b%c\\\"d\\$(e)\\\\\"\n"
        );
        assert_eq!(
            s.kubernetes,
            "env:\n  - name: LD_PRELOAD\n    value: \"/usr/lib/x86_64-linux-gnu/libjemalloc.so.2\"\n  - name: MY_CONF\n    value: \"a b%c\\\"d$$(e)\\\\\"\n"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        // A line break would add a directive to a unit file: nothing is rendered.
        let evil = vec![("X".to_string(), "a\nExecStartPre=/bin/sh".to_string())];
        let s = snippets(&evil);
        assert!(s.systemd.starts_with("# not rendered: X") && !s.systemd.contains("ExecStartPre"));
        assert!(snippets(&[("A B".into(), "1".into())])
            .dockerfile
            .starts_with("# not rendered"));
        assert_eq!(
            shell_quote("glibc.malloc.arena_max=2"),
            "glibc.malloc.arena_max=2"
        );
    }
}
