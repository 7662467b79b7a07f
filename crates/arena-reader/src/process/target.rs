//! Read one live process from `/proc/<pid>`: status, smaps (classified into regions
//! by [`super::smaps`]), the files it maps, its environment at start, and which libc
//! and malloc it uses.
//!
//! Only files under `/proc` are read here, plus the target's own libc or executable to
//! find the glibc version string in it; nothing is attached (no ptrace), and nothing
//! beyond what the kernel lets the caller read is needed (the process's memory, and
//! with it glibc's arenas, is read by `crate::arena`, under the stricter ptrace
//! *attach* check). The kernel shows `smaps`, `environ`,
//! `exe` and `root` only to the process's own user and to root (a ptrace *read-access*
//! check), so inspecting another user's process fails with [`InspectError::Permission`].
//!
//! The glibc version is read from the banner glibc carries in `libc.so.6` (and in a
//! statically linked program): `GNU C Library (Debian GLIBC 2.36-9+deb12u14) stable
//! release version 2.36.`. The file is opened, in order, through
//! `/proc/<pid>/root/<path>` (the target's own mount namespace, e.g. a container;
//! readable by the same user), `/proc/<pid>/map_files/<range>` (also works for a
//! deleted file, but needs CAP_SYS_ADMIN), and `<path>` itself when its device and
//! inode are those the maps line names. Running the target's libc to ask it is not an
//! option: it could be any binary, in any namespace.

use std::path::PathBuf;

use procfs::process::{MMapPath, MemoryMaps};

use super::linkage::{
    glibc_version_in, is_preloaded, replacement_name, same_file, scan_glibc, GlibcScan, Linkage,
    MappedFile,
};
use super::smaps;
use super::status::{parse_status, Snapshot};

/// Why a process cannot be inspected (each says what to do).
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("no such process: PID {pid} does not exist{hint}")]
    NoSuchProcess { pid: i32, hint: String },
    #[error(
        "cannot read {path}: permission denied. {why} The kernel shows a process's memory \
         map and memory only to the user it runs as and to root (CAP_SYS_PTRACE): {fix}"
    )]
    Permission {
        path: String,
        why: String,
        fix: String,
    },
    #[error("PID {pid} ({name}) is a kernel thread: it has no user memory and no malloc")]
    KernelThread { pid: i32, name: String },
    #[error("PID {pid} ({name}) is a zombie: it has exited and its memory is already gone (its parent has not reaped it yet)")]
    Zombie { pid: i32, name: String },
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl InspectError {
    /// True when the user asked for something that cannot work as asked (exit 2).
    pub fn is_usage(&self) -> bool {
        !matches!(self, InspectError::Io { .. })
    }
}

/// Which C library a process runs on, as seen in its mappings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LibcKind {
    /// glibc: `libc.so.6` mapped, or its banner inside a static program.
    Glibc,
    /// musl: `ld-musl-*.so.1` (musl's libc and loader in one file) mapped.
    Musl,
    /// No libc.so mapped and no glibc banner in the program: statically linked with
    /// another libc, or with none (Go, static musl or Rust-musl builds).
    StaticOther,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Libc {
    pub kind: LibcKind,
    /// The shared libc file; `None` for a static program.
    pub file: Option<PathBuf>,
    /// "2.36", from the glibc banner.
    pub version: Option<String>,
    /// How the version was read, or why it could not be.
    pub version_note: String,
}

impl Libc {
    pub fn is_static(&self) -> bool {
        self.file.is_none()
    }
}

/// An allocator library that replaces malloc when it is preloaded or linked to the
/// program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// "jemalloc", "mimalloc", "tcmalloc", ...
    pub name: &'static str,
    pub lib: PathBuf,
    /// Named in the target's LD_PRELOAD at start, or in /etc/ld.so.preload.
    pub preloaded: bool,
}

/// `glibc.malloc.arena_max` as the target's environment set it at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArenaMaxSetting {
    pub value: u64,
    /// "GLIBC_TUNABLES" or "MALLOC_ARENA_MAX".
    pub from: &'static str,
}

