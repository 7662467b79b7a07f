//! What the reader needs to know about a process before reading its memory: its
//! glibc version (read from the libc it maps, as `inspect` reads it), its
//! architecture (from its executable's ELF header, as `process::exe` keeps it), the
//! allocator that serves malloc, and, at every attempt, where its heaps, `[heap]` and
//! libc's writable data are (`/proc/PID/maps`).

use std::path::PathBuf;

use procfs::process::{MMapPath, MemoryMaps};

use super::error::{ReadError, Unsupported};
use super::layout::Arch;
use super::permission;
use crate::process::exe::{self, HeaderError};
use crate::process::linkage::{is_preloaded, replacement_name, Linkage};
use crate::process::smaps;
use crate::process::target::{self as itarget, LibcKind};

/// The process, as identified once before reading.
#[derive(Debug, Clone)]
pub struct TargetInfo {
    pub pid: i32,
    pub glibc_version: String,
    pub arch: Arch,
    /// The file whose writable data holds `main_arena`: libc.so, or the program
    /// itself when glibc is linked statically.
    pub libc_file: PathBuf,
    pub start_ticks: u64,
}

/// Where things are in the process's address space at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maps {
    /// 64 MiB-aligned heap reservations: (start, end of the read-write part).
    pub heap_slots: Vec<(u64, u64)>,
    /// `[heap]`, the main arena's brk memory.
    pub brk: Option<(u64, u64)>,
    /// libc's writable mappings and the anonymous one after them (its .bss).
    pub data: Vec<(u64, u64)>,
}

fn io_error(pid: i32, path: String, e: &std::io::Error) -> ReadError {
    match e.raw_os_error() {
        Some(libc::ENOENT | libc::ESRCH) => ReadError::ProcessGone { pid },
        Some(libc::EACCES | libc::EPERM) => ReadError::Permission {
            pid,
            rule: permission::diagnose(pid),
        },
        _ => ReadError::Io {
            path,
            message: e.to_string(),
        },
    }
}

fn read_maps(pid: i32) -> Result<MemoryMaps, ReadError> {
    let path = format!("/proc/{pid}/maps");
    let text = std::fs::read(&path).map_err(|e| io_error(pid, path.clone(), &e))?;
    if text.is_empty() {
        return Err(ReadError::ProcessGone { pid });
    }
    use procfs::FromBufRead;
    MemoryMaps::from_buf_read(&text[..]).map_err(|e| ReadError::Io {
        path,
        message: e.to_string(),
    })
}

/// x86_64 or aarch64 from the executable's ELF header (64-bit, e_machine 62 or 183),
/// as `process::exe` keeps it for the process.
fn arch_of(pid: i32, start_ticks: u64) -> Result<Arch, ReadError> {
    let unsupported = |what: String| ReadError::Unsupported {
        pid,
        why: Unsupported::Arch(what),
    };
    let head = exe::header(pid, start_ticks).map_err(|e| match e {
        HeaderError::Io { path, error } => io_error(pid, path, &error),
        HeaderError::NotElf => unsupported("its executable is not an ELF file".into()),
    })?;
    if head.class != exe::ELFCLASS64 {
        return Err(unsupported(
            "a 32-bit process: glibc's heaps and structures differ there, and arena-sweep reads 64-bit processes only".into(),
        ));
    }
    match head.machine {
        exe::EM_X86_64 => Ok(Arch::X86_64),
        exe::EM_AARCH64 => Ok(Arch::Aarch64),
        m => Err(unsupported(format!(
            "ELF machine {m}: arena-sweep knows glibc's layout on x86_64 and aarch64 only"
        ))),
    }
}

/// Identify `pid`'s libc, glibc version, architecture and allocator. Nothing is kept
/// here: the ELF header is kept by `process::exe`, and glibc's version, whose read
/// scans libc.so, by `process::target` for each libc file, so `--watch` and a sweep's
/// phases re-read only the maps and the environment.
pub fn identify(pid: i32) -> Result<TargetInfo, ReadError> {
    let start_ticks = itarget::read_start_ticks(pid).ok_or(ReadError::ProcessGone { pid })?;
    let maps = read_maps(pid)?;
    let files = itarget::mapped_files(&maps);
    let linkage = Linkage::of(&files);
    let arch = arch_of(pid, start_ticks)?;
    let libc = itarget::read_libc(pid, &linkage);
    let unsupported = |why| ReadError::Unsupported { pid, why };
    match libc.kind {
        LibcKind::Musl => {
            return Err(unsupported(Unsupported::Libc(
                "it uses musl libc, whose malloc has no arenas".into(),
            )))
        }
        LibcKind::StaticOther => {
            return Err(unsupported(Unsupported::Libc(
                "it is statically linked without glibc, so its allocator is its own".into(),
            )))
        }
        LibcKind::Glibc => {}
    }
    if let Some(rep) = &linkage.replacement {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let env = itarget::parse_environ(&environ);
        let preload = itarget::env_value(&env, "LD_PRELOAD").unwrap_or_default();
        let etc = std::fs::read_to_string(format!("/proc/{pid}/root/etc/ld.so.preload"))
            .unwrap_or_default();
        let root = PathBuf::from(format!("/proc/{pid}/root"));
        if is_preloaded(rep, &preload, Some(&root)) || is_preloaded(rep, &etc, Some(&root)) {
            let name = replacement_name(rep.file_name()).unwrap_or("another allocator");
            return Err(unsupported(Unsupported::Allocator(format!(
                "{name} is preloaded ({}) and serves malloc, so glibc's arenas hold nothing of the program's",
                rep.path.display()
            ))));
        }
    }
    let version = libc.version.clone().ok_or_else(|| {
        unsupported(Unsupported::UnknownVersion(format!(
            "glibc's version could not be read ({}), and its structures differ between versions",
            libc.version_note
        )))
    })?;
    let libc_file = match libc.file {
        Some(f) => f,
        None => std::fs::read_link(format!("/proc/{pid}/exe"))
            .map_err(|e| io_error(pid, format!("/proc/{pid}/exe"), &e))?,
    };
    Ok(TargetInfo {
        pid,
        glibc_version: version,
        arch,
        libc_file,
        start_ticks,
    })
}

impl Maps {
    /// Read `/proc/PID/maps` now.
    pub fn read(t: &TargetInfo) -> Result<Maps, ReadError> {
        let maps = read_maps(t.pid)?;
        let plain = smaps::from_procfs(&maps);
        let mut data = Vec::new();
        let mut after_libc = false;
        for m in &maps.0 {
            let rw = m.perms.contains(procfs::process::MMPermissions::WRITE)
                && m.perms.contains(procfs::process::MMPermissions::READ);
            let is_libc = matches!(&m.pathname, MMapPath::Path(p) if *p == t.libc_file);
            if rw && (is_libc || (after_libc && m.pathname == MMapPath::Anonymous)) {
                data.push(m.address);
            }
            after_libc = is_libc;
        }
        Ok(Maps {
            heap_slots: smaps::arena_heap_candidates(&plain),
            brk: maps
                .0
                .iter()
                .find(|m| m.pathname == MMapPath::Heap)
                .map(|m| m.address),
            data,
        })
    }
}
