//! `arena-sweep export`, the Prometheus exporter, with real components: a real
//! Prometheus server (Debian's package) scrapes it while it watches a real
//! free-threaded CPython whose native code stranded free memory in its arenas; the
//! series read back through Prometheus's HTTP API equal `inspect --json` and glibc's
//! own malloc_info taken inside the process, and after the process calls
//! malloc_trim(0) the next scrapes show the trimmable bytes gone. `promtool check
//! metrics` passes on its output; the Grafana dashboard queries only what it serves;
//! and the faults: a process that exits (dropped, and picked up again when a new one
//! matches), one it may not read (explained as `inspect` explains it, and the exporter
//! goes on), scrapes faster than --min-interval, the textfile mode and bad flags.

use crate::common;
mod prometheus;
mod web;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::live::{build_prog, python, Target};
use common::{bin, text};
use prometheus::Prometheus;
use serde_json::Value;
use web::{get, sample, samples, Exporter};

const BIN: &str = env!("CARGO_BIN_EXE_arena-sweep");

fn export_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("export").args(args);
    c
}

/// A word no other process has on its command line.
fn token(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "arena_sweep_exporter_test_{what}_{}_{nanos}",
        std::process::id()
    )
}

/// `promtool check metrics` on `body`: clean (no lint problem, exit 0).
fn promtool_check(body: &str) {
    use std::io::Write;
    let mut child = Command::new("/usr/bin/promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/promtool is missing: scripts/setup-debian.sh installs Debian's prometheus package");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let (out, err) = text(&o);
    assert!(
        o.status.success() && out.trim().is_empty() && err.trim().is_empty(),
        "promtool check metrics: {:?}\n{out}\n{err}\n--- the metrics:\n{body}",
        o.status.code()
    );
}

/// Strands free memory in arena heaps (4 Python threads x 2 Rust threads, each
/// freeing 256 touched 64 KiB blocks below a kept one), takes malloc_info and pauses
/// with nothing allocated until a byte arrives; then prints malloc_info's per-arena
/// [system, free], calls malloc_trim(0), prints the RSS it returned and waits.
const STRANDED_SCRIPT: &str = r#"
import sys, threading, json
sys.path.insert(0, sys.argv[1])
import arena_poc
def work(n):
    arena_poc.run_arena_test(2, "strand", "", n)