/// Everything one look at a process gives.
#[derive(Debug, Clone)]
pub struct Observation {
    pub pid: i32,
    /// `Name:` in status (the command, at most 15 characters).
    pub name: String,
    pub uid: u32,
    /// Clock ticks after boot when the process started: tells a reused PID apart.
    pub start_ticks: u64,
    pub exe: Option<PathBuf>,
    /// `status` + `smaps`, as the sampler takes them of a run's child.
    pub snapshot: Snapshot,
    pub libc: Libc,
    pub replacement: Option<Replacement>,
    /// 64 or 32 (from the executable's ELF header, `super::exe`); `None` when
    /// unreadable.
    pub pointer_bits: Option<u8>,
    pub arena_max: Option<ArenaMaxSetting>,
    /// The target's environment could be read (LD_PRELOAD and tunables are known).
    pub environ_read: bool,
}

fn proc_path(pid: i32, file: &str) -> String {
    format!("/proc/{pid}/{file}")
}

/// Does /proc hide other users' processes (mounted with `hidepid`)?
fn proc_hides_pids() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|t| {
        t.lines()
            .any(|l| l.contains(" /proc ") && l.contains("hidepid=") && !l.contains("hidepid=0"))
    })
}

pub fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| format!("uid {uid}"))
}

fn permission_error(pid: i32, path: String, owner_uid: u32) -> InspectError {
    let me = nix::unistd::geteuid().as_raw();
    let owner = user_name(owner_uid);
    let (why, fix) = if owner_uid == me {
        (
            format!("PID {pid} runs as you ({owner}), but it is not dumpable (a setuid or setgid program, or one that called prctl(PR_SET_DUMPABLE, 0)), so only root may read it."),
            format!("run `arena-sweep inspect {pid}` as root (e.g. with sudo)."),
        )
    } else if owner_uid == 0 {
        (
            format!("PID {pid} runs as root, and you are {}.", user_name(me)),
            format!("run `arena-sweep inspect {pid}` as root (e.g. with sudo)."),
        )
    } else {
        (
            format!("PID {pid} runs as {owner}, and you are {}.", user_name(me)),
            format!("run `arena-sweep inspect {pid}` as {owner} (e.g. `sudo -u {owner} arena-sweep inspect {pid}`) or as root."),
        )
    };
    InspectError::Permission { path, why, fix }
}

/// Map an I/O error on a /proc file to what it means for the user.
fn proc_error(pid: i32, path: String, e: std::io::Error, owner_uid: Option<u32>) -> InspectError {
    use std::io::ErrorKind;
    match e.kind() {
        // ESRCH shows up when the process exits while the file is read.
        ErrorKind::NotFound => no_such_process(pid),
        _ if e.raw_os_error() == Some(libc::ESRCH) => no_such_process(pid),
        ErrorKind::PermissionDenied => permission_error(pid, path, owner_uid.unwrap_or(u32::MAX)),
        _ => InspectError::Io { path, source: e },
    }
}

fn no_such_process(pid: i32) -> InspectError {
    let hint = if proc_hides_pids() {
        " (or /proc is mounted with hidepid, which hides other users' processes: run as that user or root)"
    } else {
        " (it may have exited)"
    };
    InspectError::NoSuchProcess {
        pid,
        hint: hint.to_string(),
    }
}

/// Is the process still the one observed (same PID, same start time)?
pub fn same_process(pid: i32, start_ticks: u64) -> bool {
    read_start_ticks(pid).is_some_and(|t| t == start_ticks)
}

pub fn read_start_ticks(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(proc_path(pid, "stat")).ok()?;
    parse_start_ticks(&stat)
}

