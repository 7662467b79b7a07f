//! Progress for anything that takes more than a couple of seconds.
//!
//! On a terminal this is an indicatif bar or spinner. Elsewhere (CI logs, pipes) it
//! prints a plain status line when the message changes, at most every 10 seconds,
//! so logs show that work goes on without filling up with redraws.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: ProgressBar,
    plain: bool,
    last_plain: Mutex<Option<Instant>>,
    started: Instant,
}

impl Progress {
    /// A spinner with a message, for work of unknown length.
    pub fn spinner(prefix: &str) -> Self {
        let plain = !std::io::stderr().is_terminal();
        let bar = if plain {
            ProgressBar::hidden()
        } else {
            ProgressBar::new_spinner()
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {prefix} {wide_msg}")
                .expect("static template")
                .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ "),
        );
        bar.set_prefix(prefix.to_string());
        if !plain {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Progress {
            bar,
            plain,
            last_plain: Mutex::new(None),
            started: Instant::now(),
        }
    }

    /// A bar of `len` steps with an ETA.
    pub fn bar(len: u64, prefix: &str) -> Self {
        let plain = !std::io::stderr().is_terminal();
        let bar = if plain {
            ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden())
        } else {
            ProgressBar::new(len)
        };
        bar.set_style(
            ProgressStyle::with_template(
                "[{elapsed_precise}] {prefix} {bar:30.cyan/blue} {pos}/{len} ETA {eta} {wide_msg}",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        bar.set_prefix(prefix.to_string());
        Progress {
            bar,
            plain,
            last_plain: Mutex::new(None),
            started: Instant::now(),
        }
    }

    pub fn set_message(&self, msg: impl Into<String>) {
        let msg = msg.into();
        if self.plain {
            let mut last = self.last_plain.lock().unwrap_or_else(|e| e.into_inner());
            let due = last.is_none_or(|t| t.elapsed() >= Duration::from_secs(10));
            if due {
                eprintln!(
                    "[{:>4}s] {} {}",
                    self.started.elapsed().as_secs(),
                    self.bar.prefix(),
                    msg
                );
                *last = Some(Instant::now());
            }
        }
        self.bar.set_message(msg);
    }

    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    pub fn position(&self) -> u64 {
        self.bar.position()
    }

    /// Print a line above the bar (or plainly), without breaking the bar.
    pub fn println(&self, line: impl AsRef<str>) {
        if self.plain {
            eprintln!("{}", line.as_ref());
        } else {
            self.bar.println(line.as_ref());
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
