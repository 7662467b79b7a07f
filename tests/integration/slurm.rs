//! The README's Slurm array job, for real: a one-node cluster (munge, slurmctld and
//! slurmd from Debian's packages) is set up in a temporary folder, the job script is
//! taken from README.md's code block and submitted as written (with only the values the
//! README tells the user to set), then the shard folders are merged with the README's
//! merge line and compared with an unsharded run of the same plan.
//!
//! Needs root (the daemons run as root, as `SlurmUser=root`) and the packages that
//! `scripts/setup-debian.sh` installs; without either the test fails and says which.
//! The daemons are the test's own (own key, socket, ports and configuration) and are
//! stopped, with any job left, when the test ends, failed or not.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Where README.md's Slurm example starts; the job script is the next ```sh block.
const README_MARKER: &str = "A Slurm array (each task on its own node";

/// A sweep small enough for a minute on two CPUs: 8 points (one per array task of the
/// README's `--array=0-7`) and the 2 control points (one per Python thread count, dealt
/// to the first tasks), both builds, one repetition: 20 short runs.
const MATRIX: &str = r#"name = "slurm-test"
description = "8 points x 2 builds x 1 rep, a few calls each: the Slurm test's sweep."
python_threads = [1, 2]
rust_threads = [1, 2, 3, 4]
iterations = 2
sleep_ms = 1
reps = 1
builds = ["gil", "nogil"]
bindings = ["pyo3"]
patterns = ["seed"]
tunables = ["glibc-default"]
"#;

/// Search PATH and the sbin folders (not on every user's PATH) for `name`.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The programs a one-node cluster needs, or a panic naming the missing one.
fn require_programs() -> std::collections::HashMap<&'static str, PathBuf> {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the Slurm test needs root: it starts munged, slurmctld and slurmd as root (CI runs as root)"
    );
    [
        ("munged", "munge"),
        ("munge", "munge"),
        ("slurmctld", "slurmctld"),
        ("slurmd", "slurmd"),
        ("sbatch", "slurm-client"),
        ("squeue", "slurm-client"),
        ("sinfo", "slurm-client"),
        ("scontrol", "slurm-client"),
        ("scancel", "slurm-client"),
    ]
    .into_iter()
    .map(|(prog, pkg)| {
        let p = find_program(prog).unwrap_or_else(|| {
            panic!(
                "`{prog}` was not found (Debian package {pkg}): scripts/setup-debian.sh installs slurmctld, slurmd, slurm-client and munge"
            )
        });
        (prog, p)
    })
    .collect()
}

/// A free TCP port on this machine (bound, then released for the daemon to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The last lines of a log file, for failure messages.
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| format!("({e})"));
    let all: Vec<&str> = text.lines().collect();
    format!(
        "--- {} ---\n{}",
        path.display(),
        all[all.len().saturating_sub(lines)..].join("\n")
    )
}

