//! Unit tests of profile files: lookup by name or path, the shipped profiles, and
//! every bad field refused with its file and line (`tests/fixtures/profile-*`).

use super::super::catalog::tests::catalog;
use super::*;

fn load_str(file: &str, text: &str) -> Result<Profile, PlanError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    std::fs::write(&path, text).unwrap();
    load_profile(&path, &catalog()).map_err(|mut e| {
        e.file = e
            .file
            .map(|f| f.strip_prefix(dir.path()).unwrap().to_path_buf());
        e
    })
}

#[test]
fn a_full_profile() {
    let p = load_str(
        "p.toml",
        r#"
name = "p"
description = "  two arenas, fixed trim  "
allocator = "glibc"
[tunables]
"glibc.malloc.arena_max" = 2
glibc.malloc.trim_threshold = "128K"
glibc.malloc.mmap_threshold = 131072
[env]
MY_VAR = "x y:z"
"#,
    )
    .unwrap();
    assert_eq!(p.name, "p");
    assert_eq!(p.description, "two arenas, fixed trim");
    assert_eq!(
            p.glibc_tunables(),
            "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=131072:glibc.malloc.mmap_threshold=131072"
        );
    assert_eq!(p.env, vec![("MY_VAR".to_string(), "x y:z".to_string())]);
}

#[test]
fn a_tunable_given_twice_is_named_at_its_second_line_in_every_key_form() {
    let twice = |second: &str| {
        let text =
            format!("description = \"d\"\n[tunables]\n\"glibc.malloc.arena_max\" = 2\n{second}");
        let e = load_str("t.toml", &text).unwrap_err();
        assert!(
            e.message
                .contains("glibc.malloc.arena_max is set twice (first on line 3)"),
            "{e}"
        );
        e.line
    };
    // A dotted key, a section's key after another key, a nested inline table.
    assert_eq!(twice("glibc.malloc.arena_max = 4\n"), Some(4));
    assert_eq!(
        twice("[tunables.glibc.malloc]\ntrim_threshold = 131072\n\n arena_max = 4\n"),
        Some(7)
    );
    assert_eq!(
        twice("\n\nglibc = { malloc = { trim_threshold = 1, arena_max = 4 } }\n"),
        Some(6)
    );
}

#[test]
fn name_defaults_to_the_file_name() {
    let p = load_str("arena-max-3.toml", "description = \"d\"\n").unwrap();
    assert_eq!(
        (p.name.as_str(), p.allocator, p.tunables.len()),
        ("arena-max-3", Allocator::Glibc, 0)
    );
    let e = load_str("Bad Name.toml", "description = \"d\"\n").unwrap_err();
    assert_eq!(e.to_string(), "Bad Name.toml: the file name gives the profile name `Bad Name`: names are 1 to 64 lower-case letters, digits, `-`, `_` and `.`, starting with a letter or digit");
}

#[test]
fn jemalloc_options_go_to_the_prefixed_variable() {
    let ok = load_str("j.toml", "description = \"d\"\nallocator = \"jemalloc\"\n[env]\n_RJEM_MALLOC_CONF = \"narenas:2,dirty_decay_ms:0\"\n");
    assert_eq!(
        ok.unwrap().child_env(),
        vec![(
            JEMALLOC_CONF_VAR.to_string(),
            "narenas:2,dirty_decay_ms:0".to_string()
        )]
    );
    let e = load_str(
        "j.toml",
        "description = \"d\"\nallocator = \"jemalloc\"\n[env]\nMALLOC_CONF = \"narenas:2\"\n",
    )
    .unwrap_err();
    assert_eq!(e.line, Some(4));
    assert!(e.message.contains("use _RJEM_MALLOC_CONF"), "{e}");
    let e = load_str(
        "j.toml",
        "description = \"d\"\n[env]\n_RJEM_MALLOC_CONF = \"narenas:2\"\n",
    )
    .unwrap_err();
    assert!(
        e.message
            .contains("only configures allocator = \"jemalloc\""),
        "{e}"
    );
}

