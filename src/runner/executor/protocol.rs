//! The driver protocol: every message the driver (`src/driver.py`) sends, as one
//! serde enum. This header is the protocol's reference; driver.py's docstring lists
//! the same messages, and a test below parses the docstring's examples and the
//! driver's pre-built messages with [`Message`], so the two cannot drift apart.
//!
//! The parent passes the configuration as `key=value` arguments, and the number of
//! the message pipe's write end as `msg_fd`. The driver writes one JSON object per
//! line to that pipe, tagged by `phase`. After each message but `error` it pauses
//! until the parent writes `go\n` on its stdin (one byte after `verify`), so the
//! parent can snapshot `/proc` while it is paused at a known point.
//!
//! | phase       | when | the parent then | fields |
//! |-------------|------|-----------------|--------|
//! | `ready`     | extension imported, build checked, own RSS read, nothing run | baseline snapshot, starts sampling | `pid`, `python` (version), `gil_enabled`, `rss_kib` (the child's own VmRSS just before) |
//! | `round`     | (`rounds` > 1) every Python thread finished a round, and more follow | that round's snapshot after the settle | none |
//! | `done`      | every Python thread finished the workload (its last round) | final snapshot after the settle | none |
//! | `trimmed`   | `malloc_trim(0)` returned | after-trim snapshot | `store`: true when the pattern keeps blocks alive (absent otherwise) |
//! | `released`  | the kept blocks were freed (only when `store` was true) | snapshot | none |
//! | `report`    | every snapshot is taken: the child may allocate | nothing | `wall_s`, `calls`, `requested_bytes`, `store_bytes`, `trim_returned`, `released_bytes`, `gil_enabled` |
//! | `verify`    | (`verify=1` only) `malloc_info` taken, nothing allocated since | reads the arenas, writes one byte | none |
//! | `self_view` | (`verify=1` only) the child's own account | nothing | `rss_kib`, `arenas_reported`, `heaps_reported`, `malloc_arenas`, `pymalloc_arena_bytes`, `malloc_system_bytes`, `mallinfo2` |
//! | `error`     | anything failed; the driver exits non-zero | records the failure | `kind` (see [`DriverError`]), `message` |
//!
//! The messages from `round` to `released` and `verify` are byte strings the driver
//! builds before the baseline, so sending them allocates nothing inside a measured
//! window; only `ready`, `report`, `self_view` and `error` are encoded when sent.
//! Those last messages may grow fields; the parent reads the ones listed here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::results::FailureKind;

/// One message from the driver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Message {
    Ready(Ready),
    Round(Round),
    Done(Done),
    Trimmed(Trimmed),
    Released(Released),
    Report(Report),
    Verify(Verify),
    SelfView(SelfView),
    Error(DriverError),
}

/// The extension is imported and the build checked; nothing has run yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ready {
    pub pid: u32,
    /// `sys.version`'s first word, e.g. "3.13.5".
    pub python: String,
    /// `sys._is_gil_enabled()` (true where it does not exist).
    pub gil_enabled: bool,
    /// The child's own VmRSS, read just before `ready` as the talk's script read it
    /// before its window (absent from older drivers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_kib: Option<u64>,
}

/// Every Python thread finished one round of the workload and more rounds follow
/// (`rounds` > 1): the parent snapshots, then lets the next round start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Round {}

/// Every Python thread finished the workload. Nothing else ran in the window: what
/// the driver checks after the workload runs after this snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Done {}

/// `malloc_trim(0)` returned.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Trimmed {
    /// The pattern keeps blocks alive: a `released` phase follows.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub store: bool,
}

/// The blocks the pattern kept were freed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Released {}

/// The run's counters, sent once every snapshot is taken.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Wall time of the workload, measured by the driver.
    pub wall_s: f64,
    /// Calls made: every worker made every call (a failed call fails the run).
    pub calls: u64,
    /// Bytes the pattern requested, summed over calls.
    pub requested_bytes: u64,
    /// Bytes the pattern kept alive at the final snapshot.
    pub store_bytes: u64,
    /// What `malloc_trim(0)` returned (1 if it gave memory back).
    pub trim_returned: i64,
    /// Bytes freed at the `released` phase.
    pub released_bytes: u64,
    /// `sys._is_gil_enabled()` after the workload.
    pub gil_enabled: bool,
}

