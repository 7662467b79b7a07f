//! A process's executable as its ELF header says: the class (64- or 32-bit) and the
//! machine. [`read_header`] is the one function that reads it (the first 20 bytes of
//! `/proc/PID/exe`), and [`header`] keeps what it read by (PID, start time,
//! executable): the one place both `target::observe` (the pointer width `inspect`
//! prints) and the arena reader (the architecture its layout needs) take it from, so
//! one look at a process reads the header once, and later looks not at all. A
//! process keeps its executable for life; an exec changes what `/proc/PID/exe` links
//! to, and with it the key.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;

/// `EI_CLASS` of a 32-bit ELF file.
pub const ELFCLASS32: u8 = 1;
/// `EI_CLASS` of a 64-bit ELF file.
pub const ELFCLASS64: u8 = 2;
/// `e_machine` of x86_64.
pub const EM_X86_64: u16 = 62;
/// `e_machine` of aarch64.
pub const EM_AARCH64: u16 = 183;

/// What an executable's ELF header says about the process that runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElfHeader {
    /// `EI_CLASS`: [`ELFCLASS64`], [`ELFCLASS32`], or another (invalid) value.
    pub class: u8,
    /// `e_machine`, read little-endian (x86_64 and aarch64, the machines the arena
    /// reader knows, are).
    pub machine: u16,
}

impl ElfHeader {
    /// The header of an ELF file from its first 20 bytes; `None` when they do not
    /// start with the ELF magic.
    pub fn parse(head: &[u8; 20]) -> Option<ElfHeader> {
        (head[..4] == *b"\x7fELF").then(|| ElfHeader {
            class: head[4],
            machine: u16::from_le_bytes([head[18], head[19]]),
        })
    }

    /// 64 or 32 from the class; `None` for an invalid class.
    pub fn pointer_bits(&self) -> Option<u8> {
        match self.class {
            ELFCLASS64 => Some(64),
            ELFCLASS32 => Some(32),
            _ => None,
        }
    }
}

/// Why an executable's header could not be read.
#[derive(Debug)]
pub enum HeaderError {
    /// `path` (`/proc/PID/exe`) could not be opened or holds fewer than 20 bytes.
    Io { path: String, error: std::io::Error },
    /// The file is not an ELF file.
    NotElf,
}

/// Read `pid`'s executable's ELF header now.
pub fn read_header(pid: i32) -> Result<ElfHeader, HeaderError> {
    let path = format!("/proc/{pid}/exe");
    let mut head = [0u8; 20];
    match std::fs::File::open(&path).and_then(|mut f| f.read_exact(&mut head)) {
        Ok(()) => ElfHeader::parse(&head).ok_or(HeaderError::NotElf),
        Err(error) => Err(HeaderError::Io { path, error }),
    }
}

/// A process: PID, start time (clock ticks after boot), executable.
type Key = (i32, u64, PathBuf);

/// Headers read before, by process.
static KNOWN: Mutex<Vec<(Key, ElfHeader)>> = Mutex::new(Vec::new());
const KNOWN_MAX: usize = 64;

/// `pid`'s executable's ELF header, read once per process: `start_ticks` (from
/// [`super::target::read_start_ticks`]) tells a reused PID apart. Only headers read
/// are kept; an error is returned as it came and the next call reads again.
pub fn header(pid: i32, start_ticks: u64) -> Result<ElfHeader, HeaderError> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
    let key = (pid, start_ticks, exe);
    let known = || KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, h)) = known().iter().find(|(k, _)| *k == key) {
        return Ok(*h);
    }
    let h = read_header(pid)?;
    let mut k = known();
    if k.len() >= KNOWN_MAX {
        k.remove(0);
    }
    k.push((key, h));
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(magic: &[u8; 4], class: u8, machine: u16) -> [u8; 20] {
        let mut h = [0u8; 20];
        h[..4].copy_from_slice(magic);
        h[4] = class;
        h[18..].copy_from_slice(&machine.to_le_bytes());
        h
    }

    #[test]
    fn class_and_machine_come_from_one_header() {
        let h = ElfHeader::parse(&head(b"\x7fELF", ELFCLASS64, EM_AARCH64)).unwrap();
        assert_eq!((h.pointer_bits(), h.machine), (Some(64), EM_AARCH64));
        let h = ElfHeader::parse(&head(b"\x7fELF", ELFCLASS32, 3)).unwrap();
        assert_eq!((h.pointer_bits(), h.machine), (Some(32), 3));
        let h = ElfHeader::parse(&head(b"\x7fELF", 7, EM_X86_64)).unwrap();
        assert_eq!(h.pointer_bits(), None);
        assert_eq!(ElfHeader::parse(&head(b"#!/b", 2, 62)), None);
    }

    #[test]
    fn this_process_is_read_once_and_kept() {
        let pid = std::process::id() as i32;
        let ticks = super::super::target::read_start_ticks(pid).unwrap();
        let h = header(pid, ticks).unwrap();
        assert_eq!(h, read_header(pid).unwrap());
        assert_eq!(h.pointer_bits(), Some(64));
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let kept = KNOWN
            .lock()
            .unwrap()
            .iter()
            .any(|(k, v)| *k == (pid, ticks, exe.clone()) && *v == h);
        assert!(kept);
        // No such process: nothing kept answers for it, and the read says why.
        assert!(matches!(header(-1, ticks), Err(HeaderError::Io { .. })));
    }
}
