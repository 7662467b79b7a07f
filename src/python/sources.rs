//! Where CPython source comes from when `pythons install` builds a pair.
//!
//! In order: a tarball the user gave (`--source-tarball`); the official source
//! tarball, downloaded with curl; the Debian source package `python3.X`, whose
//! `.orig.tar.xz` is the upstream tarball. For Debian, the mirror is read from the
//! machine's own apt configuration, apt runs with a private state folder inside the
//! cache (its own sources list, lists and archives), and no system file changes.
//! (`uv python install`, the other route, yields ready interpreters and lives in
//! `provision.rs`.)

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::child;

/// Source code ready to build.
#[derive(Debug, Clone)]
pub struct SourceTarball {
    pub path: PathBuf,
    /// Full version, e.g. "3.13.5".
    pub version: String,
    /// Where it came from, for the build record.
    pub origin: String,
}

/// "Python-3.13.5.tar.xz", "python3.13_3.13.5.orig.tar.xz" -> "3.13.5".
pub fn version_from_tarball_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let rest = name
        .strip_prefix("Python-")
        .or_else(|| name.split_once('_').map(|(_, r)| r))?;
    let version: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let version = version.trim_end_matches('.');
    let parts: Vec<&str> = version.split('.').collect();
    (parts.len() == 3 && parts.iter().all(|p| !p.is_empty())).then(|| version.to_string())
}

/// True when `full` (3.13.5) satisfies `wanted` (3.13 or 3.13.5).
pub fn version_matches(wanted: &str, full: &str) -> bool {
    full == wanted || full.starts_with(&format!("{wanted}."))
}

pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Run `cmd` to its end, with its command line and output in `log`; killed after
/// `timeout`.
fn run_logged(
    cmd: &mut Command,
    timeout: Duration,
    log: &mut std::fs::File,
) -> Result<std::process::Output> {
    Ok(child::Run::new(cmd, timeout).log(log).output()?)
}

// ---------------------------------------------------------------- official tarball

const OFFICIAL_BASE: &str = "https://www.python.org/ftp/python";

/// Download the official tarball for `wanted` into `downloads`.
pub fn official(wanted: &str, downloads: &Path, log: &mut std::fs::File) -> Result<SourceTarball> {
    let curl = which::which_global("curl").context("curl is not installed")?;
    let version = if wanted.split('.').count() == 3 {
        wanted.to_string()
    } else {
        // Pick the newest release of the minor version from the index listing.
        let out = run_logged(
            Command::new(&curl).args([
                "-fsSL",
                "--connect-timeout",
                "10",
                "--max-time",
                "60",
                &format!("{OFFICIAL_BASE}/"),
            ]),
            Duration::from_secs(120),
            log,
        )?;
        if !out.status.success() {
            bail!(
                "the official download index could not be fetched (curl exit {})",
                out.status.code().unwrap_or(-1)
            );
        }
        newest_in_index(&String::from_utf8_lossy(&out.stdout), wanted)
            .with_context(|| format!("the official index lists no release of {wanted}"))?
    };
    let file = downloads.join(format!("Python-{version}.tar.xz"));
    let part = downloads.join(format!("Python-{version}.tar.xz.part"));
    let url = format!("{OFFICIAL_BASE}/{version}/Python-{version}.tar.xz");
    let out = run_logged(
        Command::new(&curl)
            .args([
                "-fsSL",
                "--connect-timeout",
                "10",
                "--max-time",
                "900",
                "-o",
            ])
            .arg(&part)
            .arg(&url),
        Duration::from_secs(960),
        log,
    )?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&part);
        bail!(
            "downloading {url} failed (curl exit {})",
            out.status.code().unwrap_or(-1)
        );
    }
    std::fs::rename(&part, &file)?;
    Ok(SourceTarball {
        path: file,
        version,
        origin: format!("official tarball {url}"),
    })
}

/// The newest `X.Y.Z/` directory in an index page for `X.Y`.
fn newest_in_index(html: &str, minor: &str) -> Option<String> {
    let prefix = format!("href=\"{minor}.");
    html.match_indices(&prefix)
        .filter_map(|(i, _)| {
            let rest = &html[i + 6..];
            let end = rest.find('/')?;
            let v = &rest[..end];
            let parts: Option<Vec<u32>> = v.split('.').map(|p| p.parse().ok()).collect();
            parts.filter(|p| p.len() == 3).map(|p| (p, v.to_string()))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, v)| v)
}

// ---------------------------------------------------------------- Debian source package

/// One entry of the machine's apt configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptSource {
    pub uri: String,
    pub suites: Vec<String>,
    pub components: Vec<String>,
}

