//! Which C library and malloc a process's mapped files say it uses, and glibc's
//! version read from the banner inside a libc or a static program. Pure functions over
//! the list of mapped files and over file contents, so they are tested on fixtures;
//! `target` feeds them from /proc.
//!
//! - glibc: `libc.so.6` (or `libc-2.X.so` before 2.34) mapped, or, in a static
//!   program, glibc's banner or ptmalloc's error messages inside it.
//! - musl: `ld-musl-<arch>.so.1` (Alpine) or a `libc.so` under a musl folder (Debian's
//!   musl-tools) mapped: musl's libc is also its loader.
//! - A malloc replacement: jemalloc, mimalloc, tcmalloc, snmalloc, Hoard or rpmalloc
//!   mapped; whether it is preloaded (LD_PRELOAD, /etc/ld.so.preload) decides if it
//!   serves the whole process.

use std::io::Read;
use std::path::{Path, PathBuf};

/// A file mapped into the target, at its first mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedFile {
    /// As `/proc/<pid>/maps` names it (may end in " (deleted)").
    pub path: PathBuf,
    pub start: u64,
    pub end: u64,
    /// (major, minor) of the file's device.
    pub dev: (i32, i32),
    pub inode: u64,
}

impl MappedFile {
    pub fn file_name(&self) -> &str {
        self.path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
    }
}

/// The libraries that decide which malloc runs.
#[derive(Debug, Default)]
pub struct Linkage {
    pub glibc: Option<MappedFile>,
    pub musl: Option<MappedFile>,
    pub replacement: Option<MappedFile>,
}

/// Allocator libraries known to replace malloc when preloaded or linked to the
/// program, by the start of their file name.
const REPLACEMENTS: &[(&str, &str)] = &[
    ("libjemalloc", "jemalloc"),
    ("libmimalloc", "mimalloc"),
    ("libtcmalloc", "tcmalloc"),
    ("libsnmallocshim", "snmalloc"),
    ("libhoard", "Hoard"),
    ("librpmalloc", "rpmalloc"),
];

pub fn replacement_name(file_name: &str) -> Option<&'static str> {
    REPLACEMENTS
        .iter()
        .find(|(prefix, _)| file_name.starts_with(prefix) && file_name.contains(".so"))
        .map(|(_, name)| *name)
}

impl Linkage {
    pub fn of(files: &[MappedFile]) -> Linkage {
        let mut l = Linkage::default();
        for f in files {
            let n = f.file_name();
            // libc.so.6 since glibc 2.34; libc-2.X.so before (libc.so.6 a symlink to it).
            let glibc =
                n.starts_with("libc.so.6") || (n.starts_with("libc-2.") && n.contains(".so"));
            if glibc && l.glibc.is_none() {
                l.glibc = Some(f.clone());
            } else if is_musl(f) && l.musl.is_none() {
                l.musl = Some(f.clone());
            } else if replacement_name(n).is_some() && l.replacement.is_none() {
                l.replacement = Some(f.clone());
            }
        }
        l
    }
}

/// musl's libc, which is also its loader: `ld-musl-<arch>.so.1` (Alpine, where
/// `libc.musl-<arch>.so.1` links to it), or a `libc.so` under a musl folder (Debian's
/// musl maps `/usr/lib/x86_64-linux-musl/libc.so`, the target of its
/// `/lib/ld-musl-x86_64.so.1`).
pub fn is_musl(f: &MappedFile) -> bool {
    let n = f.file_name();
    n.starts_with("ld-musl-")
        || n.starts_with("libc.musl-")
        || (n == "libc.so" && f.path.to_string_lossy().contains("musl"))
}

/// Is `lib` one of the entries of a preload list (LD_PRELOAD, /etc/ld.so.preload)?
/// An entry names the library by path or file name, often through a symlink
/// (`libmimalloc.so.2` maps as `libmimalloc.so.2.0`), so an entry matches by path, by
/// file name or a version prefix of it, or by the inode it resolves to in the
/// process's root (`root`, e.g. `/proc/<pid>/root`).
pub fn is_preloaded(lib: &MappedFile, list: &str, root: Option<&Path>) -> bool {
    let name = lib.file_name();
    let path = lib.path.to_string_lossy();
    list.split(|c: char| c == ':' || c.is_whitespace())
        .filter(|e| !e.is_empty())
        .any(|e| {
            let entry_name = Path::new(e)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or(e);
            let versioned = name
                .strip_prefix(entry_name)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'));
            let same_inode = root.is_some_and(|root| {
                e.starts_with('/') && same_file(&root.join(&e[1..]), lib.dev, lib.inode)
            });
            e == path || versioned || same_inode
        })
}

