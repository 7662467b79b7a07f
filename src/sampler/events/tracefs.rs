//! Where `kmem:rss_stat` is and what its records look like: the tracepoint's id and
//! the layout of its fields, read from tracefs (`events/kmem/rss_stat/{id,format}`).
//!
//! Nothing is hard-coded: the offsets and sizes of `mm_id`, `curr`, `member` and
//! `size` come from the `format` file, and which `member` value is which counter
//! (`MM_FILEPAGES`, `MM_ANONPAGES`, `MM_SHMEMPAGES`) from the `__print_symbolic` table
//! in its print format. tracefs is looked for at `/sys/kernel/tracing` and under
//! debugfs; when neither is mounted and this process may mount (root), tracefs is
//! mounted at `/sys/kernel/tracing`, where the kernel provides its mount point.

use std::path::{Path, PathBuf};

/// Where tracefs may be found, in order.
const ROOTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];
const EVENT: &str = "events/kmem/rss_stat";

/// One field of a tracepoint record, as the `format` file gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub offset: usize,
    pub size: usize,
    pub signed: bool,
}

impl Field {
    /// The field's value in `raw` (a record's bytes, from the start of its common
    /// fields), or None when the record is too short.
    pub fn read(&self, raw: &[u8]) -> Option<i64> {
        let b = raw.get(self.offset..self.offset + self.size)?;
        Some(match (self.size, self.signed) {
            (1, false) => i64::from(b[0]),
            (1, true) => i64::from(b[0] as i8),
            (2, false) => i64::from(u16::from_ne_bytes(b.try_into().ok()?)),
            (2, true) => i64::from(i16::from_ne_bytes(b.try_into().ok()?)),
            (4, false) => i64::from(u32::from_ne_bytes(b.try_into().ok()?)),
            (4, true) => i64::from(i32::from_ne_bytes(b.try_into().ok()?)),
            (8, _) => i64::from_ne_bytes(b.try_into().ok()?),
            _ => return None,
        })
    }
}

/// Which `member` value names each RSS counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Members {
    pub file: i64,
    pub anon: i64,
    pub shmem: i64,
}

/// `kmem:rss_stat` on this kernel: its id and record layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RssStat {
    pub id: u64,
    pub mm_id: Field,
    pub curr: Field,
    pub member: Field,
    pub size: Field,
    pub members: Members,
}

/// Parse a tracepoint's `format` file into the layout of `kmem:rss_stat`.
pub fn parse_format(text: &str) -> Result<RssStat, String> {
    let field = |name: &str| -> Result<Field, String> {
        text.lines()
            .find_map(|l| parse_field_line(l).filter(|(n, _)| n == name))
            .map(|(_, f)| f)
            .ok_or_else(|| format!("its format has no field `{name}`"))
    };
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("ID:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or("its format has no ID line")?;
    let symbol = |name: &str| -> Result<i64, String> {
        symbolic_value(text, name)
            .ok_or_else(|| format!("its print format does not name the counter {name}"))
    };
    Ok(RssStat {
        id,
        mm_id: field("mm_id")?,
        curr: field("curr")?,
        member: field("member")?,
        size: field("size")?,
        members: Members {
            file: symbol("MM_FILEPAGES")?,
            anon: symbol("MM_ANONPAGES")?,
            shmem: symbol("MM_SHMEMPAGES")?,
        },
    })
}

/// `field:unsigned int mm_id; offset:8; size:4; signed:0;` (tab-separated) -> ("mm_id",
/// field).
fn parse_field_line(line: &str) -> Option<(String, Field)> {
    let mut parts = line.trim().split(';').map(str::trim);
    let decl = parts.next()?.strip_prefix("field:")?;
    // The name is the declaration's last word, without an array suffix.
    let name = decl
        .split_whitespace()
        .last()?
        .split('[')
        .next()?
        .to_string();
    let mut value = |key: &str| -> Option<usize> { parts.next()?.strip_prefix(key)?.parse().ok() };
    let offset = value("offset:")?;
    let size = value("size:")?;
    let signed = value("signed:")? == 1;
    Some((
        name,
        Field {
            offset,
            size,
            signed,
        },
    ))
}

/// The number paired with `"name"` in a `__print_symbolic(..., { 0, "NAME" }, ...)`.
fn symbolic_value(text: &str, name: &str) -> Option<i64> {
    let quoted = format!("\"{name}\"");
    let at = text.find(&quoted)?;
    let open = text[..at].rfind('{')?;
    text[open + 1..at]
        .trim()
        .trim_end_matches(',')
        .trim()
        .parse()
        .ok()
}

/// The tracepoint's folder, mounting tracefs when it is missing and this process may.
/// The error says why the tracepoint cannot be had.
pub fn find() -> Result<PathBuf, String> {
    if let Some(dir) = existing() {
        return Ok(dir);
    }
    // tracefs is mode 0700 root: another user sees the folder but cannot look in.
    for root in ROOTS {
        if let Err(e) = std::fs::read_dir(root) {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                return Err(format!(
                    "tracefs at {root} is not readable by uid {} (it is root's)",
                    nix::unistd::geteuid()
                ));
            }
        }
    }
    let mounted = ROOTS.iter().any(|r| {
        Path::new(r).join("available_events").exists() || Path::new(r).join("events").is_dir()
    });
    if mounted {
        return Err(
            "tracefs is mounted but has no kmem/rss_stat (a kernel older than 5.5, or tracepoints compiled out)"
                .into(),
        );
    }
    mount()?;
    existing().ok_or_else(|| "tracefs mounted, but it has no kmem/rss_stat".to_string())
}

