//! `arena-sweep inspect` on live processes: a free-threaded CPython with glibc arenas
//! (checked against its own malloc_info), small C programs (static glibc, musl, no
//! libc), a preloaded jemalloc, `--watch`, and the errors (permission denied, no such
//! process).
//!
//! The C programs are in tests/progs/ and are built here with gcc (and musl-gcc when
//! installed; `scripts/setup-debian.sh` installs musl-tools and libjemalloc2).

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::live::build_prog;
use common::{bin, text};

/// A process started by a test, killed (by its own PID) when the test ends.
struct Target {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Target {
    fn start(mut cmd: Command) -> Target {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let lines = forward_lines(child.stdout.take().unwrap());
        Target { child, lines }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// Lines printed up to and including `ready`.
    fn wait_ready(&self) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(Duration::from_secs(180)) {
                Ok(l) if l == "ready" => return seen,
                Ok(l) => seen.push(l),
                Err(e) => panic!("the test process did not get ready ({e}); it printed {seen:?}"),
            }
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward_lines(out: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn has(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn inspect(pid: &str) -> (i32, String, String) {
    let o = bin().args(["inspect", pid]).output().unwrap();
    let (out, err) = text(&o);
    (o.status.code().unwrap_or(-1), out, err)
}

/// N from inspect's "  arena heaps      N heap(s)" row.
fn arena_heaps(out: &str) -> u64 {
    let row = out
        .lines()
        .find(|l| l.trim_start().starts_with("arena heaps"))
        .unwrap_or_else(|| panic!("no arena heaps row:\n{out}"));
    row.split_whitespace().nth(2).unwrap().parse().unwrap()
}

/// The folder of the `build` (gil or nogil) glibc extension, as `doctor` builds and
/// reports it (through the tool's own cache lookup, ext::ensure).
fn extension_dir(build: &str) -> PathBuf {
    let o = bin().arg("doctor").output().unwrap();
    let (out, err) = text(&o);
    let key = format!("extension {build}/glibc");
    let line = out
        .lines()
        .find(|l| l.contains(&key))
        .unwrap_or_else(|| panic!("no `{key}` line in doctor's output:\n{out}\n{err}"));
    assert!(line.trim_start().starts_with("OK"), "{line}");
    let file = line
        .split_whitespace()
        .find_map(|w| w.strip_suffix(".so:"))
        .unwrap_or_else(|| panic!("no .so path in `{line}`"));
    Path::new(&format!("{file}.so"))
        .parent()
        .unwrap()
        .to_path_buf()
}

const FREE_THREADED_SCRIPT: &str = r#"
import sys, threading, time
sys.path.insert(0, sys.argv[1])
import arena_poc
def work(n):
    for i in range(2):
        arena_poc.run_arena_test(8, "fragment", "", n * 10 + i)
ts = [threading.Thread(target=work, args=(n,)) for n in range(4)]
for t in ts: t.start()
for t in ts: t.join()
mi = arena_poc.malloc_info()
print("gil", sys._is_gil_enabled(), flush=True)
print("arenas", mi["arenas"], flush=True)
print("heaps", mi["heaps"], flush=True)
print("ready", flush=True)
time.sleep(600)
"#;

#[test]
fn inspect_counts_the_arena_heaps_of_a_live_free_threaded_process() {
    let (_, nogil) = common::pair();
    let dir = extension_dir("nogil");
    let mut cmd = Command::new(&nogil);
    cmd.args(["-I", "-c", FREE_THREADED_SCRIPT]).arg(&dir);
    let target = Target::start(cmd);
    let said = target.wait_ready();
    assert!(said.contains(&"gil False".to_string()), "{said:?}");
    let heaps: u64 = said
        .iter()
        .find_map(|l| l.strip_prefix("heaps "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(heaps > 0, "the workload made no arena heap: {said:?}");

    let (code, out, err) = inspect(&target.pid());
    assert_eq!(code, 0, "{out}\n{err}");
    // The count read from /proc/PID/smaps equals the one malloc_info gave inside.
    assert_eq!(
        arena_heaps(&out),
        heaps,
        "malloc_info said {said:?}:\n{out}"
    );
    assert!(out.contains("  libc      glibc 2."), "{out}");
    assert!(out.contains("read from /proc/"), "{out}");
    assert!(out.contains("mimalloc"), "{out}");
    assert!(out.contains("\nVerdict: "), "{out}");
    assert!(
        out.contains("GLIBC_TUNABLES=glibc.malloc.arena_max=2\n"),
        "{out}"
    );
}

#[test]
fn inspect_reads_a_static_glibc_program_like_a_dynamic_one() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, flags) in [
        ("threads-dynamic", &["-O1", "-pthread"][..]),
        ("threads-static", &["-O1", "-static", "-pthread"][..]),
    ] {
        let prog = build_prog("gcc", flags, "threads.c", tmp.path(), name);
        let mut cmd = Command::new(&prog);
        cmd.arg("4");
        let target = Target::start(cmd);
        let said = target.wait_ready();
        let heaps: u64 = said[0].strip_prefix("heaps ").unwrap().parse().unwrap();
        assert_eq!(heaps, 4, "{name}: one arena per thread: {said:?}");
        let (code, out, err) = inspect(&target.pid());
        assert_eq!(code, 0, "{out}\n{err}");
        assert_eq!(arena_heaps(&out), heaps, "{name}:\n{out}");
        assert!(out.contains("Verdict: significant"), "{name}:\n{out}");
        if name == "threads-static" {
            assert!(out.contains("linked statically into the program"), "{out}");
            assert!(out.contains("static programs read GLIBC_TUNABLES"), "{out}");
        }
    }
}

#[test]
fn inspect_watch_shows_changes_and_ends_when_the_process_exits() {
    let tmp = tempfile::tempdir().unwrap();
    let prog = build_prog("gcc", &["-O1", "-pthread"], "threads.c", tmp.path(), "t");
    let mut cmd = Command::new(&prog);
    cmd.arg("2");
    let mut target = Target::start(cmd);
    target.wait_ready();
    let mut watch = std::process::Command::new(assert_cmd::cargo::cargo_bin("arena-sweep"))
        .args(["inspect", &target.pid(), "--watch", "0.2"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = forward_lines(watch.stdout.take().unwrap());
    let mut seen = Vec::new();
    // Two refreshes, then the target goes away.
    while seen
        .iter()
        .filter(|l: &&String| l.starts_with("[+"))
        .count()
        < 2
    {
        seen.push(lines.recv_timeout(Duration::from_secs(30)).unwrap());
    }
    target.child.kill().unwrap();
    target.child.wait().unwrap();
    let status = watch.wait().unwrap();
    seen.extend(lines.iter());
    let all = seen.join("\n");
    assert_eq!(status.code(), Some(0), "{all}");
    assert!(all.contains("Watching PID"), "{all}");
    assert!(all.contains("] no change"), "{all}");
    assert!(
        all.contains(&format!("PID {} exited after", target.pid())),
        "{all}"
    );
}

#[test]
fn inspect_watch_stops_cleanly_on_ctrl_c() {
    let mut cmd = Command::new("sleep");
    cmd.arg("60");
    let target = Target::start(cmd);
    let mut watch = std::process::Command::new(assert_cmd::cargo::cargo_bin("arena-sweep"))
        .args(["inspect", &target.pid(), "--watch", "0.2"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = forward_lines(watch.stdout.take().unwrap());
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.starts_with("[+")) {
        seen.push(lines.recv_timeout(Duration::from_secs(30)).unwrap());
    }
    // SAFETY: kill(2) on the child this test started.
    assert_eq!(unsafe { libc::kill(watch.id() as i32, libc::SIGINT) }, 0);
    let status = watch.wait().unwrap();
    seen.extend(lines.iter());
    let all = seen.join("\n");
    assert_eq!(status.code(), Some(0), "{all}");
    assert!(all.contains("stopped (Ctrl-C) after"), "{all}");
}

#[test]
fn inspect_explains_a_preloaded_jemalloc() {
    let lib = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
    assert!(
        Path::new(lib).is_file(),
        "{lib} is missing: install libjemalloc2 (scripts/setup-debian.sh does)"
    );
    // sh prints `ready` and execs sleep, so the PID is the preloaded sleep's.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "echo ready; exec sleep 60"])
        .env("LD_PRELOAD", lib);
    let target = Target::start(cmd);
    target.wait_ready();
    // Let exec finish.
    let pid = target.pid();
    for _ in 0..100 {
        if std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, out, err) = inspect(&pid);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains(&format!("malloc    jemalloc ({lib}, preloaded)")),
        "{out}"
    );
    assert!(
        out.contains("Verdict: not applicable - jemalloc is preloaded"),
        "{out}"
    );
    assert!(out.contains("MALLOC_CONF"), "{out}");
    assert!(!out.contains("GLIBC_TUNABLES="), "{out}");
}

#[test]
#[cfg(target_arch = "x86_64")]
fn inspect_explains_a_static_program_without_libc() {
    let tmp = tempfile::tempdir().unwrap();
    let prog = build_prog(
        "gcc",
        &["-O1", "-static", "-nostdlib"],
        "nolibc.c",
        tmp.path(),
        "nolibc",
    );
    let mut child = Command::new(&prog).spawn().unwrap();
    let (code, out, err) = inspect(&child.id().to_string());
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("no libc.so mapped"), "{out}");
    assert!(
        out.contains("Verdict: not applicable - statically linked without glibc"),
        "{out}"
    );
}

#[test]
fn inspect_explains_musl() {
    assert!(
        has("musl-gcc"),
        "this test needs musl-gcc (Debian: musl-tools; scripts/setup-debian.sh installs it)"
    );
    let tmp = tempfile::tempdir().unwrap();
    for (name, flags, expect) in [
        (
            "musl-dynamic",
            &["-O1", "-pthread"][..],
            "Verdict: not applicable - musl libc",
        ),
        (
            "musl-static",
            &["-O1", "-static", "-pthread"][..],
            "Verdict: not applicable - statically linked without glibc",
        ),
    ] {
        let prog = build_prog("musl-gcc", flags, "threads.c", tmp.path(), name);
        let mut cmd = Command::new(&prog);
        cmd.arg("4");
        let target = Target::start(cmd);
        assert_eq!(target.wait_ready(), vec!["heaps -".to_string()]);
        let (code, out, err) = inspect(&target.pid());
        assert_eq!(code, 0, "{out}\n{err}");
        assert!(out.contains(expect), "{name}:\n{out}");
        assert_eq!(arena_heaps(&out), 0, "{name}:\n{out}");
    }
}

#[test]
fn inspect_says_which_file_is_denied_and_who_may_read_it() {
    assert!(
        nix_is_root(),
        "this test needs root, to run inspect as nobody against a root process (CI runs as root)"
    );
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    // A copy of the binary that nobody may run.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = tmp.path().join("arena-sweep");
    std::fs::copy(assert_cmd::cargo::cargo_bin("arena-sweep"), &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut cmd = Command::new("sleep");
    cmd.arg("60");
    let target = Target::start(cmd);
    let pid = target.pid();
    let o = Command::new(&copy)
        .args(["inspect", &pid])
        .uid(65534)
        .gid(65534)
        .env_clear()
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    assert!(
        err.contains(&format!("cannot read /proc/{pid}/smaps: permission denied")),
        "{err}"
    );
    assert!(err.contains("runs as root"), "{err}");
    assert!(err.contains("as root (e.g. with sudo)"), "{err}");
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn inspect_reports_no_such_process() {
    let pid_max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let free = (2..pid_max)
        .rev()
        .find(|p| !Path::new(&format!("/proc/{p}")).exists())
        .unwrap();
    let (code, out, err) = inspect(&free.to_string());
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains(&format!("no such process: PID {free} does not exist")),
        "{err}"
    );
}

#[test]
fn inspect_refuses_a_kernel_thread() {
    // A kernel thread: PF_KTHREAD (0x00200000) in the flags of /proc/PID/stat (field 9).
    let kthread = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            // Fields after the name: state(3) ppid(4) ... flags is field 9, the 7th here.
            after
                .split_whitespace()
                .nth(6)
                .and_then(|f| f.parse::<u64>().ok())
                .is_some_and(|flags| flags & 0x0020_0000 != 0)
        })
        .expect(
            "this test needs a kernel thread visible in /proc (not a PID namespace without one)",
        );
    let (code, _, err) = inspect(&kthread.to_string());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is a kernel thread"), "{err}");
}