ts = [threading.Thread(target=work, args=(n,)) for n in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print("gil", sys._is_gil_enabled(), flush=True)
mi = arena_poc.malloc_info_paused(1, 0, "paused\n")
print(json.dumps([[a["system_current_bytes"], a["free_bytes"]] for a in mi["per_arena"]]), flush=True)
before = arena_poc.rss_kib()
arena_poc.malloc_trim(0)
after = arena_poc.rss_kib()
print("trimmed_kib", before - after, flush=True)
sys.stdin.readline()
"#;

const TUNABLES: &str = "glibc.malloc.tcache_count=7";

/// inspect's arena at ring position `i` of `n` (0 main, then newest first) is the
/// exporter's arena label: "0", then creation order.
fn label_of(i: usize, n: usize, is_main: bool) -> String {
    if is_main {
        "0".into()
    } else {
        (n - i).to_string()
    }
}

#[test]
fn prometheus_scrapes_the_exporter_watching_a_free_threaded_process() {
    let started = Instant::now();
    let (exe, dir) = python("nogil");
    let marker = token("stranded");
    let mut cmd = Command::new(&exe);
    cmd.args(["-I", "-c", STRANDED_SCRIPT])
        .arg(&dir)
        .arg(&marker)
        .env("GLIBC_TUNABLES", TUNABLES);
    let mut t = Target::start(cmd);
    let said = t.wait_for("paused");
    assert!(said.contains(&"gil False".to_string()), "{said:?}");
    let pid = t.pid();
    let p = format!("pid=\"{pid}\"");

    let exporter = Exporter::start(export_cmd(&["--match", &marker, "--min-interval", "500ms"]));
    let prom = Prometheus::start(&exporter.addr);
    // The exporter answers OpenMetrics to Prometheus's Accept header, and Prometheus
    // took it: the target is up and its series are there.
    let why = || {
        format!(
            "the exporter logged: {}\nit serves now:\n{}",
            exporter.logged(),
            get(&exporter.addr, "/metrics", None).body
        )
    };
    prom.wait_until(
        &format!("arena_sweep_arenas{{{p}}}"),
        60,
        |r| r.len() == 1,
        why,
    );
    let up = prom.query("up{job=\"arena-sweep\"}");
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(up[0].1, 1.0, "{up:?}\n{}", prom.log());
    // ... and it was OpenMetrics that Prometheus took (its Accept header asks for it).
    let formats = prom.by("arena_sweep_exporter_scrapes_total", "format");
    assert_eq!(formats["text"], 0.0, "{formats:?}");
    assert!(formats["openmetrics"] >= 1.0, "{formats:?}");

    // What inspect reads now (the process is paused: nothing moves).
    let o = bin()
        .args(["inspect", &pid.to_string(), "--json"])
        .output()
        .unwrap();
    let (json, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let j: Value = serde_json::from_str(&json).unwrap();
    let arenas = j["arenas"]["arenas"].as_array().unwrap();
    let n = arenas.len();
    assert!(n > 2, "the workload made only {n} arenas: {json}");
    assert_eq!(
        prom.query(&format!("arena_sweep_arenas{{{p}}}"))[0].1,
        n as f64
    );
    for (family, field) in [
        ("arena_sweep_arena_system_bytes", "system_mem_bytes"),
        ("arena_sweep_arena_in_use_bytes", "in_use_bytes"),
        ("arena_sweep_arena_free_bytes", "free_bytes"),
        ("arena_sweep_arena_trimmable_bytes", "trimmable_bytes"),
        ("arena_sweep_arena_fast_free_bytes", "fast_free_bytes"),
        ("arena_sweep_arena_bin_free_bytes", "bin_free_bytes"),
        ("arena_sweep_arena_top_free_bytes", "top_bytes"),
        ("arena_sweep_arena_attached_threads", "attached_threads"),
    ] {
        let got = prom.by(&format!("{family}{{{p}}}"), "arena");
        let want: BTreeMap<String, f64> = arenas
            .iter()
            .enumerate()
            .map(|(i, a)| {
                (
                    label_of(i, n, a["is_main"].as_bool().unwrap()),
                    a[field].as_u64().unwrap() as f64,
                )
            })
            .collect();
        assert_eq!(
            got, want,
            "{family} in Prometheus vs inspect --json's {field}"
        );
    }
    let rss = prom.query(&format!("arena_sweep_process_resident_bytes{{{p}}}"))[0].1;
    let rss_inspect = j["rss_kib"].as_f64().unwrap() * 1024.0;
    assert!(
        (rss - rss_inspect).abs() <= 0.01 * rss_inspect,
        "RSS {rss} vs inspect {rss_inspect}"
    );
    let heaps = prom.by(
        &format!("arena_sweep_process_region_resident_bytes{{{p}}}"),
        "region",
    );
    assert_eq!(heaps.len(), 6, "{heaps:?}");
    let heap_rss = j["regions"]["arena_heap_rss_kib"].as_f64().unwrap() * 1024.0;
    assert!(
        (heaps["arena_heaps"] - heap_rss).abs() <= 0.01 * heap_rss,
        "{heaps:?} vs {heap_rss}"
    );
    assert!(
        heaps["mimalloc"] > 0.0,
        "a free-threaded CPython has mimalloc regions: {heaps:?}"
    );
    let info = prom.query(&format!("arena_sweep_process_info{{{p}}}"));
    assert_eq!(info.len(), 1, "{info:?}");
    let labels = &info[0].0;
    assert_eq!(labels["glibc_tunables"], TUNABLES, "{labels:?}");
    assert_eq!(
        labels["glibc_version"],
        j["libc"]["version"].as_str().unwrap()
    );
    assert_eq!(labels["arena_cap_from"], "default");
    // SAFETY: sysconf is always safe to call.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) } as f64;
    assert_eq!(
        prom.query(&format!("arena_sweep_arena_cap{{{p}}}"))[0].1,
        8.0 * cpus
    );
    let trimmable_before: f64 =
        prom.query(&format!("sum(arena_sweep_arena_trimmable_bytes{{{p}}})"))[0].1;
    assert!(
        trimmable_before >= (16 << 20) as f64,
        "only {trimmable_before} B trimmable"
    );

    // glibc's own figures, taken inside the process before it paused.
    let system_free: BTreeMap<String, (f64, f64)> = {
        let s = prom.by(&format!("arena_sweep_arena_system_bytes{{{p}}}"), "arena");
        let f = prom.by(&format!("arena_sweep_arena_free_bytes{{{p}}}"), "arena");
        s.iter().map(|(k, v)| (k.clone(), (*v, f[k]))).collect()
    };
    // One byte: malloc_info_paused reads exactly one, and the script's last readline
    // must find the pipe empty (the process stays, trimmed, until the test ends).
    t.send("g");
    let glibc: Vec<(u64, u64)> = serde_json::from_str(&t.next_line()).unwrap();
    assert_eq!(glibc.len(), n);
    for (i, (system, free)) in glibc.iter().enumerate() {
        let label = label_of(i, n, i == 0);
        assert_eq!(
            system_free[&label],
            (*system as f64, *free as f64),
            "arena {label} (malloc_info's heap {i}): [system, free] in Prometheus vs malloc_info"
        );
    }
    let line = t.next_line();
    let trimmed = line
        .strip_prefix("trimmed_kib ")
        .unwrap_or_else(|| panic!("{line}"))
        .parse::<f64>()
        .unwrap()
        * 1024.0;
    let trimmed_at = Instant::now();
    assert!(
        (trimmable_before - trimmed).abs() <= 0.05 * trimmable_before,
        "the exporter said {trimmable_before} B were trimmable; malloc_trim(0) returned {trimmed} B"
    );
    // The next scrapes show them gone.
    prom.wait_until(
        &format!("sum(arena_sweep_arena_trimmable_bytes{{{p}}})"),
        30,
        |r| r.len() == 1 && r[0].1 < 0.02 * trimmable_before,
        why,
    );
    eprintln!(
        "trimmable {trimmable_before} B before, malloc_trim returned {trimmed} B; Prometheus showed it gone {:.1} s later",
        trimmed_at.elapsed().as_secs_f64()
    );

    // Every query of the dashboard runs in this Prometheus and returns series.
    for q in dashboard_queries() {
        let q = q
            .replace("$comm", ".*")
            .replace("$pid", &pid.to_string())
            .replace("$__rate_interval", "1m");
        let r = prom.query(&q);
        assert!(!r.is_empty(), "the dashboard's `{q}` returns nothing");
    }
    drop(prom);
    eprintln!(
        "the Prometheus test took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Every PromQL expression in deploy/grafana-dashboard.json (panels and variables).
fn dashboard_queries() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana-dashboard.json");
    let d: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for panel in d["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().unwrap() {
            out.push(t["expr"].as_str().unwrap().to_string());
        }
    }
    for v in d["templating"]["list"].as_array().unwrap() {
        if let Some(q) = v["query"]["query"].as_str() {
            // label_values(EXPR, label) is Grafana's: its EXPR is PromQL.
            let inner = q.trim_start_matches("label_values(");
            out.push(inner[..inner.rfind(',').unwrap()].to_string());
        }
    }
    assert!(out.len() >= 10, "{out:?}");
    out
}

/// A chunks.c process (4 threads, so 5 arenas), started with `env`.
fn chunks(dir: &Path, name: &str, env: &[(&str, &str)]) -> Target {
    let prog = build_prog("gcc", &["-O1", "-pthread"], "chunks.c", dir, name);
    let mut cmd = Command::new(&prog);
    cmd.args(["4", "200"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut t = Target::start(cmd);
    t.wait_for("ready");
    t
}

#[test]
fn the_dashboard_queries_only_metrics_the_exporter_serves() {
    let tmp = tempfile::tempdir().unwrap();
    let t = chunks(tmp.path(), "chunks", &[]);
    let o = export_cmd(&["--pid", &t.pid().to_string(), "--once"])
        .output()
        .unwrap();
    let (body, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let served: std::collections::BTreeSet<String> = body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_string())
        .collect();
    let ident = regex::Regex::new(r"[a-zA-Z_:][a-zA-Z0-9_:]*").unwrap();
    let mut named = 0;
    for q in dashboard_queries() {
        for m in ident.find_iter(&q) {
            let word = m.as_str();
            if word.starts_with("arena_sweep_") || word.starts_with("process_") {
                named += 1;
                assert!(served.contains(word), "the dashboard's `{q}` names {word}, which the exporter does not serve: {served:?}");
            }
        }
    }
    assert!(named >= 15, "only {named} metric names in the dashboard");
}

#[test]
fn promtool_passes_the_output_and_labels_are_escaped_and_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    // A program named with a quote and a backslash: comm is what the kernel keeps.
    let t = chunks(
        tmp.path(),
        "a\"b\\c",
        &[
            ("GLIBC_TUNABLES", "glibc.malloc.arena_max=3"),
            ("MALLOC_ARENA_MAX", "9"),
        ],
    );
    let pid = t.pid().to_string();
    let o = export_cmd(&["--pid", &pid, "--once", "--max-arenas", "2"])
        .output()
        .unwrap();
    let (body, err) = text(&o);
    assert!(o.status.success(), "{err}");
    promtool_check(&body);
    let p = format!("pid=\"{pid}\"");
    assert!(
        body.contains(&format!("{p},comm=\"a\\\"b\\\\c\"")),
        "{body}"
    );
    // arena_max=3 from GLIBC_TUNABLES (which wins over MALLOC_ARENA_MAX).
    assert_eq!(sample(&body, "arena_sweep_arena_cap", &[&p]), Some(3.0));
    let info = samples(&body, "arena_sweep_process_info", &[&p]);
    assert!(
        info[0]
            .0
            .contains("glibc_tunables=\"glibc.malloc.arena_max=3\""),
        "{info:?}"
    );
    assert!(info[0].0.contains("malloc_arena_max=\"9\""), "{info:?}");
    assert!(
        info[0].0.contains("arena_cap_from=\"GLIBC_TUNABLES\""),
        "{info:?}"
    );
    // --max-arenas 2: arenas 0 and 1, and the rest summed as "other".
    let o = bin().args(["inspect", &pid, "--json"]).output().unwrap();
    let j: Value = serde_json::from_str(&text(&o).0).unwrap();
    let n = j["arenas"]["totals"]["arenas"].as_u64().unwrap();
    assert_eq!(n, 3, "arena_max=3 caps the 4 threads' arenas");
    let rows = samples(&body, "arena_sweep_arena_system_bytes", &[&p]);
    let labels: Vec<&str> = rows
        .iter()
        .map(|(l, _)| {
            l.split("arena=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(labels, ["0", "1", "other"], "{body}");
    let total: f64 = rows.iter().map(|r| r.1).sum();
    assert_eq!(
        total,
        j["arenas"]["totals"]["system_mem_bytes"].as_f64().unwrap()
    );
    let free: f64 = samples(&body, "arena_sweep_arena_free_bytes", &[&p])
        .iter()
        .map(|r| r.1)
        .sum();
    assert_eq!(
        free,
        j["arenas"]["totals"]["arena_free_bytes"].as_f64().unwrap()
    );
}

#[test]
fn a_process_that_exits_is_dropped_and_a_new_match_picked_up() {
    let tmp = tempfile::tempdir().unwrap();
    let prog = build_prog(
        "gcc",
        &["-O1", "-pthread"],
        "chunks.c",
        tmp.path(),
        "chunks",
    );
    let marker = token("restart");
    let start = || {
        let mut cmd = Command::new(&prog);
        cmd.args(["2", "100", &marker]);
        let mut t = Target::start(cmd);
        t.wait_for("ready");
        t
    };
    let mut first = start();
    let a = format!("pid=\"{}\"", first.pid());
    let e = Exporter::start(export_cmd(&["--match", &marker, "--min-interval", "0"]));
    let body = e.metrics();
    assert_eq!(
        sample(&body, "arena_sweep_arenas", &[&a]),
        Some(3.0),
        "{body}"
    );
    assert_eq!(
        sample(&body, "arena_sweep_exporter_targets", &[]),
        Some(1.0)
    );
    first.stop();
    let body = e.metrics();
    assert!(
        !body.contains(&a),
        "the exited process's series are still served:\n{body}"
    );
    assert_eq!(
        sample(&body, "arena_sweep_exporter_targets", &[]),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &body,
            "arena_sweep_exporter_targets_dropped_total",
            &["reason=\"exited\""]
        ),
        Some(1.0),
        "{body}"
    );
    // The service comes back under another PID: matched again.
    let second = start();
    let b = format!("pid=\"{}\"", second.pid());
    let body = e.metrics();
    assert_eq!(
        sample(&body, "arena_sweep_arenas", &[&b]),
        Some(3.0),
        "{body}"
    );
    assert!(!body.contains(&a));
    // The landing page says what is watched.
    let page = get(&e.addr, "/", None);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&format!("PID {}", second.pid())),
        "{}",
        page.body
    );
    assert_eq!(get(&e.addr, "/nothing", None).status, 404);
}

#[test]
fn scrapes_sooner_than_the_min_interval_are_served_the_last_read() {
    let tmp = tempfile::tempdir().unwrap();
    let t = chunks(tmp.path(), "chunks", &[]);
    let e = Exporter::start(export_cmd(&[
        "--pid",
        &t.pid().to_string(),
        "--min-interval",
        "2s",
    ]));
    let reads = |body: &str| sample(body, "arena_sweep_exporter_reads_total", &[]).unwrap();
    let scrapes = |body: &str| {
        sample(
            body,
            "arena_sweep_exporter_scrapes_total",
            &["format=\"text\""],
        )
        .unwrap()
    };
    let at = Instant::now();
    let b1 = e.metrics();
    let b2 = e.metrics();
    let b3 = e.metrics();
    assert!(
        at.elapsed() < Duration::from_secs(2),
        "three scrapes took {:?}",
        at.elapsed()
    );
    assert_eq!((reads(&b1), reads(&b2), reads(&b3)), (1.0, 1.0, 1.0));
    assert_eq!((scrapes(&b1), scrapes(&b3)), (1.0, 3.0));
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(reads(&e.metrics()), 2.0);
    // OpenMetrics when asked for it.
    let om = get(
        &e.addr,
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0"),
    );
    assert_eq!(om.status, 200);
    assert!(
        om.header("content-type")
            .unwrap()
            .starts_with("application/openmetrics-text; version=1.0.0"),
        "{om:?}"
    );
    assert!(om.body.ends_with("# EOF\n"));
    assert!(om.body.contains("# TYPE arena_sweep_read_errors counter\n"));
    let plain = get(&e.addr, "/metrics", None);
    assert!(
        plain
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{plain:?}"
    );
}

#[test]
fn a_process_it_may_not_read_is_explained_and_the_exporter_goes_on() {
    // SAFETY: geteuid cannot fail.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test runs the exporter as nobody against a root process: run it as root (CI does)"
    );
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = tmp.path().join("arena-sweep");
    std::fs::copy(BIN, &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    let marker = token("perm");
    // One process of root's, one of nobody's, both matched.
    let prog = build_prog(
        "gcc",
        &["-O1", "-pthread"],
        "chunks.c",
        tmp.path(),
        "chunks",
    );
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut mine = Command::new(&prog);
    mine.args(["2", "100", &marker]);
    let mut root_owned = Target::start(mine);
    root_owned.wait_for("ready");
    let mut theirs = Command::new(&prog);
    theirs.args(["2", "100", &marker]).uid(65534).gid(65534);
    let mut nobody_owned = Target::start(theirs);
    nobody_owned.wait_for("ready");
    let mut cmd = Command::new(&copy);
    cmd.args(["export", "--match", &marker, "--min-interval", "0"])
        .uid(65534)
        .gid(65534)
        .env_clear();
    let e = Exporter::start(cmd);
    let body = e.metrics();
    let body2 = e.metrics();
    let root = format!("pid=\"{}\"", root_owned.pid());
    let nobody = format!("pid=\"{}\"", nobody_owned.pid());
    assert_eq!(
        sample(
            &body2,
            "arena_sweep_read_errors_total",
            &[&root, "reason=\"permission\""]
        ),
        Some(2.0),
        "{body2}"
    );
    assert_eq!(
        sample(&body2, "arena_sweep_read_success", &[&root]),
        Some(0.0)
    );
    assert_eq!(sample(&body, "arena_sweep_arenas", &[&root]), None);
    // The other process is read all the same.
    assert_eq!(
        sample(&body2, "arena_sweep_arenas", &[&nobody]),
        Some(3.0),
        "{body2}"
    );
    assert_eq!(
        sample(&body2, "arena_sweep_read_success", &[&nobody]),
        Some(1.0)
    );
    // Told once, with inspect's explanation.
    let log = e.logged();
    assert!(log.contains("permission denied"), "{log}");
    assert!(log.contains("runs as root, and you are nobody"), "{log}");
    assert!(log.contains("as root (e.g. with sudo)"), "{log}");
    assert_eq!(
        log.matches("runs as root, and you are nobody").count(),
        1,
        "{log}"
    );
    let page = get(&e.addr, "/", None).body;
    assert!(page.contains("not read: cannot read"), "{page}");
}

#[test]
fn textfile_mode_writes_a_prom_file_atomically_on_an_interval() {
    let tmp = tempfile::tempdir().unwrap();
    let t = chunks(tmp.path(), "chunks", &[]);
    let out = tmp.path().join("textfile");
    std::fs::create_dir(&out).unwrap();
    let file = out.join("arena_sweep.prom");
    let mut w = export_cmd(&[
        "--pid",
        &t.pid().to_string(),
        "--textfile",
        file.to_str().unwrap(),
        "--interval",
        "200ms",
    ])
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut writes = Vec::new();
    while writes.len() < 3 {
        assert!(Instant::now() < deadline, "no 3 writes in 30 s: {writes:?}");
        if let Ok(body) = std::fs::read_to_string(&file) {
            // Every read sees a whole file: it ends where the exporter's own family does.
            assert!(
                body.contains("\nprocess_resident_memory_bytes "),
                "a partial file:\n{body}"
            );
            let n = sample(
                &body,
                "arena_sweep_exporter_scrapes_total",
                &["format=\"text\""],
            )
            .unwrap();
            if writes.last() != Some(&n) {
                writes.push(n);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = w.kill();
    let _ = w.wait();
    assert!(writes.windows(2).all(|p| p[1] > p[0]), "{writes:?}");
    let body = std::fs::read_to_string(&file).unwrap();
    promtool_check(&body);
    assert_eq!(
        sample(
            &body,
            "arena_sweep_arenas",
            &[&format!("pid=\"{}\"", t.pid())]
        ),
        Some(5.0)
    );
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".tmp"))
        .collect();
    assert_eq!(names, ["arena_sweep.prom"]);
}

#[test]
fn bad_flags_are_named_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let me = std::process::id().to_string();
    let not_prom = tmp.path().join("x.txt");
    let no_dir = tmp.path().join("missing/x.prom");
    let bad_pidfile = tmp.path().join("bad.pid");
    std::fs::write(&bad_pidfile, "hello\n").unwrap();
    let missing_pidfile = tmp.path().join("missing.pid");
    // An address already taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--pid".into(),
                me.clone(),
                "--listen".into(),
                taken_addr.clone(),
            ],
            "--listen",
        ),
        (
            vec![
                "--pid".into(),
                me.clone(),
                "--listen".into(),
                "localhost".into(),
            ],
            "--listen",
        ),
        (
            vec![
                "--pid".into(),
                me.clone(),
                "--listen".into(),
                "127.0.0.1:99999".into(),
            ],
            "--listen",
        ),
        (
            vec!["--pidfile".into(), missing_pidfile.display().to_string()],
            "--pidfile",
        ),
        (
            vec!["--pidfile".into(), bad_pidfile.display().to_string()],
            "--pidfile",
        ),
        (vec!["--match".into(), "(unclosed".into()], "--match"),
        (
            vec![
                "--pid".into(),
                me.clone(),
                "--min-interval".into(),
                "soon".into(),
            ],
            "--min-interval",
        ),
        (
            vec![
                "--pid".into(),
                me.clone(),
                "--textfile".into(),
                tmp.path().join("a.prom").display().to_string(),
                "--interval".into(),
                "0".into(),
            ],
            "--interval",
        ),
        (
            vec![
                "--pid".into(),
                me.clone(),
                "--textfile".into(),
                not_prom.display().to_string(),
            ],
            "--textfile",
        ),
        (
            vec![
                "--pid".into(),
                me.clone(),
                "--textfile".into(),
                no_dir.display().to_string(),
            ],
            "--textfile",
        ),
        (vec!["--pid".into(), "2147483646".into()], "--pid"),
        (vec!["--pid".into(), "0".into()], "--pid"),
        (vec![], "--pid"),
    ];
    for (args, flag) in cases {
        let o = bin().arg("export").args(&args).output().unwrap();
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {out}\n{err}");
        assert!(
            err.contains(flag),
            "{args:?}: the error does not name {flag}:\n{err}"
        );
    }
    // --help explains every flag.
    let o = bin().args(["export", "--help"]).output().unwrap();
    let help = text(&o).0;
    for flag in [
        "--pid",
        "--pidfile",
        "--match",
        "--max-targets",
        "--max-arenas",
        "--listen",
        "--min-interval",
        "--textfile",
        "--interval",
        "--once",
    ] {
        let line = help
            .lines()
            .position(|l| l.trim_start().starts_with(flag))
            .unwrap_or_else(|| panic!("{flag} missing from --help:\n{help}"));
        let next = help.lines().nth(line + 1).unwrap_or("");
        assert!(next.trim().len() > 20, "{flag} is not explained:\n{help}");
    }
}