/// Is `path` (in our mount namespace) the file the maps line names?
pub fn same_file(path: &Path, dev: (i32, i32), inode: u64) -> bool {
    nix::sys::stat::stat(path).is_ok_and(|st| {
        let major = nix::sys::stat::major(st.st_dev) as i32;
        let minor = nix::sys::stat::minor(st.st_dev) as i32;
        st.st_ino == inode && (major, minor) == dev
    })
}

const BANNER: &[u8] = b"GNU C Library";
/// One of ptmalloc's error messages (glibc's malloc/malloc.c, in every release since
/// 2.x): it marks a static program that links glibc's malloc even when the banner was
/// not linked in.
const PTMALLOC_MARKER: &[u8] = b"malloc(): memory corruption";
/// Enough for the banner's first line, which ends the version.
const BANNER_LINE_MAX: usize = 512;

/// What a scan of a libc or a static program found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GlibcScan {
    /// From the banner, "GNU C Library (...) stable release version 2.36.".
    pub version: Option<String>,
    /// The banner or ptmalloc's messages are there: the file holds glibc's malloc.
    pub is_glibc: bool,
}

/// The version in glibc's banner, found anywhere in `r` (a libc.so.6 or a static
/// program).
pub fn glibc_version_in<R: Read>(r: R) -> std::io::Result<Option<String>> {
    scan_glibc(r).map(|s| s.version)
}

/// The version of the glibc this very process runs on ("2.36"), as it says itself
/// (`gnu_get_libc_version`): what a banner read from a target's libc is compared with.
pub fn own_glibc_version() -> String {
    // SAFETY: gnu_get_libc_version returns a static NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) }
        .to_string_lossy()
        .into_owned()
}

/// Look for glibc's banner and ptmalloc's messages in `r`, read in chunks; stops at
/// the banner. A static program carries the banner only if it calls
/// `gnu_get_libc_version` (csu/version.c is linked in only then), so a static glibc
/// program is often recognised by ptmalloc's messages alone, without a version.
pub fn scan_glibc<R: Read>(mut r: R) -> std::io::Result<GlibcScan> {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 1 << 20];
    let mut ptmalloc = false;
    loop {
        let n = match r.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let eof = n == 0;
        buf.extend_from_slice(&chunk[..n]);
        ptmalloc = ptmalloc || find(&buf, PTMALLOC_MARKER).is_some();
        // Unless a banner line is cut off, keep only what could be the start of a
        // needle.
        let mut keep_from = buf.len().saturating_sub(PTMALLOC_MARKER.len() - 1);
        let mut from = 0;
        while let Some(p) = find(&buf[from..], BANNER).map(|p| p + from) {
            let line = &buf[p..];
            let end = line.iter().position(|&b| b == 0 || b == b'\n');
            if end.is_none() && !eof && line.len() < BANNER_LINE_MAX {
                keep_from = keep_from.min(p);
                break;
            }
            let end = end.unwrap_or(line.len()).min(BANNER_LINE_MAX);
            if let Some(v) = banner_version(&line[..end]) {
                return Ok(GlibcScan {
                    version: Some(v),
                    is_glibc: true,
                });
            }
            from = p + BANNER.len();
        }
        if eof {
            return Ok(GlibcScan {
                version: None,
                is_glibc: ptmalloc,
            });
        }
        buf.drain(..keep_from);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    // memchr's searcher, not a naive window scan: a 2 MiB libc.so is scanned on every
    // inspect and every arena read.
    memchr::memmem::find(hay, needle)
}