/// Parse one-line `.list` content (`deb [opts] uri suite comp...`).
pub fn parse_one_line_sources(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut words = line.split_whitespace().peekable();
        match words.next() {
            Some("deb" | "deb-src") => {}
            _ => continue,
        }
        if words.peek().is_some_and(|w| w.starts_with('[')) {
            for w in words.by_ref() {
                if w.ends_with(']') {
                    break;
                }
            }
        }
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        out.push(AptSource {
            uri: uri.trim_end_matches('/').to_string(),
            suites: vec![suite.to_string()],
            components: words.map(str::to_string).collect(),
        });
    }
    out
}

/// Parse deb822 `.sources` content (stanzas of `Key: value` separated by blank lines).
pub fn parse_deb822_sources(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let mut uris = Vec::new();
        let mut suites = Vec::new();
        let mut components = Vec::new();
        let mut enabled = true;
        for line in stanza.lines() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let words = || v.split_whitespace().map(str::to_string).collect::<Vec<_>>();
            match k.trim().to_ascii_lowercase().as_str() {
                "uris" => uris = words(),
                "suites" => suites = words(),
                "components" => components = words(),
                "enabled" => enabled = v.trim() != "no",
                _ => {}
            }
        }
        if !enabled {
            continue;
        }
        for uri in uris {
            out.push(AptSource {
                uri: uri.trim_end_matches('/').to_string(),
                suites: suites.clone(),
                components: components.clone(),
            });
        }
    }
    out
}

/// The Debian archive mirrors this machine's apt uses: entries with component `main`
/// whose suites are not security or updates pockets. The order of the config is kept.
pub fn debian_mirrors(sources: &[AptSource]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for s in sources {
        if !s.components.iter().any(|c| c == "main") {
            continue;
        }
        let suites: Vec<String> = s
            .suites
            .iter()
            .filter(|x| !x.contains("security") && !x.contains('-') && !x.contains('/'))
            .cloned()
            .collect();
        if suites.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(u, _)| *u == s.uri) {
            Some((_, known)) => {
                for x in suites {
                    if !known.contains(&x) {
                        known.push(x);
                    }
                }
            }
            None => out.push((s.uri.clone(), suites)),
        }
    }
    out
}

/// Read /etc/apt's sources (both formats).
pub fn machine_apt_sources() -> Vec<AptSource> {
    let mut out = Vec::new();
    if let Ok(t) = std::fs::read_to_string("/etc/apt/sources.list") {
        out.extend(parse_one_line_sources(&t));
    }
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut files: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files {
            let Ok(t) = std::fs::read_to_string(&f) else {
                continue;
            };
            match f.extension().and_then(|e| e.to_str()) {
                Some("list") => out.extend(parse_one_line_sources(&t)),
                Some("sources") => out.extend(parse_deb822_sources(&t)),
                _ => {}
            }
        }
    }
    out
}

/// Suites that have carried CPython 3.13 or newer, newest-stable first; the machine's
/// own suites are tried before these.
const SUITES_WITH_NEW_PYTHON: &[&str] = &["trixie", "forky", "sid"];

struct PrivateApt {
    root: PathBuf,
}

impl PrivateApt {
    fn new(root: PathBuf, mirror: &str, suite: &str) -> Result<Self> {
        for d in [
            "lists/partial",
            "cache/archives/partial",
            "etc/sources.list.d",
            "etc/preferences.d",
            "etc/apt.conf.d",
        ] {
            std::fs::create_dir_all(root.join(d))?;
        }
        std::fs::write(
            root.join("etc/sources.list"),
            format!("deb-src {mirror} {suite} main\n"),
        )?;
        // An empty dpkg status: nothing about this machine's packages is read or written.
        std::fs::write(root.join("status"), "")?;
        Ok(PrivateApt { root })
    }

    fn cmd(&self, program: &str) -> Command {
        let r = |p: &str| format!("{}", self.root.join(p).display());
        let mut c = Command::new(program);
        for (k, v) in [
            ("Dir::State", r("")),
            ("Dir::State::Lists", r("lists")),
            ("Dir::State::status", r("status")),
            ("Dir::Cache", r("cache")),
            ("Dir::Etc::SourceList", r("etc/sources.list")),
            ("Dir::Etc::SourceParts", r("etc/sources.list.d")),
            ("Dir::Etc::Preferences", r("etc/preferences")),
            ("Dir::Etc::PreferencesParts", r("etc/preferences.d")),
            ("Dir::Etc::Parts", r("etc/apt.conf.d")),
            ("Debug::NoLocking", "1".to_string()),
            (
                "APT::Sandbox::User",
                if nix::unistd::geteuid().is_root() {
                    "root"
                } else {
                    ""
                }
                .to_string(),
            ),
            ("Acquire::Retries", "2".to_string()),
        ] {
            if !v.is_empty() {
                c.arg("-o").arg(format!("{k}={v}"));
            }
        }
        c.env("LC_ALL", "C");
        c
    }
}

