//! Short-lived child programs (interpreter probes, `uv`, `pip`, `tar`, `curl`, `apt`):
//! start one with its output piped, wait for it with a timeout (the `wait-timeout`
//! crate), optionally copy the command line and what it printed into a log, and fail
//! with a message that names the program, the timeout and the last line it wrote on
//! stderr.
//!
//! This module depends on nothing else in the crate, so every module that runs a
//! helper program can use it. Sweep runs themselves are not run here: the runner
//! reads their pipes as they come and measures them (`runner::executor`).

use std::fmt;
use std::io::{self, Read, Write};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

/// Why running a child program did not give its output.
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    /// It could not be started (no such file, not executable, ...).
    #[error("cannot start {program}: {source}")]
    Start { program: String, source: io::Error },
    /// It was still running when the timeout passed, and was killed.
    #[error("{program} {}", self.reason())]
    Timeout {
        program: String,
        timeout: Duration,
        last_stderr: String,
    },
    /// It ended with a failure status ([`Run::success`] only).
    #[error("{program} {}", self.reason())]
    Failed {
        program: String,
        status: ExitStatus,
        last_stderr: String,
    },
    /// Waiting for it, or writing its log, failed.
    #[error("{program} {}", self.reason())]
    Io { program: String, source: io::Error },
}

impl ProgramError {
    /// What went wrong, without the program's name: for a caller whose own message
    /// already names it.
    pub fn reason(&self) -> String {
        match self {
            ProgramError::Start { source, .. } => format!("could not be started: {source}"),
            ProgramError::Timeout {
                timeout,
                last_stderr,
                ..
            } => format!(
                "gave no answer within {timeout:?} and was killed{}",
                said(last_stderr)
            ),
            ProgramError::Failed {
                status,
                last_stderr,
                ..
            } => format!("failed ({status}){}", said(last_stderr)),
            ProgramError::Io { source, .. } => {
                format!("could not be waited for or logged: {source}")
            }
        }
    }
}

fn said(last_stderr: &str) -> String {
    if last_stderr.is_empty() {
        ", with nothing on stderr".to_string()
    } else {
        format!(": {last_stderr}")
    }
}

/// The last non-blank line of `bytes` (a program's stderr), trimmed and cut to 300
/// characters; empty when there is none.
pub fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .chars()
        .take(300)
        .collect()
}

/// Run `cmd` to its end (any exit status), killing it after `timeout`.
pub fn run(cmd: &mut Command, timeout: Duration) -> Result<Output, ProgramError> {
    Run::new(cmd, timeout).output()
}

/// One child program to run: `Run::new(cmd, timeout)`, then optionally `.name(..)`
/// and `.log(..)`, then `.output()` or `.success()`.
pub struct Run<'a> {
    cmd: &'a mut Command,
    timeout: Duration,
    name: Option<String>,
    log: Option<&'a mut dyn Write>,
}

impl<'a> Run<'a> {
    /// Stdin is the null device; stdout and stderr are captured.
    pub fn new(cmd: &'a mut Command, timeout: Duration) -> Self {
        Run {
            cmd,
            timeout,
            name: None,
            log: None,
        }
    }

    /// How messages name the program (default: the program as given to `Command`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Write `$ <command>` before it starts and what it printed (stdout, then stderr)
    /// when it ends, or when it is killed.
    pub fn log(mut self, log: &'a mut dyn Write) -> Self {
        self.log = Some(log);
        self
    }

    /// What it printed and how it ended, whatever its exit status.
    pub fn output(self) -> Result<Output, ProgramError> {
        let Run {
            cmd,
            timeout,
            name,
            mut log,
        } = self;
        let program = name.unwrap_or_else(|| cmd.get_program().to_string_lossy().into_owned());
        let io_err = |source| ProgramError::Io {
            program: program.clone(),
            source,
        };
        if let Some(l) = log.as_mut() {
            writeln!(l, "$ {cmd:?}").map_err(io_err)?;
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| ProgramError::Start {
                program: program.clone(),
                source,
            })?;
        let stdout = Collector::start(child.stdout.take());
        let stderr = Collector::start(child.stderr.take());
        let status = match wait(&mut child, timeout).map_err(io_err)? {
            Some(status) => status,
            None => {
                // Killed: its pipes close unless a program it started holds them,
                // so take what has arrived without waiting for the end.
                let (out, err) = (stdout.so_far(), stderr.so_far());
                if let Some(l) = log.as_mut() {
                    write_output(*l, &out, &err).map_err(io_err)?;
                    writeln!(l, "# killed after {timeout:?}").map_err(io_err)?;
                }
                return Err(ProgramError::Timeout {
                    program,
                    timeout,
                    last_stderr: last_line(&err),
                });
            }
        };
        let output = Output {
            status,
            stdout: stdout.finish(),
            stderr: stderr.finish(),
        };
        if let Some(l) = log.as_mut() {
            write_output(*l, &output.stdout, &output.stderr).map_err(io_err)?;
        }
        Ok(output)
    }

    /// Like [`Run::output`], and a failure exit status is an error too.
    pub fn success(self) -> Result<Output, ProgramError> {
        let name = self.name.clone();
        let program = name.unwrap_or_else(|| self.cmd.get_program().to_string_lossy().into_owned());
        let output = self.output()?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(ProgramError::Failed {
                program,
                status: output.status,
                last_stderr: last_line(&output.stderr),
            })
        }
    }
}

