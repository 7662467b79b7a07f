//! Which processes the exporter watches, resolved again at every read: fixed PIDs
//! (kept while the process that had the PID at first sight lives), pidfiles (read
//! again each time, so a restarted service is followed) and a pattern on the command
//! line (`/proc/PID/cmdline`, so a restarted service is picked up again). A process is
//! told apart from a later one with the same PID by its start time.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::process::target::read_start_ticks;

/// One process, as it was when first seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TargetId {
    pub pid: i32,
    /// Clock ticks after boot when it started: a reused PID has another.
    pub start_ticks: u64,
}

/// What chooses the processes.
#[derive(Debug, Clone)]
pub struct Selector {
    /// `--pid`, with the start time of the process it named when first seen.
    pids: Vec<(i32, Option<u64>)>,
    pidfiles: Vec<PathBuf>,
    pattern: Option<regex::Regex>,
    max: usize,
    /// The exporter itself: its own command line holds the pattern.
    own_pid: i32,
}

/// One resolution.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// In PID order, at most `max`.
    pub targets: Vec<TargetId>,
    /// Chosen processes left out by the bound.
    pub over_limit: usize,
    /// Pidfiles that could not be used, each with why.
    pub pidfile_problems: Vec<String>,
}

impl Selector {
    pub fn new(
        pids: &[i32],
        pidfiles: &[PathBuf],
        pattern: Option<regex::Regex>,
        max: usize,
    ) -> Selector {
        Selector {
            pids: pids.iter().map(|&p| (p, None)).collect(),
            pidfiles: pidfiles.to_vec(),
            pattern,
            max: max.max(1),
            own_pid: std::process::id() as i32,
        }
    }

    /// The processes chosen now.
    pub fn resolve(&mut self) -> Resolved {
        let mut found: BTreeSet<TargetId> = BTreeSet::new();
        let mut out = Resolved::default();
        for (pid, first) in &mut self.pids {
            let Some(ticks) = read_start_ticks(*pid) else {
                continue;
            };
            // The process named at start, not a later one that reused its PID.
            if *first.get_or_insert(ticks) == ticks {
                found.insert(TargetId {
                    pid: *pid,
                    start_ticks: ticks,
                });
            }
        }
        for file in &self.pidfiles {
            match read_pidfile(file) {
                Ok(pid) => {
                    if let Some(ticks) = read_start_ticks(pid) {
                        found.insert(TargetId {
                            pid,
                            start_ticks: ticks,
                        });
                    }
                }
                Err(why) => out.pidfile_problems.push(why),
            }
        }
        if let Some(re) = &self.pattern {
            found.extend(matching(re, self.own_pid));
        }
        // A process chosen twice (by PID and by pattern) is watched once.
        let mut by_pid: Vec<TargetId> = Vec::with_capacity(found.len());
        for id in found {
            if by_pid.last().is_none_or(|l| l.pid != id.pid) {
                by_pid.push(id);
            }
        }
        out.over_limit = by_pid.len().saturating_sub(self.max);
        by_pid.truncate(self.max);
        out.targets = by_pid;
        out
    }
}

/// The PID in a pidfile: its first line, a positive number.
pub fn read_pidfile(path: &Path) -> Result<i32, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_pid(&text).ok_or_else(|| {
        format!(
            "{} holds no PID (its first line should be a positive number, it is `{}`)",
            path.display(),
            text.lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(40)
                .collect::<String>()
        )
    })
}

fn parse_pid(text: &str) -> Option<i32> {
    text.lines()
        .next()?
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|p| *p > 0)
}

/// A command line as `ps -o args` shows it: the arguments joined by spaces.
pub fn command_line(raw: &[u8]) -> String {
    let joined: Vec<u8> = raw.iter().map(|&b| if b == 0 { b' ' } else { b }).collect();
    String::from_utf8_lossy(&joined).trim_end().to_string()
}

/// Processes whose command line matches (kernel threads and zombies have none).
fn matching(re: &regex::Regex, own_pid: i32) -> Vec<TargetId> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == own_pid {
            continue;
        }
        let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if raw.is_empty() || !re.is_match(&command_line(&raw)) {
            continue;
        }
        if let Some(ticks) = read_start_ticks(pid) {
            out.push(TargetId {
                pid,
                start_ticks: ticks,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pidfile_holds_a_positive_number_on_its_first_line() {
        assert_eq!(parse_pid("4242\n"), Some(4242));
        assert_eq!(parse_pid("  17  \nextra"), Some(17));
        assert_eq!(parse_pid(""), None);
        assert_eq!(parse_pid("0\n"), None);
        assert_eq!(parse_pid("-3"), None);
        assert_eq!(parse_pid("abc"), None);
    }

    #[test]
    fn a_command_line_reads_as_ps_shows_it() {
        assert_eq!(
            command_line(b"python3\0-m\0worker\0--port\08080\0"),
            "python3 -m worker --port 8080"
        );
    }

    #[test]
    fn this_process_is_found_by_pid_and_by_pattern_but_never_itself_by_pattern() {
        let me = std::process::id() as i32;
        let mut by_pid = Selector::new(&[me], &[], None, 4);
        let r = by_pid.resolve();
        assert_eq!(r.targets.len(), 1);
        assert_eq!(r.targets[0].pid, me);
        let raw = std::fs::read(format!("/proc/{me}/cmdline")).unwrap();
        let line = command_line(&raw);
        let re = regex::Regex::new(&regex::escape(&line)).unwrap();
        let mut by_pattern = Selector::new(&[], &[], Some(re), 4);
        assert!(by_pattern.resolve().targets.iter().all(|t| t.pid != me));
    }

    #[test]
    fn a_missing_pidfile_is_a_problem_not_a_target() {
        let mut s = Selector::new(&[], &[PathBuf::from("/nonexistent/x.pid")], None, 4);
        let r = s.resolve();
        assert!(r.targets.is_empty());
        assert_eq!(r.pidfile_problems.len(), 1);
        assert!(r.pidfile_problems[0].contains("/nonexistent/x.pid"));
    }
}
