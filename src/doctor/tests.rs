//! Tests of the host checks: tunables, transparent huge pages, the arena cap,
//! resource limits and the missing-pair message, on hand-made hosts.

use super::*;
use std::path::PathBuf;

fn host(version: &str, list: &str) -> Host {
    Host {
        glibc_version: version.into(),
        ld_so: Some(PathBuf::from("/lib64/ld-linux-x86-64.so.2")),
        ld_so_list_tunables: list.into(),
        ..Default::default()
    }
}

const LIST_2_36: &str = include_str!("../../tests/fixtures/ld-so-list-tunables-glibc2.36.txt");

#[test]
fn tunables_need_glibc_2_26_and_are_best_listed() {
    let ok = check_tunables(&host("2.36", LIST_2_36));
    assert_eq!(ok.status, Status::Ok, "{ok:?}");
    assert!(ok.reason.contains("arena_max"));
    let listless = check_tunables(&host("2.31", ""));
    assert_eq!(listless.status, Status::Warn);
    assert!(listless.reason.contains("needs 2.33"), "{listless:?}");
    let old = check_tunables(&host("2.17", ""));
    assert_eq!(old.status, Status::Fail);
    assert!(old.reason.contains("predates GLIBC_TUNABLES"));
    assert_eq!(check_tunables(&host("", "")).status, Status::Fail);
    let mut no_loader = host("2.36", LIST_2_36);
    no_loader.ld_so = None;
    assert_eq!(check_tunables(&no_loader).status, Status::Fail);
}

#[test]
fn thp_always_is_a_warning_with_a_fix() {
    assert_eq!(check_thp("madvise").status, Status::Ok);
    assert_eq!(check_thp("never").status, Status::Ok);
    let always = check_thp("always");
    assert_eq!(always.status, Status::Warn);
    assert!(always.reason.contains("2 MiB"));
    assert!(always.fix.unwrap().contains("madvise"));
    assert_eq!(check_thp("").status, Status::Warn);
}

#[test]
fn the_cap_follows_online_cpus_not_quota() {
    let c = check_arena_cap(2, 2, None);
    assert_eq!(c.status, Status::Ok);
    assert!(c.reason.starts_with("16 arenas = 8 x 2 online CPUs"));
    let quota = check_arena_cap(64, 64, Some(2.0));
    assert_eq!(quota.status, Status::Warn);
    assert!(quota.reason.contains("512 arenas") && quota.reason.contains("only 2 CPU"));
    assert!(quota.fix.unwrap().contains("arena_max=16"));
    assert_eq!(check_arena_cap(8, 4, None).status, Status::Warn);
}

#[test]
fn limits_are_checked_against_the_talks_cell() {
    let limit = |max, used| Limit {
        name: "kernel.threads-max".into(),
        max,
        used,
    };
    assert_eq!(check_limits(&[limit(100_000, 300)]).status, Status::Ok);
    let tight = check_limits(&[limit(100_000, 300), limit(500, 200)]);
    assert_eq!(tight.status, Status::Warn);
    assert!(tight.reason.contains("300 more") && tight.reason.contains("424"));
    assert_eq!(check_limits(&[]).status, Status::Warn);
}

#[test]
fn a_missing_pair_names_what_was_found() {
    let c = check_pair(&Ok(None), &[]);
    assert_eq!(c.status, Status::Fail);
    assert!(c.reason.contains("GIL builds found: none"));
    assert!(c.fix.unwrap().contains("pythons install"));
    let e = check_pair(&Err(anyhow::anyhow!("bad flag")), &[]);
    assert_eq!((e.status, e.reason.as_str()), (Status::Fail, "bad flag"));
}