#[test]
fn the_exporters_own_memory_stays_flat_over_many_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let t = chunks(tmp.path(), "chunks", &[]);
    let e = Exporter::start(export_cmd(&[
        "--pid",
        &t.pid().to_string(),
        "--min-interval",
        "0",
    ]));
    let rss = |body: &str| sample(body, "process_resident_memory_bytes", &[]).unwrap();
    for _ in 0..20 {
        e.metrics();
    }
    let before = rss(&e.metrics());
    let mut last = String::new();
    for _ in 0..300 {
        last = e.metrics();
    }
    assert_eq!(
        sample(&last, "arena_sweep_exporter_reads_total", &[]),
        Some(321.0),
        "every scrape read the process afresh"
    );
    let after = rss(&last);
    assert!(
        after - before < 512.0 * 1024.0,
        "the exporter's RSS grew from {before} to {after} B over 300 reads"
    );
    assert!(
        after < 32.0 * 1024.0 * 1024.0,
        "the exporter's RSS is {after} B"
    );
}

/// Native threads allocate and free without pause, so the arenas change while they are
/// read: forever, until killed.
const BUSY_SCRIPT: &str = r#"
import sys, threading
sys.path.insert(0, sys.argv[1])
import arena_poc
def work(n):
    i = 0
    while True:
        arena_poc.run_arena_test(4, "churn", "", n * 1000000 + i)
        i += 1
