//! The child's three output pipes, read by the executor itself with poll(2): the
//! message pipe (JSON lines, read as [`Received`]), and stdout/stderr, of which the
//! last [`TAIL_BYTES`] of stderr are kept for failure reports. No reader threads: a
//! run costs the parent one thread (the sampler), and a thread limit cannot break the
//! parent's own reading.

use std::collections::VecDeque;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use super::protocol::{self, Received};

/// How much of the child's stderr a failure keeps.
pub const TAIL_BYTES: usize = 4096;

/// A "line" of a megabyte is not our protocol.
const MAX_LINE: usize = 1 << 20;

pub struct Pipes {
    msg: Option<std::fs::File>,
    out: Option<std::fs::File>,
    err: Option<std::fs::File>,
    line: Vec<u8>,
    queue: VecDeque<Received>,
    stderr_tail: Vec<u8>,
}

/// What the message pipe has to say.
pub enum Next {
    Line(Received),
    Nothing,
    Closed,
}

impl Pipes {
    pub fn new(
        msg: OwnedFd,
        out: Option<std::process::ChildStdout>,
        err: Option<std::process::ChildStderr>,
    ) -> Self {
        Pipes {
            msg: Some(std::fs::File::from(msg)),
            out: out.map(|o| std::fs::File::from(OwnedFd::from(o))),
            err: err.map(|e| std::fs::File::from(OwnedFd::from(e))),
            line: Vec::new(),
            queue: VecDeque::new(),
            stderr_tail: Vec::new(),
        }
    }

    /// The next complete line, waiting up to `timeout` for data.
    pub fn next(&mut self, timeout: Duration) -> Next {
        if self.queue.is_empty() && self.msg.is_some() {
            self.pump(timeout);
        }
        match self.queue.pop_front() {
            Some(m) => Next::Line(m),
            None if self.msg.is_none() => Next::Closed,
            None => Next::Nothing,
        }
    }

    /// Keep reading stderr until it closes or `within` passes (the child is ending).
    pub fn drain_stderr(&mut self, within: Duration) {
        let until = Instant::now() + within;
        while self.err.is_some() && Instant::now() < until {
            self.pump(until.saturating_duration_since(Instant::now()));
        }
    }

    /// The end of what the child wrote to stderr.
    pub fn stderr_text(&self) -> String {
        let start = self.stderr_tail.len().saturating_sub(TAIL_BYTES);
        String::from_utf8_lossy(&self.stderr_tail[start..]).into_owned()
    }

    /// Wait up to `timeout` for data on the open pipes and take what is there.
    fn pump(&mut self, timeout: Duration) {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        let mut fds: Vec<PollFd> = Vec::with_capacity(3);
        let mut which: Vec<usize> = Vec::with_capacity(3);
        for (i, f) in [&self.msg, &self.out, &self.err].into_iter().enumerate() {
            if let Some(f) = f {
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                which.push(i);
            }
        }
        if fds.is_empty() {
            return;
        }
        let ms = PollTimeout::try_from(timeout.as_millis().min(60_000) as i32)
            .unwrap_or(PollTimeout::ZERO);
        if poll(&mut fds, ms).unwrap_or(0) <= 0 {
            return;
        }
        let ready: Vec<usize> = fds
            .iter()
            .zip(&which)
            .filter(|(fd, _)| fd.revents().is_some_and(|r| !r.is_empty()))
            .map(|(_, i)| *i)
            .collect();
        for i in ready {
            self.take(i);
        }
    }

    /// Read what pipe `i` (0 messages, 1 stdout, 2 stderr) holds.
    fn take(&mut self, i: usize) {
        let mut chunk = [0u8; 8192];
        let slot = match i {
            0 => &mut self.msg,
            1 => &mut self.out,
            _ => &mut self.err,
        };
        let n = match slot.as_mut().map(|f| f.read(&mut chunk)) {
            Some(Ok(n)) => n,
            Some(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => return,
            _ => 0,
        };
        if n == 0 {
            *slot = None;
            if i == 0 && !self.line.is_empty() {
                // A last line without its newline.
                let line = std::mem::take(&mut self.line);
                self.queue.push_back(protocol::parse(&line));
            }
            return;
        }
        match i {
            0 => self.messages(&chunk[..n]),
            2 => {
                self.stderr_tail.extend_from_slice(&chunk[..n]);
                if self.stderr_tail.len() > 2 * TAIL_BYTES {
                    let cut = self.stderr_tail.len() - TAIL_BYTES;
                    self.stderr_tail.drain(..cut);
                }
            }
            // stdout is drained so the child never blocks on it; its content is not kept.
            _ => {}
        }
    }

    /// Split message-pipe bytes into lines.
    fn messages(&mut self, bytes: &[u8]) {
        self.line.extend_from_slice(bytes);
        while let Some(pos) = self.line.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.line.drain(..=pos).collect();
            self.queue
                .push_back(protocol::parse(&line[..line.len() - 1]));
        }
        if self.line.len() > MAX_LINE {
            let junk = std::mem::take(&mut self.line);
            self.queue.push_back(protocol::oversized(&junk));
        }
    }
}