/// `(version, [(sha256, size, name)])` for each version `apt-cache showsrc` lists.
type ShowSrc = Vec<(String, Vec<(String, u64, String)>)>;

/// The showsrc parser, for the fuzz tests.
#[cfg(test)]
pub fn fuzz_showsrc(text: &str) -> usize {
    parse_showsrc(text).len()
}

fn parse_showsrc(text: &str) -> ShowSrc {
    let mut out: ShowSrc = Vec::new();
    let mut in_sha = false;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("Version: ") {
            out.push((v.trim().to_string(), Vec::new()));
            in_sha = false;
        } else if line.starts_with("Checksums-Sha256:") {
            in_sha = true;
        } else if in_sha && line.starts_with(' ') {
            let w: Vec<&str> = line.split_whitespace().collect();
            if let (Some(last), [sha, size, name]) = (out.last_mut(), w.as_slice()) {
                last.1
                    .push((sha.to_string(), size.parse().unwrap_or(0), name.to_string()));
            }
        } else if !line.starts_with(' ') {
            in_sha = false;
        }
    }
    out
}

/// Fetch the Debian source package of `wanted` (3.13 or 3.13.5) and return its
/// upstream tarball.
pub fn debian(
    wanted: &str,
    cache: &Path,
    downloads: &Path,
    log: &mut std::fs::File,
) -> Result<SourceTarball> {
    use std::io::Write;
    if which::which_global("apt-get").is_err() {
        bail!("apt-get is not installed");
    }
    let minor: String = wanted.split('.').take(2).collect::<Vec<_>>().join(".");
    let package = format!("python{minor}");
    let mirrors = debian_mirrors(&machine_apt_sources());
    if mirrors.is_empty() {
        bail!("this machine's apt configuration names no Debian mirror with component main");
    }
    let mut tried = Vec::new();
    for (mirror, own_suites) in &mirrors {
        let mut suites: Vec<String> = own_suites.clone();
        suites.extend(
            SUITES_WITH_NEW_PYTHON
                .iter()
                .map(|s| s.to_string())
                .filter(|s| !own_suites.contains(s)),
        );
        for suite in suites {
            let apt = PrivateApt::new(cache.join("apt").join(&suite), mirror, &suite)?;
            writeln!(
                log,
                "# Debian source: {package} from suite {suite} of {mirror}"
            )?;
            let up = run_logged(
                apt.cmd("apt-get").args(["-q", "update"]),
                Duration::from_secs(600),
                log,
            )?;
            if !up.status.success() {
                tried.push(format!(
                    "{suite}: apt-get update failed: {}",
                    child::last_line(&up.stderr)
                ));
                continue;
            }
            let show = run_logged(
                apt.cmd("apt-cache").args(["showsrc", &package]),
                Duration::from_secs(120),
                log,
            )?;
            let mut versions = parse_showsrc(&String::from_utf8_lossy(&show.stdout));
            versions.retain(|(v, _)| version_matches(wanted, v.split('-').next().unwrap_or("")));
            if versions.is_empty() {
                tried.push(format!("{suite}: no {package} {wanted}"));
                continue;
            }
            for (version, files) in versions {
                let Some((sha, _, orig)) = files.iter().find(|(_, _, n)| n.contains(".orig.tar."))
                else {
                    continue;
                };
                let dest = downloads.join(orig);
                if !dest.exists() || sha256_file(&dest)? != *sha {
                    let got = run_logged(
                        apt.cmd("apt-get")
                            .args([
                                "-q",
                                "source",
                                "--download-only",
                                &format!("{package}={version}"),
                            ])
                            .current_dir(downloads),
                        Duration::from_secs(1800),
                        log,
                    )?;
                    if !got.status.success() || !dest.exists() {
                        tried.push(format!("{suite}: {package} {version} did not download"));
                        continue;
                    }
                }
                let actual = sha256_file(&dest)?;
                if actual != *sha {
                    bail!(
                        "{} has sha256 {actual}, but the signed index says {sha}",
                        dest.display()
                    );
                }
                let upstream = version.split('-').next().unwrap_or(&version).to_string();
                return Ok(SourceTarball {
                    path: dest,
                    version: upstream,
                    origin: format!("Debian {suite} source package {package} {version} from {mirror} (sha256 {sha})"),
                });
            }
        }
    }
    bail!(
        "no Debian suite provided {package} {wanted} ({})",
        tried.join("; ")
    )
}

#[cfg(test)]
mod tests;
