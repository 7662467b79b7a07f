//! The fidelity check: arena-sweep's numbers against a minimal talk-style driver.
//!
//! The same extension (the `arena_poc` build arena-sweep made for each interpreter)
//! is driven by `tests/fidelity/talk_driver.py`, which does only what the talk's
//! script did: read RSS, run 8 Python threads in a ThreadPoolExecutor (10 calls of
//! 50 Rust threads each, 5 ms apart), read RSS again. Both run in the same
//! environment (`LC_ALL=C.UTF-8`, `PATH`, plus the profile's `GLIBC_TUNABLES`), taking
//! turns run by run (one arena-sweep rep, then one minimal run per build, the order
//! alternating) so that drift of the machine falls on both alike. For every row (cell
//! x build) arena-sweep's deltas must be within ±10% of the minimal driver's, and the
//! two sets of runs must not differ (two-sided Mann-Whitney U). The full table has ten
//! rows, and ten tests at p < 0.05 would flag one or more rows in 40% of checks of two
//! identical drivers, so the verdict uses the p-values adjusted for the rows checked
//! (Benjamini-Hochberg, q >= 0.05); the table shows both.
//!
//! "Within ±10%" is the Hodges-Lehmann shift (the median of every difference between
//! an arena-sweep run and a minimal run, the shift the Mann-Whitney test is about)
//! over the minimal driver's median. The table also shows the two medians and their
//! ratio, but that ratio is not what is checked: the churn rows' runs fall in groups
//! (at the default cap the GIL build leaves about 2.2 MiB in one run and 3 to 8 MiB
//! in the next, about half of each: how much of its heap each of the 15 arenas keeps
//! depends on where the last small block in use sits, which depends on how the
//! threads interleave), and there a median jumps from one group to the other with a
//! run more or less. Over 65 runs per driver of that row, the ratio of medians read
//! 1.22 with a bootstrap 95% interval of 0.98 to 1.53, the Hodges-Lehmann ratio 1.01
//! (0.98 to 1.20), and the Mann-Whitney p 0.62. Where the runs do not fall in groups
//! the two estimates agree.
//!
//! Each cell also has a control arm: arena-sweep's control runs (0 Rust threads, no
//! native call) against the minimal driver run at 0 Rust threads, in the same turns.
//! Its rows and the net rows (delta - control) pass within max(10%, 0.05 MiB) of the
//! minimal driver's figure. A net row's shift is its gross row's Hodges-Lehmann shift
//! minus its control row's, and its p a bootstrap of that difference: the GIL control
//! runs fall in groups (0.11 or 0.17 MiB), and a difference of medians jumps with them
//! (one guard batch read a net GIL row -14.6% by medians and +4 KiB by shifts).
//!
//! The table is printed and written to `target/fidelity.md` (docs/fidelity.md quotes it).
//! Every run goes to `target/fidelity.runs.jsonl` as it ends (one line per run: cell,
//! build, driver, step, delta and glibc's arena count once the Python threads are
//! done), so that a check stopped in the middle keeps its runs, and a row that
//! differs can be looked at run by run. The arena count is the sharpest sign of how
//! many Rust threads were alive at once: at arena_max=112 it separates two sets of
//! runs that differ by 5 arenas in about 25 runs, where their deltas need hundreds.
//! Noisy rows get more runs: a cell whose rows are not yet within ±10% with p >= 0.05
//! gets further runs, up to `max_runs`. More runs move the estimate towards its true
//! value, so they settle a row that only noise put outside the band, and confirm a
//! real difference. The free-threaded churn rows need the most: their deltas spread
//! from 2.5 to 20 MiB within one cell (a log-normal spread of about 0.6), so pinning
//! their shift to a few percent takes a few hundred runs per driver.

use crate::common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// One cell of the check: run by both drivers, both builds.
struct CellSpec {
    name: &'static str,
    pattern: &'static str,
    params: &'static str,
    tunable: Option<&'static str>,
    workload: Option<&'static str>,
    /// Runs per driver and build before the first check.
    runs: usize,
    /// Check again after this many more runs, while a row is not settled...
    check_every: usize,
    /// ...up to this many runs per driver and build.
    max_runs: usize,
}

