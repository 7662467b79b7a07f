//! Unit tests of the inspect assessment: levels, suggestions and notes from fixture
//! smaps regions and facts, for glibc and for other mallocs.

use super::*;
use std::path::PathBuf;

fn catalog() -> Catalog {
    Catalog::from_text(include_str!(
        "../../../tests/fixtures/ld-so-list-tunables-glibc2.36.txt"
    ))
}

/// The regions of the free-threaded fixture (the arena reader's
/// `tests/fixtures/proc/smaps-nogil-done.txt`, 15 arena heaps on a 2-CPU host),
/// classified by the real classifier.
fn nogil_regions() -> Regions {
    let path = format!(
        "{}/crates/arena-reader/tests/fixtures/proc/smaps-nogil-done.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let file = std::fs::File::open(path).unwrap();
    crate::sampler::smaps::classify(
        &crate::sampler::smaps::parse(std::io::BufReader::new(file)).unwrap(),
    )
}

/// [`nogil_regions`] with 40 MiB resident in the arena heaps.
fn busy_regions() -> Regions {
    let r = nogil_regions();
    Regions {
        arena_heap_rss_kib: 40 * 1024,
        total_rss_kib: r.total_rss_kib + 40 * 1024,
        ..r
    }
}

fn facts(regions: Regions, threads: u64) -> Facts {
    Facts {
        regions,
        threads,
        libc: LibcKind::Glibc,
        libc_static: false,
        glibc_version: Some("2.36".into()),
        replacement: None,
        pointer_bits: Some(64),
        arena_max: None,
        online_cpus: 2,
        host_glibc_version: "2.36".into(),
        arenas: None,
    }
}

fn rendered(v: &Assessment) -> Vec<(String, String)> {
    v.suggestions
        .iter()
        .map(|s| (s.profile.name.clone(), s.profile.glibc_tunables()))
        .collect()
}

#[test]
fn arenas_at_the_cap_that_hold_little_need_no_tuning() {
    // The talk's pattern touches nothing: 15 heaps (the cap: 15 + main = 8 x 2 CPUs)
    // holding 0.1 MiB.
    let r = nogil_regions();
    assert_eq!(r.arena_heaps, 15);
    let v = assess(&facts(r, 1), &catalog());
    assert_eq!(v.level, Level::Fine, "{v:#?}");
    assert!(v.headline.contains("nothing to tune for"), "{v:#?}");
    assert!(
        v.findings.iter().any(|f| f.contains("reached the cap")),
        "{v:#?}"
    );
    assert!(v.findings.iter().any(|f| f.contains("mimalloc")), "{v:#?}");
    assert!(v.suggestions.is_empty());
}

#[test]
fn a_free_threaded_process_at_the_cap_gets_arena_max_suggestions() {
    // The same process shape, with 40 MiB resident in its arena heaps.
    let v = assess(&facts(busy_regions(), 1), &catalog());
    assert_eq!(v.level, Level::Significant, "{v:#?}");
    assert!(
        v.findings.iter().any(|f| f.contains("reached the cap")),
        "{v:#?}"
    );
    assert!(
        v.findings
            .iter()
            .any(|f| f.contains("malloc_trim(0) likely")),
        "{v:#?}"
    );
    assert_eq!(
            rendered(&v),
            vec![
                ("arena-max-2".to_string(), "glibc.malloc.arena_max=2".to_string()),
                (
                    "server".to_string(),
                    "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=131072:glibc.malloc.mmap_threshold=131072".to_string()
                ),
                ("arena-max-4".to_string(), "glibc.malloc.arena_max=4".to_string()),
            ]
        );
    // The arenas were not read: what each lever returns is not known, so the arena
    // cap leads, as the usual fix, and the levers that return free memory follow.
    let levers: Vec<&str> = v.levers.iter().map(|a| a.lever.as_str()).collect();
    assert_eq!(
        levers,
        vec![
            "arena_max",
            "malloc_trim",
            "trim_threshold",
            "mmap_threshold"
        ]
    );
    assert!(v.levers.iter().all(|a| a.returns_kib.is_none()));
    assert!(v
        .notes
        .iter()
        .any(|n| n.contains("the one the process runs")));
}

#[test]
fn suggestions_render_like_the_shipped_profiles() {
    let c = catalog();
    let dirs = crate::tunables::default_dirs("tunables");
    let v = assess(&facts(busy_regions(), 1), &c);
    assert_eq!(v.suggestions.len(), 3);
    for s in &v.suggestions {
        let shipped = crate::tunables::find_profile(&s.profile.name, &dirs, &c).unwrap();
        assert_eq!(
            shipped.glibc_tunables(),
            s.profile.glibc_tunables(),
            "{}",
            s.profile.name
        );
    }
}

#[test]
fn levels_follow_arena_heap_rss() {
    let c = catalog();
    let base = Regions {
        arena_heaps: 3,
        total_rss_kib: 400 * 1024,
        main_heap_rss_kib: 2048,
        ..Default::default()
    };
    let level = |heap_kib: u64, total_kib: u64, threads: u64| {
        let r = Regions {
            arena_heap_rss_kib: heap_kib,
            total_rss_kib: total_kib,
            ..base
        };
        assess(&facts(r, threads), &c).level
    };
    assert_eq!(level(64 * 1024, 400 * 1024, 8), Level::Significant);
    // 25% of RSS with at least 8 MiB.
    assert_eq!(level(10 * 1024, 40 * 1024, 8), Level::Significant);
    assert_eq!(level(6 * 1024, 20 * 1024, 8), Level::Notice);
    assert_eq!(level(2 * 1024, 400 * 1024, 8), Level::Notice);
    assert_eq!(level(512, 400 * 1024, 8), Level::Fine);
    let none = Regions {
        arena_heaps: 0,
        ..base
    };
    let v = assess(&facts(none, 8), &c);
    assert_eq!(v.level, Level::Fine);
    assert!(v.headline.starts_with("only the main arena"));
    assert!(v.suggestions.is_empty());
}

#[test]
fn retained_memory_needs_more_heaps_than_threads() {
    let r = Regions {
        arena_heaps: 4,
        arena_heap_rss_kib: 6 * 1024,
        total_rss_kib: 100 * 1024,
        ..Default::default()
    };
    let c = catalog();
    let few = assess(&facts(r, 2), &c);
    assert!(few.findings.iter().any(|f| f.contains("malloc_trim")));
    assert!(few
        .levers
        .iter()
        .any(|a| a.lever == crate::levers::Lever::MallocTrim));
    let many = assess(&facts(r, 9), &c);
    assert!(!many.findings.iter().any(|f| f.contains("malloc_trim")));
    assert!(!many
        .levers
        .iter()
        .any(|a| a.lever == crate::levers::Lever::MallocTrim));
    assert_eq!(rendered(&many)[0].1, "glibc.malloc.arena_max=2");
    // Notice without retained memory: no server profile.
    assert!(!rendered(&many).iter().any(|(n, _)| n == "server"));
}

#[test]
fn an_arena_max_already_set_is_the_cap() {
    let r = Regions {
        arena_heaps: 1,
        arena_heap_rss_kib: 80 * 1024,
        total_rss_kib: 100 * 1024,
        ..Default::default()
    };
    let mut f = facts(r, 3);
    f.arena_max = Some(ArenaMaxSetting {
        value: 2,
        from: "GLIBC_TUNABLES",
    });
    let v = assess(&f, &catalog());
    assert!(v.findings.iter().any(|x| x.contains("reached the cap")));
    assert!(v.findings[0].contains("arena_max=2 (GLIBC_TUNABLES at start)"));
    // arena_max=2 is not suggested again; 2 is not above 4 either.
    let names: Vec<String> = rendered(&v).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, vec!["server"]);
}