/// "2.36" from "GNU C Library (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36."
fn banner_version(line: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(line).ok()?;
    let rest = &text[text.find("release version ")? + "release version ".len()..];
    let v: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let v = v.trim_end_matches('.');
    (v.contains('.') && v.starts_with(|c: char| c.is_ascii_digit())).then(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/libc/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn glibc_version_from_a_debian_libc_excerpt() {
        // 4 KiB of Debian 12's /usr/lib/x86_64-linux-gnu/libc.so.6 around its banner.
        let bytes = fixture("libc.so.6-glibc2.36-excerpt.bin");
        assert_eq!(
            glibc_version_in(&bytes[..]).unwrap().as_deref(),
            Some("2.36")
        );
    }

    #[test]
    fn glibc_banners_of_other_builds() {
        // One banner a line, as glibc's csu/version.c prints them, with the version each holds.
        let text = String::from_utf8(fixture("banners.txt")).unwrap();
        let mut n = 0;
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (want, banner) = line.split_once(" | ").unwrap();
            assert_eq!(
                banner_version(banner.as_bytes()).as_deref(),
                Some(want),
                "{banner}"
            );
            n += 1;
        }
        assert!(n >= 4);
    }

    #[test]
    fn a_banner_split_across_chunks_is_found() {
        // A reader that hands out at most 7 bytes at a time.
        struct Dribble<'a>(&'a [u8]);
        impl Read for Dribble<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(7).min(out.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut data = vec![0xAAu8; 3 << 20];
        let banner = b"GNU C Library (GNU libc) stable release version 2.41.\n";
        let at = (1 << 20) - 10; // straddles the first 1 MiB chunk
        data[at..at + banner.len()].copy_from_slice(banner);
        assert_eq!(
            glibc_version_in(&data[..]).unwrap().as_deref(),
            Some("2.41")
        );
        assert_eq!(
            glibc_version_in(Dribble(&data[..(1 << 20) + 100]))
                .unwrap()
                .as_deref(),
            Some("2.41")
        );
        // Other mentions of the name are skipped; no banner at all gives None.
        let mut text = b"built for the GNU C Library; see COPYING\0".to_vec();
        assert_eq!(scan_glibc(&text[..]).unwrap(), GlibcScan::default());
        // ptmalloc's messages alone: glibc, version unknown.
        let mut stat = vec![0u8; (1 << 20) - 5];
        stat.extend_from_slice(b"malloc(): memory corruption (fast)\0");
        assert_eq!(
            scan_glibc(&stat[..]).unwrap(),
            GlibcScan {
                version: None,
                is_glibc: true
            }
        );
        text.extend_from_slice(banner);
        assert_eq!(
            glibc_version_in(&text[..]).unwrap().as_deref(),
            Some("2.41")
        );
    }

    fn file(path: &str) -> MappedFile {
        MappedFile {
            path: PathBuf::from(path),
            start: 0x7f00_0000_0000,
            end: 0x7f00_0001_0000,
            dev: (254, 0),
            inode: 1,
        }
    }

    #[test]
    fn linkage_names_the_libc_and_any_replacement() {
        let l = Linkage::of(&[
            file("/usr/bin/python3.13"),
            file("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"),
            file("/usr/lib/x86_64-linux-gnu/libc.so.6"),
            file("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
        ]);
        assert_eq!(l.glibc.unwrap().file_name(), "libc.so.6");
        assert_eq!(
            replacement_name(l.replacement.as_ref().unwrap().file_name()),
            Some("jemalloc")
        );
        assert!(l.musl.is_none());
        let old = Linkage::of(&[file("/lib64/libc-2.17.so")]);
        assert!(old.glibc.is_some());
        let musl = Linkage::of(&[file("/lib/ld-musl-x86_64.so.1"), file("/usr/bin/sleep")]);
        assert!(musl.musl.is_some() && musl.glibc.is_none());
        let debian_musl = Linkage::of(&[file("/usr/lib/x86_64-linux-musl/libc.so")]);
        assert!(debian_musl.musl.is_some());
        let stat = Linkage::of(&[file("/tmp/static-prog")]);
        assert!(stat.glibc.is_none() && stat.musl.is_none() && stat.replacement.is_none());
        assert_eq!(
            replacement_name("libtcmalloc_minimal.so.4"),
            Some("tcmalloc")
        );
        assert_eq!(replacement_name("libmimalloc.so.2.0"), Some("mimalloc"));
        assert_eq!(replacement_name("libjemalloc_pic.a"), None);
    }

    #[test]
    fn preload_lists_match_by_path_or_name() {
        let lib = file("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2");
        let pre = |list: &str| is_preloaded(&lib, list, None);
        assert!(pre("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"));
        assert!(pre("libfoo.so:libjemalloc.so.2"));
        assert!(pre("/opt/x/libjemalloc.so.2 /opt/y.so"));
        assert!(pre("libjemalloc.so"));
        assert!(!pre("/usr/lib/libmimalloc.so.2"));
        assert!(!pre("libjemalloc.so.22"));
        assert!(!pre(""));
        // A symlink named in LD_PRELOAD maps as its target.
        let mi = file("/usr/lib/x86_64-linux-gnu/libmimalloc.so.2.0");
        assert!(is_preloaded(
            &mi,
            "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2",
            None
        ));
    }
}