/// The one-node cluster. Dropping it cancels every job on it, stops the daemons and
/// removes its folder, whether the test passed or panicked.
struct Cluster {
    progs: std::collections::HashMap<&'static str, PathBuf>,
    conf: PathBuf,
    node: String,
    cpus: u32,
    daemons: Vec<(&'static str, Child)>,
    // Last, so it is removed after the daemons are gone.
    dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        let progs = require_programs();
        let dir = tempfile::Builder::new()
            .prefix("arena-sweep-slurm-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        for sub in ["state", "spool", "logs"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }

        // The node as slurmd sees it: its name, real CPUs and memory.
        let o = Command::new(&progs["slurmd"]).arg("-C").output().unwrap();
        let probe = String::from_utf8_lossy(&o.stdout).into_owned();
        let node_line = probe
            .lines()
            .find(|l| l.starts_with("NodeName="))
            .unwrap_or_else(|| panic!("`slurmd -C` printed no NodeName line:\n{probe}"))
            .to_string();
        let field = |key: &str| -> String {
            node_line
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(key))
                .unwrap_or_else(|| panic!("no {key} in `{node_line}`"))
                .to_string()
        };
        let node = field("NodeName=");
        let cpus: u32 = field("CPUs=").parse().unwrap();
        assert!(field("RealMemory=").parse::<u64>().unwrap() > 0);

        // munge: a fresh key (readable by its owner only, as munged requires) and a
        // private socket.
        let mut key = vec![0u8; 1024];
        std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom").unwrap(), &mut key)
            .unwrap();
        let key_path = d.join("munge.key");
        std::fs::write(&key_path, key).unwrap();
        std::fs::set_permissions(
            &key_path,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        let socket = d.join("munge.socket");

        let (ctld_port, slurmd_port) = (free_port(), free_port());
        let conf = d.join("slurm.conf");
        std::fs::write(
            &conf,
            format!(
                "# One-node cluster of tests/integration/slurm.rs.\n\
                 ClusterName=arenasweep\n\
                 SlurmctldHost={node}(127.0.0.1)\n\
                 SlurmUser=root\n\
                 SlurmdUser=root\n\
                 SlurmctldPort={ctld_port}\n\
                 SlurmdPort={slurmd_port}\n\
                 AuthType=auth/munge\n\
                 CredType=cred/munge\n\
                 AuthInfo=socket={socket}\n\
                 StateSaveLocation={state}\n\
                 SlurmdSpoolDir={spool}\n\
                 SlurmctldPidFile={logs}/slurmctld.pid\n\
                 SlurmdPidFile={logs}/slurmd.pid\n\
                 SlurmctldLogFile={logs}/slurmctld.log\n\
                 SlurmdLogFile={logs}/slurmd.log\n\
                 ProctrackType=proctrack/linuxproc\n\
                 TaskPlugin=task/none\n\
                 SelectType=select/cons_tres\n\
                 SelectTypeParameters=CR_CPU\n\
                 SchedulerType=sched/builtin\n\
                 ReturnToService=2\n\
                 MpiDefault=none\n\
                 SwitchType=switch/none\n\
                 JobCompType=jobcomp/none\n\
                 AccountingStorageType=accounting_storage/none\n\
                 JobAcctGatherType=jobacct_gather/none\n\
                 {node_line} NodeAddr=127.0.0.1 State=UNKNOWN\n\
                 PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n",
                socket = socket.display(),
                state = d.join("state").display(),
                spool = d.join("spool").display(),
                logs = d.join("logs").display(),
            ),
        )
        .unwrap();

        let mut cluster = Cluster {
            progs,
            conf,
            node,
            cpus,
            daemons: Vec::new(),
            dir,
        };
        let d = cluster.dir.path().to_path_buf();
        let logs = d.join("logs");
        cluster.spawn(
            "munged",
            &[
                "--foreground",
                "--force",
                &format!("--key-file={}", key_path.display()),
                &format!("--socket={}", socket.display()),
                &format!("--pid-file={}", logs.join("munged.pid").display()),
                &format!("--log-file={}", logs.join("munged.log").display()),
                &format!("--seed-file={}", d.join("munged.seed").display()),
            ],
        );
        cluster.wait_for("munged to answer", Duration::from_secs(20), |c| {
            Command::new(&c.progs["munge"])
                .args(["-n", "-S"])
                .arg(&socket)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        let conf_arg = cluster.conf.to_string_lossy().into_owned();
        // -D: stay in the foreground (the test owns the process); -i: ignore any state.
        cluster.spawn("slurmctld", &["-D", "-i", "-f", &conf_arg]);
        cluster.spawn("slurmd", &["-D", "-f", &conf_arg]);
        cluster.wait_for("the node to be idle", Duration::from_secs(60), |c| {
            let o = c.client("sinfo").args(["-h", "-o", "%T"]).output();
            o.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "idle")
        });
        cluster
    }

    fn spawn(&mut self, name: &'static str, args: &[&str]) {
        let log =
            std::fs::File::create(self.dir.path().join("logs").join(format!("{name}.console")))
                .unwrap();
        let child = Command::new(&self.progs[name])
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.daemons.push((name, child));
    }

    /// A Slurm client command talking to this cluster.
    fn client(&self, name: &str) -> Command {
        let mut c = Command::new(&self.progs[name]);
        c.env("SLURM_CONF", &self.conf);
        c
    }

    fn logs(&self) -> String {
        let logs = self.dir.path().join("logs");
        [
            "munged.console",
            "slurmctld.console",
            "slurmctld.log",
            "slurmd.console",
            "slurmd.log",
        ]
        .iter()
        .map(|f| tail(&logs.join(f), 15))
        .collect::<Vec<_>>()
        .join("\n")
    }

    fn wait_for(&mut self, what: &str, limit: Duration, ready: impl Fn(&Cluster) -> bool) {
        let start = Instant::now();
        while !ready(self) {
            let exited = self
                .daemons
                .iter_mut()
                .find_map(|(name, child)| Some((*name, child.try_wait().ok()??)));
            if let Some((name, status)) = exited {
                panic!(
                    "{name} exited ({status}) while waiting for {what}\n{}",
                    self.logs()
                );
            }
            if start.elapsed() > limit {
                panic!(
                    "timed out after {limit:?} waiting for {what}\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The jobs still known to the controller, as squeue prints them.
    fn queue(&self) -> String {
        let o = self
            .client("squeue")
            .args(["-h", "-o", "%i %T %r"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Jobs first, so that no task of ours outlives the test.
        let _ = self.client("scancel").args(["--user", "root"]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline && !self.queue().is_empty() {
            std::thread::sleep(Duration::from_millis(200));
        }
        // Then the daemons, newest first: SIGTERM, and SIGKILL after 10 s.
        for (_, child) in self.daemons.iter_mut().rev() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// README.md's Slurm job script: the first ```sh block after [`README_MARKER`].
fn readme_job_script() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let after = &readme[readme
        .find(README_MARKER)
        .expect("README.md has the Slurm array example")..];
    let start = after.find("```sh\n").expect("a ```sh block follows") + "```sh\n".len();
    let len = after[start..].find("```").expect("the block ends");
    after[start..start + len].to_string()
}

/// Replace `from` (which must be in `text`, or the README and the test have drifted)
/// with `to`, everywhere.
fn substitute(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "the README's Slurm example no longer contains `{from}`, which its text tells the user to set; update tests/integration/slurm.rs with it:\n{text}"
    );
    text.replace(from, to)
}

fn run_ids(dir: &Path) -> BTreeSet<String> {
    records(dir)
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect()
}

fn planned(dir: &Path) -> BTreeSet<String> {
    plan(dir)["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn readme_array_job_runs_on_a_one_node_cluster_and_merges_to_the_unsharded_plan() {
    let started = Instant::now();
    let cluster = Cluster::start();
    eprintln!(
        "slurm: node {} with {} CPUs up in {:.1} s",
        cluster.node,
        cluster.cpus,
        started.elapsed().as_secs_f64()
    );
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let matrix = w.join("slurm-test.toml");
    std::fs::write(&matrix, MATRIX).unwrap();

    // The README's script with what its text says to set: the nodes' CPU count, a
    // folder every node can write, and the sweep.
    let readme = readme_job_script();
    let sweeps = w.join("sweeps");
    let mut script = substitute(
        &readme,
        "--cpus-per-task=64",
        &format!("--cpus-per-task={}", cluster.cpus),
    );
    script = substitute(
        &script,
        "/shared/sweeps/run1",
        &sweeps.join("run1").to_string_lossy(),
    );
    script = substitute(
        &script,
        "--matrix default",
        &format!("--matrix {}", matrix.display()),
    );
    assert!(
        script.contains("--array=0-7") && script.contains("--shard 8"),
        "the array and the shard count stay as written:\n{script}"
    );
    let job = w.join("job.sh");
    std::fs::write(&job, &script).unwrap();

    // sbatch passes this environment on: the binary under test comes first on PATH.
    let exe = assert_cmd::cargo::cargo_bin("arena-sweep");
    let path = std::env::join_paths(std::iter::once(exe.parent().unwrap().to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let o = cluster
        .client("sbatch")
        .arg("--parsable")
        .arg(&job)
        .current_dir(w)
        .env("PATH", &path)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(
        o.status.success(),
        "sbatch refused the README's script: {stderr}\n{script}"
    );
    let job_id = stdout.trim().split(';').next().unwrap().to_string();
    assert!(job_id.parse::<u64>().is_ok(), "sbatch --parsable: {stdout}");

    // Wait for every array task to leave the queue.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let q = cluster.queue();
        if q.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the array job is still queued after 10 minutes:\n{q}\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let task_output = |k: usize| {
        std::fs::read_to_string(w.join(format!("slurm-{job_id}_{k}.out")))
            .unwrap_or_else(|e| format!("(no output file: {e})"))
    };
    // The controller still remembers the finished tasks (MinJobAge): each one completed.
    let o = cluster
        .client("scontrol")
        .args(["show", "job", &job_id])
        .output()
        .unwrap();
    let show = text(&o).0;
    let states: Vec<&str> = show
        .split_whitespace()
        .filter_map(|kv| kv.strip_prefix("JobState="))
        .collect();
    let exits: Vec<&str> = show
        .split_whitespace()
        .filter_map(|kv| kv.strip_prefix("ExitCode="))
        .collect();
    let all_output = (0..8)
        .map(|k| format!("--- task {k} ---\n{}", task_output(k)))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        states, ["COMPLETED"; 8],
        "every array task completes:\n{show}\n{all_output}"
    );
    assert_eq!(exits, ["0:0"; 8], "{show}\n{all_output}");
    let elapsed_job = started.elapsed();

    // One shard folder per task, each complete.
    let run1 = sweeps.join("run1");
    let mut shard_dirs: Vec<PathBuf> = std::fs::read_dir(&run1)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    shard_dirs.sort();
    assert_eq!(shard_dirs.len(), 8, "{shard_dirs:?}\n{all_output}");
    for k in 0..8 {
        let d = shard_dirs
            .iter()
            .find(|d| {
                d.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .ends_with(&format!("-shard-{k}-of-8"))
            })
            .unwrap_or_else(|| panic!("no folder of shard {k}: {shard_dirs:?}"));
        assert_eq!(plan(d)["complete"], true, "shard {k}: {}", task_output(k));
        // Ten points over eight tasks: the first two get two, the others one.
        assert_eq!(
            records(d).len(),
            if k < 2 { 4 } else { 2 },
            "its points, both builds: {}",
            task_output(k)
        );
    }

    // The README's merge line, with the same folder set.
    let merge_line = script
        .lines()
        .find(|l| l.contains("arena-sweep merge"))
        .expect("the README shows how to merge")
        .trim_start_matches('#')
        .trim()
        .to_string();
    let o = Command::new("bash")
        .args(["-c", &merge_line])
        .env("PATH", &path)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "`{merge_line}`: {stdout}\n{stderr}");
    assert!(stdout.contains("Merged 20 of 20 runs"), "{stdout}");
    let merged = sweeps.join("run1-merged");

    // The same plan, unsharded, on this machine: the merged folder holds exactly its runs.
    let whole = w.join("whole");
    let o = bin()
        .args(["run", "--matrix"])
        .arg(&matrix)
        .args(["--seed", "42", "--no-install", "--out"])
        .arg(&whole)
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let whole_dir = report_dir(&whole);
    assert_eq!(run_ids(&merged), run_ids(&whole_dir));
    assert_eq!(planned(&merged), planned(&whole_dir));
    assert_eq!(
        run_ids(&merged),
        planned(&merged),
        "every planned run, once"
    );
    assert_eq!(records(&merged).len(), 20);
    assert_eq!(
        records(&merged)
            .iter()
            .filter(|r| r["rust_threads"] == 0)
            .count(),
        4,
        "the control runs are sharded and merged like the others"
    );
    assert_eq!(plan(&merged)["complete"], true);
    assert_eq!(plan(&merged)["merged_from"].as_array().unwrap().len(), 8);

    // And its report renders.
    let o = bin().arg("report").arg(&merged).output().unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("Wrote "), "{stdout}");
    assert!(merged.join("index.html").is_file());
    let csv = std::fs::read_to_string(merged.join("cells.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 8, "one row per point:\n{csv}");
    eprintln!(
        "slurm: array job done after {:.1} s, test done after {:.1} s",
        elapsed_job.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    drop(cluster);
}