#[test]
fn other_mallocs_are_not_applicable() {
    let c = catalog();
    let r = busy_regions();
    let mut musl = facts(r, 1);
    musl.libc = LibcKind::Musl;
    assert_eq!(assess(&musl, &c).level, Level::NotApplicable);
    assert!(assess(&musl, &c).headline.starts_with("musl"));

    let mut stat = facts(Regions::default(), 1);
    stat.libc = LibcKind::StaticOther;
    stat.libc_static = true;
    assert!(assess(&stat, &c).headline.contains("without glibc"));

    let mut je = facts(Regions::default(), 1);
    je.replacement = Some(Replacement {
        name: "jemalloc",
        lib: PathBuf::from("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"),
        preloaded: true,
    });
    let v = assess(&je, &c);
    assert_eq!(v.level, Level::NotApplicable);
    assert!(v.headline.contains("jemalloc is preloaded") && v.headline.contains("MALLOC_CONF"));
    assert!(v.suggestions.is_empty());

    // Mapped but not preloaded, with arena heaps: glibc still serves malloc.
    let mut linked = facts(r, 1);
    linked.replacement = je.replacement.clone().map(|mut rep| {
        rep.preloaded = false;
        rep
    });
    let v = assess(&linked, &c);
    assert!(v.level >= Level::Notice);
    assert!(v.notes.iter().any(|n| n.contains("not preloaded")));

    let mut bits32 = facts(r, 1);
    bits32.pointer_bits = Some(32);
    assert!(assess(&bits32, &c).headline.starts_with("32-bit"));
}

#[test]
fn static_glibc_is_analysed_and_version_differences_are_noted() {
    let mut f = facts(busy_regions(), 1);
    f.libc_static = true;
    f.glibc_version = Some("2.31".into());
    let v = assess(&f, &catalog());
    assert!(v.level >= Level::Notice);
    assert!(v.notes.iter().any(|n| n.contains("statically")));
    assert!(v
        .notes
        .iter()
        .any(|n| n.contains("the process runs glibc 2.31")));
    f.glibc_version = Some("2.17".into());
    let v = assess(&f, &catalog());
    assert!(v
        .notes
        .iter()
        .any(|n| n.contains("predates GLIBC_TUNABLES")));
    assert!(!reads_glibc_tunables(Some("2.17")));
    assert!(reads_glibc_tunables(Some("2.26")));
    assert!(reads_glibc_tunables(None));
}
