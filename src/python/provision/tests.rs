//! Tests of provisioning: version parsing and which cached pairs count as installed.

use super::*;

#[test]
fn versions_are_checked() {
    assert_eq!(parse_version("3.13").unwrap(), "3.13");
    assert_eq!(parse_version("3.14.1").unwrap(), "3.14.1");
    assert!(parse_version("3.12")
        .unwrap_err()
        .to_string()
        .contains("no free-threaded build"));
    assert!(parse_version("three")
        .unwrap_err()
        .to_string()
        .contains("not a Python version"));
    assert!(parse_version("3").is_err());
}

#[test]
fn only_stamped_pairs_count() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path();
    for b in Build::BOTH {
        let p = prefix_for(cache, "3.13.5", b);
        std::fs::create_dir_all(p.join("bin")).unwrap();
    }
    assert!(
        cached_pair(cache, "3.13").is_none(),
        "unstamped builds are not complete"
    );
    for b in Build::BOTH {
        std::fs::write(prefix_for(cache, "3.13.5", b).join(STAMP), "{}").unwrap();
    }
    let (v, g, n) = cached_pair(cache, "3.13").unwrap();
    assert_eq!(v, "3.13.5");
    assert!(g.ends_with("cpython-3.13.5-gil/bin/python3.13"));
    assert!(n.ends_with("cpython-3.13.5-nogil/bin/python3.13t"));
    assert!(cached_pair(cache, "3.14").is_none());
}
