//! Fuzz tests (proptest): no input may make a parser panic. Each property mutates
//! real seed inputs kept in the repo (the shipped matrices and profiles, the error
//! fixtures, captured /proc files and `ld.so --list-tunables` output) with random
//! byte replacements, insertions and deletions, and also feeds arbitrary bytes.
//!
//! The default run is short (proptest's 256 cases per property); `.ci/run` runs a
//! longer pass with `PROPTEST_CASES`. Failing cases are saved by proptest under
//! `proptest-regressions/` and replayed first on every later run: commit them.

use std::path::Path;

use proptest::prelude::*;

/// /proc files captured from real runs, kept with the arena reader's crate.
const PROC: &str = "crates/arena-reader/tests/fixtures/proc";
const LIST_TUNABLES: &str = include_str!("../tests/fixtures/ld-so-list-tunables-glibc2.36.txt");

fn catalog() -> crate::tunables::Catalog {
    crate::tunables::Catalog::from_text(LIST_TUNABLES)
}

/// Every file under `dir` (relative to the crate) with extension `ext`.
fn seeds(dir: &str, ext: &str) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|x| x.to_str()) == Some(ext))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {dir}");
    out
}

/// A seed with up to 12 random edits: (position, byte, 0 replace | 1 insert | 2 delete).
fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(seeds),
        prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 0..12),
    )
        .prop_map(|(mut s, edits)| {
            for (pos, byte, op) in edits {
                match op {
                    0 if !s.is_empty() => {
                        let i = pos % s.len();
                        s[i] = byte;
                    }
                    1 => {
                        let i = pos % (s.len() + 1);
                        s.insert(i, byte);
                    }
                    2 if !s.is_empty() => {
                        let i = pos % s.len();
                        s.remove(i);
                    }
                    _ => {}
                }
            }
            s
        })
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn config_files() -> Vec<Vec<u8>> {
    let mut s = seeds("matrices", "toml");
    s.extend(seeds("tunables", "toml"));
    s.extend(seeds("tests/fixtures/plan-errors", "toml"));
    s
}

proptest! {
    #[test]
    fn matrix_files_never_panic(b in mutated(config_files())) {
        let _ = crate::matrix::parse_matrix(Path::new("fuzz.toml"), &text(&b));
    }

    #[test]
    fn profile_files_never_panic(b in mutated(config_files())) {
        let _ = crate::tunables::parse_profile(Path::new("fuzz.toml"), &text(&b), &catalog());
    }

    #[test]
    fn config_files_from_arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..400)) {
        let t = text(&b);
        let _ = crate::matrix::parse_matrix(Path::new("fuzz.toml"), &t);
        let _ = crate::tunables::parse_profile(Path::new("fuzz.toml"), &t, &catalog());
    }

    #[test]
    fn tunable_entries_never_panic(entry in ".{0,80}", entries in prop::collection::vec("glibc\\.malloc\\.[a-z_]{0,12}=.{0,12}", 0..4)) {
        let c = catalog();
        let _ = c.entry(&entry);
        let _ = crate::tunables::parse_value(&entry);
        let _ = crate::tunables::adhoc_profile(&entries, &c);
    }

    #[test]
    fn list_tunables_never_panics(b in mutated(vec![LIST_TUNABLES.as_bytes().to_vec()])) {
        let c = crate::tunables::Catalog::from_text(&text(&b));
        let _ = c.entry("glibc.malloc.arena_max=2");
    }

    #[test]
    fn proc_status_never_panics(b in mutated(seeds(PROC, "txt"))) {
        let _ = crate::sampler::parse_status(&b[..]);
    }

    #[test]
    fn proc_smaps_never_panics(b in mutated(seeds(PROC, "txt"))) {
        if let Ok(maps) = crate::sampler::smaps::parse(&b[..]) {
            let r = crate::sampler::smaps::classify(&maps);
            let _ = r.delta(&crate::sampler::Regions::default());
        }
    }

    #[test]
    fn classify_never_panics(maps in prop::collection::vec((any::<u64>(), any::<u64>(), any::<bool>(), any::<bool>(), 0u8..5, any::<u64>()), 0..40)) {
        use crate::sampler::smaps::{Kind, Mapping};
        let mut maps: Vec<Mapping> = maps
            .into_iter()
            .map(|(a, len, r, w, k, rss)| Mapping {
                start: a,
                end: a.saturating_add(len % (1 << 40)),
                read: r,
                write: w,
                private: true,
                kind: [Kind::Anonymous, Kind::Heap, Kind::Stack, Kind::File, Kind::Special][k as usize],
                rss_bytes: rss % (1 << 40),
            })
            .collect();
        maps.sort_by_key(|m| m.start);
        let _ = crate::sampler::smaps::classify(&maps);
    }

    #[test]
    fn statm_and_stat_never_panic(b in prop::collection::vec(any::<u8>(), 0..300), s in mutated(vec![b"4242 (py thon) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 57 0 99".to_vec()])) {
        let _ = crate::sampler::series::parse_statm(&b, 4);
        let _ = crate::sampler::series::parse_stat_threads(&b);
        let _ = crate::sampler::series::parse_stat_threads(&s);
    }

    #[test]
    fn apt_sources_never_panic(b in mutated(vec![
        b"Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://x/y\nSuites: s\nComponents: main\n".to_vec(),
        b"deb [arch=amd64 signed-by=/k.gpg] http://other.example/debian/ bookworm main contrib # c\n".to_vec(),
        b"Package: python3.13\nVersion: 3.13.5-2\nChecksums-Sha256:\n 93e5 22856016 python3.13_3.13.5.orig.tar.xz\n".to_vec(),
    ])) {
        let t = text(&b);
        let mut all = crate::python::sources::parse_deb822_sources(&t);
        all.extend(crate::python::sources::parse_one_line_sources(&t));
        let _ = crate::python::sources::debian_mirrors(&all);
        let _ = crate::python::sources::fuzz_showsrc(&t);
    }

    #[test]
    fn flag_values_never_panic(s in ".{0,40}") {
        let _ = crate::matrix::parse_grid(&s);
        let _ = crate::cli::parse_duration(&s);
        let _ = crate::cli::parse_size_kib(&s);
        let _ = crate::plan::parse_shard(&s, |_| Some(s.clone()));
        let _ = crate::patterns::parse("fragment", &s);
        let _ = crate::workload::parse_requires(&s);
        let _ = crate::workload::check_params(&s);
        let _ = crate::paths::join_under(Path::new("/r"), &crate::paths::file_component(&s));
    }
}
