//! Tests of the source parsers: tarball names, apt source lists in both formats,
//! `apt-cache showsrc` output and the python.org release index.

use super::debian::parse_showsrc;
use super::*;

#[test]
fn versions_from_tarball_names() {
    assert_eq!(
        version_from_tarball_name(Path::new("/x/Python-3.13.5.tar.xz")).as_deref(),
        Some("3.13.5")
    );
    assert_eq!(
        version_from_tarball_name(Path::new("python3.13_3.13.5.orig.tar.xz")).as_deref(),
        Some("3.13.5")
    );
    assert_eq!(version_from_tarball_name(Path::new("src.tar.gz")), None);
    assert!(version_matches("3.13", "3.13.5"));
    assert!(version_matches("3.13.5", "3.13.5"));
    assert!(!version_matches("3.1", "3.13.5"));
}

#[test]
fn apt_config_in_both_formats() {
    // The deb822 file of a Debian 12 machine here, and a classic one-line list.
    let deb822 = "Types: deb\n# http://snapshot/x\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n";
    let one = "deb [arch=amd64 signed-by=/k.gpg] http://other.example/debian/ bookworm main contrib # c\n# deb http://x y z\ndeb http://third.example/x nodistro nonfree\n";
    let mut all = parse_deb822_sources(deb822);
    all.extend(parse_one_line_sources(one));
    assert_eq!(all.len(), 4);
    let m = debian_mirrors(&all);
    assert_eq!(
        m,
        vec![
            (
                "http://mirror.example/debian".to_string(),
                vec!["bookworm".to_string()]
            ),
            (
                "http://other.example/debian".to_string(),
                vec!["bookworm".to_string()]
            ),
        ]
    );
}

#[test]
fn showsrc_versions_and_checksums() {
    let text = "Package: python3.13\nVersion: 3.13.5-2+deb13u5\nFiles:\n d8 4298 python3.13_3.13.5-2+deb13u5.dsc\nChecksums-Sha256:\n 4be8 4298 python3.13_3.13.5-2+deb13u5.dsc\n 93e5 22856016 python3.13_3.13.5.orig.tar.xz\nPackage-List:\n python3.13 deb python optional arch=any\n";
    let v = parse_showsrc(text);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].0, "3.13.5-2+deb13u5");
    assert_eq!(
        v[0].1[1],
        (
            "93e5".to_string(),
            22_856_016,
            "python3.13_3.13.5.orig.tar.xz".to_string()
        )
    );
}

#[test]
fn newest_release_in_index() {
    let html = r#"<a href="3.12.9/">3.12.9/</a><a href="3.13.10/">x</a><a href="3.13.9/">x</a><a href="3.13.0rc1/">x</a>"#;
    assert_eq!(newest_in_index(html, "3.13").as_deref(), Some("3.13.10"));
    assert_eq!(newest_in_index(html, "3.14"), None);
}
