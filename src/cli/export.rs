//! `export`'s flags: which processes to watch, how the metrics leave (HTTP or a
//! node_exporter textfile), and the bounds on what is read and served. Meaning is
//! given to them in `crate::exporter`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args};

use super::values::{parse_duration, parse_duration_or_zero};

/// The port `export` listens on unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9978";

#[derive(Debug, Clone, Args)]
#[command(group(
    ArgGroup::new("targets")
        .required(true)
        .multiple(true)
        .args(["pids", "pidfiles", "pattern"])
))]
pub struct ExportArgs {
    /// A process to watch, by PID (repeat for several). It is watched until it exits;
    /// a later process that gets the same PID is not adopted. It must exist at start.
    #[arg(long = "pid", value_name = "PID", value_parser = clap::value_parser!(i32).range(1..))]
    pub pids: Vec<i32>,
    /// A file holding the PID of a process to watch, as services write them (repeat for
    /// several). It is read again at every read of the processes, so a restarted
    /// service is followed. It must be readable, and hold a PID, at start.
    #[arg(long = "pidfile", value_name = "FILE")]
    pub pidfiles: Vec<PathBuf>,
    /// Watch every process whose command line (its arguments joined by spaces, as `ps
    /// -o args` shows them) matches this regular expression; a plain word matches as a
    /// substring. Resolved again at every read, so a restarted service is picked up
    /// again. The exporter itself is never matched.
    #[arg(long = "match", value_name = "REGEX", value_parser = parse_regex)]
    pub pattern: Option<regex::Regex>,
    /// Most processes watched at once; further matches are left out (lowest PIDs
    /// first) and counted in arena_sweep_exporter_targets_over_limit.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_targets: u32,
    /// Arenas exported one by one per process: arena="0" is the main arena, then the
    /// thread arenas in the order glibc created them; the others are summed under
    /// arena="other". Bounds the series per process.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_arenas: u32,
    /// Address and port to serve /metrics on (HTTP). The default is loopback only;
    /// another address (e.g. 0.0.0.0:9978, or [::]:9978) lets every host that reaches
    /// it read the figures, and is used only when given here.
    #[arg(long, value_name = "ADDR:PORT", default_value = DEFAULT_LISTEN, value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// Shortest time between two reads of the processes (e.g. 5s, 500ms): a scrape
    /// that comes sooner is served the last read. 0 reads at every scrape.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration_or_zero)]
    pub min_interval: Duration,
    /// node_exporter's textfile collector mode: instead of serving HTTP, write the
    /// metrics to FILE (its name ends in .prom; put it in node_exporter's
    /// --collector.textfile.directory) every --interval. Each write goes to a
    /// temporary file in the same folder, is synced, then renamed over FILE.
    #[arg(long, value_name = "FILE")]
    pub textfile: Option<PathBuf>,
    /// Time between two writes of --textfile (e.g. 15s, 1m; default 15s).
    #[arg(long, value_name = "DURATION", requires = "textfile", value_parser = parse_duration)]
    pub interval: Option<Duration>,
    /// Read the processes once, write the metrics (Prometheus text format) to
    /// standard output, or to --textfile, and exit.
    #[arg(long)]
    pub once: bool,
}

/// `--match`: a regular expression, with the compiled size bounded (the exporter
/// keeps it for its whole life).
fn parse_regex(s: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(s)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("not a valid regular expression: {e}"))
}

/// `--listen`: an IP address and a port.
fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    s.trim().parse().map_err(|_| {
        format!("`{s}` is not an IP address and port like 127.0.0.1:9978 or [::1]:9978")
    })
}