/// `malloc_info` was taken and nothing allocated since: the arenas may be read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Verify {}

/// The process's own account of its memory, after the last snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SelfView {
    pub rss_kib: u64,
    /// Arenas in `malloc_info`, the main arena included.
    pub arenas_reported: u32,
    /// Heaps of non-main arenas in `malloc_info` (`subheaps`).
    pub heaps_reported: u32,
    /// `malloc_info`'s figures per arena, in its order.
    pub malloc_arenas: Vec<MallocArena>,
    /// Bytes in pymalloc's arenas; None where pymalloc is not used (free-threaded).
    pub pymalloc_arena_bytes: Option<u64>,
    /// `malloc_info`'s process-wide `<system type="current">`.
    pub malloc_system_bytes: u64,
    /// `mallinfo2()`, field by field.
    pub mallinfo2: BTreeMap<String, u64>,
}

/// One arena of `malloc_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MallocArena {
    pub system_current_bytes: u64,
    pub system_max_bytes: u64,
    pub free_bytes: u64,
    pub subheaps: u64,
}

/// The driver failed; it exits after sending this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriverError {
    pub kind: DriverFailure,
    pub message: String,
}

/// The failures the driver itself reports (the parent finds the others).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriverFailure {
    GilEnabled,
    GilDisabled,
    ThreadSpawn,
    Import,
    Config,
    Workload,
}

impl From<DriverFailure> for FailureKind {
    fn from(f: DriverFailure) -> FailureKind {
        match f {
            DriverFailure::GilEnabled => FailureKind::GilEnabled,
            DriverFailure::GilDisabled => FailureKind::GilDisabled,
            DriverFailure::ThreadSpawn => FailureKind::ThreadSpawn,
            DriverFailure::Import => FailureKind::Import,
            DriverFailure::Config => FailureKind::Config,
            DriverFailure::Workload => FailureKind::Workload,
        }
    }
}

impl Message {
    /// The `phase` tag, as sent.
    pub fn phase(&self) -> &'static str {
        match self {
            Message::Ready(_) => Ready::PHASE,
            Message::Round(_) => Round::PHASE,
            Message::Done(_) => Done::PHASE,
            Message::Trimmed(_) => Trimmed::PHASE,
            Message::Released(_) => Released::PHASE,
            Message::Report(_) => Report::PHASE,
            Message::Verify(_) => Verify::PHASE,
            Message::SelfView(_) => SelfView::PHASE,
            Message::Error(_) => "error",
        }
    }
}

/// A message the parent waits for, by its type: `session.expect::<Done>()`.
pub trait Phase: Sized {
    /// Its `phase` tag.
    const PHASE: &'static str;
    /// The payload, if `m` is this phase's message.
    fn from_message(m: Message) -> Option<Self>;
}

macro_rules! phases {
    ($($variant:ident = $tag:literal),* $(,)?) => {
        $(
            impl Phase for $variant {
                const PHASE: &'static str = $tag;
                fn from_message(m: Message) -> Option<Self> {
                    match m {
                        Message::$variant(p) => Some(p),
                        _ => None,
                    }
                }
            }
        )*
    };
}

phases!(
    Ready = "ready",
    Round = "round",
    Done = "done",
    Trimmed = "trimmed",
    Released = "released",
    Report = "report",
    Verify = "verify",
    SelfView = "self_view",
);

/// One line from the message pipe, read.
#[derive(Debug, PartialEq)]
pub enum Received {
    Message(Message),
    /// Tagged with a phase, but not in that phase's shape.
    Malformed {
        line: String,
        error: String,
    },
    /// Not a protocol message at all (a workload writing to the pipe, say).
    Garbage(String),
}

