//! A real Prometheus server (Debian's `prometheus` package, /usr/bin/prometheus),
//! started by a test with its own configuration, storage and port on 127.0.0.1 in a
//! temporary folder, and stopped (SIGTERM, by its own PID) when the test ends.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::web::{encode, get};

pub const BINARY: &str = "/usr/bin/prometheus";

pub struct Prometheus {
    child: Child,
    pub addr: String,
    dir: tempfile::TempDir,
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Prometheus {
    /// Start it scraping `target` (host:port) every second.
    pub fn start(target: &str) -> Prometheus {
        assert!(
            Path::new(BINARY).is_file(),
            "{BINARY} is missing: scripts/setup-debian.sh installs Debian's prometheus package"
        );
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: arena-sweep\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(BINARY)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {BINARY}: {e}"));
        let mut p = Prometheus { child, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if std::net::TcpStream::connect(&p.addr).is_ok()
                && get(&p.addr, "/-/ready", None).status == 200
            {
                return p;
            }
            if let Ok(Some(status)) = p.child.try_wait() {
                panic!("prometheus exited ({status}): {}", p.log());
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready in 60 s: {}",
                p.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// An instant query through the HTTP API: the raw answer (status "success"
    /// asserted).
    pub fn query_raw(&self, q: &str) -> Value {
        let a = get(
            &self.addr,
            &format!("/api/v1/query?query={}", encode(q)),
            None,
        );
        let v: Value =
            serde_json::from_str(&a.body).unwrap_or_else(|e| panic!("{q}: {e}: {}", a.body));
        assert_eq!(v["status"], "success", "{q}: {v}");
        v
    }

    /// An instant query's vector: (labels, value) per series.
    pub fn query(&self, q: &str) -> Vec<(BTreeMap<String, String>, f64)> {
        let v = self.query_raw(q);
        v["data"]["result"]
            .as_array()
            .unwrap_or_else(|| panic!("{q}: not a vector: {v}"))
            .iter()
            .map(|s| {
                let labels = s["metric"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect();
                let value = s["value"][1].as_str().unwrap().parse().unwrap();
                (labels, value)
            })
            .collect()
    }

    /// `q`'s values by the label `key`.
    pub fn by(&self, q: &str, key: &str) -> BTreeMap<String, f64> {
        self.query(q)
            .into_iter()
            .map(|(l, v)| (l.get(key).cloned().unwrap_or_default(), v))
            .collect()
    }

    /// Poll `q` until `ok` holds for its values (at most `secs` seconds); `why`
    /// explains a failure (it runs then).
    pub fn wait_until(
        &self,
        q: &str,
        secs: u64,
        ok: impl Fn(&[(BTreeMap<String, String>, f64)]) -> bool,
        why: impl Fn() -> String,
    ) -> Vec<(BTreeMap<String, String>, f64)> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let r = self.query(q);
            if ok(&r) {
                return r;
            }
            if Instant::now() >= deadline {
                let up = self.query("up");
                panic!(
                    "`{q}` did not get there in {secs} s; last {r:?}; up {up:?}\n{}\nprometheus said: {}",
                    why(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child, by its PID.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