fn existing() -> Option<PathBuf> {
    ROOTS
        .iter()
        .map(|r| Path::new(r).join(EVENT))
        .find(|d| d.join("format").exists())
}

/// Mount tracefs at its standard place. Only root (CAP_SYS_ADMIN) may; anyone else is
/// told so.
fn mount() -> Result<(), String> {
    let target = ROOTS[0];
    if !Path::new(target).is_dir() {
        return Err(format!("no tracefs: {target} does not exist"));
    }
    nix::mount::mount(
        Some("tracefs"),
        target,
        Some("tracefs"),
        nix::mount::MsFlags::MS_NOSUID
            | nix::mount::MsFlags::MS_NODEV
            | nix::mount::MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| format!("no tracefs: it is not mounted, and mounting it at {target} failed ({e})"))
}

/// The tracepoint on this machine: found, read and parsed.
pub fn rss_stat() -> Result<RssStat, String> {
    let dir = find()?;
    let path = dir.join("format");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{} is not readable ({e}): tracefs is root's unless made readable",
            path.display()
        )
    })?;
    parse_format(&text).map_err(|e| format!("kmem:rss_stat has another layout on this kernel: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The format file of kernel 6.18, as this machine printed it.
    const FORMAT: &str = include_str!("../../../tests/fixtures/tracefs/rss_stat-format-6.18.txt");

    #[test]
    fn the_layout_comes_from_the_format_file() {
        let f = parse_format(FORMAT).unwrap();
        assert_eq!(f.id, 646);
        let field = |offset, size, signed| Field {
            offset,
            size,
            signed,
        };
        assert_eq!(f.mm_id, field(8, 4, false));
        assert_eq!(f.curr, field(12, 4, false));
        assert_eq!(f.member, field(16, 4, true));
        assert_eq!(f.size, field(24, 8, true));
        assert_eq!(
            f.members,
            Members {
                file: 0,
                anon: 1,
                shmem: 3
            }
        );
    }

    #[test]
    fn a_layout_without_a_field_is_refused_by_name() {
        let old = FORMAT.replace("field:long size;", "field:long count;");
        assert_eq!(
            parse_format(&old).unwrap_err(),
            "its format has no field `size`"
        );
        let renamed = FORMAT.replace("MM_SHMEMPAGES", "MM_SHMEM");
        assert!(parse_format(&renamed)
            .unwrap_err()
            .contains("MM_SHMEMPAGES"));
    }

    #[test]
    fn fields_read_with_their_size_and_sign() {
        let mut raw = vec![0u8; 32];
        raw[16..20].copy_from_slice(&(-1i32).to_ne_bytes());
        raw[24..32].copy_from_slice(&(1i64 << 40).to_ne_bytes());
        let f = parse_format(FORMAT).unwrap();
        assert_eq!(f.member.read(&raw), Some(-1));
        assert_eq!(f.size.read(&raw), Some(1 << 40));
        assert_eq!(f.size.read(&raw[..31]), None);
    }

    #[test]
    #[cfg_attr(
        not(feature = "system-tests"),
        ignore = "needs root to find or mount tracefs: the system tier, scripts/test.sh"
    )]
    fn this_kernel_has_the_tracepoint() {
        // Root here (the tests run as root, as the sweeps do): tracefs is found or
        // mounted, and its format parses.
        let f = rss_stat().unwrap();
        assert!(f.id > 0);
        let id: u64 = std::fs::read_to_string(find().unwrap().join("id"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(f.id, id);
    }
}
