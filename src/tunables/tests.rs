//! Unit tests of profiles and tunables: rendering GLIBC_TUNABLES and its aliases,
//! ad-hoc profiles, allocators, emulated cores; and the fixture-file helper the
//! profile and matrix file tests share (`fixtures`).

use super::*;
use std::path::{Path, PathBuf};

/// The fixtures in `dir` whose names start with `prefix`, with the error each one
/// expects, from its first line: `# error: LINE: MESSAGE` (`-` for no line).
pub(crate) fn fixtures(dir: &Path, prefix: &str) -> Vec<(PathBuf, Option<usize>, String)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(prefix))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let first = text.lines().next().unwrap_or_default();
            let expect = first
                .strip_prefix("# error: ")
                .unwrap_or_else(|| panic!("{}: no `# error:` line", path.display()));
            let (line, message) = expect.split_once(": ").unwrap();
            let line = if line == "-" {
                None
            } else {
                Some(line.parse().unwrap())
            };
            (path, line, message.to_string())
        })
        .collect()
}

fn tunable(entry: &str) -> Tunable {
    catalog::tests::catalog().entry(entry).unwrap()
}

#[test]
fn rendering_matches_the_documented_syntax() {
    let t = vec![
        tunable("glibc.malloc.arena_max=2"),
        tunable("glibc.malloc.trim_threshold=131072"),
    ];
    // The example from glibc's manual / BACKGROUND.md.
    assert_eq!(
        render(&t),
        "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=131072"
    );
    assert_eq!(
        render(&[tunable("glibc.malloc.mmap_threshold=128K")]),
        "glibc.malloc.mmap_threshold=131072"
    );
    assert_eq!(render(&[]), "");
    assert_eq!(Profile::glibc_default().glibc_tunables(), "");
    assert!(Profile::glibc_default().child_env().is_empty());
}

#[test]
fn old_glibcs_get_the_environment_aliases() {
    let t = vec![
        tunable("glibc.malloc.arena_max=2"),
        tunable("glibc.malloc.trim_threshold=128K"),
    ];
    assert_eq!(
        render_env_aliases(&t).as_deref(),
        Some("MALLOC_ARENA_MAX=2 MALLOC_TRIM_THRESHOLD_=131072")
    );
    assert_eq!(
        render_env_aliases(&[tunable("glibc.malloc.tcache_count=0")]),
        None
    );
}

#[test]
fn child_env_puts_tunables_then_preload_then_extras() {
    let lib = crate::provenance::loader_path()
        .unwrap()
        .display()
        .to_string();
    let p = Profile {
        name: "x".into(),
        description: "x".into(),
        tunables: vec![tunable("glibc.malloc.arena_max=2")],
        allocator: Allocator::parse(&format!("preload:{lib}")).unwrap(),
        env: vec![("MALLOC_CONF".into(), "narenas:2".into())],
    };
    assert_eq!(
        p.child_env(),
        vec![
            (
                "GLIBC_TUNABLES".to_string(),
                "glibc.malloc.arena_max=2".to_string()
            ),
            ("LD_PRELOAD".to_string(), lib),
            ("MALLOC_CONF".to_string(), "narenas:2".to_string()),
        ]
    );
}

#[test]
fn allocators() {
    assert_eq!(Allocator::parse("glibc"), Ok(Allocator::Glibc));
    assert_eq!(Allocator::parse("jemalloc"), Ok(Allocator::Jemalloc));
    let lib = crate::provenance::loader_path()
        .unwrap()
        .display()
        .to_string();
    let preload = Allocator::parse(&format!("preload:{lib}")).unwrap();
    assert_eq!(preload.label(), format!("preload:{lib}"));
    assert_eq!(preload.variant(), Variant::Glibc);
    assert_eq!(Allocator::Jemalloc.variant(), Variant::Jemalloc);
    let err = |s: &str| Allocator::parse(s).unwrap_err();
    assert!(err("tcmalloc").starts_with("unknown allocator `tcmalloc`"));
    assert!(err("Jemalloc").starts_with("unknown allocator"));
    assert!(err("preload:libjemalloc.so.2").contains("absolute path"));
    assert!(err("preload:/a.so:/b.so").contains("cannot carry `:`"));
    assert!(err("preload:/a b.so").contains("cannot carry ` `"));
    assert!(err("preload:/no/such/libjemalloc.so.2").contains("does not exist"));
}