/// Field 22 (`starttime`) of `/proc/<pid>/stat`; the command in field 2 may hold
/// spaces and parentheses, so fields are counted after the last `)`.
fn parse_start_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Look at process `pid` once.
pub fn observe(pid: i32) -> Result<Observation, InspectError> {
    if pid <= 0 {
        return Err(no_such_process(pid));
    }
    let status_path = proc_path(pid, "status");
    let status_text = std::fs::read_to_string(&status_path)
        .map_err(|e| proc_error(pid, status_path.clone(), e, None))?;
    let field = |key: &str| -> Option<&str> {
        status_text
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
    };
    let name = field("Name:").unwrap_or_default().to_string();
    let uid: u32 = field("Uid:")
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(u32::MAX);
    if field("State:").is_some_and(|s| s.starts_with('Z')) {
        return Err(InspectError::Zombie { pid, name });
    }
    // Kernel threads have no Vm* lines: no user address space.
    if field("VmSize:").is_none() {
        return Err(InspectError::KernelThread { pid, name });
    }
    let mut snapshot = parse_status(status_text.as_bytes()).map_err(|e| InspectError::Io {
        path: status_path.clone(),
        source: e,
    })?;

    let smaps_path = proc_path(pid, "smaps");
    let smaps_text = std::fs::read_to_string(&smaps_path)
        .map_err(|e| proc_error(pid, smaps_path.clone(), e, Some(uid)))?;
    let maps = {
        use procfs::FromBufRead;
        MemoryMaps::from_buf_read(smaps_text.as_bytes()).map_err(|e| InspectError::Io {
            path: smaps_path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?
    };
    if maps.0.is_empty() {
        // An empty smaps: the process exited while it was read.
        return Err(no_such_process(pid));
    }
    snapshot.regions = smaps::classify(&smaps::from_procfs(&maps));
    snapshot.regions_measured = true;
    let files = mapped_files(&maps);

    let start_ticks = read_start_ticks(pid).ok_or_else(|| no_such_process(pid))?;
    let exe = std::fs::read_link(proc_path(pid, "exe")).ok();
    let environ = std::fs::read(proc_path(pid, "environ")).ok();
    let env = environ.as_deref().map(parse_environ).unwrap_or_default();
    let preload_env = env_value(&env, "LD_PRELOAD").unwrap_or_default();
    let preload_file =
        std::fs::read_to_string(proc_path(pid, "root/etc/ld.so.preload")).unwrap_or_default();

    let linkage = Linkage::of(&files);
    let root = PathBuf::from(proc_path(pid, "root"));
    let replacement = linkage.replacement.as_ref().map(|f| Replacement {
        name: replacement_name(f.file_name()).unwrap_or("another allocator"),
        lib: f.path.clone(),
        preloaded: is_preloaded(f, &preload_env, Some(&root))
            || is_preloaded(f, &preload_file, Some(&root)),
    });
    let libc = read_libc(pid, &linkage);
    Ok(Observation {
        pid,
        name,
        uid,
        start_ticks,
        exe,
        snapshot,
        libc,
        replacement,
        pointer_bits: super::exe::header(pid, start_ticks)
            .ok()
            .and_then(|h| h.pointer_bits()),
        arena_max: arena_max_setting(&env),
        environ_read: environ.is_some(),
    })
}

/// One entry per mapped file, at its lowest address.
pub fn mapped_files(maps: &MemoryMaps) -> Vec<MappedFile> {
    let mut out: Vec<MappedFile> = Vec::new();
    for m in &maps.0 {
        if let MMapPath::Path(p) = &m.pathname {
            if out.iter().all(|f| &f.path != p) {
                out.push(MappedFile {
                    path: p.clone(),
                    start: m.address.0,
                    end: m.address.1,
                    dev: m.dev,
                    inode: m.inode,
                });
            }
        }
    }
    out
}

pub fn read_libc(pid: i32, linkage: &Linkage) -> Libc {
    if let Some(musl) = &linkage.musl {
        return Libc {
            kind: LibcKind::Musl,
            file: Some(musl.path.clone()),
            version: None,
            version_note: "musl carries no version string arena-sweep reads".into(),
        };
    }
    if let Some(glibc) = &linkage.glibc {
        let (version, version_note) = match read_mapped_glibc_version(pid, glibc) {
            Ok((Some(v), via)) => (Some(v), format!("read from {via}")),
            Ok((None, via)) => (None, format!("no glibc banner found in {via}")),
            Err(tried) => (None, format!("unreadable ({tried})")),
        };
        return Libc {
            kind: LibcKind::Glibc,
            file: Some(glibc.path.clone()),
            version,
            version_note,
        };
    }
    // No libc.so: a static program; glibc linked in statically leaves its banner or
    // ptmalloc's messages in it.
    let exe = proc_path(pid, "exe");
    match std::fs::File::open(&exe).and_then(scan_glibc) {
        Ok(GlibcScan {
            version: Some(v), ..
        }) => Libc {
            kind: LibcKind::Glibc,
            file: None,
            version: Some(v),
            version_note: format!("read from the program, {exe}"),
        },
        Ok(GlibcScan { is_glibc: true, .. }) => Libc {
            kind: LibcKind::Glibc,
            file: None,
            version: None,
            version_note: "recognised by ptmalloc's messages; a static program carries glibc's version only if it calls gnu_get_libc_version".into(),
        },
        Ok(_) => Libc {
            kind: LibcKind::StaticOther,
            file: None,
            version: None,
            version_note: format!("neither glibc's banner nor ptmalloc's messages in {exe}"),
        },
        Err(e) => Libc {
            kind: LibcKind::StaticOther,
            file: None,
            version: None,
            version_note: format!("the program could not be read ({exe}: {e})"),
        },
    }
}

/// Read the glibc banner of a mapped libc through the first way that opens it.
/// Returns the version (if a banner was found) and the path used, or every attempt's
/// error.
/// Versions read from libc files, by (device, inode, path): scanning a libc for its
/// banner takes milliseconds, and a sweep reads the same libc in every child.
#[allow(clippy::type_complexity)]
static GLIBC_VERSIONS: std::sync::Mutex<
    Vec<(((i32, i32), u64, PathBuf), (Option<String>, String))>,
> = std::sync::Mutex::new(Vec::new());

fn read_mapped_glibc_version(pid: i32, f: &MappedFile) -> Result<(Option<String>, String), String> {
    let key = (f.dev, f.inode, f.path.clone());
    let cache = || GLIBC_VERSIONS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, v)) = cache().iter().find(|(k, _)| *k == key) {
        return Ok(v.clone());
    }
    let found = scan_mapped_glibc_version(pid, f)?;
    if !f.path.to_string_lossy().ends_with(" (deleted)") {
        let mut c = cache();
        if c.len() >= 16 {
            c.remove(0);
        }
        c.push((key, found.clone()));
    }
    Ok(found)
}