const CELLS: &[CellSpec] = &[
    CellSpec {
        name: "seed, default cap",
        pattern: "seed",
        params: "",
        tunable: None,
        workload: None,
        runs: 40,
        check_every: 20,
        max_runs: 80,
    },
    CellSpec {
        name: "seed, arena_max=112",
        pattern: "seed",
        params: "",
        tunable: Some("glibc.malloc.arena_max=112"),
        workload: None,
        runs: 40,
        check_every: 20,
        max_runs: 80,
    },
    CellSpec {
        name: "churn 1024x2000, default cap",
        pattern: "churn",
        params: "size=1024,count=2000",
        tunable: None,
        workload: None,
        runs: 60,
        check_every: 30,
        max_runs: 480,
    },
    CellSpec {
        name: "churn 1024x2000, arena_max=112",
        pattern: "churn",
        params: "size=1024,count=2000",
        tunable: Some("glibc.malloc.arena_max=112"),
        workload: None,
        runs: 60,
        check_every: 30,
        max_runs: 480,
    },
    CellSpec {
        name: "workload blake3_pool_per_call",
        pattern: "",
        params: "",
        tunable: None,
        workload: Some("examples/workloads/blake3_pool_per_call.py"),
        runs: 20,
        check_every: 10,
        max_runs: 60,
    },
];

const BUILDS: [&str; 2] = ["gil", "nogil"];
/// The cell's own runs, and its control arm's (no native call: 0 Rust threads).
const ARMS: [&str; 2] = ["cell", "control"];
/// A net row passes within max(10%, this many KiB) of the minimal driver's net delta.
const NET_BAND_KIB: f64 = 0.05 * 1024.0;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One run's figures: its delta in KiB and glibc's arena count once the Python
/// threads are done (None where it could not be read).
#[derive(Clone, Copy)]
struct Run {
    delta_kib: f64,
    arenas: Option<u64>,
}

/// One arena-sweep rep of the cell (a GIL and a free-threaded run, and the control
/// arm's run of each build): ([gil runs, nogil runs] at the cell's Rust threads, the
/// same at 0 Rust threads), and its plan. The report folder is removed once read.
fn sweep_rep(cell: &CellSpec, seed: usize, out: &Path) -> ([[Vec<Run>; 2]; 2], Value) {
    let mut cmd = bin();
    cmd.current_dir(repo()).args([
        "--python-threads",
        "8",
        "--rust-threads",
        "50",
        "--reps",
        "1",
        // One window, as the minimal driver measures.
        "--rounds",
        "1",
        "--seed",
        &seed.to_string(),
        "--out",
    ]);
    cmd.arg(out);
    match cell.workload {
        Some(w) => cmd.args(["--workload", w]),
        None if cell.params.is_empty() => cmd.args(["--pattern", cell.pattern]),
        None => cmd.args(["--pattern", &format!("{}:{}", cell.pattern, cell.params)]),
    };
    if let Some(t) = cell.tunable {
        cmd.args(["--tunable", t]);
    }
    let o = cmd.output().unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}:\n{stdout}\n{stderr}",
        cell.name
    );
    let dir = report_dir(out);
    let mut runs: [[Vec<Run>; 2]; 2] = Default::default();
    for r in records(&dir) {
        let i = BUILDS.iter().position(|b| r["build"] == *b).unwrap();
        let arm = usize::from(r["rust_threads"] == 0);
        runs[arm][i].push(Run {
            delta_kib: r["metrics"]["delta_kib"].as_f64().unwrap(),
            arenas: r["arenas"]["done"]["totals"]["arenas"].as_u64(),
        });
    }
    let plan = plan(&dir);
    std::fs::remove_dir_all(out).unwrap();
    (runs, plan)
}

