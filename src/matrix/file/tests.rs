//! Unit tests of matrix files: full and minimal files, lookup by name, the shipped
//! matrices, and every bad field refused with its file and line
//! (`tests/fixtures/matrix-*`).

use super::*;
use crate::tunables::Catalog;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn catalog() -> Catalog {
    Catalog::from_text(include_str!(
        "../../../tests/fixtures/ld-so-list-tunables-glibc2.36.txt"
    ))
}

fn load_str(text: &str) -> Result<MatrixFile, PlanError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.toml");
    std::fs::write(&path, text).unwrap();
    load_matrix(&path)
}

#[test]
fn a_full_matrix() {
    let m = load_str(
            r#"
name = "m"
description = "d"
python_threads = "1..=8:x2"
rust_threads = [50, 1, 8, 8]
iterations = 3
sleep_ms = 0
reps = 2
rounds = 20
builds = ["nogil", "gil"]
bindings = ["pyo3", "ctypes-cdll"]
patterns = ["seed", { name = "churn", params = "size=256,count=10" }, { name = "seed", params = "size=1024" }]
tunables = ["glibc-default", "arena-max-2"]
"#,
        )
        .unwrap();
    assert_eq!(m.name, "m");
    assert_eq!(m.python_threads, Some(vec![1, 2, 4, 8]));
    assert_eq!(m.rust_threads, Some(vec![1, 8, 50]));
    assert_eq!(
        (m.iterations, m.sleep_ms, m.reps, m.rounds),
        (Some(3), Some(0), Some(2), Some(20))
    );
    assert_eq!(m.builds, Some(vec![Build::Nogil, Build::Gil]));
    assert_eq!(m.bindings, Some(vec![Binding::Pyo3, Binding::CtypesCdll]));
    let pattern = |n: &str, p: &str| PatternSpec {
        name: n.into(),
        params: p.into(),
    };
    assert_eq!(
        m.patterns,
        Some(vec![
            pattern("seed", ""),
            pattern("churn", "size=256,count=10"),
            pattern("seed", "size=1024")
        ])
    );
    let refs = m.tunables.clone().unwrap();
    assert_eq!(
        refs,
        vec![
            ProfileRef {
                name: "glibc-default".into(),
                line: 13
            },
            ProfileRef {
                name: "arena-max-2".into(),
                line: 13
            }
        ]
    );
    let profiles = m
        .profiles(&[repo("tunables")], &catalog())
        .unwrap()
        .unwrap();
    assert_eq!(
        profiles.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["glibc-default", "arena-max-2"]
    );
}

#[test]
fn everything_but_the_name_is_optional() {
    let m = load_str("name = \"bare\"\n").unwrap();
    assert_eq!(m.name, "bare");
    assert_eq!(m.profiles(&[], &catalog()), Ok(None));
    assert_eq!(
        (m.python_threads, m.rust_threads, m.builds, m.patterns),
        (None, None, None, None)
    );
    // A single number is a one-value grid.
    assert_eq!(
        load_str("name = \"one\"\npython_threads = 8\n")
            .unwrap()
            .python_threads,
        Some(vec![8])
    );
}

#[test]
fn matrices_are_found_by_name() {
    let m = find_matrix("quick", &[repo("matrices")]).unwrap();
    assert_eq!(m.name, "quick");
    let e = find_matrix("quik", &[repo("matrices")]).unwrap_err();
    assert!(
        e.message
            .starts_with("unknown matrix `quik`; did you mean `quick`?"),
        "{e}"
    );
}

/// Every shipped matrix loads and its profiles resolve on this machine.
#[test]
fn shipped_matrices_load() {
    let host = Catalog::for_host();
    let dirs = [repo("tunables")];
    for name in ["quick", "default", "talk-8x50", "tunables"] {
        let m =
            load_matrix(&repo(&format!("matrices/{name}.toml"))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.name, name);
        assert!(
            m.description.as_deref().is_some_and(|d| d.len() > 40),
            "{name}: say what it is for"
        );
        m.profiles(&dirs, &host)
            .unwrap_or_else(|e| panic!("{e}"))
            .expect("every shipped matrix names its profiles");
    }
    let talk = load_matrix(&repo("matrices/talk-8x50.toml")).unwrap();
    assert_eq!(
        (talk.python_threads, talk.rust_threads),
        (Some(vec![8]), Some(vec![50]))
    );
    assert_eq!((talk.iterations, talk.sleep_ms), (Some(10), Some(5)));
    let all = load_matrix(&repo("matrices/tunables.toml"))
        .unwrap()
        .profiles(&dirs, &host)
        .unwrap()
        .unwrap();
    assert_eq!(all.len(), 11);
    // Every shipped profile is compared by tunables.toml.
    let shipped = std::fs::read_dir(repo("tunables"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "toml")
        })
        .count();
    assert_eq!(all.len(), shipped);
    // default.toml: cells x builds x reps stays near the 10-20 minute budget of a
    // 2-CPU machine at about 1-1.5 s a run.
    let d = load_matrix(&repo("matrices/default.toml")).unwrap();
    let runs = d.python_threads.unwrap().len()
        * d.rust_threads.unwrap().len()
        * 2
        * d.reps.unwrap() as usize;
    assert_eq!(runs, 640);
    // One window per run: rounds would multiply the budget.
    assert_eq!(d.rounds, Some(1));
}

/// One fixture per kind of error, each naming its expected error on its first
/// line: `# error: LINE: MESSAGE` (`-` when there is no line). Resolving profiles
/// is part of loading here, as it is for the plan.
#[test]
fn matrix_error_fixtures() {
    let dir = repo("tests/fixtures/plan-errors");
    let mut seen = 0;
    for (path, line, message) in crate::tunables::tests::fixtures(&dir, "matrix-") {
        // A relative folder, as the plan would pass, keeps the messages host-independent.
        let err = load_matrix(&path)
            .and_then(|m| m.profiles(&[PathBuf::from("tunables")], &catalog()))
            .expect_err(&path.display().to_string());
        assert_eq!(
            (err.line, err.message.as_str()),
            (line, message.as_str()),
            "{}",
            path.display()
        );
        assert_eq!(err.file.as_deref(), Some(path.as_path()));
        assert_eq!(
            err.to_string(),
            match line {
                Some(l) => format!("{}:{l}: {message}", path.display()),
                None => format!("{}: {message}", path.display()),
            }
        );
        seen += 1;
    }
    assert!(seen >= 25, "only {seen} matrix fixtures");
}