/// The exit status, or None when `timeout` passed first (the child is then killed
/// and reaped).
fn wait(child: &mut Child, timeout: Duration) -> io::Result<Option<ExitStatus>> {
    if let Some(status) = child.wait_timeout(timeout)? {
        return Ok(Some(status));
    }
    let _ = child.kill();
    child.wait()?;
    Ok(None)
}

fn write_output(log: &mut dyn Write, stdout: &[u8], stderr: &[u8]) -> io::Result<()> {
    log.write_all(stdout)?;
    log.write_all(stderr)?;
    log.flush()
}

/// Reads one pipe to its end on a thread, so that a child that fills one pipe while
/// we wait is never blocked; what arrived so far can be taken at any time.
struct Collector {
    buf: Arc<Mutex<Vec<u8>>>,
    thread: JoinHandle<()>,
}

impl Collector {
    fn start(pipe: Option<impl Read + Send + 'static>) -> Collector {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        let thread = std::thread::spawn(move || {
            let Some(mut pipe) = pipe else { return };
            let mut chunk = [0u8; 8192];
            loop {
                match pipe.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => sink
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        });
        Collector { buf, thread }
    }

    /// Everything, once the pipe has closed.
    fn finish(self) -> Vec<u8> {
        let _ = self.thread.join();
        std::mem::take(&mut *self.buf.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// What has arrived: after a short grace for the reader to see the pipe close
    /// (as it does when the killed child held its only end).
    fn so_far(&self) -> Vec<u8> {
        let until = Instant::now() + Duration::from_millis(200);
        while !self.thread.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(2));
        }
        self.buf.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl fmt::Debug for Run<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run")
            .field("cmd", &self.cmd)
            .field("timeout", &self.timeout)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // No shell (tests/integration/security.rs checks the source for one): `cat` copies a file to
    // stdout and names each missing file on stderr; `tail -F` on a missing file
    // complains and then waits for it forever.

    const MISSING: &str = "/nonexistent/arena-sweep-test";

    fn file_with(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    fn cat(args: &[&std::path::Path]) -> Command {
        let mut c = Command::new("cat");
        c.args(args).env("LC_ALL", "C");
        c
    }

    #[test]
    fn output_and_status_come_back() {
        let f = file_with(b"out\n");
        let out = run(
            &mut cat(&[f.path(), MISSING.as_ref()]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("cat: {MISSING}: No such file or directory\n")
        );
    }

    #[test]
    fn a_failure_names_the_program_status_and_last_stderr_line() {
        let e = Run::new(
            &mut cat(&["/nonexistent/first".as_ref(), MISSING.as_ref()]),
            Duration::from_secs(10),
        )
        .name("`cat`")
        .success()
        .unwrap_err();
        assert!(matches!(e, ProgramError::Failed { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!("`cat` failed (exit status: 1): cat: {MISSING}: No such file or directory")
        );
    }

    #[test]
    fn a_child_past_its_timeout_is_killed_and_named_with_what_it_said() {
        let started = Instant::now();
        let e = run(
            Command::new("tail")
                .args(["-F", MISSING])
                .env("LC_ALL", "C"),
            Duration::from_millis(500),
        )
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(matches!(e, ProgramError::Timeout { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.starts_with("tail gave no answer within 500ms and was killed: tail: "),
            "{msg}"
        );
        assert!(msg.contains(MISSING), "{msg}");
    }

    #[test]
    fn a_missing_program_cannot_start() {
        // The message after the program is the OS error's, in any language.
        let e = run(&mut Command::new(MISSING), Duration::from_secs(10)).unwrap_err();
        assert!(matches!(e, ProgramError::Start { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with(&format!("cannot start {MISSING}: ")),
            "{e}"
        );
    }

    #[test]
    fn a_large_output_on_both_pipes_does_not_block_the_child() {
        // 1 MiB on stdout, then about 1 MiB of complaints on stderr: more than a pipe
        // holds, so both must be read while waiting.
        let f = file_with(&vec![b'x'; 1 << 20]);
        let missing: Vec<String> = (0..20_000).map(|i| format!("{MISSING}/{i}")).collect();
        let mut cmd = cat(&[f.path()]);
        cmd.args(&missing);
        let out = run(&mut cmd, Duration::from_secs(60)).unwrap();
        assert_eq!(out.stdout.len(), 1 << 20);
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).lines().count(),
            missing.len()
        );
        assert!(out.stderr.len() > 1 << 20, "{}", out.stderr.len());
    }

    #[test]
    fn the_log_gets_the_command_and_what_it_printed() {
        let f = file_with(b"out\n");
        let mut log = Vec::new();
        let out = Run::new(
            &mut cat(&[f.path(), MISSING.as_ref()]),
            Duration::from_secs(10),
        )
        .log(&mut log)
        .output()
        .unwrap();
        assert!(!out.status.success());
        let log = String::from_utf8(log).unwrap();
        let first = log.lines().next().unwrap();
        assert!(
            first.starts_with("$ ") && first.contains(&format!("\"cat\" {:?}", f.path())),
            "{log}"
        );
        assert!(
            log.ends_with(&format!(
                "\nout\ncat: {MISSING}: No such file or directory\n"
            )),
            "{log}"
        );
    }

    #[test]
    fn last_line_skips_blank_lines_and_is_cut() {
        assert_eq!(last_line(b"a\n  b  \n\n \n"), "b");
        assert_eq!(last_line(b""), "");
        assert_eq!(last_line("x".repeat(1000).as_bytes()).len(), 300);
    }
}