fn scan_mapped_glibc_version(pid: i32, f: &MappedFile) -> Result<(Option<String>, String), String> {
    let path = f.path.to_string_lossy();
    let deleted = path.ends_with(" (deleted)");
    let mut candidates = Vec::new();
    if !deleted {
        candidates.push(format!("/proc/{pid}/root{path}"));
    }
    candidates.push(format!("/proc/{pid}/map_files/{:x}-{:x}", f.start, f.end));
    if !deleted && same_file(&f.path, f.dev, f.inode) {
        candidates.push(path.to_string());
    }
    let mut errors = Vec::new();
    for c in candidates {
        match std::fs::File::open(&c).and_then(glibc_version_in) {
            Ok(v) => return Ok((v, c)),
            Err(e) => errors.push(format!("{c}: {e}")),
        }
    }
    if deleted {
        errors.push(format!(
            "{path}: replaced on disk since the process started"
        ));
    }
    Err(errors.join("; "))
}

/// `KEY=VALUE` pairs of a NUL-separated environ file.
pub fn parse_environ(raw: &[u8]) -> Vec<(String, String)> {
    raw.split(|&b| b == 0)
        .filter_map(|e| {
            let e = String::from_utf8_lossy(e);
            let (k, v) = e.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

pub fn env_value(env: &[(String, String)], key: &str) -> Option<String> {
    env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// arena_max from GLIBC_TUNABLES (which wins), else MALLOC_ARENA_MAX.
fn arena_max_setting(env: &[(String, String)]) -> Option<ArenaMaxSetting> {
    let from_tunables = env_value(env, "GLIBC_TUNABLES").and_then(|t| {
        t.split(':')
            .filter_map(|e| e.strip_prefix("glibc.malloc.arena_max="))
            .next_back()
            .and_then(|v| v.parse().ok())
    });
    if let Some(value) = from_tunables {
        return Some(ArenaMaxSetting {
            value,
            from: "GLIBC_TUNABLES",
        });
    }
    env_value(env, "MALLOC_ARENA_MAX")
        .and_then(|v| v.parse().ok())
        .map(|value| ArenaMaxSetting {
            value,
            from: "MALLOC_ARENA_MAX",
        })
}

#[cfg(test)]
mod tests;
