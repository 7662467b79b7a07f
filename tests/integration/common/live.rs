//! Live processes for the tests: a [`Target`] started by a test (stdin, stdout lines,
//! killed by its own PID at the end), the C programs of tests/progs, and the
//! interpreter of a build with the PoC extension built for it by the tool's own cache.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A process started by a test, killed (by its own PID) when the test ends.
pub struct Target {
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Target {
    pub fn start(mut cmd: Command) -> Target {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Target {
            child,
            stdin,
            lines,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Lines printed before `marker` (which is consumed).
    pub fn wait_for(&mut self, marker: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(Duration::from_secs(300)) {
                Ok(l) if l == marker => return seen,
                Ok(l) => seen.push(l),
                Err(e) => {
                    let _ = self.child.kill();
                    let mut err = String::new();
                    if let Some(mut e2) = self.child.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut e2, &mut err);
                    }
                    panic!("no `{marker}` ({e}); printed {seen:?}; stderr: {err}")
                }
            }
        }
    }

    pub fn next_line(&mut self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(120))
            .expect("a line from the test process")
    }

    pub fn send(&mut self, line: &str) {
        let s = self.stdin.as_mut().unwrap();
        s.write_all(line.as_bytes()).unwrap();
        s.flush().unwrap();
    }

    /// Kill it now and reap it.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Build tests/progs/<src> with `cc` and `flags` into `dir`.
pub fn build_prog(cc: &str, flags: &[&str], src: &str, dir: &Path, name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/progs")
        .join(src);
    let out = dir.join(name);
    let status = Command::new(cc)
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cc} ({e}); scripts/setup-debian.sh installs it"));
    assert!(status.success(), "{cc} {flags:?} {} failed", src.display());
    out
}

/// The interpreter of `build` ("gil" or "nogil") and the folder of its glibc extension.
pub fn python(build: &str) -> (PathBuf, PathBuf) {
    let (gil, nogil) = super::pair();
    let exe = if build == "gil" { gil } else { nogil };
    let interp = arena_sweep::python::inspect::inspect(&exe).unwrap();
    let ext = arena_sweep::ext::ensure(
        &interp,
        arena_sweep::ext::Variant::Glibc,
        &mut std::io::sink(),
    )
    .unwrap_or_else(|e| panic!("cannot build the extension for {}: {e:#}", exe.display()));
    (exe, ext.dir)
}
