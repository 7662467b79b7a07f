//! In-process views of glibc malloc: `malloc_info` (parsed), `mallinfo2`, `malloc_trim`,
//! and the process's own RSS. The parent never trusts these numbers; it records them
//! next to its own /proc snapshots as a cross-check.

use std::ffi::c_char;

/// One `<heap nr="N">` element of `malloc_info`: one arena.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArenaInfo {
    pub nr: u64,
    /// `<system type="current">`: bytes this arena holds from the kernel.
    pub system_current_bytes: u64,
    pub system_max_bytes: u64,
    /// `<total type="fast"/"rest">` sizes: free bytes inside the arena.
    pub free_bytes: u64,
    /// `<aspace type="total">`.
    pub aspace_total_bytes: u64,
    /// `<aspace type="subheaps">`: 64 MiB heaps of a non-main arena (0 for the main
    /// arena, which lives in `[heap]`).
    pub subheaps: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MallocInfo {
    pub arenas: Vec<ArenaInfo>,
    /// The process-wide `<system type="current">` after the last `</heap>`.
    pub system_current_bytes: u64,
    /// The process-wide mmapped bytes (`<total type="mmap" ... size=>`).
    pub mmap_bytes: u64,
}

fn attr(tag: &str, name: &str) -> Option<u64> {
    let key = format!("{name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    tag[start..end].parse().ok()
}

fn attr_str<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(&tag[start..end])
}

/// Parse the XML `malloc_info(0, fp)` writes. glibc's format is flat and stable
/// (one element per line), so a line scanner is enough and needs no XML crate.
pub fn parse_malloc_info(xml: &str) -> MallocInfo {
    let mut info = MallocInfo::default();
    let mut current: Option<ArenaInfo> = None;
    for line in xml.lines().map(str::trim) {
        if line.starts_with("<heap ") {
            current = Some(ArenaInfo {
                nr: attr(line, "nr").unwrap_or(0),
                ..Default::default()
            });
        } else if line.starts_with("</heap>") {
            if let Some(a) = current.take() {
                info.arenas.push(a);
            }
        } else if line.starts_with("<total ") {
            let size = attr(line, "size").unwrap_or(0);
            match (current.as_mut(), attr_str(line, "type")) {
                (Some(a), Some("fast" | "rest")) => a.free_bytes += size,
                (None, Some("mmap")) => info.mmap_bytes = size,
                _ => {}
            }
        } else if line.starts_with("<system ") {
            let size = attr(line, "size").unwrap_or(0);
            match (current.as_mut(), attr_str(line, "type")) {
                (Some(a), Some("current")) => a.system_current_bytes = size,
                (Some(a), Some("max")) => a.system_max_bytes = size,
                (None, Some("current")) => info.system_current_bytes = size,
                _ => {}
            }
        } else if line.starts_with("<aspace ") {
            match (current.as_mut(), attr_str(line, "type")) {
                (Some(a), Some("total")) => a.aspace_total_bytes = attr(line, "size").unwrap_or(0),
                (Some(a), Some("subheaps")) => a.subheaps = attr(line, "size").unwrap_or(0),
                _ => {}
            }
        }
    }
    info
}

impl MallocInfo {
    /// Heaps of all non-main arenas: what the parent should count in smaps.
    pub fn heaps(&self) -> u64 {
        self.arenas.iter().map(|a| a.subheaps).sum()
    }
}

/// Run glibc's `malloc_info(0, ...)` into memory and return the XML.
pub fn malloc_info_xml() -> std::io::Result<String> {
    let mut buf: *mut c_char = std::ptr::null_mut();
    let mut len: libc::size_t = 0;
    // SAFETY: open_memstream writes the buffer pointer and length on fclose; we free
    // the buffer with libc::free as its man page requires.
    unsafe {
        let fp = libc::open_memstream(&mut buf, &mut len);
        if fp.is_null() {
            return Err(std::io::Error::last_os_error());
        }
        let rc = libc::malloc_info(0, fp);
        libc::fclose(fp);
        if buf.is_null() {
            return Err(std::io::Error::other("open_memstream returned no buffer"));
        }
        let bytes = std::slice::from_raw_parts(buf as *const u8, len);
        let xml = String::from_utf8_lossy(bytes).into_owned();
        libc::free(buf.cast());
        if rc != 0 {
            return Err(std::io::Error::other(format!("malloc_info returned {rc}")));
        }
        Ok(xml)
    }
}

