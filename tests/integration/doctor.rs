//! `arena-sweep doctor` on this machine: provenance, then every check OK for what
//! the project's machines have (glibc 2.36 with --list-tunables, the provisioned
//! interpreter pair, the extension in both variants for both builds).

use crate::common;

use common::{bin, text};

#[test]
fn doctor_passes_on_this_machine() {
    let o = bin().arg("doctor").output().unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    for row in [
        "Host (as plan.json records it):",
        "  glibc                2.",
        "  online CPUs",
        "  THP                  enabled ",
        "    glibc.malloc.arena_max: ",
    ] {
        assert!(out.contains(row), "no `{row}`:\n{out}");
    }
    let check = |name: &str| -> String {
        out.lines()
            .find(|l| l.get(8..).is_some_and(|rest| rest.starts_with(name)))
            .unwrap_or_else(|| panic!("no `{name}` check:\n{out}"))
            .to_string()
    };
    for name in [
        "glibc tunables",
        "interpreters",
        "extension gil/glibc",
        "extension gil/jemalloc",
        "extension nogil/glibc",
        "extension nogil/jemalloc",
    ] {
        let line = check(name);
        assert!(line.trim_start().starts_with("OK "), "{line}\n\n{out}");
    }
    assert!(check("interpreters").contains("matched"), "{out}");
    assert!(
        check("extension nogil/glibc").ends_with("the GIL stays off"),
        "{out}"
    );
    // THP and the limits depend on the host; they are there, whatever their status.
    check("transparent huge pages");
    check("thread limits");
    check("default arena cap");
    assert!(out.contains(" FAIL\n") && out.contains("0 FAIL"), "{out}");
}