/// One run of the minimal driver, at 50 Rust threads or at 0 (its control).
fn minimal_run(cell: &CellSpec, program: &str, ext_dir: &str, build: &str, rust: &str) -> Run {
    let mut cmd = minimal_command(program, &repo());
    cmd.arg(repo().join("tests/fidelity/talk_driver.py"))
        .arg("--arenas")
        .args([ext_dir, "8", rust, "10", "5", cell.pattern, cell.params]);
    if let Some(w) = cell.workload {
        cmd.arg(repo().join(w));
    }
    if let Some(t) = cell.tunable {
        cmd.env("GLIBC_TUNABLES", t);
    }
    let o = cmd.output().unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{program}: {stdout}\n{stderr}");
    let v: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        v["gil_enabled"].as_bool(),
        Some(build == "gil"),
        "the minimal driver ran the wrong build"
    );
    Run {
        delta_kib: v["delta_kib"].as_f64().unwrap(),
        arenas: v["arenas"].as_u64(),
    }
}

/// Appends each run to `target/<name>.runs.jsonl` as it ends.
struct RunLog(std::fs::File);

impl RunLog {
    fn create(path: &Path) -> RunLog {
        RunLog(std::fs::File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
    }

    fn write(
        &mut self,
        cell: &CellSpec,
        arm: usize,
        build: usize,
        driver: &str,
        step: usize,
        run: Run,
    ) {
        use std::io::Write as _;
        let line = serde_json::json!({
            "cell": cell.name,
            "arm": ARMS[arm],
            "build": BUILDS[build],
            "driver": driver,
            "step": step,
            "delta_kib": run.delta_kib,
            "arenas": run.arenas,
        });
        writeln!(self.0, "{line}").unwrap();
    }
}

/// What a row compares.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Deltas at the cell's Rust threads (the talk's figure).
    Gross,
    /// Deltas of the control arm (0 Rust threads: no native call).
    Control,
    /// Gross median - control median of each driver.
    Net,
}

struct RowResult {
    cell: &'static str,
    build: &'static str,
    kind: Kind,
    sweep: Vec<f64>,
    minimal: Vec<f64>,
    /// The control runs of each driver (net rows only).
    sweep_control: Vec<f64>,
    minimal_control: Vec<f64>,
}

fn med(v: &[f64]) -> f64 {
    arena_sweep::stats::median(v).unwrap()
}

impl RowResult {
    /// (arena-sweep's, the minimal driver's) figure: medians, or net medians.
    fn medians(&self) -> (f64, f64) {
        match self.kind {
            Kind::Net => (
                med(&self.sweep) - med(&self.sweep_control),
                med(&self.minimal) - med(&self.minimal_control),
            ),
            _ => (med(&self.sweep), med(&self.minimal)),
        }
    }

    /// The ratio of the two medians (shown, not checked: see the module's header).
    fn ratio(&self) -> f64 {
        let (s, m) = self.medians();
        s / m
    }

    /// arena-sweep's figure minus the minimal driver's, KiB: the Hodges-Lehmann shift
    /// of the runs for gross and control rows, the difference of the net medians for
    /// net rows.
    fn shift_kib(&self) -> f64 {
        let hl = arena_sweep::stats::hodges_lehmann_shift;
        match self.kind {
            // The gross rows' shift minus the control rows' shift: each a
            // Hodges-Lehmann shift, for the reason the gross rows use one (a median
            // jumps between the groups small deltas fall in: the GIL control runs read
            // 0.11 or 0.17 MiB, and the two drivers' medians can sit in different
            // groups while their runs do not differ).
            Kind::Net => {
                hl(&self.sweep, &self.minimal).unwrap()
                    - hl(&self.sweep_control, &self.minimal_control).unwrap()
            }
            _ => hl(&self.sweep, &self.minimal).unwrap(),
        }
    }

    /// The minimal driver's figure the band is taken from: its median, or for a net
    /// row the Hodges-Lehmann shift of its runs over its control runs.
    fn reference_kib(&self) -> f64 {
        match self.kind {
            Kind::Net => {
                arena_sweep::stats::hodges_lehmann_shift(&self.minimal, &self.minimal_control)
                    .unwrap()
            }
            _ => self.medians().1,
        }
    }

    /// The shift in percent of the minimal driver's figure: 5.0 reads 5% high.
    fn shift_pct(&self) -> f64 {
        100.0 * self.shift_kib() / self.reference_kib().abs()
    }