#[test]
fn profiles_are_found_by_name_or_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("arena-max-2.toml"),
        "description = \"d\"\n[tunables]\n\"glibc.malloc.arena_max\" = 2\n",
    )
    .unwrap();
    let dirs = vec![dir.path().join("missing"), dir.path().to_path_buf()];
    let c = catalog();
    assert_eq!(
        find_profile("arena-max-2", &dirs, &c)
            .unwrap()
            .glibc_tunables(),
        "glibc.malloc.arena_max=2"
    );
    let by_path = dir.path().join("arena-max-2.toml");
    assert_eq!(
        find_profile(by_path.to_str().unwrap(), &[], &c)
            .unwrap()
            .name,
        "arena-max-2"
    );
    // The baseline exists even without its file.
    assert_eq!(
        find_profile("glibc-default", &dirs, &c).unwrap(),
        Profile::glibc_default()
    );

    let e = find_profile("arena-max-3", &dirs, &c).unwrap_err();
    assert!(
        e.message.starts_with(
            "unknown tunables profile `arena-max-3`; did you mean `arena-max-2`? (looked in "
        ),
        "{e}"
    );
    assert!(e.message.ends_with("found: arena-max-2)"), "{e}");
    let e = find_profile("../etc", &dirs, &c).unwrap_err();
    assert_eq!(e.to_string(), "no such tunables profile file: ../etc");
    let e = find_profile("Arena", &dirs, &c).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("tunables profile `Arena`: names are"),
        "{e}"
    );
}

#[test]
fn default_dirs_include_the_source_tree() {
    let dirs = default_dirs("tunables");
    assert_eq!(dirs[0], PathBuf::from("tunables"));
    assert!(
        dirs.iter().any(|d| d.join("glibc-default.toml").is_file()),
        "{dirs:?}"
    );
}

/// Every shipped profile loads against this machine's glibc, its name matches its
/// file, and its description says when to use it.
#[test]
fn shipped_profiles_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tunables");
    let host = Catalog::for_host();
    let names = names_in(std::slice::from_ref(&dir));
    for required in [
        "glibc-default",
        "arena-max-1",
        "arena-max-2",
        "arena-max-4",
        "trim-threshold-128k",
        "mmap-threshold-128k",
        "server",
        "jemalloc",
        "jemalloc-tuned",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "tunables/{required}.toml is missing"
        );
    }
    for name in &names {
        let p = load_profile(&dir.join(format!("{name}.toml")), &host)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&p.name, name);
        assert!(p.description.len() > 40, "{name}: say when to use it");
    }
    let base = load_profile(&dir.join("glibc-default.toml"), &host).unwrap();
    assert_eq!(
        (base.tunables, base.allocator, base.env),
        (vec![], Allocator::Glibc, vec![])
    );
    let tuned = load_profile(&dir.join("jemalloc-tuned.toml"), &host).unwrap();
    assert_eq!(tuned.allocator, Allocator::Jemalloc);
    assert!(tuned.env.iter().any(|(k, _)| k == JEMALLOC_CONF_VAR));
}

/// One fixture per kind of error, each naming its expected error on its first
/// line: `# error: LINE: MESSAGE` (or `# error: -: MESSAGE` when it has no line).
#[test]
fn profile_error_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plan-errors");
    let mut seen = 0;
    for (path, line, message) in crate::tunables::tests::fixtures(&dir, "profile-") {
        let err = load_profile(&path, &catalog()).expect_err(&path.display().to_string());
        assert_eq!(
            (err.line, err.message.as_str()),
            (line, message.as_str()),
            "{}",
            path.display()
        );
        assert_eq!(err.file.as_deref(), Some(path.as_path()));
        seen += 1;
    }
    assert!(seen >= 20, "only {seen} profile fixtures");
}