ts = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(4)]
for t in ts: t.start()
print("ready", flush=True)
sys.stdin.readline()
"#;

#[test]
fn a_process_whose_arenas_keep_changing_is_served_without_error_pages() {
    let (exe, dir) = python("nogil");
    let marker = token("busy");
    let mut cmd = Command::new(&exe);
    cmd.args(["-I", "-c", BUSY_SCRIPT]).arg(&dir).arg(&marker);
    let mut t = Target::start(cmd);
    t.wait_for("ready");
    let p = format!("pid=\"{}\"", t.pid());
    let e = Exporter::start(export_cmd(&[
        "--pid",
        &t.pid().to_string(),
        "--min-interval",
        "0",
    ]));
    let (mut good, mut flagged) = (0, 0.0);
    let mut body = String::new();
    for _ in 0..30 {
        // Every answer is a 200 with the process's series (metrics() asserts the 200).
        body = e.metrics();
        assert_eq!(
            sample(&body, "arena_sweep_exporter_targets", &[]),
            Some(1.0),
            "{body}"
        );
        if sample(&body, "arena_sweep_read_success", &[&p]) == Some(1.0) {
            good += 1;
            flagged += sample(&body, "arena_sweep_read_inconsistent_figures", &[&p]).unwrap();
        }
    }
    let errors = |reason: &str| {
        sample(
            &body,
            "arena_sweep_read_errors_total",
            &[&p, &format!("reason=\"{reason}\"")],
        )
        .unwrap()
    };
    for reason in ["permission", "unsupported", "internal"] {
        assert_eq!(errors(reason), 0.0, "{reason}: {}", e.logged());
    }
    // Each read either gave figures (some maybe flagged as moving) or was counted.
    assert_eq!(
        good as f64 + errors("inconsistent") + errors("io"),
        30.0,
        "{body}"
    );
    assert!(
        good > 0,
        "no read of the busy process succeeded: {}",
        e.logged()
    );
    assert!(sample(&body, "arena_sweep_arenas", &[&p]).unwrap() > 1.0);
    eprintln!(
        "busy process: {good} good reads of 30 ({flagged} figures flagged as moving in all), {} inconsistent, {} io",
        errors("inconsistent"),
        errors("io")
    );
    t.send("\n");
}