#[test]
fn saved_tunables_are_rechecked_when_read_back() {
    let t = tunable("glibc.malloc.arena_max=2");
    let json = serde_json::to_string(&t).unwrap();
    assert_eq!(json, r#"{"name":"glibc.malloc.arena_max","value":2}"#);
    assert_eq!(serde_json::from_str::<Tunable>(&json).unwrap(), t);
    for bad in [
        r#"{"name":"glibc.malloc.arena_max=1:glibc.rtld.nns","value":2}"#,
        r#"{"name":"glibc.rtld.nns","value":2}"#,
        r#"{"name":"glibc.malloc.","value":2}"#,
    ] {
        assert!(serde_json::from_str::<Tunable>(bad).is_err(), "{bad}");
    }
}

#[test]
fn adhoc_profiles_name_the_flag() {
    let c = catalog::tests::catalog();
    let entries = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let p = adhoc_profile(
        &entries(&[
            "glibc.malloc.arena_max=2",
            "glibc.malloc.trim_threshold=128K",
        ]),
        &c,
    )
    .unwrap();
    assert_eq!(p.name, "adhoc");
    assert_eq!(
        p.glibc_tunables(),
        "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=131072"
    );
    assert_eq!(p.allocator, Allocator::Glibc);
    assert!(p
        .description
        .contains("--tunable glibc.malloc.arena_max=2 --tunable glibc.malloc.trim_threshold=128K"));

    let err = |v: &[&str]| adhoc_profile(&entries(v), &c).unwrap_err().to_string();
    assert_eq!(
            err(&["glibc.malloc.arena_max=2", "glibc.malloc.arena_max=4"]),
            "--tunable `glibc.malloc.arena_max=4`: glibc.malloc.arena_max is already set by --tunable `glibc.malloc.arena_max=2`"
        );
    assert_eq!(
            err(&["glibc.malloc.arena_max=2:glibc.malloc.check=1"]),
            "--tunable `glibc.malloc.arena_max=2:glibc.malloc.check=1`: `glibc.malloc.arena_max=2:glibc.malloc.check=1`: `:` separates tunables in GLIBC_TUNABLES; give one tunable per entry"
        );
    assert_eq!(
        err(&["glibc.malloc.arena_max=-1"]),
        "--tunable `glibc.malloc.arena_max=-1`: `-1`: values must not be negative"
    );
    assert_eq!(
        err(&["glibc.malloc.x\0=1"]),
        "--tunable `glibc.malloc.x\\u{0}=1`: `glibc.malloc.x\\u{0}=1`: a NUL byte is not allowed"
    );
    assert_eq!(err(&[]), "--tunable: no entries given");
    let e = adhoc_profile(&entries(&["glibc.malloc.arena_max=0"]), &c).unwrap_err();
    assert_eq!((e.file, e.line), (None, None));
}

#[test]
fn emulated_cores_set_the_default_cap_unless_arena_max_is_set() {
    let n = |v: u32| NonZeroU32::new(v).unwrap();
    let p = with_emulated_cores(Profile::glibc_default(), n(64));
    assert_eq!(p.name, "glibc-default@64cpus");
    assert_eq!(p.glibc_tunables(), "glibc.malloc.arena_max=512");
    assert!(p.description.contains("64-CPU host"));
    // This host: 2 CPUs -> 16, the cap BACKGROUND.md measured.
    assert_eq!(
        with_emulated_cores(Profile::glibc_default(), n(2)).glibc_tunables(),
        "glibc.malloc.arena_max=16"
    );

    let mut trimmed = Profile::glibc_default();
    trimmed
        .tunables
        .push(tunable("glibc.malloc.trim_threshold=128K"));
    assert_eq!(
        with_emulated_cores(trimmed, n(4)).glibc_tunables(),
        "glibc.malloc.trim_threshold=131072:glibc.malloc.arena_max=32"
    );

    let mut capped = Profile::glibc_default();
    capped.name = "arena-max-2".into();
    capped.tunables.push(tunable("glibc.malloc.arena_max=2"));
    assert_eq!(with_emulated_cores(capped.clone(), n(64)), capped);

    // The value is inside the host's bounds, like every validated tunable.
    let c = catalog::tests::catalog();
    let t = &with_emulated_cores(Profile::glibc_default(), n(u32::MAX)).tunables[0];
    assert_eq!(c.tunable(t.name(), t.value()).as_ref(), Ok(t));
}
