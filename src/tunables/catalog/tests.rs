//! Unit tests of the tunables catalog read from `ld.so --list-tunables`; `catalog()`
//! is the glibc 2.36 fixture the other tunables tests build on.

use super::*;

/// This machine's `ld.so --list-tunables` (Debian 12, glibc 2.36), captured verbatim.
pub(crate) const GLIBC_2_36: &str =
    include_str!("../../../tests/fixtures/ld-so-list-tunables-glibc2.36.txt");

pub(crate) fn catalog() -> Catalog {
    Catalog::from_text(GLIBC_2_36)
}

#[test]
fn parses_the_real_list() {
    let specs = parse_list_tunables(GLIBC_2_36);
    // 37 lines, of which 3 are string tunables without bounds.
    assert_eq!(GLIBC_2_36.lines().count(), 37);
    assert_eq!(specs.len(), 34);
    let arena_max = specs
        .iter()
        .find(|s| s.name == "glibc.malloc.arena_max")
        .unwrap();
    assert_eq!(
        *arena_max,
        TunableSpec {
            name: "glibc.malloc.arena_max".into(),
            default: 0,
            min: 1,
            max: u64::MAX
        }
    );
    let check = specs
        .iter()
        .find(|s| s.name == "glibc.malloc.check")
        .unwrap();
    assert_eq!((check.default, check.min, check.max), (0, 0, 3));
    let maxarcs = specs
        .iter()
        .find(|s| s.name == "glibc.gmon.maxarcs")
        .unwrap();
    assert_eq!(
        (maxarcs.default, maxarcs.min, maxarcs.max),
        (1_048_576, 50, 2_147_483_647)
    );
    assert!(!specs.iter().any(|s| s.name == "glibc.cpu.hwcaps"));
    let c = catalog();
    let malloc: Vec<&str> = c.malloc_names().collect();
    assert_eq!(malloc.len(), 13, "{malloc:?}");
}

#[test]
fn odd_lines_are_skipped_and_negative_minimums_clamped() {
    let specs = parse_list_tunables(
        "glibc.x.a: -1 (min: -2147483648, max: 2147483647)\n\
             garbage\n\
             glibc.x.b: 0x10 (min: 0x1, max: 0xzz)\n\
             Glibc.x.c: 1 (min: 0, max: 1)\n",
    );
    assert_eq!(
        specs,
        vec![TunableSpec {
            name: "glibc.x.a".into(),
            default: 0,
            min: 0,
            max: 2_147_483_647
        }]
    );
}

#[test]
fn the_host_catalog_lists_malloc_tunables() {
    let c = Catalog::for_host();
    assert!(
        c.spec("glibc.malloc.arena_max").is_some(),
        "{:?}",
        c.source()
    );
    // glibc >= 2.33 here: the loader's own list, not the fallback.
    assert!(
        matches!(c.source(), CatalogSource::Loader { .. }),
        "{:?}",
        c.source()
    );
}

#[test]
fn old_loaders_fall_back_to_the_builtin_table() {
    let c = Catalog::from_loader_output("", Path::new("/lib64/ld-linux-x86-64.so.2"));
    assert!(matches!(c.source(), CatalogSource::BuiltIn { .. }));
    assert_eq!(c.malloc_names().count(), BUILTIN_GLIBC_2_32.len());
    // The built-in bounds agree with what glibc 2.36 lists for the same names.
    let host = catalog();
    for spec in c.specs() {
        let listed = host.spec(&spec.name).unwrap();
        assert_eq!(
            (spec.min, spec.max),
            (listed.min, listed.max),
            "{}",
            spec.name
        );
    }
}