    /// Two-sided p: Mann-Whitney for gross and control rows; for net rows the
    /// bootstrap p of the net difference (twice the share of resamples on the far
    /// side of zero, each driver's runs resampled independently).
    fn p(&self) -> f64 {
        match self.kind {
            Kind::Net => net_shift_p(
                [
                    &self.sweep,
                    &self.minimal,
                    &self.sweep_control,
                    &self.minimal_control,
                ],
                2000,
            ),
            _ => {
                arena_sweep::stats::mann_whitney_u(&self.sweep, &self.minimal)
                    .unwrap()
                    .p
            }
        }
    }

    fn within_band(&self) -> bool {
        match self.kind {
            Kind::Gross => self.shift_pct().abs() <= 10.0,
            // Control deltas are small (0.1 MiB for the GIL build): the net rows' band.
            Kind::Control | Kind::Net => {
                self.shift_kib().abs() <= (0.10 * self.reference_kib().abs()).max(NET_BAND_KIB)
            }
        }
    }

    /// Within its band and not different at the 5% level on its own (before adjusting
    /// for the other rows): what decides whether a cell gets more runs.
    fn settled(&self) -> bool {
        self.within_band() && self.p() >= 0.05
    }
}

/// Two-sided bootstrap p of a net row's shift (gross shift - control shift): every
/// group resampled with replacement, the shift of each resample, and twice the share
/// of resamples on the far side of zero (a percentile test; splitmix64 with a fixed
/// seed, so the same runs give the same p).
fn net_shift_p(groups: [&[f64]; 4], resamples: usize) -> f64 {
    let hl = |a: &[f64], b: &[f64]| arena_sweep::stats::hodges_lehmann_shift(a, b).unwrap();
    let mut state: u64 = 0x5EED;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let (mut below, mut above) = (0usize, 0usize);
    for _ in 0..resamples {
        let g: [Vec<f64>; 4] = groups.map(|x| {
            (0..x.len())
                .map(|_| x[((u128::from(next()) * x.len() as u128) >> 64) as usize])
                .collect()
        });
        let s = hl(&g[0], &g[1]) - hl(&g[2], &g[3]);
        below += usize::from(s <= 0.0);
        above += usize::from(s >= 0.0);
    }
    (2.0 * below.min(above) as f64 / resamples as f64).min(1.0)
}

/// The verdict per row: within ±10%, and q (p adjusted over all rows) >= `level`
/// when there is one.
fn verdicts(rows: &[RowResult], level: Option<f64>) -> Vec<(f64, bool)> {
    let p: Vec<f64> = rows.iter().map(RowResult::p).collect();
    let q = arena_sweep::stats::benjamini_hochberg(&p).unwrap();
    rows.iter()
        .zip(q)
        .map(|(r, q)| (q, r.within_band() && level.is_none_or(|l| q >= l)))
        .collect()
}