/// The start of a line, for a failure message.
fn excerpt(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned()
}

/// Read one line (without its newline).
pub fn parse(line: &[u8]) -> Received {
    #[derive(Deserialize)]
    struct Tagged {
        #[allow(dead_code)]
        phase: String,
    }
    match serde_json::from_slice::<Message>(line) {
        Ok(m) => Received::Message(m),
        Err(e) if serde_json::from_slice::<Tagged>(line).is_ok() => Received::Malformed {
            line: excerpt(line),
            error: e.to_string(),
        },
        Err(_) => Received::Garbage(excerpt(line)),
    }
}

/// A line that is too long to be a protocol message.
pub fn oversized(start: &[u8]) -> Received {
    Received::Garbage(excerpt(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DRIVER: &str = include_str!("../../driver.py");

    #[test]
    fn every_message_in_the_drivers_docstring_parses_and_every_phase_is_there() {
        let doc = DRIVER.split("\"\"\"").nth(1).expect("a module docstring");
        let examples: Vec<&str> = doc
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("{\"phase\""))
            .collect();
        let mut phases: Vec<&str> = Vec::new();
        for line in &examples {
            match parse(line.as_bytes()) {
                Received::Message(m) => phases.push(m.phase()),
                other => panic!("driver.py documents {line}, which reads as {other:?}"),
            }
        }
        phases.sort();
        phases.dedup();
        assert_eq!(
            phases,
            [
                "done",
                "error",
                "ready",
                "released",
                "report",
                "round",
                "self_view",
                "trimmed",
                "verify"
            ],
            "every message is documented in driver.py: {examples:?}"
        );
    }

    #[test]
    fn the_drivers_prebuilt_messages_parse() {
        // DONE = b'{"phase":"done"}\n' and the like, built before the baseline.
        let mut found = Vec::new();
        for line in DRIVER.lines() {
            let Some((name, value)) = line.split_once(" = ") else {
                continue;
            };
            let body = value
                .strip_prefix("b'")
                .or_else(|| value.strip_prefix('\''))
                .and_then(|v| v.strip_suffix("\\n'"));
            let Some(body) = body.filter(|b| b.starts_with("{\"phase\"")) else {
                continue;
            };
            match parse(body.as_bytes()) {
                Received::Message(m) => found.push((name.to_string(), m)),
                other => panic!("{name} = {value} reads as {other:?}"),
            }
        }
        let names: Vec<(&str, &str)> = found.iter().map(|(n, m)| (n.as_str(), m.phase())).collect();
        assert_eq!(
            names,
            [
                ("ROUND", "round"),
                ("DONE", "done"),
                ("TRIMMED", "trimmed"),
                ("TRIMMED_STORE", "trimmed"),
                ("RELEASED", "released"),
                ("VERIFY", "verify")
            ]
        );
        assert_eq!(found[3].1, Message::Trimmed(Trimmed { store: true }));
    }

    #[test]
    fn lines_are_messages_malformed_or_garbage() {
        assert_eq!(
            parse(br#"{"phase":"trimmed","store":true}"#),
            Received::Message(Message::Trimmed(Trimmed { store: true }))
        );
        assert_eq!(
            parse(br#"{"phase":"error","kind":"thread_spawn","message":"errno 11"}"#),
            Received::Message(Message::Error(DriverError {
                kind: DriverFailure::ThreadSpawn,
                message: "errno 11".into()
            }))
        );
        assert!(matches!(
            parse(br#"{"phase":"report","calls":"many"}"#),
            Received::Malformed { .. }
        ));
        assert!(matches!(
            parse(br#"{"phase":"error","kind":"timeout","message":"x"}"#),
            Received::Malformed { .. }
        ));
        assert_eq!(
            parse(b"this is not a protocol message"),
            Received::Garbage("this is not a protocol message".into())
        );
        // What the parent stores in the record is the message as the driver sent it.
        let done = serde_json::to_value(Message::Done(Done::default())).unwrap();
        assert_eq!(done, serde_json::json!({"phase": "done"}));
    }
}