#[test]
fn values() {
    assert_eq!(parse_value("0"), Ok(0));
    assert_eq!(parse_value("131072"), Ok(131_072));
    assert_eq!(parse_value("128K"), Ok(131_072));
    assert_eq!(parse_value("128k"), Ok(131_072));
    assert_eq!(parse_value("32M"), Ok(32 << 20));
    assert_eq!(parse_value("1G"), Ok(1 << 30));
    assert_eq!(parse_value("18446744073709551615"), Ok(u64::MAX));
    let err = |s: &str| parse_value(s).unwrap_err();
    assert!(err("").contains("empty"));
    assert!(err("-1").contains("negative"));
    assert!(err("0x20000").contains("hex"));
    assert!(err("12.5").contains("not a whole number"));
    assert!(err("K").contains("not a whole number"));
    assert!(err("+3").contains("not a whole number"));
    assert!(err("1_000").contains("not a whole number"));
    assert!(err("128KiB").contains("not a whole number"));
    assert!(err("18446744073709551616").contains("too large"));
    assert!(err("17179869184G").contains("too large"));
    assert!(err("2:glibc.malloc.check=3").contains("one tunable per entry"));
    assert!(err("2 ").contains("whitespace"));
    assert!(err("2\0").contains("NUL"));
    assert!(err("２").contains("ASCII"));
}

#[test]
fn entries_and_their_errors() {
    let c = catalog();
    let t = c.entry("glibc.malloc.arena_max=2").unwrap();
    assert_eq!((t.name(), t.value()), ("glibc.malloc.arena_max", 2));
    assert_eq!(
        c.entry("glibc.malloc.trim_threshold=128K").unwrap().value(),
        131_072
    );
    let err = |s: &str| c.entry(s).unwrap_err();
    assert_eq!(
        err("glibc.malloc.arena_max"),
        "expected NAME=VALUE, as in glibc.malloc.arena_max=2"
    );
    assert_eq!(
            err("glibc.malloc.arena_max=0"),
            "glibc.malloc.arena_max=0 is out of range: this glibc accepts 1 to 18446744073709551615 (ld.so would silently ignore it)"
        );
    assert_eq!(
            err("glibc.malloc.check=4"),
            "glibc.malloc.check=4 is out of range: this glibc accepts 0 to 3 (ld.so would silently ignore it)"
        );
    assert_eq!(err("glibc.malloc.arena_maxx=2"), "unknown tunable `glibc.malloc.arena_maxx` (not in the given tunables list); did you mean glibc.malloc.arena_max?");
    assert_eq!(err("glibc.malloc.trim_treshold=2"), "unknown tunable `glibc.malloc.trim_treshold` (not in the given tunables list); did you mean glibc.malloc.trim_threshold?");
    assert!(err("glibc.malloc.zzzzzzzz=2")
        .contains("this glibc has: glibc.malloc.arena_max, glibc.malloc.arena_test"));
    assert_eq!(
        err("arena_max=2"),
        "unknown tunable `arena_max`; did you mean glibc.malloc.arena_max?"
    );
    assert_eq!(
        err("MALLOC_ARENA_MAX=2"),
        "MALLOC_ARENA_MAX is the environment-variable spelling; write glibc.malloc.arena_max"
    );
    assert_eq!(
            err("glibc.rtld.nns=2"),
            "glibc.rtld.nns is not a malloc tunable: arena-sweep only sets glibc.malloc.* tunables, because it measures malloc"
        );
    assert!(err("glibc.pthread.whatever=1").contains("is not a malloc tunable"));
    assert!(err("Glibc.malloc.arena_max=2").contains("lower case"));
    assert!(err("glibc.malloc.arena-max=2").contains("not `-`"));
    assert!(err("=2").contains("empty"));
    assert!(err("glibc.malloc.arena_max=").contains("empty"));
    assert!(err("glibc.malloc.arena_max=2=3").contains("not a whole number"));
    assert!(err("glibc.malloc.arena_max=2:glibc.malloc.check=1").contains("`:` separates tunables"));
    assert!(err("glibc.malloc.arena_max =2").contains("whitespace"));
    assert!(err("glibc.malloc.arena_max=2\n").contains("whitespace"));
    assert!(err("glibc.malloc.arena_max\0=2").contains("NUL"));
    assert!(err("glibc.malloc.arenä_max=2").contains("ASCII"));
    assert!(err("glibc.malloc.arena_max=\u{1b}2").contains("control"));
}