/// Run `malloc_info(0, ...)` into a buffer allocated beforehand, write `marker` to
/// `ready_fd`, and block until a byte arrives on `wait_fd`; return the XML after.
///
/// Between `malloc_info` and the byte nothing allocates or frees (the stream is
/// `fmemopen` over the buffer, unbuffered, so stdio allocates no buffer of its own,
/// and the marker and the wait are plain `write` and `read`): another process that
/// reads the arenas meanwhile sees them exactly as `malloc_info` described them.
pub fn malloc_info_then_wait(
    ready_fd: i32,
    wait_fd: i32,
    marker: &[u8],
) -> std::io::Result<String> {
    let mut buf = vec![0u8; 4 << 20];
    let mut byte = [0u8; 1];
    // SAFETY: the FILE writes into `buf`, which outlives it (closed below); every
    // pointer passed is valid for the length given.
    unsafe {
        let fp = libc::fmemopen(buf.as_mut_ptr().cast(), buf.len(), c"w".as_ptr());
        if fp.is_null() {
            return Err(std::io::Error::last_os_error());
        }
        libc::setvbuf(fp, std::ptr::null_mut(), libc::_IONBF, 0);
        let rc = libc::malloc_info(0, fp);
        let len = libc::ftell(fp).max(0) as usize;
        libc::write(ready_fd, marker.as_ptr().cast(), marker.len());
        while libc::read(wait_fd, byte.as_mut_ptr().cast(), 1) < 0
            && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
        {}
        libc::fclose(fp);
        if rc != 0 {
            return Err(std::io::Error::other(format!("malloc_info returned {rc}")));
        }
        Ok(String::from_utf8_lossy(&buf[..len.min(buf.len())]).into_owned())
    }
}

/// `mallinfo2()` as (name, value) pairs, in glibc's field order.
pub fn mallinfo2() -> [(&'static str, u64); 10] {
    // SAFETY: mallinfo2 takes no arguments and returns a plain struct.
    let m = unsafe { libc::mallinfo2() };
    [
        ("arena", m.arena as u64),
        ("ordblks", m.ordblks as u64),
        ("smblks", m.smblks as u64),
        ("hblks", m.hblks as u64),
        ("hblkhd", m.hblkhd as u64),
        ("usmblks", m.usmblks as u64),
        ("fsmblks", m.fsmblks as u64),
        ("uordblks", m.uordblks as u64),
        ("fordblks", m.fordblks as u64),
        ("keepcost", m.keepcost as u64),
    ]
}

/// `malloc_trim(pad)`: 1 if memory was returned to the kernel, 0 otherwise.
pub fn malloc_trim(pad: usize) -> i32 {
    // SAFETY: plain libc call.
    unsafe { libc::malloc_trim(pad) }
}

/// Resident set size of this process in KiB, from /proc/self/statm.
pub fn rss_kib() -> std::io::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("unexpected /proc/self/statm format"))?;
    // SAFETY: sysconf is always safe to call.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    Ok(pages * page / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured on Debian 12 (glibc 2.36): a C program whose one extra thread mallocs,
    // then main mallocs 64 MiB (mmapped) and calls malloc_info(0, stdout).
    const SAMPLE: &str = include_str!("../tests/fixtures/malloc_info-glibc2.36-two-arenas.xml");

    #[test]
    fn parses_arenas_and_totals() {
        let info = parse_malloc_info(SAMPLE);
        assert_eq!(info.arenas.len(), 2);
        assert_eq!(info.arenas[0].free_bytes, 130_064);
        assert_eq!(info.arenas[1].free_bytes, 131_905);
        assert_eq!(info.arenas[1].system_current_bytes, 135_168);
        assert_eq!((info.arenas[0].subheaps, info.arenas[1].subheaps), (0, 1));
        assert_eq!(info.system_current_bytes, 270_336);
        assert_eq!(info.mmap_bytes, 67_112_960);
    }

    #[test]
    fn live_malloc_info_has_the_main_arena() {
        let info = parse_malloc_info(&malloc_info_xml().unwrap());
        assert!(!info.arenas.is_empty());
        assert_eq!(info.arenas[0].nr, 0);
        assert!(rss_kib().unwrap() > 0);
    }
}

#[cfg(test)]
mod fuzz {
    //! No text may make the malloc_info parser panic: mutations of the captured XML
    //! and arbitrary bytes (run longer in CI with PROPTEST_CASES).
    use super::*;
    use proptest::prelude::*;

    const SEED: &str = include_str!("../tests/fixtures/malloc_info-glibc2.36-two-arenas.xml");

    proptest! {
        #[test]
        fn mutated_xml_never_panics(edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<bool>()), 0..16)) {
            let mut b = SEED.as_bytes().to_vec();
            for (pos, byte, insert) in edits {
                let i = pos % (b.len() + 1);
                if insert { b.insert(i, byte) } else if i < b.len() { b[i] = byte }
            }
            let info = parse_malloc_info(&String::from_utf8_lossy(&b));
            let _ = info.heaps();
        }

        #[test]
        fn arbitrary_text_never_panics(t in ".{0,300}") {
            let _ = parse_malloc_info(&t);
        }
    }
}