fn measure(cell: &'static CellSpec, tmp: &Path, log: &mut RunLog) -> Vec<RowResult> {
    // [arm][build]: arm 0 the cell's runs, arm 1 the control arm's.
    let mut sweep: Arms = Default::default();
    let mut minimal: Arms = Default::default();
    // The programs and extension folders, from the first sweep's plan.json.
    let mut kids: Vec<(String, String)> = Vec::new();
    let out = tmp.join(cell.name.replace([' ', ',', '='], "_"));
    let started = std::time::Instant::now();
    for step in 0..cell.max_runs {
        if step >= cell.runs && (step - cell.runs) % cell.check_every == 0 {
            if rows_of(cell, &sweep, &minimal)
                .iter()
                .all(RowResult::settled)
            {
                break;
            }
            // The rows so far, so that a run stopped while a noisy cell goes on
            // still leaves its evidence in the log.
            eprintln!(
                "{}: not settled after {step} runs per driver and build, {} more\n{}",
                cell.name,
                cell.check_every,
                table(&rows_of(cell, &sweep, &minimal), Some(0.05))
            );
        }
        // One arena-sweep rep (a GIL and a free-threaded run, and their control runs)
        // and one minimal run per build at 50 Rust threads and at 0, the two drivers
        // taking turns run by run, so that the machine's drift (a noisy neighbour, a
        // long compile, page cache) falls on both alike.
        let run_sweep = |sweep: &mut Arms, kids: &mut Vec<(String, String)>, log: &mut RunLog| {
            let (d, plan) = sweep_rep(cell, 1000 + step, &out);
            for arm in 0..2 {
                for i in 0..2 {
                    for run in &d[arm][i] {
                        sweep[arm][i].push(run.delta_kib);
                        log.write(cell, arm, i, "arena-sweep", step, *run);
                    }
                }
            }
            if kids.is_empty() {
                *kids = children(&plan);
            }
        };
        let run_minimal = |minimal: &mut Arms, kids: &[(String, String)], log: &mut RunLog| {
            let order = if step % 4 < 2 { [0, 1] } else { [1, 0] };
            let arms = if step % 2 == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                for arm in arms {
                    let (program, ext) = &kids[i];
                    let rust = if arm == 0 { "50" } else { "0" };
                    let run = minimal_run(cell, program, ext, BUILDS[i], rust);
                    minimal[arm][i].push(run.delta_kib);
                    log.write(cell, arm, i, "minimal", step, run);
                }
            }
        };
        if step % 2 == 0 || kids.is_empty() {
            run_sweep(&mut sweep, &mut kids, log);
            run_minimal(&mut minimal, &kids, log);
        } else {
            run_minimal(&mut minimal, &kids, log);
            run_sweep(&mut sweep, &mut kids, log);
        }
        if (step + 1) % 10 == 0 {
            eprintln!(
                "{}: {} runs per driver and build, {:.0} s",
                cell.name,
                step + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    rows_of(cell, &sweep, &minimal)
}

/// Deltas (KiB) by arm (the cell's, the control's) and build.
type Arms = [[Vec<f64>; 2]; 2];

fn rows_of(cell: &'static CellSpec, sweep: &Arms, minimal: &Arms) -> Vec<RowResult> {
    let mut rows = Vec::new();
    for kind in [Kind::Gross, Kind::Control, Kind::Net] {
        for (i, build) in ["GIL", "nogil"].into_iter().enumerate() {
            let arm = usize::from(kind == Kind::Control);
            rows.push(RowResult {
                cell: cell.name,
                build,
                kind,
                sweep: sweep[arm][i].clone(),
                minimal: minimal[arm][i].clone(),
                sweep_control: if kind == Kind::Net {
                    sweep[1][i].clone()
                } else {
                    Vec::new()
                },
                minimal_control: if kind == Kind::Net {
                    minimal[1][i].clone()
                } else {
                    Vec::new()
                },
            });
        }
    }
    rows
}

fn table(rows: &[RowResult], level: Option<f64>) -> String {
    let verdict = match level {
        Some(l) => format!("within its band and q >= {l}"),
        None => "within its band".to_string(),
    };
    let mut s = format!(
        "| cell | figure | build | runs per driver | arena-sweep | minimal driver | ratio | shift | shift % | p | q (all rows) | {verdict} |\n|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|\n",
    );
    for (r, (q, ok)) in rows.iter().zip(verdicts(rows, level)) {
        let (sw, mi) = r.medians();
        let figure = match r.kind {
            Kind::Gross => "delta at 50 Rust threads",
            Kind::Control => "control delta (0 Rust threads)",
            Kind::Net => "net delta (delta - control; shift: delta's - control's)",
        };
        let _ = writeln!(
            s,
            "| {} | {figure} | {} | {} | {:.2} MiB | {:.2} MiB | {:.2} | {:+.3} MiB | {:+.1}% | {:.2} | {:.2} | {} |",
            r.cell,
            r.build,
            r.sweep.len(),
            sw / 1024.0,
            mi / 1024.0,
            r.ratio(),
            r.shift_kib() / 1024.0,
            r.shift_pct(),
            r.p(),
            q,
            if ok { "yes" } else { "NO" }
        );
    }
    s
}

/// The talk's own cell (`seed`, 8 x 50), at the default arena cap and at
/// arena_max=112: four rows, about four minutes on 2 CPUs (up to eight when a row
/// needs 80 runs). Not in CI: a check at the 5% level fails one run in twenty even
/// when the drivers do not differ, and the GIL default-cap row differs by 2-5% (10-23
/// KiB) in some batches of runs and not in others (see docs/fidelity.md's table).
#[test]
#[ignore = "a 5%-level statistical check, about four minutes: cargo test --release --features system-tests --test integration -- --ignored fidelity::the_talks_cell"]
fn the_talks_cell_reads_as_a_minimal_driver_reads_it() {
    check(&CELLS[..2], "fidelity-seed", Some(0.05));
}

/// The talk's cell as a guard in every test run: the same measurement as
/// `the_talks_cell...`, failing where a row's Hodges-Lehmann shift is more than 10% of
/// the minimal driver's median (45 KiB on the GIL rows' 0.45 MiB): a change that made
/// the child allocate or run new code inside its window by that much fails it. It
/// judges the size of a difference, not its p-value: the GIL default-cap row reads
/// 2-5% low in some batches of runs and not in others, for a reason not found
/// (2026-11-30: -5.2% over 80 runs with p < 0.005 in one batch, -12 KiB with p 0.014
/// and +4 KiB with p 0.35 in the next two), and a guard at the 0.1% level fails
/// whenever a batch like the first comes, with no change to the code.
/// About four minutes on 2 CPUs (up to eight when a row needs 80 runs).
#[test]
fn the_talks_cell_has_not_moved_from_the_minimal_drivers() {
    check(&CELLS[..2], "fidelity-seed-guard", None);
}

/// The blake3 workload (`examples/workloads/blake3_pool_per_call.py`, a rayon pool
/// of 50 threads built per call) alone: two rows, several minutes.
#[test]
#[ignore = "a 5%-level statistical check, several minutes: cargo test --release --features system-tests --test integration -- --ignored fidelity::the_blake3"]
fn the_blake3_workload_reads_as_a_minimal_driver_reads_it() {
    check(&CELLS[4..], "fidelity-workload", Some(0.05));
}

/// Every row of the table, churn and the blake3 workload included. A churn run takes
/// 2 to 6 s here, and the free-threaded churn rows need 60 to 480 runs per driver and
/// build (see the module's header), so this takes one to several hours.
#[test]
#[ignore = "one to several hours on 2 CPUs: cargo test --release --features system-tests --test integration -- --ignored fidelity::arena_sweep_measures"]
fn arena_sweep_measures_what_a_minimal_talk_style_driver_measures() {
    check(CELLS, "fidelity", Some(0.05));
}

/// Measure `cells`, write the table to `target/<file>.md` and the runs to
/// `target/<file>.runs.jsonl`, and fail naming every row off by more than 10% or
/// (given a `level`) with q below it.
fn check(cells: &'static [CellSpec], file: &str, level: Option<f64>) {
    let tmp = tempfile::tempdir().unwrap();
    let target = repo().join("target");
    std::fs::create_dir_all(&target).unwrap();
    let mut log = RunLog::create(&target.join(format!("{file}.runs.jsonl")));
    let mut rows = Vec::new();
    for cell in cells {
        rows.extend(measure(cell, tmp.path(), &mut log));
        eprintln!("{}", table(&rows, level));
    }
    let t = table(&rows, level);
    println!("{t}");
    std::fs::write(target.join(format!("{file}.md")), &t).unwrap();
    let failed: Vec<String> = rows
        .iter()
        .zip(verdicts(&rows, level))
        .filter(|(_, (_, ok))| !ok)
        .map(|(r, (q, _))| {
            format!(
                "{} ({}, {}): shift {:+.3} MiB ({:+.1}%), p {:.3}, q {:.3}",
                r.cell,
                match r.kind {
                    Kind::Gross => "delta",
                    Kind::Control => "control",
                    Kind::Net => "net",
                },
                r.build,
                r.shift_kib() / 1024.0,
                r.shift_pct(),
                r.p(),
                q
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "rows where arena-sweep and the minimal driver differ:\n{}\n\n{t}",
        failed.join("\n")
    );
}
